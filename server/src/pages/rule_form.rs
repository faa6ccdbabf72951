//! The early-termination inputs that the launch form and the sweep page's
//! replay share: `et` (none, asha or hyperband), `et_first` (ASHA's
//! `min_epochs`, Hyperband's `min_iter`), `et_eta` and `et_metric`.

use advmix_protocol::FieldError;
use advmix_protocol::sweep::EarlyTerminate;
use advmix_protocol::sweep::early_terminate::{Asha, Hyperband};

/// The rule the inputs describe; None for `none` (or nothing chosen), or
/// the input at fault and why. The rule's own checks (eta ≥ 2, a known
/// metric) are left to `EarlyTerminate::problems`, with the spec's.
pub fn rule(kind: &str, first: &str, eta: &str, metric: &str) -> Result<Option<EarlyTerminate>, FieldError> {
    let kind = kind.trim();
    if kind.is_empty() || kind == "none" {
        return Ok(None);
    }
    let whole = |input: &str, text: &str, what: &str| -> Result<u32, FieldError> {
        let text = text.trim();
        text.parse::<u32>().map_err(|_| FieldError {
            field: input.to_owned(),
            message: format!("`{text}` is not a whole number; give {what}"),
        })
    };
    let first = whole("et_first", first, "the first rung's epoch, such as 1")?;
    let eta = Some(whole("et_eta", eta, "the reduction factor, such as 3")?);
    let metric = Some(metric.trim()).filter(|m| !m.is_empty()).map(str::to_owned);
    match kind {
        "asha" => Ok(Some(EarlyTerminate::Asha(Asha { metric, goal: None, min_epochs: first, eta, max_epochs: None, min_runs: None }))),
        // Strict: the metric as chosen, so that "best so far" is the user's
        // choice here as it is for ASHA.
        "hyperband" => Ok(Some(EarlyTerminate::Hyperband(Hyperband {
            min_iter: Some(first),
            max_iter: None,
            s: None,
            eta,
            strict: Some(true),
            metric,
            goal: None,
        }))),
        other => Err(FieldError { field: "et".into(), message: format!("`{other}` is not none, asha or hyperband") }),
    }
}

/// The input a rule's problem belongs to (`early_terminate.eta` → `et_eta`);
/// None for a field outside the rule.
pub fn input_for(field: &str) -> Option<&'static str> {
    let key = field.strip_prefix("early_terminate.")?;
    Some(match key {
        "eta" => "et_eta",
        "metric" => "et_metric",
        "min_epochs" | "min_iter" | "max_epochs" | "max_iter" | "s" => "et_first",
        _ => "et",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inputs_make_the_rule_or_name_the_input_at_fault() {
        assert_eq!(rule("none", "x", "y", ""), Ok(None));
        let asha = rule("asha", "1", "3", "best_test_pgd_acc").unwrap().unwrap();
        assert_eq!(serde_json::to_value(&asha).unwrap(), serde_json::json!({"type": "asha", "metric": "best_test_pgd_acc", "min_epochs": 1, "eta": 3}));
        let hyperband = rule("hyperband", "3", "3", "").unwrap().unwrap();
        assert_eq!(hyperband.rungs(30).epochs, [3, 9, 27]);
        assert_eq!(rule("asha", "one", "3", "").unwrap_err().field, "et_first");
        assert_eq!(rule("asha", "1", "", "").unwrap_err().field, "et_eta");
        assert_eq!(rule("median", "1", "3", "").unwrap_err().field, "et");
        assert_eq!(input_for("early_terminate.min_epochs"), Some("et_first"));
        assert_eq!(input_for("early_terminate.metric"), Some("et_metric"));
        assert_eq!(input_for("epsilon"), None);
    }
}

//! The compare view as CSV: one row per run, its differing settings and
//! its results.

use std::borrow::Cow;

use super::diff::DiffRow;
use crate::pages::value_text;
use super::Compared;

pub use crate::service::results::format::field;

fn number<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

const METRICS: &[&str] = &[
    "best_robust_acc", "best_epoch", "final_clean_acc", "final_robust_acc", "autoattack_acc", "epochs_done", "epochs",
    "duration_seconds",
];

/// `rows` are the diff rows to export (the differing ones, or all), with
/// values in the order of `runs`.
pub fn csv(runs: &[Compared], rows: &[&DiffRow]) -> String {
    let mut header: Vec<Cow<str>> = vec!["id".into(), "name".into()];
    header.extend(rows.iter().map(|r| field(&r.key)));
    header.extend(METRICS.iter().map(|&m| Cow::Borrowed(m)));
    let mut out = header.join(",");
    out.push_str("\r\n");
    for (i, c) in runs.iter().enumerate() {
        let run = &c.run;
        let mut cells: Vec<String> = vec![run.id.to_string(), field(&run.name).into_owned()];
        cells.extend(rows.iter().map(|r| r.values[i].as_ref().map(|v| field(&value_text(v)).into_owned()).unwrap_or_default()));
        cells.extend([
            number(run.best_robust_acc),
            number(run.best_epoch),
            number(run.final_clean_acc),
            number(run.final_robust_acc),
            number(run.autoattack_acc),
            run.epochs_done.to_string(),
            run.epochs.to_string(),
            number(c.seconds.map(|s| (s * 1000.0).round() / 1000.0)),
        ]);
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\r"), "\"cr\r\"");
        assert_eq!(field(""), "");
    }
}

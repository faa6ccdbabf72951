//! What the run page shows, worked out from rows and files: the config
//! table, the trainer's command line, sizes, the log tail, captions.

use std::path::Path;

use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use advmix_protocol::layout::STDERR_LOG;

use crate::compute::Compute;
use crate::paths::Paths;
use crate::runner::executor::train_args;
use crate::store::runs::RunSummary;

/// The log tail the page renders; the API serves the whole file.
pub const LOG_TAIL_BYTES: u64 = 32 * 1024;

pub struct ConfigRow {
    /// Dotted, as sweep parameters name it: `aom.labels`.
    pub key: String,
    pub value: String,
    /// The sweep varied this key for this run.
    pub swept: bool,
    /// A reading aid, such as `8/255` for an ε.
    pub hint: Option<String>,
}

/// The config as dotted keys in the config's own order.
pub fn config_rows(config: &Value, params: &Map<String, Value>) -> Vec<ConfigRow> {
    fn walk(prefix: &str, value: &Value, params: &Map<String, Value>, out: &mut Vec<ConfigRow>) {
        match value {
            Value::Object(fields) if !crate::pages::is_expression(value) => {
                for (key, inner) in fields {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    walk(&path, inner, params, out);
                }
            }
            leaf => out.push(ConfigRow {
                swept: params.contains_key(prefix),
                hint: fraction_of_255(prefix, leaf),
                key: prefix.to_owned(),
                value: crate::pages::value_text(leaf),
            }),
        }
    }
    let mut out = Vec::new();
    if config.is_object() {
        walk("", config, params, &mut out);
    }
    out
}

/// Radii and step sizes are usually whole grey levels: 0.0313… reads as 8/255.
fn fraction_of_255(key: &str, value: &Value) -> Option<String> {
    let radius = key.ends_with("epsilon") || key.ends_with("pgd_step");
    let value = if crate::pages::is_expression(value) { &value["value"] } else { value };
    let levels = value.as_f64().filter(|v| radius && *v > 0.0)? * 255.0;
    ((levels - levels.round()).abs() < 1e-6).then(|| format!("{}/255", levels.round()))
}

/// The trainer's command line, as the runner builds it for this run (with
/// `DEVICE` for a run that has not been given a slot yet).
pub fn command_line(paths: &Paths, compute: &Compute, run: &RunSummary, resume: bool) -> String {
    let device = run.device.as_deref().unwrap_or("DEVICE");
    let args = train_args(&paths.run_config(run.id), &paths.run_dir(run.id), &paths.datasets(), device, resume);
    let mut words = vec![compute.trainer().display().to_string()];
    words.extend(args.iter().map(|w| w.to_string_lossy().into_owned()));
    shell_join(&words)
}

/// Words joined so that the line can be pasted into a POSIX shell.
fn shell_join(words: &[String]) -> String {
    let plain = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    words
        .iter()
        .map(|w| if plain(w) { w.clone() } else { format!("'{}'", w.replace('\'', r"'\''")) })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// The end of the run's stderr log, starting at a whole line, and whether
/// earlier lines were left out; None before the trainer has started.
pub async fn log_tail(run_dir: &Path) -> Option<(String, bool)> {
    let mut file = crate::paths::open_file(run_dir, STDERR_LOG).await.ok()?;
    let len = file.metadata().await.ok()?.len();
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(std::io::SeekFrom::Start(start)).await.ok()?;
    let mut bytes = Vec::new();
    file.take(LOG_TAIL_BYTES).read_to_end(&mut bytes).await.ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let text = match (start > 0, text.find('\n')) {
        (true, Some(newline)) => &text[newline + 1..],
        _ => &text[..],
    };
    Some((text.to_owned(), start > 0))
}

/// Which rows of a sample grid show what, for this method.
pub fn sample_caption(method: &str) -> String {
    let inputs = match method {
        "erm" => "the training inputs (for ERM, the clean images again)",
        "mixup" => "the mixup inputs: each image mixed with another of the batch",
        "pgd_at" => "the training inputs: PGD adversarial examples",
        "trades" => "the TRADES inputs: points that maximize the KL divergence from the clean prediction",
        "mixup_pgd" => "the training inputs: PGD on mixup inputs",
        "aom" => "the training inputs: adversarially optimized mixtures",
        _ => "the method's training inputs",
    };
    format!("Rows, top to bottom: clean test images; {inputs}; PGD adversarial examples of the clean images.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_rows_are_dotted_and_mark_swept_keys() {
        let config = json!({"method": "aom", "epsilon": 8.0 / 255.0, "aom": {"labels": "ratio", "steps": 3}});
        let params = json!({"aom.labels": "ratio"}).as_object().unwrap().clone();
        let rows = config_rows(&config, &params);
        let keys: Vec<_> = rows.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["method", "epsilon", "aom.labels", "aom.steps"]);
        assert!(rows[2].swept && !rows[0].swept);
        assert_eq!(rows[1].hint.as_deref(), Some("8/255"));
        assert_eq!(rows[0].value, "aom");
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        let words = ["/opt/a b/advmix-trainer", "--device", "cuda:0", "it's"].map(String::from);
        assert_eq!(shell_join(&words), r"'/opt/a b/advmix-trainer' --device cuda:0 'it'\''s'");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(382_504), "373.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}

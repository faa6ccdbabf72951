//! HTML pages, one module each. Pages are server-rendered askama templates
//! and work without JavaScript. They read through `store` and act through
//! `service`, as the API does; neither calls the other.

pub mod compare;
pub mod home;
pub mod launch;
mod results;
mod rule_form;
pub mod run;
pub mod sweep;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};


pub use crate::render::render;

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound;

pub async fn not_found() -> Response {
    match render(&NotFound) {
        Ok(html) => (StatusCode::NOT_FOUND, html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A config value as a cell shows it: strings bare, everything else as JSON.
pub fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        expr if is_expression(expr) => format!("{} = {}", expr["expr"].as_str().unwrap_or(""), expr["value"]),
        other => other.to_string(),
    }
}

/// A step size stored as an expression with its value (`{"expr": "eps/4",
/// "value": 0.0078}`, protocol's `StepSize`): one setting, not a section.
pub fn is_expression(value: &serde_json::Value) -> bool {
    matches!(value, serde_json::Value::Object(o) if o.len() == 2 && o.get("expr").is_some_and(serde_json::Value::is_string) && o.contains_key("value"))
}

/// An accuracy in [0,1] as a percentage for tables, or an em dash when the
/// run has not produced it yet.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{:.1}", v * 100.0))
}

/// A span of time to the precision a person reads at a glance: `45 s`,
/// `12 min`, `3 h 05 min`, `2 d 4 h`.
/// A running run's newest `progress` event, as the pages show it: the
/// stage's bar and line, and when the trainer expects the run to end.
pub struct LiveProgress {
    pub text: String,
    /// Of the current stage: an epoch's batches, or an attack's points.
    pub fraction: f64,
    /// Epochs done plus the current epoch's fraction, for an epochs bar.
    pub epochs: f64,
    /// Unix seconds at which the trainer's estimate runs out.
    pub ends_at: Option<f64>,
}

impl LiveProgress {
    /// From a run's stored progress line; None when it has none.
    pub fn of(run: &crate::store::runs::RunSummary) -> Option<LiveProgress> {
        use advmix_protocol::events::Stage;
        let line: advmix_protocol::EventLine = serde_json::from_str(run.progress.as_deref()?).ok()?;
        let advmix_protocol::Event::Progress(p) = line.event else { return None };
        let epochs = match p.stage {
            Stage::Train => f64::from(p.epoch.saturating_sub(1)) + p.fraction(),
            Stage::Evaluate | Stage::Final | Stage::Attack => f64::from(p.epoch),
        };
        Some(LiveProgress {
            text: p.describe(),
            fraction: p.fraction(),
            epochs: epochs.min(run.epochs as f64),
            ends_at: p.eta_seconds.map(|s| line.time + s),
        })
    }

    /// `2 min`: what is left of the estimate now.
    pub fn eta(&self) -> Option<String> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
        self.ends_at.map(|end| duration(end - now))
    }

    /// For a `data-ends-at` attribute: milliseconds, or empty.
    pub fn ends_at_ms(&self) -> String {
        self.ends_at.map(|s| format!("{:.0}", s * 1000.0)).unwrap_or_default()
    }
}

pub use advmix_protocol::events::duration;

/// An integer with thousands separators: `1,234`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A run's accuracy columns as table text, for every page that lists runs.
impl crate::store::runs::RunSummary {
    pub fn best_robust(&self) -> String {
        percent(self.best_robust_acc)
    }
    pub fn final_clean(&self) -> String {
        percent(self.final_clean_acc)
    }
    pub fn final_robust(&self) -> String {
        percent(self.final_robust_acc)
    }
    pub fn autoattack(&self) -> String {
        percent(self.autoattack_acc)
    }
}

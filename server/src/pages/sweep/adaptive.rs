//! The sweep page's adaptive parts: its early-termination rule and rungs,
//! the "what would early termination have done" replay, a bayes sweep's
//! proposals, and the sweep's history of changes.

use advmix_protocol::sweep::early_terminate::Replay;
use advmix_protocol::sweep::{EarlyTerminate, EpochMetric, SweepSpec};
use serde::Serialize;
use sqlx::SqlitePool;

use super::super::{percent, rule_form};
use crate::error::AppError;
use crate::service;
use crate::store::runs::RunSummary;

/// The sweep's own rule, in a sentence, with the rungs of its runs.
pub fn describe(rule: &EarlyTerminate, run_epochs: u32) -> (String, Vec<u32>) {
    let rungs = rule.rungs(run_epochs);
    let scheme = match rule {
        EarlyTerminate::Asha(_) => "ASHA",
        EarlyTerminate::Hyperband(_) => "Hyperband (W&B's brackets)",
    };
    let at = if rungs.epochs.is_empty() {
        format!("no rung falls below the runs' {run_epochs} epochs, so no run is stopped")
    } else {
        let list = rungs.epochs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        format!("rungs at epochs {list}")
    };
    let goal = serde_json::to_value(rungs.goal).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let once = match rungs.min_runs {
        1 => "from the second run to reach it".to_owned(),
        n => format!("once {n} runs have reached it"),
    };
    let text = format!(
        "{scheme} on {} ({goal}), eta {}: {at}; about the top 1/{} of the runs at a rung go on, {once}",
        rungs.metric.name(),
        rungs.eta,
        rungs.eta,
    );
    (text, rungs.epochs)
}

/// The replay form's fields, as the query string has them.
#[derive(Clone, Debug)]
pub struct ReplayForm {
    pub kind: String,
    /// `min_epochs` for ASHA, `min_iter` for Hyperband.
    pub first: String,
    pub eta: String,
    pub metric: String,
}

impl ReplayForm {
    /// The form as asked (`replay=1` and its fields), or None when the page
    /// was not asked to replay. Left-out fields take the sweep's own rule's.
    pub fn from_query(query: &[(String, String)], own: Option<&EarlyTerminate>) -> (Self, bool) {
        let asked = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned());
        let default = Self::of(own);
        let form = ReplayForm {
            kind: asked("et").unwrap_or(default.kind),
            first: asked("et_first").unwrap_or(default.first),
            eta: asked("et_eta").unwrap_or(default.eta),
            metric: asked("et_metric").unwrap_or(default.metric),
        };
        (form, asked("replay").is_some())
    }

    /// Whether the page asks to replay the sweep's own rule exactly, with
    /// every key it has (`max_iter`, `s`, `min_runs`, …), not the form's four.
    pub fn own(query: &[(String, String)]) -> bool {
        query.iter().any(|(k, v)| k == "replay" && v == "own")
    }

    fn of(rule: Option<&EarlyTerminate>) -> Self {
        let robust = EpochMetric::ROBUST.name();
        match rule {
            Some(EarlyTerminate::Asha(a)) => ReplayForm {
                kind: "asha".into(),
                first: a.min_epochs.to_string(),
                eta: a.eta.unwrap_or(3).to_string(),
                metric: a.metric.clone().unwrap_or(robust),
            },
            Some(EarlyTerminate::Hyperband(h)) => ReplayForm {
                kind: "hyperband".into(),
                first: h.min_iter.unwrap_or(1).to_string(),
                eta: h.eta.unwrap_or(3).to_string(),
                metric: h.metric.clone().unwrap_or(robust),
            },
            None => ReplayForm { kind: "asha".into(), first: "1".into(), eta: "3".into(), metric: robust },
        }
    }

    /// The rule the fields describe, or the field at fault and why.
    fn rule(&self) -> Result<EarlyTerminate, (String, String)> {
        match rule_form::rule(&self.kind, &self.first, &self.eta, &self.metric) {
            Ok(Some(rule)) => Ok(rule),
            Ok(None) => Err(("et".into(), "choose a scheme to replay: asha or hyperband".into())),
            Err(e) => Err((e.field, e.message)),
        }
    }
}

/// One run the replay stops.
pub struct ReplayRow {
    pub id: i64,
    pub name: String,
    pub reason: String,
    pub kept: u32,
    pub recorded: u32,
}

/// What the replay found, for the page.
pub struct ReplayView {
    pub stopped: Vec<ReplayRow>,
    pub runs: usize,
    pub epochs_recorded: u64,
    pub epochs_saved: u64,
    pub saved_percent: String,
    /// The best finished run and whether it survives.
    pub best: Option<(i64, String, bool)>,
    pub rungs: Vec<u32>,
}

/// The replay the form asks for: its view, or the field at fault and why.
pub async fn replay(
    db: &SqlitePool,
    sweep_id: i64,
    form: &ReplayForm,
    own: Option<&EarlyTerminate>,
    runs: &[RunSummary],
) -> Result<Result<ReplayView, (String, String)>, AppError> {
    let rule = match own {
        Some(rule) => rule.clone(),
        None => match form.rule() {
            Ok(rule) => rule,
            Err(fault) => return Ok(Err(fault)),
        },
    };
    let replay: Replay = match service::sweeps::replay::replay(db, sweep_id, Some(rule)).await {
        Ok((_, replay)) => replay,
        Err(AppError::Invalid(errors)) => {
            let first = errors.into_iter().next().map(|e| (rule_form::input_for(&e.field).unwrap_or("et").to_owned(), e.message));
            return Ok(Err(first.unwrap_or_else(|| ("et".into(), "this rule cannot be replayed".into()))));
        }
        Err(other) => return Err(other),
    };
    let name = |id: i64| runs.iter().find(|r| r.id == id).map_or_else(|| format!("run {id}"), |r| r.name.clone());
    let stopped = replay
        .runs
        .iter()
        .filter_map(|o| {
            let cut = o.stopped.as_ref()?;
            Some(ReplayRow { id: o.id, name: name(o.id), reason: cut.reason(), kept: o.epochs_kept, recorded: o.epochs_recorded })
        })
        .collect();
    let saved_percent = if replay.epochs_recorded == 0 {
        "—".to_owned()
    } else {
        percent(Some(replay.epochs_saved as f64 / replay.epochs_recorded as f64))
    };
    Ok(Ok(ReplayView {
        stopped,
        runs: replay.runs.len(),
        epochs_recorded: replay.epochs_recorded,
        epochs_saved: replay.epochs_saved,
        saved_percent,
        best: replay.best_final.map(|id| (id, name(id), replay.best_final_survives.unwrap_or(false))),
        rungs: replay.rungs,
    }))
}


/// A bayes sweep's proposals in order, for the chart of each numeric
/// parameter against the objective.
#[derive(Serialize)]
pub struct Proposals {
    pub metric: String,
    /// Which way is better: `maximize` or `minimize`, as the spec says.
    pub goal: advmix_protocol::sweep::Goal,
    pub points: Vec<service::sweeps::Proposal>,
}

pub async fn proposals(db: &SqlitePool, sweep_id: i64, spec: &SweepSpec) -> Result<Proposals, AppError> {
    let points = service::sweeps::proposals(db, sweep_id, spec).await?;
    let (metric, goal) = spec.objective();
    Ok(Proposals { metric: metric.name(), goal, points })
}

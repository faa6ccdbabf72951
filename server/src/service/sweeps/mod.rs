//! Sweeps: a spec in, validated runs queued; nothing is created unless every
//! generated config is valid, placeable, and the count is within the limit.
//! A stored sweep can then `grow`, be paused and resumed, and have its
//! recorded epochs replayed through an early-termination rule (`replay`).

pub mod grow;
pub mod replay;

use advmix_protocol::FieldError;
use advmix_protocol::sweep::{SweepError, SweepMethod, SweepRun, SweepSpec};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::runner::{Runner, proposals as proposing};
use crate::store;

impl From<SweepError> for AppError {
    fn from(e: SweepError) -> AppError {
        AppError::Invalid(e.errors)
    }
}

/// Every run of `spec`, each config validated, or every problem. The API and
/// the launch page both check through here, so a preview that says OK means
/// the create will work, and both refuse the same specs with the same words.
pub fn expand(spec: &SweepSpec, limit: usize) -> Result<Vec<SweepRun>, SweepError> {
    spec.expand(limit)
}

/// Refuses runs that ask for a device no slot of this server has (they
/// would wait in the queue for ever) or for resources the executor refuses
/// (they would fail at once, one by one).
pub async fn placeable(runner: &Runner, runs: &[SweepRun]) -> Result<(), FieldError> {
    runs.iter()
        .try_for_each(|run| runner.check_device(&run.config))
        .map_err(|message| FieldError { field: "device".into(), message })?;
    let mut asked = Vec::new();
    for resources in runs.iter().map(|run| &run.config.resources).filter(|r| !r.is_empty()) {
        if asked.contains(&resources) {
            continue;
        }
        asked.push(resources);
        runner.check_resources(resources).await.map_err(|message| FieldError { field: "resources".into(), message })?;
    }
    Ok(())
}

/// A stored sweep.
pub struct Created {
    pub id: i64,
    pub name: String,
}

/// Stores the sweep and queues its runs, all or nothing, then wakes the
/// runner. A bayes sweep's runs are its first proposal; the runner makes
/// the rest as slots free up.
pub async fn submit(db: &SqlitePool, runner: &Runner, spec: &SweepSpec, runs: &[SweepRun]) -> Result<Created, AppError> {
    let total = spec.run_count()?;
    let name = spec.name.clone().unwrap_or_else(|| format!("sweep of {total} runs"));
    placeable(runner, runs).await.map_err(|e| AppError::Invalid(vec![e]))?;
    let spec_json = serde_json::to_string(spec).expect("specs serialize");
    let proposal = (spec.method == SweepMethod::Bayes).then_some(0);
    let id = store::sweeps::insert(db, &name, &spec_json, runs, proposal).await?;
    runner.wake();
    Ok(Created { id, name })
}

/// What a spec's author should know before launching it, apart from
/// errors: comparisons that early termination would make unfairly.
pub fn warnings(spec: &SweepSpec) -> Vec<String> {
    let Some(rule) = &spec.early_terminate else { return Vec::new() };
    // Not `lr_max`: a different peak keeps the decay at the same epochs.
    let schedule_varies = spec.varying().iter().any(|p| p == "epochs" || p == "lr_schedule");
    let metric = rule.metric();
    if !schedule_varies || metric.is_best_so_far() {
        return Vec::new();
    }
    vec![format!(
        "this sweep varies the learning-rate schedule (epochs or lr_schedule) and stops runs early on `{}` at each rung: \
         robust accuracy jumps when a step schedule decays, so runs on different schedules are not compared fairly at the same epoch; \
         consider `metric: best_{}` in early_terminate (the best value so far), or sweep one schedule at a time",
        metric.name(),
        metric.field()
    )]
}

/// Pauses a sweep (its queued runs wait, running ones go on, a bayes sweep
/// proposes nothing) or resumes it.
pub async fn pause(db: &SqlitePool, runner: &Runner, id: i64, paused: bool) -> Result<(), AppError> {
    let head = store::sweeps::head(db, id).await?.ok_or(AppError::NotFound)?;
    let (summary, change) = if paused { ("paused", r#"{"pause":true}"#) } else { ("resumed", r#"{"pause":false}"#) };
    let change = store::sweeps::Change { summary, change, spec: &head.spec };
    if !store::sweeps::set_paused(db, id, paused, change).await? {
        return Err(AppError::Conflict(format!("sweep {id} is already {summary}")));
    }
    if !paused {
        runner.wake();
    }
    Ok(())
}

/// A bayes proposal whose runs have ended, as its sweep page draws it.
#[derive(Serialize, Debug, Clone)]
pub struct Proposal {
    /// In order of proposal, from 0.
    pub index: i64,
    pub params: Map<String, Value>,
    /// The sweep's objective, averaged over the proposal's finished and
    /// pruned runs.
    pub value: f64,
}

/// What a bayes sweep has learned so far: each ended proposal's values and
/// objective, in order of proposal; the same observations its next
/// proposal is made from.
pub async fn proposals(db: &SqlitePool, id: i64, spec: &SweepSpec) -> Result<Vec<Proposal>, AppError> {
    let runs = store::runs::of_sweep(db, id).await?;
    let epochs = store::epochs::of_sweep(db, id, None).await?;
    Ok(proposing::observations(spec, &runs, &epochs)
        .into_iter()
        .map(|(index, o)| Proposal { index, params: o.params, value: o.value })
        .collect())
}

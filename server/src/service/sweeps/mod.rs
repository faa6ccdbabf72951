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

/// How many runs a spec makes, and how many of a grid's combinations were
/// merged because they differ only in keys their method or model ignores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub runs: usize,
    pub merged: usize,
}

/// `runs` is what [`expand`] gave; a bayes sweep counts all its proposals.
pub fn count(spec: &SweepSpec, runs: &[SweepRun]) -> Result<Count, SweepError> {
    Ok(match spec.method {
        SweepMethod::Bayes => Count { runs: spec.run_count()?, merged: 0 },
        SweepMethod::Grid => Count { runs: runs.len(), merged: spec.run_count()?.saturating_sub(runs.len()) },
        SweepMethod::Random => Count { runs: runs.len(), merged: 0 },
    })
}

/// What the preview says about merged runs, if any were.
fn merged_note(count: Count) -> Option<String> {
    (count.merged > 0).then(|| {
        let runs = if count.merged == 1 { "1 run was".to_owned() } else { format!("{} runs were", count.merged) };
        format!(
            "{runs} merged into runs already in the sweep: they differ only in keys their method or model ignores \
             (aom.* for a method other than aom, depth and widen_factor for a model other than wide_resnet, …)"
        )
    })
}

/// Refuses runs that ask for a device no slot of this server has (they
/// would wait in the queue for ever) or for resources the executor refuses
/// (they would fail at once, one by one).
pub async fn placeable(runner: &Runner, runs: &[SweepRun]) -> Result<(), FieldError> {
    runs.iter()
        .try_for_each(|run| runner.check_device(&run.config))
        .map_err(|message| FieldError { field: "device".into(), message })?;
    runs.iter()
        .try_for_each(|run| runner.check_dataset(run.config.dataset))
        .map_err(|message| FieldError { field: "dataset".into(), message })?;
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
    let total = count(spec, runs)?.runs;
    let name = spec.name.clone().unwrap_or_else(|| format!("sweep of {total} runs"));
    placeable(runner, runs).await.map_err(|e| AppError::Invalid(vec![e]))?;
    let spec_json = serde_json::to_string(spec).expect("specs serialize");
    let proposal = (spec.method == SweepMethod::Bayes).then_some(0);
    let id = store::sweeps::insert(db, &name, &spec_json, runs, proposal).await?;
    runner.wake();
    Ok(Created { id, name })
}

/// What a spec's author should know before launching it, apart from
/// errors: comparisons that early termination would make unfairly, attacks
/// whose steps cannot reach ε, and how many duplicate configs were merged.
pub fn warnings(spec: &SweepSpec, runs: &[SweepRun], count: Count) -> Vec<String> {
    // W&B keys advmix does not use, and exponent bounds worth a second look.
    let mut warnings = spec.notes();
    warnings.extend(schedule_warning(spec));
    for run in runs {
        for w in run.config.step_warnings() {
            let text = format!("{}: {}", w.field, w.message);
            if !warnings.contains(&text) {
                warnings.push(text);
            }
        }
    }
    warnings.extend(merged_note(count));
    warnings
}

fn schedule_warning(spec: &SweepSpec) -> Vec<String> {
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
        let state = if paused { "already paused" } else { "not paused" };
        return Err(AppError::Conflict(format!("sweep {id} is {state}")));
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

/// What a sweep-wide stop takes: every live run, or only the queued ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    All,
    Queued,
}

/// What a sweep-wide stop did.
#[derive(Serialize, Debug, Default)]
pub struct Halted {
    /// Runs told to stop; they save a checkpoint and end as `stopped`.
    pub stopping: usize,
    /// Runs taken out of the queue.
    pub cancelled: usize,
    /// Runs that changed state meanwhile (one that just started, say) and
    /// were left as they are.
    pub skipped: usize,
}

/// Stops a whole sweep (`Halt::All`), or takes its queued runs out of the
/// queue (`Halt::Queued`). Either first pauses the sweep, so that the
/// scheduler claims none of its runs meanwhile and a bayes sweep proposes
/// no new ones; resuming the sweep lets it go on. Each run is stopped as
/// its own stop would, and keeps its checkpoints.
pub async fn halt(db: &SqlitePool, runner: &Runner, id: i64, halt: Halt) -> Result<Halted, AppError> {
    let head = store::sweeps::head(db, id).await?.ok_or(AppError::NotFound)?;
    if !head.paused {
        let change = store::sweeps::Change { summary: "paused", change: r#"{"pause":true}"#, spec: &head.spec };
        store::sweeps::set_paused(db, id, true, change).await?;
    }
    let runs = store::runs::of_sweep(db, id).await?;
    let mut done = Halted::default();
    for run in runs.iter().filter(|r| r.status.is_live()) {
        let waiting = run.status == store::RunStatus::Queued && run.handle.is_none();
        if halt == Halt::Queued && !waiting {
            continue;
        }
        match super::runs::stop(db, runner, run.id).await {
            Ok(super::runs::Stop::Dequeued) => done.cancelled += 1,
            Ok(super::runs::Stop::Stopping) => done.stopping += 1,
            Err(AppError::Conflict(_)) => done.skipped += 1,
            Err(other) => return Err(other),
        }
    }
    let (summary, change) = match halt {
        Halt::All => (format!("stopped all: {} stopping, {} taken out of the queue", done.stopping, done.cancelled), r#"{"stop":"all"}"#),
        Halt::Queued => (format!("cancelled {} queued runs", done.cancelled), r#"{"stop":"queued"}"#),
    };
    store::sweeps::note(db, id, &summary, change).await?;
    Ok(done)
}

/// Gives a sweep, its queued runs and every run it queues from now on this
/// priority (higher starts first); the number of queued runs reordered.
pub async fn set_priority(db: &SqlitePool, runner: &Runner, id: i64, priority: i64) -> Result<u64, AppError> {
    let head = store::sweeps::head(db, id).await?.ok_or(AppError::NotFound)?;
    let summary = format!("priority {} → {priority}", head.priority);
    let change = serde_json::json!({ "priority": priority }).to_string();
    let record = store::sweeps::Change { summary: &summary, change: &change, spec: &head.spec };
    let runs = store::sweeps::set_priority(db, id, priority, record).await?;
    runner.wake();
    Ok(runs)
}

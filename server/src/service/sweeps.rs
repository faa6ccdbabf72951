//! Sweeps: a spec in, validated runs queued; nothing is created unless every
//! generated config is valid, placeable, and the count is within the limit.

use advmix_protocol::FieldError;
use advmix_protocol::sweep::{SweepError, SweepRun, SweepSpec};
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::runner::Runner;
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

/// Stores the sweep and queues its runs, all or nothing, then wakes the runner.
pub async fn submit(db: &SqlitePool, runner: &Runner, spec: &SweepSpec, runs: &[SweepRun]) -> Result<Created, AppError> {
    let name = spec.name.clone().unwrap_or_else(|| format!("sweep of {} runs", runs.len()));
    placeable(runner, runs).await.map_err(|e| AppError::Invalid(vec![e]))?;
    let spec_json = serde_json::to_string(spec).expect("specs serialize");
    let id = store::sweeps::insert(db, &name, &spec_json, runs).await?;
    runner.wake();
    Ok(Created { id, name })
}

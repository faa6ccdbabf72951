//! "What would early termination have done": a sweep's recorded epochs
//! replayed through an `early_terminate` rule, the sweep's own or another.
//! Arrivals at each rung are ordered by when they happened (the time each
//! epoch line was written; for epochs recorded before that was stored, the
//! run's start plus its epochs' training seconds), as the live decision saw
//! them.

use advmix_protocol::sweep::EarlyTerminate;
use advmix_protocol::sweep::early_terminate::{Replay, ReplayRun, replay as replay_runs};
use advmix_protocol::{FieldError, SweepSpec};
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::store;

pub async fn replay(db: &SqlitePool, sweep_id: i64, rule: Option<EarlyTerminate>) -> Result<(EarlyTerminate, Replay), AppError> {
    let head = store::sweeps::head(db, sweep_id).await?.ok_or(AppError::NotFound)?;
    let spec: Option<SweepSpec> = serde_json::from_str(&head.spec).ok();
    let rule = rule.or_else(|| spec.and_then(|s| s.early_terminate)).ok_or_else(|| {
        AppError::field("early_terminate", "this sweep has no early_terminate of its own; choose one to replay, e.g. {\"type\": \"asha\", \"min_epochs\": 1}")
    })?;
    let runs = store::runs::of_sweep(db, sweep_id).await?;
    let planned: Vec<u32> = runs.iter().map(|r| u32::try_from(r.epochs).unwrap_or(u32::MAX)).collect();
    let problems: Vec<FieldError> = rule.problems(&planned);
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let mut epochs = store::epochs::of_sweep(db, sweep_id, None).await?;
    let started: std::collections::HashMap<i64, f64> = store::runs::started_seconds(db, sweep_id).await?.into_iter().collect();
    let recorded_at = store::epochs::times_of_sweep(db, sweep_id).await?;
    let recorded = runs
        .iter()
        .filter_map(|run| {
            let rows = epochs.remove(&run.id)?;
            let start = started.get(&run.id).copied().unwrap_or(0.0);
            let times = rows
                .iter()
                .scan(start, |t, row| {
                    *t = recorded_at.get(&(run.id, row.epoch)).copied().unwrap_or(*t + row.epoch_seconds);
                    Some(*t)
                })
                .collect();
            Some(ReplayRun { id: run.id, planned_epochs: u32::try_from(run.epochs).unwrap_or(u32::MAX), epochs: rows, times })
        })
        .collect::<Vec<_>>();
    let result = replay_runs(&rule, &recorded);
    Ok((rule, result))
}

//! Actions on runs.

use advmix_protocol::{FieldError, RunConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::runner::Runner;
use crate::store::{self, RunStatus};

/// Parses a partial config (defaults fill the rest) and validates it.
pub fn parse_config(config: Value) -> Result<RunConfig, AppError> {
    let config = if config.is_null() { json!({}) } else { config };
    let config: RunConfig = serde_json::from_value(config.clone()).map_err(|e| {
        let field = locate_error(&config).map_or_else(|| "config".to_owned(), |path| format!("config.{path}"));
        AppError::field(&field, e.to_string())
    })?;
    config.checked().map_err(|errors| {
        AppError::Invalid(
            errors.into_iter().map(|e| FieldError { field: format!("config.{}", e.field), message: e.message }).collect(),
        )
    })
}

/// serde's errors from a `Value` carry no path (`invalid type: string "ten",
/// expected u32`), so find the first field that fails on its own: a top-level
/// key, or a key inside a section such as `aom`. Every field has a default,
/// so a config of one field parses unless that field is wrong.
fn locate_error(config: &Value) -> Option<String> {
    let fails = |one: Value| serde_json::from_value::<RunConfig>(one).is_err();
    let Value::Object(fields) = config else { return None };
    let (key, value) = fields.iter().find(|(key, value)| fails(json!({ key.as_str(): value })))?;
    let inner = value.as_object().and_then(|inner| inner.iter().find(|(k, v)| fails(json!({ key.as_str(): { k.as_str(): v } }))));
    Some(match inner {
        Some((sub, _)) => format!("{key}.{sub}"),
        None => key.clone(),
    })
}

/// One page of the run list, after the checks that both the API and the
/// Runs page's form make.
pub async fn list(db: &SqlitePool, q: &store::runs::ListQuery) -> Result<(i64, Vec<store::runs::RunSummary>), AppError> {
    let problems = q.problems();
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    Ok(store::runs::list(db, q).await?)
}

fn check_name(name: &str) -> Result<(), AppError> {
    match advmix_protocol::validate::name_problem(name) {
        Some(problem) => Err(AppError::field("name", problem)),
        None => Ok(()),
    }
}

/// Queues one run; its id.
pub async fn create(db: &SqlitePool, runner: &Runner, name: &str, config: Value, priority: i64) -> Result<i64, AppError> {
    check_name(name)?;
    let config = parse_config(config)?;
    runner.check_device(&config).map_err(|message| AppError::field("config.device", message))?;
    runner.check_dataset(config.dataset).map_err(|message| AppError::field("config.dataset", message))?;
    let mut tx = db.begin().await?;
    let id = store::runs::insert(&mut tx, None, name.trim(), &config, &Default::default(), priority, None).await?;
    tx.commit().await?;
    runner.wake();
    Ok(id)
}

/// What a stop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Taken out of the queue.
    Dequeued,
    /// The job was asked to stop; it saves a checkpoint and exits.
    Stopping,
}

impl Stop {
    pub fn as_str(self) -> &'static str {
        match self {
            Stop::Dequeued => RunStatus::Stopped.as_str(),
            Stop::Stopping => "stopping",
        }
    }
}

pub async fn stop(db: &SqlitePool, runner: &Runner, id: i64) -> Result<Stop, AppError> {
    let run = store::runs::fetch(db, id).await?;
    match run.status {
        // Not submitted yet: out of the queue, nothing to stop.
        RunStatus::Queued if run.handle.is_none() => {
            // Only if still queued: the scheduler may have claimed it meanwhile.
            if !store::runs::stop_queued(db, id).await? {
                return Err(AppError::Conflict(format!("run {id} just started; stop it again to stop the trainer")));
            }
            runner.publish_run(id).await;
            Ok(Stop::Dequeued)
        }
        // Running, or waiting in the executor's own queue.
        RunStatus::Running | RunStatus::Queued => {
            let handle = run
                .handle
                .ok_or_else(|| AppError::Conflict("the run is still being started; try again in a moment".into()))?;
            runner.cancel(&handle).await?;
            Ok(Stop::Stopping)
        }
        other => Err(AppError::Conflict(format!("run {id} is {other}; only queued or running runs can be stopped"))),
    }
}

/// What a resume did: whether the new attempt starts from the run's
/// checkpoint, and whether it was a pruned run's "continue anyway" (early
/// termination leaves it alone from now on).
#[derive(Clone, Copy, Debug)]
pub struct Resumed {
    pub from_checkpoint: bool,
    pub continued: bool,
}

/// A new attempt of the same run, continuing from its last checkpoint when
/// it has one.
pub async fn resume(db: &SqlitePool, runner: &Runner, id: i64) -> Result<Resumed, AppError> {
    let run = store::runs::fetch(db, id).await?;
    if !run.status.is_resumable() {
        return Err(AppError::Conflict(format!(
            "run {id} is {}; only failed, stopped, lost or pruned runs can be resumed",
            run.status
        )));
    }
    let from_checkpoint = runner.paths().resume_file(id).exists();
    if !store::runs::requeue(db, id, from_checkpoint).await? {
        return Err(AppError::Conflict(format!("run {id} was started again meanwhile")));
    }
    runner.publish_run(id).await;
    runner.wake();
    Ok(Resumed { from_checkpoint, continued: run.status == RunStatus::Pruned })
}

/// A new run with the same config, in the same sweep; the new run's id.
pub async fn rerun(db: &SqlitePool, runner: &Runner, id: i64) -> Result<i64, AppError> {
    let run = store::runs::fetch(db, id).await?;
    let config = parse_config(serde_json::from_str(&store::runs::config(db, id).await?).unwrap_or(Value::Null))?;
    let params = serde_json::from_str(&run.params).unwrap_or_default();
    let mut tx = db.begin().await?;
    let name = rerun_name(&run.name, id);
    let new_id = store::runs::insert(&mut tx, run.sweep_id, &name, &config, &params, run.priority, run.proposal).await?;
    tx.commit().await?;
    runner.wake();
    Ok(new_id)
}

/// A re-run's name says it is one, and of which run; a re-run of a re-run
/// names only the run it repeats.
fn rerun_name(name: &str, of: i64) -> String {
    let base = match name.rfind(" (re-run of #") {
        Some(at) if name.ends_with(')') => &name[..at],
        _ => name,
    };
    format!("{base} (re-run of #{of})")
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub priority: Option<i64>,
    pub note: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Checks every field given, then writes them together.
pub async fn patch(db: &SqlitePool, id: i64, body: &Patch) -> Result<(), AppError> {
    store::runs::fetch(db, id).await?;
    if let Some(note) = &body.note
        && note.len() > 10_000
    {
        return Err(AppError::field("note", "notes are limited to 10,000 characters"));
    }
    if let Some(tags) = &body.tags
        && let Some(bad) = tags.iter().find(|t| t.trim().is_empty() || t.len() > 64 || t.contains(','))
    {
        return Err(AppError::field("tags", format!("`{bad}`: tags are 1 to 64 characters, without commas")));
    }
    store::runs::annotate(db, id, body.priority, body.note.as_deref(), body.tags.as_deref()).await?;
    Ok(())
}

/// Rows and files. A running run must be stopped first.
pub async fn delete(db: &SqlitePool, runner: &Runner, id: i64) -> Result<(), AppError> {
    let run = store::runs::fetch(db, id).await?;
    if run.has_job() || !store::runs::delete_ended(db, id).await? {
        let what = if run.status == RunStatus::Queued { "waiting in the executor's queue" } else { "running" };
        return Err(AppError::Conflict(format!("run {id} is {what}; stop it before deleting it")));
    }
    let dir = runner.paths().run_dir(id);
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rerun_name;

    #[test]
    fn a_rerun_says_which_run_it_repeats() {
        assert_eq!(rerun_name("method=aom,seed=1", 5), "method=aom,seed=1 (re-run of #5)");
        assert_eq!(rerun_name("method=aom,seed=1 (re-run of #5)", 9), "method=aom,seed=1 (re-run of #9)");
        assert_eq!(rerun_name("odd (name)", 2), "odd (name) (re-run of #2)");
    }
}

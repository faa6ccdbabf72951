//! Evaluation jobs: checked here, so the API and the pages refuse the same
//! things with the same words.

use sqlx::SqlitePool;

use crate::error::AppError;
use crate::runner::Runner;
use crate::store;
use crate::store::evals::EvalRow;

pub const SUITES: &[&str] = &["pgd", "aa-fast", "aa-standard"];
/// More points than any test split advmix reads (CIFAR's is 10,000).
pub const MAX_POINTS: i64 = 10_000;
pub const DEFAULT_POINTS: i64 = 1000;

/// What a user asks for.
pub struct Request {
    pub suite: String,
    pub n: Option<i64>,
    pub epsilon: Option<f64>,
}

/// Queues an evaluation job of checkpoint `checkpoint_id`.
pub async fn queue(db: &SqlitePool, runner: &Runner, checkpoint_id: i64, request: &Request) -> Result<EvalRow, AppError> {
    if !SUITES.contains(&request.suite.as_str()) {
        return Err(AppError::field("attack", format!("unknown attack `{}`; use one of {}", request.suite, SUITES.join(", "))));
    }
    let n = request.n.unwrap_or(DEFAULT_POINTS);
    if !(1..=MAX_POINTS).contains(&n) {
        return Err(AppError::field("n", format!("evaluate between 1 and {MAX_POINTS} points")));
    }
    if let Some(eps) = request.epsilon.filter(|e| !(0.0..=1.0).contains(e) || e.is_nan()) {
        return Err(AppError::field("epsilon", format!("{eps} is outside [0, 1]: ε is in pixel units, e.g. 0.0314 for 8/255")));
    }
    let (run_id, epoch) = store::checkpoints::run_and_epoch(db, checkpoint_id).await?;
    let row = store::evals::insert_job(db, run_id, checkpoint_id, epoch, &request.suite, request.epsilon, n).await?;
    runner.publish_eval(row.id).await;
    runner.wake();
    Ok(row)
}

/// What evaluating a sweep's best checkpoints queued.
#[derive(serde::Serialize, Debug, Default)]
pub struct SweepEvaluation {
    /// The jobs queued, best run first.
    pub queued: Vec<EvalRow>,
    /// Checkpoints that already have this evaluation (queued, running or done).
    pub already: usize,
}

/// Queues `request` on the `best` checkpoint of each finished run of sweep
/// `sweep_id`, or of the `top` runs by best robust accuracy; a checkpoint
/// that already has the same evaluation is left alone, so asking twice
/// queues nothing twice.
pub async fn sweep_best(
    db: &SqlitePool,
    runner: &Runner,
    sweep_id: i64,
    request: &Request,
    top: Option<usize>,
) -> Result<SweepEvaluation, AppError> {
    store::sweeps::head(db, sweep_id).await?.ok_or(AppError::NotFound)?;
    if top == Some(0) {
        return Err(AppError::field("top", "is 0; give how many of the best runs to evaluate, or leave it out for all"));
    }
    let mut best = store::checkpoints::best_of_sweep(db, sweep_id).await?;
    if best.is_empty() {
        return Err(AppError::Conflict(format!(
            "sweep {sweep_id} has no finished run with a best checkpoint yet; evaluate once runs have finished"
        )));
    }
    best.truncate(top.unwrap_or(usize::MAX));
    let n = request.n.unwrap_or(DEFAULT_POINTS);
    let mut done = SweepEvaluation::default();
    for (_, checkpoint_id) in best {
        let (_, epoch) = store::checkpoints::run_and_epoch(db, checkpoint_id).await?;
        if store::evals::has_job(db, checkpoint_id, epoch, &request.suite, n, request.epsilon).await? {
            done.already += 1;
            continue;
        }
        done.queued.push(queue(db, runner, checkpoint_id, request).await?);
    }
    Ok(done)
}

/// A checkpoint with what it was evaluated against and the result, as the
/// run page's table and `/api/v1/runs/{id}/checkpoints` show it.
#[derive(serde::Serialize, Clone, Debug)]
pub struct EvaluatedCheckpoint {
    #[serde(flatten)]
    pub row: store::checkpoints::CheckpointRow,
    /// One line per evaluation of exactly these weights: the epoch's PGD
    /// evaluation, then each finished or running job.
    pub evaluated: Vec<String>,
}

pub async fn checkpoints(db: &SqlitePool, run_id: i64) -> Result<Vec<EvaluatedCheckpoint>, AppError> {
    let rows = store::checkpoints::of_run(db, run_id).await?;
    let config: serde_json::Value = serde_json::from_str(&store::runs::config(db, run_id).await?).unwrap_or_default();
    let epochs = store::epochs::of_run(db, run_id).await?;
    let evals = store::evals::list_for_run(db, run_id).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut evaluated = Vec::new();
            if let Some(e) = epochs.iter().find(|e| i64::from(e.epoch) == row.epoch) {
                let steps = config["eval"]["pgd_steps"].as_u64().map_or_else(String::new, |s| format!("-{s}"));
                let points = match &config["eval"]["n"] {
                    serde_json::Value::Number(n) => format!("{n} points"),
                    _ => "all test points".to_owned(),
                };
                evaluated.push(format!(
                    "PGD{steps} after epoch {} on {points}: clean {:.1}%, robust {:.1}%",
                    e.epoch,
                    100.0 * e.test_clean_acc,
                    100.0 * e.test_pgd_acc
                ));
            }
            // `last` and `best` are rewritten in place: an evaluation of an
            // older epoch was of other weights.
            for e in evals.iter().filter(|e| e.checkpoint_id == Some(row.id) && e.epoch == Some(row.epoch)) {
                let at = e.epsilon.map_or_else(String::new, |eps| format!(" at ε {}", super::results::epsilon_text(eps)));
                let what = format!("{} on {} points{at}", e.suite, e.n);
                match (e.status, e.clean_acc, e.robust_acc) {
                    (store::EvalStatus::Succeeded, Some(clean), Some(robust)) => {
                        evaluated.push(format!("{what}: clean {:.1}%, robust {:.1}%", 100.0 * clean, 100.0 * robust));
                    }
                    (store::EvalStatus::Queued | store::EvalStatus::Running, _, _) => {
                        evaluated.push(format!("{what}: {}", e.status.as_str()));
                    }
                    _ => {}
                }
            }
            EvaluatedCheckpoint { row, evaluated }
        })
        .collect())
}

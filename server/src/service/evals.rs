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

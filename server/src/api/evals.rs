//! Robustness evaluations: queue a job on a checkpoint, list a run's
//! evaluations, follow one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sqlx::SqlitePool;

use super::ApiJson;
use crate::error::AppError;
use crate::runner::Runner;
use crate::service::evals::{self, Request};
use crate::store;
use crate::store::evals::EvalRow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateBody {
    /// `pgd`, `aa-fast` or `aa-standard`.
    attack: String,
    n: Option<i64>,
    /// Defaults to the run's own ε.
    epsilon: Option<f64>,
}

pub async fn create(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(checkpoint_id): Path<i64>,
    ApiJson(body): ApiJson<EvaluateBody>,
) -> Result<(StatusCode, Json<EvalRow>), AppError> {
    let request = Request { suite: body.attack, n: body.n, epsilon: body.epsilon };
    let row = evals::queue(&db, &runner, checkpoint_id, &request).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepEvaluateBody {
    attack: String,
    n: Option<i64>,
    epsilon: Option<f64>,
    /// Only the best `top` runs by best robust accuracy; all finished runs when left out.
    top: Option<usize>,
}

/// The best checkpoint of every finished run of a sweep (or of its top runs).
pub async fn sweep(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(sweep_id): Path<i64>,
    ApiJson(body): ApiJson<SweepEvaluateBody>,
) -> Result<(StatusCode, Json<evals::SweepEvaluation>), AppError> {
    let request = Request { suite: body.attack, n: body.n, epsilon: body.epsilon };
    Ok((StatusCode::CREATED, Json(evals::sweep_best(&db, &runner, sweep_id, &request, body.top).await?)))
}

pub async fn for_run(State(db): State<SqlitePool>, Path(run_id): Path<i64>) -> Result<Json<Vec<EvalRow>>, AppError> {
    store::runs::fetch(&db, run_id).await?;
    Ok(Json(store::evals::list_for_run(&db, run_id).await?))
}

pub async fn get(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<EvalRow>, AppError> {
    Ok(Json(store::evals::get(&db, id).await?.ok_or(AppError::NotFound)?))
}

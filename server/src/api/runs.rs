//! `/api/v1/runs`: list, create, inspect and act on runs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::SqlitePool;

use super::{ApiJson, ApiQuery};
use crate::error::AppError;
use crate::runner::Runner;
use crate::service::runs::{self as actions, Patch};
use crate::store::RunStatus;
use crate::store::runs::{self, ListQuery, RunSummary};

pub async fn list(State(db): State<SqlitePool>, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<Value>, AppError> {
    let (total, runs) = actions::list(&db, &q).await?;
    Ok(Json(json!({ "runs": runs, "total": total, "page": q.page(), "per_page": q.per_page() })))
}

/// The run, its config, whether a resume continues from a checkpoint, and
/// where its current attempt runs: what the `status` SSE event carries, so
/// that a page that reconnects catches up from here.
pub async fn get(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let run = runs::fetch(&db, id).await?;
    let config = runs::config(&db, id).await?;
    let executor = match &run.handle {
        Some(handle) if run.status.is_live() => Some(runner.describe(handle).await),
        _ => None,
    };
    let mut body = serde_json::to_value(&run).expect("runs serialize");
    body["config"] = serde_json::from_str(&config).unwrap_or(Value::Null);
    body["resume_from_checkpoint"] = runner.paths().resume_file(id).exists().into();
    body["executor"] = serde_json::to_value(executor).expect("placements serialize");
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    name: String,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    priority: i64,
}

pub async fn create(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    ApiJson(body): ApiJson<CreateRun>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let id = actions::create(&db, &runner, &body.name, body.config, body.priority).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// The trainer saves and exits (it is killed after the grace period); a
/// queued run is simply taken out of the queue.
pub async fn stop(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let stop = actions::stop(&db, &runner, id).await?;
    Ok(Json(json!({ "status": stop.as_str() })))
}

/// A new attempt of the same run, continuing from its last checkpoint.
pub async fn resume(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let resumed = actions::resume(&db, &runner, id).await?;
    Ok(Json(json!({ "status": RunStatus::Queued, "from_checkpoint": resumed.from_checkpoint, "continued": resumed.continued })))
}

/// A new run with the same config.
pub async fn rerun(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let new_id = actions::rerun(&db, &runner, id).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": new_id }))))
}

pub async fn patch(State(db): State<SqlitePool>, Path(id): Path<i64>, ApiJson(body): ApiJson<Patch>) -> Result<Json<RunSummary>, AppError> {
    actions::patch(&db, id, &body).await?;
    Ok(Json(runs::fetch(&db, id).await?))
}

/// Rows and files. A running run must be stopped first.
pub async fn delete(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<StatusCode, AppError> {
    actions::delete(&db, &runner, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

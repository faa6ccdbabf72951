//! `/api/v1/sweeps`: a spec in (JSON or YAML), validated runs queued; then
//! growing, pausing and resuming a sweep, and replaying its epochs through
//! an early-termination rule.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use sqlx::SqlitePool;

use advmix_protocol::sweep::SweepSpec;

use super::{ApiBytes, ApiJson};
use crate::error::AppError;
use crate::runner::Runner;
use crate::service::sweeps::grow::{Grow, Grown};
use crate::service::sweeps::{self, Created};
use crate::state::AppState;
use crate::store;

/// The body is the spec itself, in JSON or YAML (by Content-Type, or by its
/// first character when the type is missing or generic).
fn parse_spec(headers: &HeaderMap, body: &[u8]) -> Result<SweepSpec, AppError> {
    let text = std::str::from_utf8(body).map_err(|_| AppError::field("body", "the spec must be UTF-8 text"))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let spec = if content_type.starts_with("application/json") {
        SweepSpec::from_json(text)?
    } else if content_type.contains("yaml") {
        SweepSpec::from_yaml(text)?
    } else {
        SweepSpec::parse(text)?
    };
    Ok(spec)
}

/// How many runs a spec makes and what varies, without creating anything.
pub async fn preview(State(state): State<AppState>, headers: HeaderMap, ApiBytes(body): ApiBytes) -> Result<Json<Value>, AppError> {
    let spec = parse_spec(&headers, &body)?;
    let runs = sweeps::expand(&spec, state.max_sweep_runs)?;
    sweeps::placeable(&state.runner, &runs).await.map_err(|e| AppError::Invalid(vec![e]))?;
    let count = sweeps::count(&spec, &runs)?;
    Ok(Json(json!({
        "runs": count.runs,
        "merged": count.merged,
        "varying": spec.varying(),
        "limit": state.max_sweep_runs,
        "warnings": sweeps::warnings(&spec, &runs, count),
    })))
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let spec = parse_spec(&headers, &body)?;
    let runs = sweeps::expand(&spec, state.max_sweep_runs)?;
    let Created { id, name } = sweeps::submit(&state.db, &state.runner, &spec, &runs).await?;
    // A bayes sweep queues its first proposal now and the rest later.
    let count = sweeps::count(&spec, &runs)?;
    let warnings = sweeps::warnings(&spec, &runs, count);
    let body = json!({ "id": id, "name": name, "runs": count.runs, "merged": count.merged, "queued": runs.len(), "warnings": warnings });
    Ok((StatusCode::CREATED, Json(body)))
}

/// More seeds, grid values or configs for a stored sweep.
pub async fn grow(State(state): State<AppState>, Path(id): Path<i64>, ApiJson(ask): ApiJson<Grow>) -> Result<Json<Grown>, AppError> {
    Ok(Json(sweeps::grow::grow(&state.db, &state.runner, state.max_sweep_runs, id, &ask).await?))
}

pub async fn pause(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<StatusCode, AppError> {
    sweeps::pause(&db, &runner, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn resume(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<StatusCode, AppError> {
    sweeps::pause(&db, &runner, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops every queued or running run of the sweep, pausing it.
pub async fn stop(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<Json<sweeps::Halted>, AppError> {
    Ok(Json(sweeps::halt(&db, &runner, id, sweeps::Halt::All).await?))
}

/// Takes the sweep's queued runs out of the queue, pausing it; running ones go on.
pub async fn cancel(State(db): State<SqlitePool>, State(runner): State<Runner>, Path(id): Path<i64>) -> Result<Json<sweeps::Halted>, AppError> {
    Ok(Json(sweeps::halt(&db, &runner, id, sweeps::Halt::Queued).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPatch {
    priority: i64,
}

/// `{"priority": N}`: the sweep's and its queued runs' priority.
pub async fn patch(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<SweepPatch>,
) -> Result<Json<Value>, AppError> {
    let reordered = sweeps::set_priority(&db, &runner, id, patch.priority).await?;
    Ok(Json(json!({ "priority": patch.priority, "queued_runs": reordered })))
}

/// The body is an `early_terminate` rule (JSON), or empty for the sweep's own.
pub async fn replay(State(db): State<SqlitePool>, Path(id): Path<i64>, ApiBytes(body): ApiBytes) -> Result<Json<Value>, AppError> {
    let rule = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| AppError::field("early_terminate", format!("is not a valid early_terminate rule: {e}")))?)
    };
    let (rule, replay) = sweeps::replay::replay(&db, id, rule).await?;
    Ok(Json(json!({ "early_terminate": rule, "replay": replay })))
}

pub async fn list(State(db): State<SqlitePool>) -> Result<Json<Vec<store::sweeps::SweepRow>>, AppError> {
    Ok(Json(store::sweeps::list(&db).await?))
}

pub async fn get(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let (row, spec) = store::sweeps::get(&db, id).await?;
    let mut body = serde_json::to_value(row).expect("rows serialize");
    body["spec"] = serde_json::from_str(&spec).unwrap_or(Value::Null);
    body["changes"] = serde_json::to_value(store::sweeps::changes(&db, id).await?).expect("changes serialize");
    Ok(Json(body))
}

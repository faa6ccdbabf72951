//! `/api/v1/sweeps`: a spec in (JSON or YAML), validated runs queued.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use sqlx::SqlitePool;

use advmix_protocol::sweep::SweepSpec;

use super::ApiBytes;
use crate::error::AppError;
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
    Ok(Json(json!({ "runs": runs.len(), "varying": spec.varying(), "limit": state.max_sweep_runs })))
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let spec = parse_spec(&headers, &body)?;
    let runs = sweeps::expand(&spec, state.max_sweep_runs)?;
    let Created { id, name } = sweeps::submit(&state.db, &state.runner, &spec, &runs).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name, "runs": runs.len() }))))
}

pub async fn list(State(db): State<SqlitePool>) -> Result<Json<Vec<store::sweeps::SweepRow>>, AppError> {
    Ok(Json(store::sweeps::list(&db).await?))
}

pub async fn get(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let (row, spec) = store::sweeps::get(&db, id).await?;
    let mut body = serde_json::to_value(row).expect("rows serialize");
    body["spec"] = serde_json::from_str(&spec).unwrap_or(Value::Null);
    Ok(Json(body))
}

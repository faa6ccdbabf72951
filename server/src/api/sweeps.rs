//! `/api/v1/sweeps`: a spec in, validated runs queued; nothing is created
//! unless every generated config is valid and the count is within the limit.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, SqlitePool};

use advmix_protocol::FieldError;
use advmix_protocol::sweep::{SweepError, SweepMethod, SweepRun, SweepSpec};

use super::ApiBytes;
use crate::error::AppError;
use crate::state::AppState;
use crate::store;

impl From<SweepError> for AppError {
    fn from(e: SweepError) -> AppError {
        AppError::Invalid(e.errors)
    }
}

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
    let runs = expand(&spec, state.max_sweep_runs)?;
    Ok(Json(json!({ "runs": runs.len(), "varying": spec.varying(), "limit": state.max_sweep_runs })))
}

/// Every run of `spec`, each config validated, or every problem. The API and
/// the launch page both check through here, so a preview that says OK means
/// the create will work, and both refuse the same specs with the same words.
pub fn expand(spec: &SweepSpec, limit: usize) -> Result<Vec<SweepRun>, SweepError> {
    let runs = spec.run_count()?;
    if runs > limit {
        return Err(over_limit(spec, runs, limit));
    }
    spec.expand(limit)
}

/// Refused at `count` for a random sweep (as expansion reports it), else at
/// `parameters`.
fn over_limit(spec: &SweepSpec, runs: usize, limit: usize) -> SweepError {
    let (field, fix) = if spec.method == SweepMethod::Random {
        ("count", "lower count")
    } else {
        ("parameters", "vary fewer parameters or values, or use method: random with a count")
    };
    SweepError {
        errors: vec![FieldError {
            field: field.into(),
            message: format!(
                "this sweep makes {runs} runs, above the limit of {limit}: {fix}, or raise the server's --max-sweep-runs"
            ),
        }],
    }
}

/// A stored sweep.
pub struct Created {
    pub id: i64,
    pub name: String,
}

/// Stores the sweep and queues its runs, all or nothing, then wakes the scheduler.
/// Refuses runs that ask for a device no slot of this server has: they
/// would wait in the queue for ever.
pub fn placeable(scheduler: &crate::scheduler::Scheduler, runs: &[SweepRun]) -> Result<(), FieldError> {
    runs.iter()
        .try_for_each(|run| scheduler.check_device(&run.config))
        .map_err(|message| FieldError { field: "device".into(), message })
}

pub async fn insert(state: &AppState, spec: &SweepSpec, runs: &[SweepRun]) -> Result<Created, AppError> {
    let name = spec.name.clone().unwrap_or_else(|| format!("sweep of {} runs", runs.len()));
    placeable(&state.scheduler, runs).map_err(|e| AppError::Invalid(vec![e]))?;
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO sweeps (name, spec) VALUES (?, ?) RETURNING id")
        .bind(&name)
        .bind(serde_json::to_string(spec).expect("specs serialize"))
        .fetch_one(&mut *tx)
        .await?;
    for run in runs {
        store::insert_run(&mut tx, Some(id), &run.name, &run.config, &run.params, 0).await?;
    }
    tx.commit().await?;
    state.scheduler.wake();
    Ok(Created { id, name })
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let spec = parse_spec(&headers, &body)?;
    let runs = expand(&spec, state.max_sweep_runs)?;
    let Created { id, name } = insert(&state, &spec, &runs).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name, "runs": runs.len() }))))
}

#[derive(serde::Serialize, sqlx::FromRow)]
pub struct SweepRow {
    id: i64,
    name: String,
    status: String,
    created_at: String,
    runs: i64,
    queued: i64,
    running: i64,
    succeeded: i64,
    failed: i64,
    best_robust_acc: Option<f64>,
}

/// A sweep's status follows its runs ('active' while any is queued or
/// running, then 'done'), except a stored 'cancelled'.
const SWEEP_SELECT: &str = "SELECT s.id, s.name,
    CASE WHEN s.status = 'cancelled' THEN 'cancelled'
         WHEN count(r.id) FILTER (WHERE r.status IN ('queued', 'running')) > 0 THEN 'active'
         ELSE 'done' END AS status,
    s.created_at,
    count(r.id) AS runs,
    count(r.id) FILTER (WHERE r.status = 'queued') AS queued,
    count(r.id) FILTER (WHERE r.status = 'running') AS running,
    count(r.id) FILTER (WHERE r.status = 'succeeded') AS succeeded,
    count(r.id) FILTER (WHERE r.status IN ('failed', 'lost')) AS failed,
    max(r.best_robust_acc) AS best_robust_acc
    FROM sweeps s LEFT JOIN runs r ON r.sweep_id = s.id";

pub async fn list(State(db): State<SqlitePool>) -> Result<Json<Vec<SweepRow>>, AppError> {
    let rows = sqlx::query_as(AssertSqlSafe(format!("{SWEEP_SELECT} GROUP BY s.id ORDER BY s.id DESC"))).fetch_all(&db).await?;
    Ok(Json(rows))
}

pub async fn get(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let row: SweepRow = sqlx::query_as(AssertSqlSafe(format!("{SWEEP_SELECT} WHERE s.id = ? GROUP BY s.id")))
        .bind(id)
        .fetch_optional(&db)
        .await?
        .ok_or(AppError::NotFound)?;
    let spec: String = sqlx::query_scalar("SELECT spec FROM sweeps WHERE id = ?").bind(id).fetch_one(&db).await?;
    let mut body = serde_json::to_value(row).expect("rows serialize");
    body["spec"] = serde_json::from_str(&spec).unwrap_or(Value::Null);
    Ok(Json(body))
}

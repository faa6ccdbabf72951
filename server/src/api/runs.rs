//! `/api/v1/runs`: list, create, inspect and act on runs.

use std::sync::Arc;

use advmix_protocol::RunConfig;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, SqlitePool};

use super::{ApiJson, ApiQuery};
use crate::error::AppError;
use crate::executor;
use crate::scheduler::Scheduler;
use crate::store;

const RUN_COLUMNS: &str = "r.id, r.sweep_id, r.name, r.status, r.method, r.dataset, r.model, r.epochs, r.epochs_done,
    r.priority, r.slot, r.device, r.pid, r.attempt, r.created_at, r.started_at, r.finished_at, r.exit_code,
    r.error, r.note, r.params, r.best_robust_acc, r.best_epoch, r.final_clean_acc, r.final_robust_acc,
    r.autoattack_acc, (SELECT group_concat(tag, ',') FROM run_tags t WHERE t.run_id = r.id) AS tags";

/// Sortable columns, by their API names; anything else is refused.
const SORTABLE: &[&str] = &[
    "id", "name", "status", "method", "dataset", "model", "epochs_done", "priority", "created_at",
    "best_robust_acc", "final_clean_acc", "final_robust_acc", "autoattack_acc",
];
const STATUSES: &[&str] = &["queued", "running", "succeeded", "failed", "stopped", "lost"];
pub const MAX_PER_PAGE: i64 = 500;

#[derive(Serialize, sqlx::FromRow)]
pub struct RunSummary {
    pub id: i64,
    pub sweep_id: Option<i64>,
    pub name: String,
    pub status: String,
    pub method: String,
    pub dataset: String,
    pub model: String,
    pub epochs: i64,
    pub epochs_done: i64,
    pub priority: i64,
    pub slot: Option<String>,
    pub device: Option<String>,
    pub pid: Option<i64>,
    pub attempt: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub note: String,
    #[serde(serialize_with = "raw_json")]
    pub params: String,
    pub best_robust_acc: Option<f64>,
    pub best_epoch: Option<i64>,
    pub final_clean_acc: Option<f64>,
    pub final_robust_acc: Option<f64>,
    pub autoattack_acc: Option<f64>,
    #[serde(serialize_with = "tag_list")]
    pub tags: Option<String>,
}

fn raw_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    serde_json::from_str::<Value>(text).unwrap_or(Value::Null).serialize(s)
}

fn tag_list<S: serde::Serializer>(tags: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    let mut list: Vec<&str> = tags.as_deref().map(|t| t.split(',').collect()).unwrap_or_default();
    list.sort_unstable();
    list.serialize(s)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    sweep: Option<i64>,
    method: Option<String>,
    tag: Option<String>,
    /// Free text, matched against the name and the note.
    q: Option<String>,
    sort: Option<String>,
    order: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

/// Adds the list filters to a query that already has a WHERE clause.
fn push_filters(qb: &mut QueryBuilder<Sqlite>, q: &ListQuery) {
    if let Some(status) = &q.status {
        qb.push(" AND r.status = ").push_bind(status.clone());
    }
    if let Some(sweep) = q.sweep {
        qb.push(" AND r.sweep_id = ").push_bind(sweep);
    }
    if let Some(method) = &q.method {
        qb.push(" AND r.method = ").push_bind(method.clone());
    }
    if let Some(tag) = &q.tag {
        qb.push(" AND EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ").push_bind(tag.clone()).push(")");
    }
    if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
        let pattern = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        qb.push(" AND (r.name LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\' OR r.note LIKE ");
        qb.push_bind(pattern).push(" ESCAPE '\\')");
    }
}

pub async fn list(State(db): State<SqlitePool>, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<Value>, AppError> {
    if let Some(status) = q.status.as_deref().filter(|s| !STATUSES.contains(s)) {
        return Err(AppError::field("status", format!("unknown status `{status}`; use one of {}", STATUSES.join(", "))));
    }
    let sort = q.sort.as_deref().unwrap_or("id");
    if !SORTABLE.contains(&sort) {
        return Err(AppError::field("sort", format!("cannot sort by `{sort}`; use one of {}", SORTABLE.join(", "))));
    }
    let descending = match q.order.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => return Err(AppError::field("order", format!("`{other}` is not asc or desc"))),
    };
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(AppError::field("per_page", format!("must be between 1 and {MAX_PER_PAGE}")));
    }
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(AppError::field("page", "pages count from 1"));
    }

    let mut count = QueryBuilder::new("SELECT count(*) FROM runs r WHERE 1 = 1");
    push_filters(&mut count, &q);
    let total: i64 = count.build_query_scalar().fetch_one(&db).await?;

    let mut select = QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE 1 = 1"));
    push_filters(&mut select, &q);
    // `sort` is one of SORTABLE, so it is safe to splice. NULLs (no result
    // yet) last either way; written as NULLS LAST, not `x IS NULL`, so that
    // an index on the column can serve the order without a sort.
    let direction = if descending { "DESC" } else { "ASC" };
    select.push(format!(" ORDER BY r.{sort} {direction} NULLS LAST, r.id {direction} LIMIT "));
    select.push_bind(per_page).push(" OFFSET ").push_bind((page - 1) * per_page);
    let runs: Vec<RunSummary> = select.build_query_as().fetch_all(&db).await?;
    Ok(Json(json!({ "runs": runs, "total": total, "page": page, "per_page": per_page })))
}

pub async fn fetch(db: &SqlitePool, id: i64) -> Result<RunSummary, AppError> {
    sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn get(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Value>, AppError> {
    let run = fetch(&db, id).await?;
    let config: String = sqlx::query_scalar("SELECT config FROM runs WHERE id = ?").bind(id).fetch_one(&db).await?;
    let mut body = serde_json::to_value(&run).expect("runs serialize");
    body["config"] = serde_json::from_str(&config).unwrap_or(Value::Null);
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

/// Parses a partial config (defaults fill the rest) and validates it.
pub fn parse_config(config: Value) -> Result<RunConfig, AppError> {
    let config = if config.is_null() { json!({}) } else { config };
    let config: RunConfig = serde_json::from_value(config.clone()).map_err(|e| {
        let field = locate_error(&config).map_or_else(|| "config".to_owned(), |path| format!("config.{path}"));
        AppError::field(&field, e.to_string())
    })?;
    config.validate().map_err(|errors| {
        AppError::Invalid(
            errors
                .into_iter()
                .map(|e| advmix_protocol::FieldError { field: format!("config.{}", e.field), message: e.message })
                .collect(),
        )
    })?;
    Ok(config)
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

fn check_name(name: &str) -> Result<(), AppError> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(AppError::field("name", "give the run a name of 1 to 200 characters"));
    }
    Ok(())
}

pub async fn create(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    ApiJson(body): ApiJson<CreateRun>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    check_name(&body.name)?;
    let config = parse_config(body.config)?;
    let mut tx = db.begin().await?;
    let id = store::insert_run(&mut tx, None, body.name.trim(), &config, &Default::default(), body.priority).await?;
    tx.commit().await?;
    scheduler.wake();
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// SIGTERM (the trainer saves and exits), then SIGKILL after the grace period.
/// A queued run is simply taken out of the queue.
pub async fn stop(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, AppError> {
    let run = fetch(&db, id).await?;
    match run.status.as_str() {
        "queued" => {
            // Only if still queued: the scheduler may have claimed it meanwhile.
            let dequeued = store::stop_queued(&db, id).await?;
            if !dequeued {
                return Err(AppError::Conflict(format!("run {id} just started; stop it again to stop the trainer")));
            }
            Ok(Json(json!({ "status": "stopped" })))
        }
        "running" => {
            let pid = run.pid.and_then(|p| u32::try_from(p).ok()).ok_or_else(|| {
                AppError::Conflict("the run has no process id yet; try again in a moment".into())
            })?;
            executor::signal(pid, libc::SIGTERM);
            let grace = scheduler.stop_grace;
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                if executor::is_trainer_alive(pid) {
                    tracing::warn!(run = id, pid, "trainer ignored SIGTERM; killing it");
                    executor::signal(pid, libc::SIGKILL);
                }
            });
            Ok(Json(json!({ "status": "stopping" })))
        }
        other => Err(AppError::Conflict(format!("run {id} is {other}; only queued or running runs can be stopped"))),
    }
}

async fn requeue(db: &SqlitePool, scheduler: &Scheduler, id: i64, resume: bool) -> Result<(), AppError> {
    sqlx::query("UPDATE runs SET status = 'queued', resume = ?, error = NULL, exit_code = NULL WHERE id = ?")
        .bind(resume)
        .bind(id)
        .execute(db)
        .await?;
    scheduler.wake();
    Ok(())
}

/// A new attempt of the same run, continuing from its last checkpoint.
pub async fn resume(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, AppError> {
    let run = fetch(&db, id).await?;
    if !matches!(run.status.as_str(), "failed" | "stopped" | "lost") {
        return Err(AppError::Conflict(format!(
            "run {id} is {}; only failed, stopped or lost runs can be resumed",
            run.status
        )));
    }
    let resumable = scheduler.run_dir(id).join("checkpoints/resume.safetensors").exists();
    requeue(&db, &scheduler, id, resumable).await?;
    Ok(Json(json!({ "status": "queued", "from_checkpoint": resumable })))
}

/// A new run with the same config.
pub async fn rerun(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let run = fetch(&db, id).await?;
    let config: String = sqlx::query_scalar("SELECT config FROM runs WHERE id = ?").bind(id).fetch_one(&db).await?;
    let config = parse_config(serde_json::from_str(&config).unwrap_or(Value::Null))?;
    let params = serde_json::from_str(&run.params).unwrap_or_default();
    let mut tx = db.begin().await?;
    let new_id = store::insert_run(&mut tx, run.sweep_id, &run.name, &config, &params, run.priority).await?;
    tx.commit().await?;
    scheduler.wake();
    Ok((StatusCode::CREATED, Json(json!({ "id": new_id }))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    priority: Option<i64>,
    note: Option<String>,
    tags: Option<Vec<String>>,
}

pub async fn patch(
    State(db): State<SqlitePool>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Patch>,
) -> Result<Json<RunSummary>, AppError> {
    fetch(&db, id).await?;
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
    let mut tx = db.begin().await?;
    if let Some(priority) = body.priority {
        sqlx::query("UPDATE runs SET priority = ? WHERE id = ?").bind(priority).bind(id).execute(&mut *tx).await?;
    }
    if let Some(note) = &body.note {
        sqlx::query("UPDATE runs SET note = ? WHERE id = ?").bind(note).bind(id).execute(&mut *tx).await?;
    }
    if let Some(tags) = &body.tags {
        sqlx::query("DELETE FROM run_tags WHERE run_id = ?").bind(id).execute(&mut *tx).await?;
        for tag in tags {
            sqlx::query("INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)")
                .bind(id)
                .bind(tag.trim())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Json(fetch(&db, id).await?))
}

/// Rows and files. A running run must be stopped first.
pub async fn delete(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    let run = fetch(&db, id).await?;
    if run.status == "running" {
        return Err(AppError::Conflict(format!("run {id} is running; stop it before deleting it")));
    }
    sqlx::query("DELETE FROM runs WHERE id = ?").bind(id).execute(&db).await?;
    let dir = scheduler.run_dir(id);
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

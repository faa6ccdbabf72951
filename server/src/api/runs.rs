//! `/api/v1/runs`: list, create, inspect and act on runs.

use std::sync::Arc;

use advmix_protocol::layout::{CHECKPOINT_DIR, RESUME_FILE};
use advmix_protocol::{FieldError, RunConfig};
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
    r.autoattack_acc, r.autoattack_epoch, (SELECT group_concat(tag, ',') FROM run_tags t WHERE t.run_id = r.id) AS tags";

/// Sortable columns, by their API names; anything else is refused.
pub const SORTABLE: &[&str] = &[
    "id", "name", "status", "method", "dataset", "model", "epochs_done", "priority", "created_at",
    "best_robust_acc", "final_clean_acc", "final_robust_acc", "autoattack_acc", "sweep_id",
];
pub const STATUSES: &[&str] = &["queued", "running", "succeeded", "failed", "stopped", "lost"];
pub const MAX_PER_PAGE: i64 = 500;
pub const DEFAULT_PER_PAGE: i64 = 50;

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
    /// The epoch of the weights behind `autoattack_acc`.
    pub autoattack_epoch: Option<i64>,
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

/// The run list's filters, sort and page: the API's query string, and what
/// the Runs page builds from its form.
#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<String>,
    pub sweep: Option<i64>,
    pub method: Option<String>,
    pub tag: Option<String>,
    /// Free text, matched against the name and the note.
    pub q: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl ListQuery {
    pub fn sort(&self) -> &str {
        self.sort.as_deref().unwrap_or("id")
    }

    pub fn descending(&self) -> bool {
        self.order.as_deref() != Some("asc")
    }

    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1)
    }

    pub fn per_page(&self) -> i64 {
        self.per_page.unwrap_or(DEFAULT_PER_PAGE)
    }

    /// Every problem with the query, each at its parameter, so that a form
    /// can point at all of them at once.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| problems.push(FieldError { field: field.to_owned(), message });
        if let Some(status) = self.status.as_deref().filter(|s| !STATUSES.contains(s)) {
            problem("status", format!("unknown status `{status}`; use one of {}", STATUSES.join(", ")));
        }
        if !SORTABLE.contains(&self.sort()) {
            problem("sort", format!("cannot sort by `{}`; use one of {}", self.sort(), SORTABLE.join(", ")));
        }
        if let Some(other) = self.order.as_deref().filter(|o| !matches!(*o, "asc" | "desc")) {
            problem("order", format!("`{other}` is not asc or desc"));
        }
        if !(1..=MAX_PER_PAGE).contains(&self.per_page()) {
            problem("per_page", format!("must be between 1 and {MAX_PER_PAGE}"));
        }
        if self.page() < 1 {
            problem("page", "pages count from 1".to_owned());
        }
        problems
    }
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

/// One page of the run list and how many runs match in all. The API and the
/// Runs page both list through this, so they filter and order alike.
pub async fn query(db: &SqlitePool, q: &ListQuery) -> Result<(i64, Vec<RunSummary>), AppError> {
    let problems = q.problems();
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let mut count = QueryBuilder::new("SELECT count(*) FROM runs r WHERE 1 = 1");
    push_filters(&mut count, q);
    let total: i64 = count.build_query_scalar().fetch_one(db).await?;

    let mut select = QueryBuilder::new(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE 1 = 1"));
    push_filters(&mut select, q);
    // `sort` is one of SORTABLE, so it is safe to splice. NULLs (no result
    // yet) last either way; written as NULLS LAST, not `x IS NULL`, so that
    // an index on the column can serve the order without a sort.
    let direction = if q.descending() { "DESC" } else { "ASC" };
    select.push(format!(" ORDER BY r.{} {direction} NULLS LAST, r.id {direction} LIMIT ", q.sort()));
    select.push_bind(q.per_page()).push(" OFFSET ").push_bind((q.page() - 1) * q.per_page());
    let runs: Vec<RunSummary> = select.build_query_as().fetch_all(db).await?;
    Ok((total, runs))
}

pub async fn list(State(db): State<SqlitePool>, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<Value>, AppError> {
    let (total, runs) = query(&db, &q).await?;
    Ok(Json(json!({ "runs": runs, "total": total, "page": q.page(), "per_page": q.per_page() })))
}

pub async fn fetch(db: &SqlitePool, id: i64) -> Result<RunSummary, AppError> {
    sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.id = ?")))
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Every run of a sweep, in id order: the sweep page ranks and groups all of
/// them, so it cannot take one page of the list.
pub async fn of_sweep(db: &SqlitePool, sweep_id: i64) -> Result<Vec<RunSummary>, AppError> {
    Ok(sqlx::query_as(AssertSqlSafe(format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.sweep_id = ? ORDER BY r.id")))
        .bind(sweep_id)
        .fetch_all(db)
        .await?)
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
    scheduler.check_device(&config).map_err(|message| AppError::field("config.device", message))?;
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
    let status = stop_run(&db, &scheduler, id).await?;
    Ok(Json(json!({ "status": status })))
}

/// The core of `stop`, shared with the run page's form: `stopped` for a run
/// taken out of the queue, `stopping` for a trainer that was signalled.
pub async fn stop_run(db: &SqlitePool, scheduler: &Scheduler, id: i64) -> Result<&'static str, AppError> {
    let run = fetch(db, id).await?;
    match run.status.as_str() {
        "queued" => {
            // Only if still queued: the scheduler may have claimed it meanwhile.
            let dequeued = store::stop_queued(db, id).await?;
            if !dequeued {
                return Err(AppError::Conflict(format!("run {id} just started; stop it again to stop the trainer")));
            }
            Ok("stopped")
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
            Ok("stopping")
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
    let from_checkpoint = resume_run(&db, &scheduler, id).await?;
    Ok(Json(json!({ "status": "queued", "from_checkpoint": from_checkpoint })))
}

/// Whether a run in this status may be resumed.
pub fn resumable_status(status: &str) -> bool {
    matches!(status, "failed" | "stopped" | "lost")
}

/// Whether the next attempt of `id` would continue from its resume
/// checkpoint rather than start over.
pub fn has_resume_checkpoint(scheduler: &Scheduler, id: i64) -> bool {
    scheduler.run_dir(id).join(CHECKPOINT_DIR).join(RESUME_FILE).exists()
}

/// The core of `resume`, shared with the run page's form; true when the
/// run continues from its checkpoint.
pub async fn resume_run(db: &SqlitePool, scheduler: &Scheduler, id: i64) -> Result<bool, AppError> {
    let run = fetch(db, id).await?;
    if !resumable_status(&run.status) {
        return Err(AppError::Conflict(format!(
            "run {id} is {}; only failed, stopped or lost runs can be resumed",
            run.status
        )));
    }
    let resumable = has_resume_checkpoint(scheduler, id);
    requeue(db, scheduler, id, resumable).await?;
    Ok(resumable)
}

/// A new run with the same config.
pub async fn rerun(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let new_id = rerun_run(&db, &scheduler, id).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": new_id }))))
}

/// The core of `rerun`, shared with the run page's form; the new run's id.
pub async fn rerun_run(db: &SqlitePool, scheduler: &Scheduler, id: i64) -> Result<i64, AppError> {
    let run = fetch(db, id).await?;
    let config: String = sqlx::query_scalar("SELECT config FROM runs WHERE id = ?").bind(id).fetch_one(db).await?;
    let config = parse_config(serde_json::from_str(&config).unwrap_or(Value::Null))?;
    let params = serde_json::from_str(&run.params).unwrap_or_default();
    let mut tx = db.begin().await?;
    let new_id = store::insert_run(&mut tx, run.sweep_id, &run.name, &config, &params, run.priority).await?;
    tx.commit().await?;
    scheduler.wake();
    Ok(new_id)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    pub priority: Option<i64>,
    pub note: Option<String>,
    pub tags: Option<Vec<String>>,
}

pub async fn patch(
    State(db): State<SqlitePool>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Patch>,
) -> Result<Json<RunSummary>, AppError> {
    patch_run(&db, id, &body).await?;
    Ok(Json(fetch(&db, id).await?))
}

/// The core of `patch`, shared with the run page's form: checks every field
/// given, then writes them together.
pub async fn patch_run(db: &SqlitePool, id: i64, body: &Patch) -> Result<(), AppError> {
    fetch(db, id).await?;
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
    Ok(())
}

/// Rows and files. A running run must be stopped first.
pub async fn delete(
    State(db): State<SqlitePool>,
    State(scheduler): State<Arc<Scheduler>>,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    delete_run(&db, &scheduler, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The core of `delete`, shared with the run page's form.
pub async fn delete_run(db: &SqlitePool, scheduler: &Scheduler, id: i64) -> Result<(), AppError> {
    let run = fetch(db, id).await?;
    if run.status == "running" {
        return Err(AppError::Conflict(format!("run {id} is running; stop it before deleting it")));
    }
    sqlx::query("DELETE FROM runs WHERE id = ?").bind(id).execute(db).await?;
    let dir = scheduler.run_dir(id);
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir).await?;
    }
    Ok(())
}

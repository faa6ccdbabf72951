//! Queries on runs shared by the scheduler and the API.

use advmix_protocol::RunConfig;
use sqlx::{AssertSqlSafe, SqlitePool};

pub const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct QueuedRun {
    pub id: i64,
    pub config: String,
    pub resume: bool,
}

/// Inserts a queued run; returns its id.
pub async fn insert_run(
    tx: &mut sqlx::SqliteConnection,
    sweep_id: Option<i64>,
    name: &str,
    config: &RunConfig,
    params: &serde_json::Map<String, serde_json::Value>,
    priority: i64,
) -> sqlx::Result<i64> {
    let name_of = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let json = serde_json::to_value(config).expect("configs serialize");
    sqlx::query_scalar(
        "INSERT INTO runs (sweep_id, name, config, params, method, dataset, model, epochs, priority)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(sweep_id)
    .bind(name)
    .bind(json.to_string())
    .bind(serde_json::Value::Object(params.clone()).to_string())
    .bind(name_of(&json["method"]))
    .bind(name_of(&json["dataset"]))
    .bind(name_of(&json["model"]))
    .bind(i64::from(config.epochs))
    .bind(priority)
    .fetch_one(&mut *tx)
    .await
}

/// The next queued run that a slot on `device` (`cpu`, `cuda:N`) may take:
/// highest priority first, then first come.
pub async fn next_queued(db: &SqlitePool, device: &str) -> sqlx::Result<Option<QueuedRun>> {
    let kind = if device.starts_with("cuda") { "cuda" } else { "cpu" };
    sqlx::query_as(
        "SELECT id, config, resume FROM runs
         WHERE status = 'queued' AND coalesce(json_extract(config, '$.device'), 'auto') IN ('auto', ?)
         ORDER BY priority DESC, id LIMIT 1",
    )
    .bind(kind)
    .fetch_optional(db)
    .await
}

/// Moves a run from `queued` to `running` in `slot`. False when it is no
/// longer queued (stopped or deleted meanwhile): then it must not start.
pub async fn claim(db: &SqlitePool, id: i64, slot: &str, device: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = 'running', slot = ?, device = ?, pid = NULL, attempt = attempt + 1,
                started_at = {NOW}, finished_at = NULL, exit_code = NULL, error = NULL, resume = 0
         WHERE id = ? AND status = 'queued'"
    )))
    .bind(slot)
    .bind(device)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a run out of the queue; false if it is no longer queued.
pub async fn stop_queued(db: &SqlitePool, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = 'stopped', error = 'stopped before it started', finished_at = {NOW}
         WHERE id = ? AND status = 'queued'"
    )))
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_pid(db: &SqlitePool, id: i64, pid: u32) -> sqlx::Result<()> {
    sqlx::query("UPDATE runs SET pid = ? WHERE id = ?").bind(i64::from(pid)).bind(id).execute(db).await.map(drop)
}

pub async fn mark_ended(
    db: &SqlitePool,
    id: i64,
    status: &str,
    exit_code: Option<i32>,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE runs SET status = ?, exit_code = ?, error = ?, finished_at = {NOW}, pid = NULL WHERE id = ?"
    )))
    .bind(status)
    .bind(exit_code)
    .bind(error)
    .bind(id)
    .execute(db)
    .await
    .map(drop)
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RunningRun {
    pub id: i64,
    pub pid: Option<i64>,
    pub slot: Option<String>,
}

pub async fn running(db: &SqlitePool) -> sqlx::Result<Vec<RunningRun>> {
    sqlx::query_as("SELECT id, pid, slot FROM runs WHERE status = 'running' ORDER BY id").fetch_all(db).await
}

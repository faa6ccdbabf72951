//! The sweeps table: a spec and the runs it queued.

use std::collections::HashMap;

use advmix_protocol::SweepRun;
use sqlx::{AssertSqlSafe, SqlitePool};

/// Stores the sweep and queues its runs in one transaction: all or nothing.
pub async fn insert(db: &SqlitePool, name: &str, spec_json: &str, runs: &[SweepRun]) -> sqlx::Result<i64> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO sweeps (name, spec) VALUES (?, ?) RETURNING id")
        .bind(name)
        .bind(spec_json)
        .fetch_one(&mut *tx)
        .await?;
    for run in runs {
        super::runs::insert(&mut tx, Some(id), &run.name, &run.config, &run.params, 0).await?;
    }
    tx.commit().await?;
    Ok(id)
}

#[derive(serde::Serialize, sqlx::FromRow)]
pub struct SweepRow {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub created_at: String,
    pub runs: i64,
    pub queued: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub best_robust_acc: Option<f64>,
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

pub async fn list(db: &SqlitePool) -> sqlx::Result<Vec<SweepRow>> {
    sqlx::query_as(AssertSqlSafe(format!("{SWEEP_SELECT} GROUP BY s.id ORDER BY s.id DESC"))).fetch_all(db).await
}

/// One sweep with its spec (JSON text); `RowNotFound` when there is none.
pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<(SweepRow, String)> {
    let row: SweepRow = sqlx::query_as(AssertSqlSafe(format!("{SWEEP_SELECT} WHERE s.id = ? GROUP BY s.id")))
        .bind(id)
        .fetch_one(db)
        .await?;
    let spec: String = sqlx::query_scalar("SELECT spec FROM sweeps WHERE id = ?").bind(id).fetch_one(db).await?;
    Ok((row, spec))
}

#[derive(sqlx::FromRow)]
pub struct SweepHead {
    pub name: String,
    pub spec: String,
    pub created_at: String,
}

pub async fn head(db: &SqlitePool, id: i64) -> sqlx::Result<Option<SweepHead>> {
    sqlx::query_as("SELECT name, spec, created_at FROM sweeps WHERE id = ?").bind(id).fetch_optional(db).await
}

/// The names of the sweeps `ids`, for the runs table.
pub async fn names(db: &SqlitePool, ids: &[i64]) -> sqlx::Result<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut qb = super::with_ids("SELECT id, name FROM sweeps WHERE id IN", ids, "");
    let rows: Vec<(i64, String)> = qb.build_query_as().fetch_all(db).await?;
    Ok(rows.into_iter().collect())
}

//! The sweeps table: a spec and the runs it queued.

use std::collections::HashMap;

use advmix_protocol::SweepRun;
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

/// Stores the sweep and queues its runs in one transaction: all or nothing.
/// `proposal` marks them as a bayes sweep's first proposal.
pub async fn insert(
    db: &SqlitePool,
    name: &str,
    spec_json: &str,
    runs: &[SweepRun],
    proposal: Option<i64>,
) -> sqlx::Result<i64> {
    let mut tx = db.begin().await?;
    let id: i64 = sqlx::query_scalar("INSERT INTO sweeps (name, spec) VALUES (?, ?) RETURNING id")
        .bind(name)
        .bind(spec_json)
        .fetch_one(&mut *tx)
        .await?;
    let runs: Vec<(&SweepRun, Option<i64>)> = runs.iter().map(|run| (run, proposal)).collect();
    insert_runs(&mut tx, id, &runs).await?;
    tx.commit().await?;
    Ok(id)
}

// A slice, not an iterator of closures: a closure borrowed across the
// awaits below makes the futures of the handlers that call this not Send.
// Each run takes the sweep's priority.
async fn insert_runs(tx: &mut SqliteConnection, sweep_id: i64, runs: &[(&SweepRun, Option<i64>)]) -> sqlx::Result<()> {
    let priority: i64 = sqlx::query_scalar("SELECT priority FROM sweeps WHERE id = ?").bind(sweep_id).fetch_one(&mut *tx).await?;
    for &(run, proposal) in runs {
        super::runs::insert(tx, Some(sweep_id), &run.name, &run.config, &run.params, priority, proposal).await?;
    }
    Ok(())
}

/// A change to a stored sweep: what was asked (JSON), in one line, and the
/// spec after it.
pub struct Change<'a> {
    pub summary: &'a str,
    pub change: &'a str,
    pub spec: &'a str,
}

/// Queues more runs in a sweep (each with its bayes proposal, if any) and,
/// when given, records the change that made them and stores the spec after
/// it: all in one transaction, so a sweep never holds runs that its history
/// does not explain.
pub async fn add_runs(
    db: &SqlitePool,
    sweep_id: i64,
    runs: &[(SweepRun, Option<i64>)],
    change: Option<Change<'_>>,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let runs: Vec<(&SweepRun, Option<i64>)> = runs.iter().map(|(run, proposal)| (run, *proposal)).collect();
    insert_runs(&mut tx, sweep_id, &runs).await?;
    if let Some(change) = change {
        sqlx::query("UPDATE sweeps SET spec = ? WHERE id = ?").bind(change.spec).bind(sweep_id).execute(&mut *tx).await?;
        record(&mut tx, sweep_id, &change, runs.len()).await?;
    }
    tx.commit().await
}

async fn record(tx: &mut SqliteConnection, sweep_id: i64, change: &Change<'_>, runs_added: usize) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sweep_changes (sweep_id, summary, change, spec, runs_added) VALUES (?, ?, ?, ?, ?)")
        .bind(sweep_id)
        .bind(change.summary)
        .bind(change.change)
        .bind(change.spec)
        .bind(i64::try_from(runs_added).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map(drop)
}

/// Pauses or resumes a sweep, recording it; false when it was so already.
pub async fn set_paused(db: &SqlitePool, sweep_id: i64, paused: bool, change: Change<'_>) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE sweeps SET paused = ? WHERE id = ? AND paused <> ?")
        .bind(paused)
        .bind(sweep_id)
        .bind(paused)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    record(&mut tx, sweep_id, &change, 0).await?;
    tx.commit().await?;
    Ok(true)
}

/// Sets the priority of a sweep and of its runs still waiting in advmix's
/// queue, recording the change; the number of runs it reordered.
pub async fn set_priority(db: &SqlitePool, sweep_id: i64, priority: i64, change: Change<'_>) -> sqlx::Result<u64> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE sweeps SET priority = ? WHERE id = ?").bind(priority).bind(sweep_id).execute(&mut *tx).await?;
    let runs = sqlx::query("UPDATE runs SET priority = ? WHERE sweep_id = ? AND status = 'queued' AND handle IS NULL")
        .bind(priority)
        .bind(sweep_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    record(&mut tx, sweep_id, &change, 0).await?;
    tx.commit().await?;
    Ok(runs)
}

/// Records a change that touched runs rather than the spec (a stop of the
/// whole sweep): the spec stays as it is.
pub async fn note(db: &SqlitePool, sweep_id: i64, summary: &str, change: &str) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let spec: String = sqlx::query_scalar("SELECT spec FROM sweeps WHERE id = ?").bind(sweep_id).fetch_one(&mut *tx).await?;
    record(&mut tx, sweep_id, &Change { summary, change, spec: &spec }, 0).await?;
    tx.commit().await
}

#[derive(serde::Serialize, sqlx::FromRow, Clone, Debug)]
pub struct ChangeRow {
    pub at: String,
    pub summary: String,
    #[serde(skip)]
    pub change: String,
    pub runs_added: i64,
}

/// A sweep's changes since it was created, oldest first.
pub async fn changes(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<Vec<ChangeRow>> {
    sqlx::query_as("SELECT at, summary, change, runs_added FROM sweep_changes WHERE sweep_id = ? ORDER BY id")
        .bind(sweep_id)
        .fetch_all(db)
        .await
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
    pub pruned: i64,
    pub best_robust_acc: Option<f64>,
    pub paused: bool,
    pub priority: i64,
}

/// A sweep's status follows its runs ('active' while any is queued or
/// running, then 'done'), except a stored 'cancelled', and 'paused' until
/// it is resumed.
const SWEEP_SELECT: &str = "SELECT s.id, s.name,
    CASE WHEN s.status = 'cancelled' THEN 'cancelled'
         WHEN s.paused THEN 'paused'
         WHEN count(r.id) FILTER (WHERE r.status IN ('queued', 'running')) > 0 THEN 'active'
         ELSE 'done' END AS status,
    s.paused,
    s.priority,
    s.created_at,
    count(r.id) AS runs,
    count(r.id) FILTER (WHERE r.status = 'queued') AS queued,
    count(r.id) FILTER (WHERE r.status = 'running') AS running,
    count(r.id) FILTER (WHERE r.status = 'succeeded') AS succeeded,
    count(r.id) FILTER (WHERE r.status IN ('failed', 'lost')) AS failed,
    count(r.id) FILTER (WHERE r.status = 'pruned') AS pruned,
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
    pub paused: bool,
    pub priority: i64,
}

pub async fn head(db: &SqlitePool, id: i64) -> sqlx::Result<Option<SweepHead>> {
    sqlx::query_as("SELECT name, spec, created_at, paused, priority FROM sweeps WHERE id = ?").bind(id).fetch_optional(db).await
}

/// The bayes sweeps, oldest first, that may want their next proposal: not
/// paused or cancelled, and with no run waiting in the queue (each
/// proposal waits for a free slot). Whether proposals are left is the
/// caller's to check against the spec.
pub async fn wanting_proposals(db: &SqlitePool) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT s.id, s.spec FROM sweeps s
         WHERE json_extract(s.spec, '$.method') = 'bayes' AND s.paused = 0 AND s.status <> 'cancelled'
           AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND r.status = 'queued' AND r.handle IS NULL)
         ORDER BY s.id",
    )
    .fetch_all(db)
    .await
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

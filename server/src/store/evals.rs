//! The evals table: robustness evaluations of checkpoints, both a training
//! run's final stage (source `final`) and evaluation jobs (source `job`).
//! Both come in through the ingest (`store::ingest`), from the events file
//! of the run or of the job.

use advmix_protocol::events::{EvalProgress, EvalReport};
use advmix_protocol::{Event, EventLine};
use serde::Serialize;
use sqlx::{SqliteConnection, SqlitePool};

use super::EvalStatus;

const COLUMNS: &str = "id, run_id, checkpoint_id, source, suite, epoch, epsilon, n, status, attack, attack_index,
    attack_of, robust_left, clean_acc, robust_acc, attacks, slot, device, error, created_at, started_at, finished_at, progress";

#[derive(Serialize, sqlx::FromRow, Clone, Debug)]
pub struct EvalRow {
    pub id: i64,
    pub run_id: i64,
    pub checkpoint_id: Option<i64>,
    /// `final` (the run's last stage) or `job` (queued by hand).
    pub source: String,
    pub suite: String,
    pub epoch: Option<i64>,
    pub epsilon: Option<f64>,
    pub n: i64,
    pub status: EvalStatus,
    pub attack: Option<String>,
    pub attack_index: Option<i64>,
    pub attack_of: Option<i64>,
    pub robust_left: Option<i64>,
    pub clean_acc: Option<f64>,
    pub robust_acc: Option<f64>,
    #[serde(serialize_with = "raw_json")]
    pub attacks: Option<String>,
    pub slot: Option<String>,
    pub device: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// A running job's newest `progress` line (docs/events.md), as JSON.
    #[serde(serialize_with = "raw_json")]
    pub progress: Option<String>,
}

fn raw_json<S: serde::Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    let value = text.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    serde::Serialize::serialize(&value, s)
}

impl EvalRow {
    /// While it runs: the job's newest progress ("APGD-T (2 of 2): 100 of
    /// 300 points, 38 of 355 robust, about 3 min left"), else how far its
    /// attacks got ("attack 2 of 4 (apgd-t) done, 812 of 1000 points still
    /// robust").
    pub fn progress_text(&self) -> Option<String> {
        let line = self.progress.as_deref().and_then(|line| serde_json::from_str::<EventLine>(line).ok());
        if let Some(EventLine { time, event: Event::Progress(p) }) = line {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(time, |d| d.as_secs_f64());
            return Some(p.describe_at(time, now));
        }
        match (self.attack_index, self.attack_of, self.robust_left, &self.attack) {
            (Some(k), Some(of), Some(left), Some(attack)) => {
                Some(format!("attack {k} of {of} ({attack}) done, {left} of {} points still robust", self.n))
            }
            _ => None,
        }
    }
}

pub async fn list_for_run(db: &SqlitePool, run_id: i64) -> sqlx::Result<Vec<EvalRow>> {
    let query = format!("SELECT {COLUMNS} FROM evals WHERE run_id = ? ORDER BY id DESC");
    sqlx::query_as(sqlx::AssertSqlSafe(query)).bind(run_id).fetch_all(db).await
}

pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<Option<EvalRow>> {
    let query = format!("SELECT {COLUMNS} FROM evals WHERE id = ?");
    sqlx::query_as(sqlx::AssertSqlSafe(query)).bind(id).fetch_optional(db).await
}

/// Queues an evaluation job of checkpoint `checkpoint_id` (of run `run_id`,
/// at `epoch`).
pub async fn insert_job(
    db: &SqlitePool,
    run_id: i64,
    checkpoint_id: i64,
    epoch: i64,
    suite: &str,
    epsilon: Option<f64>,
    n: i64,
) -> sqlx::Result<EvalRow> {
    // COLUMNS is a constant: nothing from the request enters the text.
    let insert = format!(
        "INSERT INTO evals (run_id, checkpoint_id, source, suite, epoch, epsilon, n)
         VALUES (?, ?, 'job', ?, ?, ?, ?) RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(insert))
        .bind(run_id)
        .bind(checkpoint_id)
        .bind(suite)
        .bind(epoch)
        .bind(epsilon)
        .bind(n)
        .fetch_one(db)
        .await
}

/// Whether the weights checkpoint `checkpoint_id` holds at `epoch` already
/// have a queued, running or finished job of this suite on `n` points at
/// this ε (None: the run's own).
pub async fn has_job(db: &SqlitePool, checkpoint_id: i64, epoch: i64, suite: &str, n: i64, epsilon: Option<f64>) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM evals WHERE checkpoint_id = ? AND epoch = ? AND suite = ? AND n = ?
                          AND epsilon IS ? AND status IN ('queued', 'running', 'succeeded'))",
    )
    .bind(checkpoint_id)
    .bind(epoch)
    .bind(suite)
    .bind(n)
    .bind(epsilon)
    .fetch_one(db)
    .await
}

/// A queued job with what launching it needs.
#[derive(sqlx::FromRow, Debug)]
pub struct QueuedEval {
    pub id: i64,
    pub run_id: i64,
    pub suite: String,
    pub n: i64,
    pub epsilon: Option<f64>,
    /// Relative to the run directory; NULL when the checkpoint was deleted.
    pub path: Option<String>,
}

pub async fn next_queued(db: &SqlitePool) -> sqlx::Result<Option<QueuedEval>> {
    sqlx::query_as(
        "SELECT e.id, e.run_id, e.suite, e.n, e.epsilon, c.path
         FROM evals e LEFT JOIN checkpoints c ON c.id = e.checkpoint_id
         WHERE e.status = ? ORDER BY e.id LIMIT 1",
    )
    .bind(EvalStatus::Queued)
    .fetch_optional(db)
    .await
}

/// Moves a queued job to running; false when another claimed it first.
pub async fn claim(db: &SqlitePool, id: i64, slot: &str, device: &str) -> sqlx::Result<bool> {
    let claimed = sqlx::query(
        "UPDATE evals SET status = 'running', slot = ?, device = ?, started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ? AND status = 'queued'",
    )
    .bind(slot)
    .bind(device)
    .bind(id)
    .execute(db)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

pub async fn set_handle(db: &SqlitePool, id: i64, handle: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE evals SET handle = ? WHERE id = ?").bind(handle).bind(id).execute(db).await?;
    Ok(())
}

/// An evaluation job the database says is running, as a restarted server
/// finds it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RunningJob {
    pub id: i64,
    pub run_id: i64,
    pub handle: Option<String>,
    pub slot: Option<String>,
}

pub async fn running_jobs(db: &SqlitePool) -> sqlx::Result<Vec<RunningJob>> {
    sqlx::query_as("SELECT id, run_id, handle, slot FROM evals WHERE status = ? AND source = 'job' ORDER BY id")
        .bind(EvalStatus::Running)
        .fetch_all(db)
        .await
}

/// The reason a job's own `failed` event gave, kept until the job is settled.
pub(super) async fn note_failure(conn: &mut SqliteConnection, id: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE evals SET error = ? WHERE id = ? AND status = ?")
        .bind(reason)
        .bind(id)
        .bind(EvalStatus::Running)
        .execute(conn)
        .await?;
    Ok(())
}

/// Fails a queued or running job; false when it had ended already.
pub async fn fail(db: &SqlitePool, id: i64, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE evals SET status = 'failed', error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ? AND status IN ('queued', 'running')",
    )
    .bind(reason)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the run's final-stage rows that are still running as failed.
pub async fn fail_unfinished_final(db: &SqlitePool, run_id: i64, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE evals SET status = 'failed', error = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE run_id = ? AND source = 'final' AND status = 'running'",
    )
    .bind(reason)
    .bind(run_id)
    .execute(db)
    .await?;
    Ok(())
}

pub(super) async fn set_progress(conn: &mut SqliteConnection, id: i64, p: &EvalProgress) -> sqlx::Result<()> {
    // Older trainers sent no `n`; then the row keeps the number it was queued with.
    sqlx::query(
        "UPDATE evals SET attack = ?, attack_index = ?, attack_of = ?, robust_left = ?,
                n = CASE WHEN ? > 0 THEN ? ELSE n END, status = 'running', error = NULL
         WHERE id = ?",
    )
        .bind(&p.attack)
        .bind(p.index)
        .bind(p.of)
        .bind(p.robust_left)
        .bind(p.n)
        .bind(p.n)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A running job's newest progress line. A row that is no longer running
/// keeps none (the trigger of migration 13 clears it when the status moves).
pub(super) async fn set_live(conn: &mut SqliteConnection, id: i64, line: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE evals SET progress = ? WHERE id = ? AND status = 'running'").bind(line).bind(id).execute(conn).await?;
    Ok(())
}

/// Stores a finished evaluation's report in row `id` and refreshes the run's
/// AutoAttack column.
pub(super) async fn succeed(conn: &mut SqliteConnection, id: i64, report: &EvalReport) -> sqlx::Result<()> {
    let attacks = serde_json::to_string(&report.attacks).expect("reports serialize");
    let run_id: i64 = sqlx::query_scalar(
        "UPDATE evals SET status = 'succeeded', clean_acc = ?, robust_acc = ?, attacks = ?, epsilon = ?, n = ?,
                epoch = coalesce(?, epoch), robust_left = NULL, error = NULL,
                finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         WHERE id = ? RETURNING run_id",
    )
    .bind(report.clean_acc)
    .bind(report.robust_acc)
    .bind(attacks)
    .bind(report.epsilon)
    .bind(report.n)
    .bind(report.epoch)
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    refresh_autoattack(conn, run_id).await
}

/// The run's AutoAttack accuracy is its newest-epoch AutoAttack result at the
/// run's own ε, aa-standard over aa-fast at the same epoch (it is stronger).
pub async fn refresh_autoattack(conn: &mut SqliteConnection, run_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE runs SET (autoattack_acc, autoattack_epoch, autoattack_n, autoattack_suite) = (
             SELECT e.robust_acc, e.epoch, e.n, e.suite FROM evals e
             WHERE e.run_id = runs.id AND e.status = 'succeeded' AND e.suite IN ('aa-fast', 'aa-standard')
               AND abs(e.epsilon - json_extract(runs.config, '$.epsilon')) < 1e-9
             ORDER BY e.epoch DESC, e.suite = 'aa-standard' DESC, e.id DESC LIMIT 1)
         WHERE id = ?",
    )
    .bind(run_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The final stage's suite from its length: the progress events do not name it.
fn suite_of(attacks: u32) -> &'static str {
    match attacks {
        1 => "pgd",
        2 => "aa-fast",
        _ => "aa-standard",
    }
}

/// The run's `final` row for its newest epoch and `suite`, created when missing.
async fn final_row(conn: &mut SqliteConnection, run_id: i64, epoch: Option<u32>, suite: &str, n: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO evals (run_id, checkpoint_id, source, suite, epoch, epsilon, n, status, started_at)
         SELECT r.id, (SELECT c.id FROM checkpoints c WHERE c.run_id = r.id AND c.kind = 'last'), 'final', ?,
                coalesce(?, (SELECT max(epoch) FROM epochs WHERE run_id = r.id)),
                json_extract(r.config, '$.epsilon'), ?, 'running', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         FROM runs r WHERE r.id = ?
         ON CONFLICT (run_id, epoch, suite) WHERE source = 'final' DO UPDATE SET checkpoint_id = excluded.checkpoint_id
         RETURNING id",
    )
    .bind(suite)
    .bind(epoch)
    .bind(n)
    .bind(run_id)
    .fetch_one(conn)
    .await
}

/// The row of a training run's final stage, from the moment it starts.
pub(super) async fn open_final(conn: &mut SqliteConnection, run_id: i64, attacks: u32, n: i64) -> sqlx::Result<()> {
    final_row(conn, run_id, None, suite_of(attacks), n).await.map(drop)
}

/// A training run's final-stage progress, from its events.
pub(super) async fn record_final_progress(conn: &mut SqliteConnection, run_id: i64, p: &EvalProgress) -> sqlx::Result<()> {
    let id = final_row(conn, run_id, None, suite_of(p.of), p.n).await?;
    set_progress(conn, id, p).await
}

/// A training run's final-stage report, from its events.
pub(super) async fn record_final(conn: &mut SqliteConnection, run_id: i64, report: &EvalReport) -> sqlx::Result<()> {
    let id = final_row(conn, run_id, report.epoch, &report.suite, report.n).await?;
    succeed(conn, id, report).await
}

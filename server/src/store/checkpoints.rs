//! The files a run wrote that the tables index: checkpoints and sample
//! grids, both from the run's events.

use advmix_protocol::events::{Checkpoint, CheckpointKind, Samples};
use serde::Serialize;
use sqlx::{SqliteConnection, SqlitePool};

use super::sql_int;

#[derive(Serialize, sqlx::FromRow, Clone, Debug)]
pub struct CheckpointRow {
    pub id: i64,
    pub epoch: i64,
    pub kind: String,
    pub path: String,
    pub bytes: i64,
    pub sha256: String,
}

/// A run's checkpoints, as the API lists them (the run page shows the same).
pub async fn of_run(db: &SqlitePool, run_id: i64) -> sqlx::Result<Vec<CheckpointRow>> {
    sqlx::query_as("SELECT id, epoch, kind, path, bytes, sha256 FROM checkpoints WHERE run_id = ? ORDER BY epoch, kind")
        .bind(run_id)
        .fetch_all(db)
        .await
}

/// A checkpoint's run, path (relative to the run directory) and sha256.
pub async fn locate(db: &SqlitePool, id: i64) -> sqlx::Result<(i64, String, String)> {
    sqlx::query_as("SELECT run_id, path, sha256 FROM checkpoints WHERE id = ?").bind(id).fetch_one(db).await
}

/// A checkpoint's run and epoch; `RowNotFound` when there is none.
pub async fn run_and_epoch(db: &SqlitePool, id: i64) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as("SELECT run_id, epoch FROM checkpoints WHERE id = ?").bind(id).fetch_one(db).await
}

/// The `best` checkpoint of each finished run of sweep `sweep_id`, best
/// robust accuracy first: (run id, checkpoint id).
pub async fn best_of_sweep(db: &SqlitePool, sweep_id: i64) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT r.id, c.id FROM runs r JOIN checkpoints c ON c.run_id = r.id AND c.kind = 'best'
         WHERE r.sweep_id = ? AND r.status = 'succeeded'
         ORDER BY r.best_robust_acc IS NULL, r.best_robust_acc DESC, r.id",
    )
    .bind(sweep_id)
    .fetch_all(db)
    .await
}

/// The value the `checkpoints.kind` CHECK constraint expects.
fn kind_name(kind: CheckpointKind) -> &'static str {
    match kind {
        CheckpointKind::Last => "last",
        CheckpointKind::Best => "best",
        CheckpointKind::Periodic => "periodic",
    }
}

/// `created_at` is the event's time rather than the column's default (now),
/// so that replaying the file reproduces the row exactly. The first conflict
/// target is the one-row-per-run index for `last` and `best`; `periodic`
/// rows fall through to the per-epoch one.
pub(super) async fn upsert(conn: &mut SqliteConnection, run_id: i64, time: f64, c: &Checkpoint) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO checkpoints (run_id, epoch, kind, path, bytes, sha256, created_at)
         VALUES (?, ?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', ?, 'unixepoch'))
         ON CONFLICT (run_id, kind) WHERE kind IN ('last', 'best') DO UPDATE SET
             epoch = excluded.epoch, path = excluded.path, bytes = excluded.bytes,
             sha256 = excluded.sha256, created_at = excluded.created_at
         ON CONFLICT (run_id, kind, epoch) DO UPDATE SET
             path = excluded.path, bytes = excluded.bytes, sha256 = excluded.sha256, created_at = excluded.created_at",
    )
    .bind(run_id)
    .bind(c.epoch)
    .bind(kind_name(c.kind))
    .bind(&c.file)
    .bind(sql_int(c.bytes))
    .bind(&c.sha256)
    .bind(time)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Serialize, sqlx::FromRow, Clone, Debug)]
pub struct SampleRow {
    pub id: i64,
    pub epoch: i64,
}

impl SampleRow {
    pub fn url(&self, run_id: i64) -> String {
        format!("/api/v1/runs/{run_id}/samples/{}", self.id)
    }
}

/// A run's sample grids, oldest epoch first.
pub async fn samples_of_run(db: &SqlitePool, run_id: i64) -> sqlx::Result<Vec<SampleRow>> {
    sqlx::query_as("SELECT id, epoch FROM samples WHERE run_id = ? ORDER BY epoch").bind(run_id).fetch_all(db).await
}

/// The stored path of sample `id`, which must belong to run `run_id`.
pub async fn sample_path(db: &SqlitePool, run_id: i64, id: i64) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT path FROM samples WHERE id = ? AND run_id = ?").bind(id).bind(run_id).fetch_one(db).await
}

pub(super) async fn upsert_samples(conn: &mut SqliteConnection, run_id: i64, s: &Samples) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO samples (run_id, epoch, path) VALUES (?, ?, ?)
         ON CONFLICT (run_id, epoch) DO UPDATE SET path = excluded.path",
    )
    .bind(run_id)
    .bind(s.epoch)
    .bind(&s.path)
    .execute(conn)
    .await?;
    Ok(())
}

//! The run's rows that events produce, and the offset that says how much of
//! the file they reflect. Every function here runs on the caller's
//! connection, inside the caller's transaction.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use advmix_protocol::events::{Checkpoint, CheckpointKind, EpochMetrics, Finished, Samples};
use advmix_protocol::{Event, EventLine};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::evals;

/// Rows per multi-row INSERT into `epochs`: 13 parameters a row stays far
/// below SQLite's limit of 32,766, and a few statements per burst instead of
/// one per line is what makes a replay of a long file fast.
const EPOCH_ROWS_PER_INSERT: usize = 500;

/// The stored offset, or None when the run does not exist.
pub(super) async fn offset(conn: &mut SqliteConnection, run_id: i64) -> sqlx::Result<Option<u64>> {
    sqlx::query_scalar("SELECT events_offset FROM runs WHERE id = ?").bind(run_id).fetch_optional(conn).await
}

pub(super) async fn set_offset(conn: &mut SqliteConnection, run_id: i64, offset: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE runs SET events_offset = ? WHERE id = ?")
        .bind(sql_int(offset))
        .bind(run_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes everything the run's events produced, as if none had been read;
/// false when the run does not exist. `device` is kept: the supervisor sets
/// it too, and a replayed `started` rewrites it anyway.
pub(super) async fn forget(conn: &mut SqliteConnection, run_id: i64) -> sqlx::Result<bool> {
    for delete in [
        "DELETE FROM epochs WHERE run_id = ?",
        "DELETE FROM checkpoints WHERE run_id = ?",
        "DELETE FROM samples WHERE run_id = ?",
        "DELETE FROM evals WHERE run_id = ? AND source = 'final'",
    ] {
        sqlx::query(delete).bind(run_id).execute(&mut *conn).await?;
    }
    let reset = sqlx::query(
        "UPDATE runs SET events_offset = 0, epochs_done = 0, best_robust_acc = NULL, best_epoch = NULL,
                final_clean_acc = NULL, final_robust_acc = NULL
         WHERE id = ?",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    evals::refresh_autoattack(conn, run_id).await?;
    Ok(reset.rows_affected() == 1)
}

/// Applies `events`, in file order, to the run's rows.
pub(super) async fn apply(conn: &mut SqliteConnection, run_id: i64, events: &[EventLine]) -> sqlx::Result<()> {
    let batch = Batch::collect(events);
    upsert_epochs(conn, run_id, &batch.epochs.values).await?;
    for &(time, checkpoint) in &batch.checkpoints.values {
        upsert_checkpoint(conn, run_id, time, checkpoint).await?;
    }
    for samples in &batch.samples.values {
        upsert_samples(conn, run_id, samples).await?;
    }
    if let Some(device) = batch.device {
        sqlx::query("UPDATE runs SET device = ? WHERE id = ?").bind(device).bind(run_id).execute(&mut *conn).await?;
    }
    if let Some(summary) = &batch.summary {
        update_summary(conn, run_id, batch.max_epoch, summary).await?;
    }
    // After the checkpoints and epochs: the rows name the `last` checkpoint
    // and the newest epoch.
    for event in &batch.evals {
        match event {
            Event::EvalProgress(progress) => evals::record_final_progress(conn, run_id, progress).await?,
            Event::Eval(report) => evals::record_final(conn, run_id, report).await?,
            _ => {}
        }
    }
    Ok(())
}

/// What a batch of events changes, reduced to the last value per row. Every
/// write is an upsert that replaces the whole row, so a row ends up as its
/// last event says whatever came before; writing only that last value gives
/// the rows that applying every line would, with one write per row.
struct Batch<'a> {
    epochs: LastByKey<u32, &'a EpochMetrics>,
    /// With the event's time, which becomes the row's `created_at`.
    checkpoints: LastByKey<(CheckpointKind, Option<u32>), (f64, &'a Checkpoint)>,
    samples: LastByKey<u32, &'a Samples>,
    device: Option<&'a str>,
    max_epoch: Option<u32>,
    summary: Option<Summary<'a>>,
    evals: Vec<&'a Event>,
}

/// The source of the summary columns: whichever came last of an epoch
/// (progress so far) and `finished` (the trainer's own totals).
enum Summary<'a> {
    Progress { latest: &'a EpochMetrics },
    Finished(&'a Finished),
}

impl<'a> Batch<'a> {
    fn collect(events: &'a [EventLine]) -> Self {
        let mut batch = Batch {
            epochs: LastByKey::default(),
            checkpoints: LastByKey::default(),
            samples: LastByKey::default(),
            device: None,
            max_epoch: None,
            summary: None,
            evals: Vec::new(),
        };
        for line in events {
            batch.add(line);
        }
        batch
    }

    fn add(&mut self, line: &'a EventLine) {
        match &line.event {
            Event::Started(started) => self.device = Some(&started.device),
            Event::Epoch(metrics) => {
                self.epochs.put(metrics.epoch, metrics);
                self.max_epoch = self.max_epoch.max(Some(metrics.epoch));
                self.summary = Some(Summary::Progress { latest: metrics });
            }
            Event::Checkpoint(checkpoint) => {
                // `last` and `best` are one file each, rewritten in place.
                let epoch = (checkpoint.kind == CheckpointKind::Periodic).then_some(checkpoint.epoch);
                self.checkpoints.put((checkpoint.kind, epoch), (line.time, checkpoint));
            }
            Event::Samples(samples) => self.samples.put(samples.epoch, samples),
            Event::Finished(finished) => self.summary = Some(Summary::Finished(finished)),
            // How a run ended is the supervisor's to record, with the exit code.
            Event::Failed { .. } | Event::Stopped { .. } => {}
            // The final stage (`eval.final_attack`): few lines, applied in order.
            Event::EvalProgress(_) | Event::Eval(_) => self.evals.push(&line.event),
        }
    }
}

/// The last value put for each key, in the order the keys first appeared,
/// so that new rows get their ids in file order whatever the batching.
struct LastByKey<K, V> {
    index: HashMap<K, usize>,
    values: Vec<V>,
}

impl<K, V> Default for LastByKey<K, V> {
    fn default() -> Self {
        LastByKey { index: HashMap::new(), values: Vec::new() }
    }
}

impl<K: Eq + Hash, V> LastByKey<K, V> {
    fn put(&mut self, key: K, value: V) {
        match self.index.entry(key) {
            Entry::Occupied(slot) => self.values[*slot.get()] = value,
            Entry::Vacant(slot) => {
                slot.insert(self.values.len());
                self.values.push(value);
            }
        }
    }
}

async fn upsert_epochs(conn: &mut SqliteConnection, run_id: i64, epochs: &[&EpochMetrics]) -> sqlx::Result<()> {
    for chunk in epochs.chunks(EPOCH_ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO epochs (run_id, epoch, lr, train_loss, train_acc, train_clean_loss, train_clean_acc,
                 test_clean_loss, test_clean_acc, test_pgd_loss, test_pgd_acc, epoch_seconds, images_per_second) ",
        );
        insert.push_values(chunk, |mut row, m| {
            row.push_bind(run_id)
                .push_bind(m.epoch)
                .push_bind(m.lr)
                .push_bind(m.train_loss)
                .push_bind(m.train_acc)
                .push_bind(m.train_clean_loss)
                .push_bind(m.train_clean_acc)
                .push_bind(m.test_clean_loss)
                .push_bind(m.test_clean_acc)
                .push_bind(m.test_pgd_loss)
                .push_bind(m.test_pgd_acc)
                .push_bind(m.epoch_seconds)
                .push_bind(m.images_per_second);
        });
        insert.push(
            " ON CONFLICT (run_id, epoch) DO UPDATE SET
                 lr = excluded.lr, train_loss = excluded.train_loss, train_acc = excluded.train_acc,
                 train_clean_loss = excluded.train_clean_loss, train_clean_acc = excluded.train_clean_acc,
                 test_clean_loss = excluded.test_clean_loss, test_clean_acc = excluded.test_clean_acc,
                 test_pgd_loss = excluded.test_pgd_loss, test_pgd_acc = excluded.test_pgd_acc,
                 epoch_seconds = excluded.epoch_seconds, images_per_second = excluded.images_per_second",
        );
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// `created_at` is the event's time rather than the column's default (now),
/// so that replaying the file reproduces the row exactly. The first conflict
/// target is the one-row-per-run index for `last` and `best`; `periodic`
/// rows fall through to the per-epoch one.
async fn upsert_checkpoint(conn: &mut SqliteConnection, run_id: i64, time: f64, c: &Checkpoint) -> sqlx::Result<()> {
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

async fn upsert_samples(conn: &mut SqliteConnection, run_id: i64, s: &Samples) -> sqlx::Result<()> {
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

/// Progress takes the best epoch from the table rather than from the batch,
/// so that it covers earlier batches too (ties go to the earliest epoch).
async fn update_summary(
    conn: &mut SqliteConnection,
    run_id: i64,
    max_epoch: Option<u32>,
    summary: &Summary<'_>,
) -> sqlx::Result<()> {
    let epochs_done = max_epoch.unwrap_or(0);
    let query = match summary {
        Summary::Progress { latest } => sqlx::query(
            "UPDATE runs SET epochs_done = max(epochs_done, ?1), final_clean_acc = ?2, final_robust_acc = ?3,
                 (best_robust_acc, best_epoch) = (SELECT test_pgd_acc, epoch FROM epochs WHERE run_id = ?4
                                                  ORDER BY test_pgd_acc DESC, epoch LIMIT 1)
             WHERE id = ?4",
        )
        .bind(epochs_done)
        .bind(latest.test_clean_acc)
        .bind(latest.test_pgd_acc)
        .bind(run_id),
        Summary::Finished(f) => sqlx::query(
            "UPDATE runs SET epochs_done = max(epochs_done, ?), best_robust_acc = ?, best_epoch = ?,
                 final_clean_acc = ?, final_robust_acc = ?
             WHERE id = ?",
        )
        .bind(epochs_done)
        .bind(f.best_robust_acc)
        .bind(f.best_epoch)
        .bind(f.final_clean_acc)
        .bind(f.final_robust_acc)
        .bind(run_id),
    };
    query.execute(conn).await?;
    Ok(())
}

/// The value the `checkpoints.kind` CHECK constraint expects.
fn kind_name(kind: CheckpointKind) -> &'static str {
    match kind {
        CheckpointKind::Last => "last",
        CheckpointKind::Best => "best",
        CheckpointKind::Periodic => "periodic",
    }
}

/// SQLite integers are signed. No file reaches 2^63 bytes, so saturating
/// only guards against a corrupt line, which should not wedge the run.
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

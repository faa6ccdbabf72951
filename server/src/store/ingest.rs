//! What events mean for the tables, and the byte offset that says how much
//! of an events file they reflect. Every function here runs on the caller's
//! connection, inside the caller's transaction: the ingest commits the rows
//! and the new offset together.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use advmix_protocol::events::{Checkpoint, CheckpointKind, EpochMetrics, Finished, Progress, Samples, Stage};
use advmix_protocol::{Event, EventLine};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use super::{checkpoints, epochs, evals, sql_int};

/// Whose events file: a training run's, or an evaluation job's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Run(i64),
    Eval(i64),
}

/// A write transaction taken up front: a deferred one that reads first can
/// fail to upgrade when another writer commits.
pub async fn begin_immediate(db: &SqlitePool) -> sqlx::Result<Transaction<'static, Sqlite>> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// The stored offset, or None when the run or job does not exist.
pub async fn offset(conn: &mut SqliteConnection, source: Source) -> sqlx::Result<Option<u64>> {
    match source {
        Source::Run(id) => sqlx::query_scalar("SELECT events_offset FROM runs WHERE id = ?").bind(id).fetch_optional(conn).await,
        Source::Eval(id) => sqlx::query_scalar("SELECT events_offset FROM evals WHERE id = ?").bind(id).fetch_optional(conn).await,
    }
}

pub async fn set_offset(conn: &mut SqliteConnection, source: Source, offset: u64) -> sqlx::Result<()> {
    let query = match source {
        Source::Run(id) => sqlx::query("UPDATE runs SET events_offset = ? WHERE id = ?").bind(sql_int(offset)).bind(id),
        Source::Eval(id) => sqlx::query("UPDATE evals SET events_offset = ? WHERE id = ?").bind(sql_int(offset)).bind(id),
    };
    query.execute(conn).await?;
    Ok(())
}

/// The run an evaluation job belongs to: its events go out on that run's stream.
pub async fn run_of(conn: &mut SqliteConnection, source: Source) -> sqlx::Result<Option<i64>> {
    match source {
        Source::Run(id) => Ok(Some(id)),
        Source::Eval(id) => sqlx::query_scalar("SELECT run_id FROM evals WHERE id = ?").bind(id).fetch_optional(conn).await,
    }
}

/// Removes everything the run's events produced, as if none had been read;
/// false when the run does not exist. `device` is kept: the runner sets it
/// too, and a replayed `started` rewrites it anyway.
pub async fn forget_run(conn: &mut SqliteConnection, run_id: i64) -> sqlx::Result<bool> {
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
                final_clean_acc = NULL, final_robust_acc = NULL, progress = NULL
         WHERE id = ?",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    evals::refresh_autoattack(conn, run_id).await?;
    Ok(reset.rows_affected() == 1)
}

/// Applies `events`, in file order, to the rows of `source`.
pub async fn apply(conn: &mut SqliteConnection, source: Source, events: &[EventLine]) -> sqlx::Result<()> {
    match source {
        Source::Run(id) => apply_run(conn, id, events).await,
        Source::Eval(id) => apply_eval(conn, id, events).await,
    }
}

/// An evaluation job's events: its progress and report update its row; its
/// `failed` is kept as the reason until the job is settled.
async fn apply_eval(conn: &mut SqliteConnection, eval_id: i64, events: &[EventLine]) -> sqlx::Result<()> {
    // Only the newest `progress` is kept, written once, and only on a row
    // still running: a report in the same batch has ended the job.
    let mut progress = None;
    for line in events {
        match &line.event {
            Event::EvalProgress(p) => evals::set_progress(conn, eval_id, p).await?,
            Event::Eval(report) => evals::succeed(conn, eval_id, report).await?,
            Event::Failed { reason } => evals::note_failure(conn, eval_id, reason).await?,
            Event::Progress(_) => progress = Some(line),
            _ => {}
        }
    }
    if let Some(line) = progress {
        evals::set_live(conn, eval_id, &serde_json::to_string(line).expect("event lines serialize")).await?;
    }
    Ok(())
}

async fn apply_run(conn: &mut SqliteConnection, run_id: i64, events: &[EventLine]) -> sqlx::Result<()> {
    let batch = Batch::collect(events);
    epochs::upsert(conn, run_id, &batch.epochs.values).await?;
    for &(time, checkpoint) in &batch.checkpoints.values {
        checkpoints::upsert(conn, run_id, time, checkpoint).await?;
    }
    for samples in &batch.samples.values {
        checkpoints::upsert_samples(conn, run_id, samples).await?;
    }
    if let Some(device) = batch.device {
        sqlx::query("UPDATE runs SET device = ? WHERE id = ?").bind(device).bind(run_id).execute(&mut *conn).await?;
    }
    if let Some(summary) = &batch.summary {
        update_summary(conn, run_id, batch.max_epoch, summary).await?;
    }
    if let Some(progress) = batch.progress {
        let text = progress.map(|line| serde_json::to_string(line).expect("event lines serialize"));
        sqlx::query("UPDATE runs SET progress = ? WHERE id = ?").bind(text).bind(run_id).execute(&mut *conn).await?;
        // The final stage's row exists from the stage's first moment, not
        // only once its first attack is done.
        if let Some(Event::Progress(Progress { stage: Stage::Final, attack: Some(a), .. })) = progress.map(|l| &l.event) {
            evals::open_final(conn, run_id, a.of, a.n).await?;
        }
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
    /// With the event's time, the order in which runs reached each epoch.
    epochs: LastByKey<u32, (f64, &'a EpochMetrics)>,
    /// With the event's time, which becomes the row's `created_at`.
    checkpoints: LastByKey<(CheckpointKind, Option<u32>), (f64, &'a Checkpoint)>,
    samples: LastByKey<u32, &'a Samples>,
    device: Option<&'a str>,
    max_epoch: Option<u32>,
    summary: Option<Summary<'a>>,
    evals: Vec<&'a Event>,
    /// The newest `progress` line, or None when the trainer ended after it:
    /// only the last matters, and it replaces the stored one.
    progress: Option<Option<&'a EventLine>>,
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
            progress: None,
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
                self.epochs.put(metrics.epoch, (line.time, metrics));
                self.max_epoch = self.max_epoch.max(Some(metrics.epoch));
                self.summary = Some(Summary::Progress { latest: metrics });
            }
            Event::Checkpoint(checkpoint) => {
                // `last` and `best` are one file each, rewritten in place.
                let epoch = (checkpoint.kind == CheckpointKind::Periodic).then_some(checkpoint.epoch);
                self.checkpoints.put((checkpoint.kind, epoch), (line.time, checkpoint));
            }
            Event::Samples(samples) => self.samples.put(samples.epoch, samples),
            Event::Finished(finished) => {
                self.summary = Some(Summary::Finished(finished));
                self.progress = Some(None);
            }
            // How a run ended is the run task's to record, with the exit status.
            Event::Failed { .. } | Event::Stopped { .. } => self.progress = Some(None),
            Event::Progress(_) => self.progress = Some(Some(line)),
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


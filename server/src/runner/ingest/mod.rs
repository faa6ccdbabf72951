//! The event ingest: an events file (a training run's or an evaluation
//! job's `events.jsonl`) into SQLite, and out on the bus.
//!
//! The job's directory is the source of truth and the tables are an index
//! of it. Ingest reads the file, never the trainer's stdout, so it works
//! however the job was started (a local child, or a cluster job that shares
//! only the filesystem). Each run and each evaluation job stores the byte
//! offset it has read up to; new complete lines are applied in one
//! transaction together with the new offset, so a crash never applies a
//! line twice or skips one, and every write is an upsert, so replaying the
//! file gives the same rows.
//!
//! `lines` reads and parses the file; `store::ingest` writes what events mean.

mod lines;

use std::path::{Path, PathBuf};

use advmix_protocol::{Event, EventLine};
use sqlx::SqlitePool;

pub use crate::store::ingest::Source;
use crate::store::ingest as rows;

use super::bus::Bus;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0:?} does not exist")]
    Unknown(Source),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is {len} bytes but {offset} were already ingested: it was replaced or truncated; reingest the run", path.display())]
    Truncated { path: PathBuf, len: u64, offset: u64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Reads a run's events.jsonl from the stored byte offset (0 at first),
/// applies every complete line (a trailing partial line without '\n' is left
/// for next time) in one transaction together with the new offset, sends
/// each applied event on `bus`, and returns how many were applied. A missing
/// file counts as empty: a trainer that rejects its config never creates one.
pub async fn ingest_file(db: &SqlitePool, run_id: i64, events_path: &Path, bus: Option<&Bus>) -> Result<usize, IngestError> {
    Ok(ingest(db, Source::Run(run_id), events_path, bus).await?.len())
}

/// [`ingest_file`] for any source; returns the applied events. An
/// evaluation job's events go out on its run's stream.
pub async fn ingest(db: &SqlitePool, source: Source, events_path: &Path, bus: Option<&Bus>) -> Result<Vec<EventLine>, IngestError> {
    let events = ingest_new_lines(db, source, events_path).await?;
    if let Some(bus) = bus.filter(|_| !events.is_empty()) {
        let run_id = match source {
            Source::Run(id) => id,
            Source::Eval(_) => rows::run_of(&mut *db.acquire().await?, source).await?.ok_or(IngestError::Unknown(source))?,
        };
        // A job's own `failed` is not the run's: only what the evaluation
        // found goes out on the run's stream.
        let shown = |line: &&EventLine| match source {
            Source::Run(_) => true,
            Source::Eval(_) => matches!(line.event, Event::EvalProgress(_) | Event::Eval(_)),
        };
        for line in events.iter().filter(shown) {
            bus.event(run_id, line.clone());
        }
    }
    Ok(events)
}

/// Replays a run's file from the start: removes what its events produced,
/// then applies the whole file, in one transaction. Gives the rows that live
/// ingest gave (for repair, and for tests). Nothing is sent: these are not
/// new events.
pub async fn reingest(db: &SqlitePool, run_id: i64, events_path: &Path) -> Result<usize, IngestError> {
    let source = Source::Run(run_id);
    let bytes = lines::read_from(events_path, 0).await?;
    let chunk = lines::parse_complete(source, 0, &bytes);
    let mut transaction = rows::begin_immediate(db).await?;
    if !rows::forget_run(&mut transaction, run_id).await? {
        return Err(IngestError::Unknown(source));
    }
    rows::apply(&mut transaction, source, &chunk.events).await?;
    rows::set_offset(&mut transaction, source, chunk.consumed).await?;
    transaction.commit().await?;
    Ok(chunk.events.len())
}

/// Applies the complete lines past the stored offset and returns their
/// events. The file is read before the write lock is taken, so a slow shared
/// filesystem never holds up other writers; if another ingest of the same
/// file committed meanwhile, the offset has moved and we read again from it.
async fn ingest_new_lines(db: &SqlitePool, source: Source, path: &Path) -> Result<Vec<EventLine>, IngestError> {
    loop {
        let offset = stored_offset(&mut *db.acquire().await?, source).await?;
        let bytes = lines::read_from(path, offset).await?;
        let chunk = lines::parse_complete(source, offset, &bytes);
        if chunk.consumed == 0 {
            return Ok(Vec::new());
        }
        let mut transaction = rows::begin_immediate(db).await?;
        if stored_offset(&mut transaction, source).await? != offset {
            continue; // dropping `transaction` rolls it back
        }
        rows::apply(&mut transaction, source, &chunk.events).await?;
        rows::set_offset(&mut transaction, source, offset + chunk.consumed).await?;
        transaction.commit().await?;
        return Ok(chunk.events);
    }
}

async fn stored_offset(conn: &mut sqlx::SqliteConnection, source: Source) -> Result<u64, IngestError> {
    rows::offset(conn, source).await?.ok_or(IngestError::Unknown(source))
}

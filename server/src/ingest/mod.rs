//! The event ingest: a run's `events.jsonl` into SQLite, and out to live
//! subscribers.
//!
//! The run directory is the source of truth and the tables are an index of
//! it. Ingest reads the file, never the trainer's stdout, so it works however
//! the trainer was started (a local child, or a cluster job that shares only
//! the filesystem). Each run stores the byte offset it has read up to; new
//! complete lines are applied in one transaction together with the new
//! offset, so a crash never applies a line twice or skips one, and every
//! write is an upsert, so replaying the file gives the same rows.
//!
//! `lines` reads and parses the file; `rows` writes what events mean.

mod lines;
mod rows;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::time::Duration;

use advmix_protocol::{Event, EventLine};
use sqlx::SqlitePool;

/// A change worth telling live subscribers (SSE): the run id and the event.
#[derive(Clone, Debug)]
pub struct RunEvent {
    pub run_id: i64,
    pub line: EventLine,
}

pub type Broadcast = tokio::sync::broadcast::Sender<RunEvent>;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("run {0} does not exist")]
    UnknownRun(i64),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{} is {len} bytes but {offset} were already ingested: it was replaced or truncated; reingest the run", path.display())]
    Truncated { path: PathBuf, len: u64, offset: u64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How the trainer said the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TerminalKind {
    Finished,
    Failed(String),
    Stopped(String),
}

/// Why [`follow`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FollowEnd {
    /// The run's terminal event was ingested.
    Terminal(TerminalKind),
    /// The `stop` future resolved first.
    Stopped,
}

/// Reads events.jsonl from the byte offset the DB has stored for this run
/// (0 at first), applies every complete line (a trailing partial line without
/// '\n' is left for next time) in one transaction together with the new
/// offset, broadcasts each applied event, and returns how many events were
/// applied. A missing file counts as empty: a trainer that rejects its config
/// never creates one.
pub async fn ingest_file(db: &SqlitePool, run_id: i64, events_path: &Path, tx: Option<&Broadcast>) -> Result<usize, IngestError> {
    let events = ingest_new_lines(db, run_id, events_path).await?;
    let applied = events.len();
    broadcast(tx, run_id, events);
    Ok(applied)
}

/// Follows a growing events.jsonl until the run's terminal event
/// (finished/failed/stopped) has been ingested or `stop` resolves, polling
/// the file every `poll`: a poll works on every shared filesystem, where
/// change notification does not. Only a terminal event that this call
/// ingests ends it; one ingested earlier (by another call, or before a
/// resume appended a new attempt) does not.
pub async fn follow(
    db: SqlitePool,
    run_id: i64,
    events_path: PathBuf,
    tx: Option<Broadcast>,
    poll: Duration,
    stop: impl Future<Output = ()>,
) -> Result<FollowEnd, IngestError> {
    let mut stop = pin!(stop);
    loop {
        if let Some(end) = ingest_step(&db, run_id, &events_path, tx.as_ref()).await? {
            return Ok(FollowEnd::Terminal(end));
        }
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(poll) => {}
        }
    }
    // Callers typically stop following when the trainer exits, which may be
    // moments after it wrote its last lines: read them before giving up.
    Ok(match ingest_step(&db, run_id, &events_path, tx.as_ref()).await? {
        Some(end) => FollowEnd::Terminal(end),
        None => FollowEnd::Stopped,
    })
}

/// Replays a file from the start into the run: removes what its events
/// produced, then applies the whole file, in one transaction. Gives the rows
/// that live ingest gave (for repair, and for tests). Nothing is broadcast:
/// these are not new events.
pub async fn reingest(db: &SqlitePool, run_id: i64, events_path: &Path) -> Result<usize, IngestError> {
    let bytes = lines::read_from(events_path, 0).await?;
    let chunk = lines::parse_complete(run_id, 0, &bytes);
    let mut transaction = db.begin_with("BEGIN IMMEDIATE").await?;
    if !rows::forget(&mut transaction, run_id).await? {
        return Err(IngestError::UnknownRun(run_id));
    }
    rows::apply(&mut transaction, run_id, &chunk.events).await?;
    rows::set_offset(&mut transaction, run_id, chunk.consumed).await?;
    transaction.commit().await?;
    Ok(chunk.events.len())
}

/// One poll of [`follow`]: ingests and broadcasts, and returns how the run
/// ended if the last event applied says so.
async fn ingest_step(
    db: &SqlitePool,
    run_id: i64,
    path: &Path,
    tx: Option<&Broadcast>,
) -> Result<Option<TerminalKind>, IngestError> {
    let events = ingest_new_lines(db, run_id, path).await?;
    let end = events.last().and_then(|line| terminal_kind(&line.event));
    broadcast(tx, run_id, events);
    Ok(end)
}

/// Applies the complete lines past the stored offset and returns their
/// events. The file is read before the write lock is taken, so a slow shared
/// filesystem never holds up other writers; if another ingest of the same
/// run committed meanwhile, the offset has moved and we read again from it.
async fn ingest_new_lines(db: &SqlitePool, run_id: i64, path: &Path) -> Result<Vec<EventLine>, IngestError> {
    loop {
        let offset = stored_offset(&mut *db.acquire().await?, run_id).await?;
        let bytes = lines::read_from(path, offset).await?;
        let chunk = lines::parse_complete(run_id, offset, &bytes);
        if chunk.consumed == 0 {
            return Ok(Vec::new());
        }
        // IMMEDIATE takes the write lock up front: a deferred transaction
        // that reads first can fail to upgrade when another writer commits.
        let mut transaction = db.begin_with("BEGIN IMMEDIATE").await?;
        if stored_offset(&mut transaction, run_id).await? != offset {
            continue; // dropping `transaction` rolls it back
        }
        rows::apply(&mut transaction, run_id, &chunk.events).await?;
        rows::set_offset(&mut transaction, run_id, offset + chunk.consumed).await?;
        transaction.commit().await?;
        return Ok(chunk.events);
    }
}

async fn stored_offset(conn: &mut sqlx::SqliteConnection, run_id: i64) -> Result<u64, IngestError> {
    rows::offset(conn, run_id).await?.ok_or(IngestError::UnknownRun(run_id))
}

/// Sends after the commit, so subscribers never see an event that was
/// rolled back. Having no subscribers is not an error.
fn broadcast(tx: Option<&Broadcast>, run_id: i64, events: Vec<EventLine>) {
    if let Some(tx) = tx {
        for line in events {
            let _ = tx.send(RunEvent { run_id, line });
        }
    }
}

fn terminal_kind(event: &Event) -> Option<TerminalKind> {
    match event {
        Event::Finished(_) => Some(TerminalKind::Finished),
        Event::Failed { reason } => Some(TerminalKind::Failed(reason.clone())),
        Event::Stopped { reason } => Some(TerminalKind::Stopped(reason.clone())),
        _ => None,
    }
}

//! Reading `events.jsonl`: the bytes past the stored offset, cut after the
//! last complete line and parsed into events.

use std::io::{ErrorKind, SeekFrom};
use std::path::Path;

use advmix_protocol::EventLine;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{IngestError, Source};

/// The complete lines found past an offset.
pub(super) struct Chunk {
    /// The events in file order; malformed and blank lines are left out.
    pub events: Vec<EventLine>,
    /// Bytes covered by the complete lines, malformed ones included: the
    /// amount to advance the stored offset by.
    pub consumed: u64,
}

/// Reads from `offset` to the current end of the file. A missing file reads
/// as empty: a trainer that rejects its config never creates one, and a job
/// waiting in a cluster queue has not created it yet.
pub(super) async fn read_from(path: &Path, offset: u64) -> Result<Vec<u8>, IngestError> {
    let read_error = |source| IngestError::Read { path: path.to_owned(), source };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(read_error(std::io::Error::other("not a file path")));
    };
    let mut file = match crate::paths::open_file(dir, name).await {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_error(e)),
    };
    let len = file.metadata().await.map_err(read_error)?.len();
    if len < offset {
        // The file is append-only; a shorter one was replaced, and the rows
        // no longer describe it.
        return Err(IngestError::Truncated { path: path.to_owned(), len, offset });
    }
    file.seek(SeekFrom::Start(offset)).await.map_err(read_error)?;
    // Up to the length seen now: a writer that keeps appending must not make
    // one read (and so one transaction) unbounded.
    let mut bytes = Vec::with_capacity(usize::try_from(len - offset).unwrap_or(0));
    file.take(len - offset).read_to_end(&mut bytes).await.map_err(read_error)?;
    Ok(bytes)
}

/// Parses the complete lines of `bytes`, which start at file offset `base`.
/// Whatever follows the last '\n' is a line the trainer is still writing and
/// is left for the next read.
pub(super) fn parse_complete(source: Source, base: u64, bytes: &[u8]) -> Chunk {
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |last| last + 1);
    let mut events = Vec::new();
    let mut offset = base;
    for line in bytes[..complete].split_inclusive(|&b| b == b'\n') {
        events.extend(parse_line(source, offset, line));
        offset += line.len() as u64;
    }
    Chunk { events, consumed: complete as u64 }
}

/// The file an event points at, relative to the job's directory.
fn named_file(event: &advmix_protocol::Event) -> Option<&str> {
    match event {
        advmix_protocol::Event::Checkpoint(c) => Some(&c.file),
        advmix_protocol::Event::Samples(s) => Some(&s.path),
        _ => None,
    }
}

/// One line, or None for a blank line or one that is not an event. A bad
/// line is skipped rather than retried: the file is append-only, so it will
/// never get better, and stopping at it would wedge the run for good.
fn parse_line(source: Source, offset: u64, line: &[u8]) -> Option<EventLine> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return None;
    }
    match serde_json::from_slice::<EventLine>(text) {
        Ok(line) => match named_file(&line.event) {
            Some(file) if !crate::paths::is_plain_relative(file) => {
                tracing::warn!(?source, offset, file, "skipping an event that names a file outside its directory");
                None
            }
            _ => Some(line),
        },
        Err(error) => {
            tracing::warn!(?source, offset, %error, "skipping a line of events.jsonl that is not an event");
            None
        }
    }
}

//! Writes trainer events: one JSON line on stdout for whoever launched us,
//! and the same line appended to `RUN_DIR/events.jsonl`, written through
//! before the next event so that nothing is lost if either reader dies.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use advmix_protocol::{Event, EventLine};

pub use advmix_protocol::layout::EVENTS_FILE;

/// Seconds since the Unix epoch, the `time` of every event.
pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

pub struct EventSink {
    file: File,
    /// Off in tests and benchmarks that only want the file.
    stdout: bool,
}

impl EventSink {
    pub fn open(run_dir: &Path, stdout: bool) -> io::Result<EventSink> {
        let file = OpenOptions::new().create(true).append(true).open(run_dir.join(EVENTS_FILE))?;
        Ok(EventSink { file, stdout })
    }

    pub fn emit(&mut self, event: Event) -> io::Result<()> {
        let mut line = serde_json::to_string(&EventLine { time: now(), event })?;
        line.push('\n');
        // One write call per line: a concurrent reader never sees half a line
        // followed by another event.
        self.file.write_all(line.as_bytes())?;
        if self.stdout {
            // The file is the record; a closed stdout (the server went away)
            // must not stop training.
            let mut out = io::stdout().lock();
            let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        }
        Ok(())
    }
}

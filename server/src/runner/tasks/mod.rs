//! One task kind per job: a training run (`run`) and an evaluation job
//! (`eval`). Each follows its job through its events file until it ends,
//! settles its row, announces the change, and drops its slot lease.

pub mod eval;
pub mod run;

use std::path::Path;

use advmix_protocol::layout::STDERR_LOG;

const STDERR_TAIL_LINES: usize = 20;

/// The last lines of a job's stderr log.
pub(crate) fn stderr_tail(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(file) = crate::paths::open_within(dir, STDERR_LOG.as_ref()) {
        // Its end is what matters, but a log is small next to memory.
        let _ = std::io::Read::read_to_string(&mut std::io::Read::take(file, 16 << 20), &mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

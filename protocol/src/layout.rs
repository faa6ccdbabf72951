//! Names inside a run directory: the trainer writes them, the server reads
//! them, so both take them from here.

/// The trainer's event log, one JSON `EventLine` per line.
pub const EVENTS_FILE: &str = "events.jsonl";
/// Checkpoints, relative to the run directory.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// In `CHECKPOINT_DIR`: `last` plus the optimizer state and position a
/// resume needs; for the trainer, not for people.
pub const RESUME_FILE: &str = "resume.safetensors";
/// The job's stderr, appended to by every attempt; in the run directory or
/// the evaluation job's directory.
pub const STDERR_LOG: &str = "stderr.log";
/// The JSON report an evaluation job writes into its directory.
pub const EVAL_REPORT: &str = "report.json";

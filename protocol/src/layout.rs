//! Names inside a run directory: the trainer writes them, the server reads
//! them, so both take them from here.

/// The trainer's event log, one JSON `EventLine` per line.
pub const EVENTS_FILE: &str = "events.jsonl";
/// Checkpoints, relative to the run directory.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// In `CHECKPOINT_DIR`: `last` plus the optimizer state and position a
/// resume needs; for the trainer, not for people.
pub const RESUME_FILE: &str = "resume.safetensors";

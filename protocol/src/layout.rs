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

/// Where a dataset's files live under the trainer's `--data-dir` (the
/// server's `datasets/`), and the command that puts them there; None for the
/// datasets built into the trainer. The server checks these before it
/// queues a run, so a missing dataset is refused at the form.
pub fn dataset_files(dataset: crate::Dataset) -> Option<(&'static str, &'static [&'static str], &'static str)> {
    match dataset {
        crate::Dataset::Cifar10 => Some((
            "cifar-10-batches-bin",
            &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"],
            "advmix-trainer download cifar10",
        )),
        crate::Dataset::Cifar100 => Some(("cifar-100-binary", &["train.bin", "test.bin"], "advmix-trainer download cifar100")),
        crate::Dataset::Digits | crate::Dataset::Synthetic => None,
    }
}

//! Where things live under the data directory. The runner writes there, and
//! the API and pages read from there, so they all take the names from here.

use std::path::{Path, PathBuf};

use advmix_protocol::layout::{CHECKPOINT_DIR, EVENTS_FILE, RESUME_FILE, STDERR_LOG};

#[derive(Clone, Debug)]
pub struct Paths {
    data_dir: PathBuf,
}

impl Paths {
    pub fn new(data_dir: impl Into<PathBuf>) -> Paths {
        Paths { data_dir: data_dir.into() }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Datasets the trainer reads (and downloads into).
    pub fn datasets(&self) -> PathBuf {
        self.data_dir.join("datasets")
    }

    pub fn run_dir(&self, run_id: i64) -> PathBuf {
        self.data_dir.join("runs").join(run_id.to_string())
    }

    /// The run config file the trainer reads.
    pub fn run_config(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join("run.json")
    }

    pub fn run_events(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join(EVENTS_FILE)
    }

    pub fn run_log(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join(STDERR_LOG)
    }

    /// The file a resume continues from; a run without it starts over.
    pub fn resume_file(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join(CHECKPOINT_DIR).join(RESUME_FILE)
    }

    /// An evaluation job's directory: its events, report and log.
    pub fn eval_dir(&self, eval_id: i64) -> PathBuf {
        self.data_dir.join("evals").join(eval_id.to_string())
    }
}

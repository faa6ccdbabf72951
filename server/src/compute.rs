//! What this machine can train on, as the trainer reports it.
//!
//! The server never links libtorch; it asks `advmix-trainer doctor --json`,
//! the same binary that will run the jobs, so the answer matches what a run
//! will actually see.

use std::path::{Path, PathBuf};
use std::time::Duration;

use advmix_protocol::DoctorReport;
use tokio::process::Command;

pub const TRAINER_BIN: &str = "advmix-trainer";

#[derive(Clone, Debug)]
pub enum Compute {
    Ready { trainer: PathBuf, report: DoctorReport },
    /// The trainer could not be run; `reason` says why and what to do.
    Unavailable { trainer: PathBuf, reason: String },
}

impl Compute {
    pub fn report(&self) -> Option<&DoctorReport> {
        match self {
            Compute::Ready { report, .. } => Some(report),
            Compute::Unavailable { .. } => None,
        }
    }

    pub fn trainer(&self) -> &Path {
        match self {
            Compute::Ready { trainer, .. } | Compute::Unavailable { trainer, .. } => trainer,
        }
    }
}

/// The trainer next to this executable: `cargo build` puts both binaries in
/// the same target directory.
pub fn default_trainer_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(TRAINER_BIN)))
        .unwrap_or_else(|| PathBuf::from(TRAINER_BIN))
}

pub async fn probe(trainer: &Path) -> Compute {
    let unavailable = |reason: String| Compute::Unavailable { trainer: trainer.to_owned(), reason };
    let run = Command::new(trainer).args(["doctor", "--json"]).kill_on_drop(true).output();
    // Loading libtorch and initialising CUDA takes seconds, not minutes.
    let output = match tokio::time::timeout(Duration::from_secs(120), run).await {
        Err(_) => return unavailable("`doctor` did not answer within 120 s".into()),
        Ok(Err(e)) => {
            return unavailable(format!(
                "cannot run it ({e}); build it with `make build` or pass --trainer PATH"
            ));
        }
        Ok(Ok(output)) => output,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no output");
        return unavailable(format!("`doctor` exited with {}: {last}", output.status));
    }
    match serde_json::from_slice::<DoctorReport>(&output.stdout) {
        Ok(report) => Compute::Ready { trainer: trainer.to_owned(), report },
        Err(e) => unavailable(format!(
            "`doctor --json` printed something this server does not understand ({e}); \
             rebuild both binaries from the same checkout"
        )),
    }
}

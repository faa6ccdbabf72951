//! Run and evaluation statuses: stored as the lowercase words the
//! migrations' CHECK constraints list, handled everywhere else as enums.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Stopped,
    Lost,
    /// Stopped by the sweep's early termination at a rung (its `pruned` says
    /// where and by how much).
    Pruned,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Stopped,
        RunStatus::Lost,
        RunStatus::Pruned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Lost => "lost",
            RunStatus::Pruned => "pruned",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Queued or running: the run is not done yet.
    pub fn is_live(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// Whether a run in this status may be resumed (for a pruned run, that
    /// is "continue anyway").
    pub fn is_resumable(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::Stopped | RunStatus::Lost | RunStatus::Pruned)
    }

    /// Whether it ended badly, so its `error` is an error and not a reason.
    pub fn is_failure(self) -> bool {
        matches!(self, RunStatus::Failed | RunStatus::Lost)
    }

    /// The names of every status, for messages.
    pub fn names() -> String {
        Self::ALL.map(RunStatus::as_str).join(", ")
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Templates compare a status with a word: `run.status == "running"`.
impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum EvalStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl EvalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvalStatus::Queued => "queued",
            EvalStatus::Running => "running",
            EvalStatus::Succeeded => "succeeded",
            EvalStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for EvalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EvalStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

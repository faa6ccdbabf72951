//! The event bus: what the runner tells live subscribers (the SSE streams).
//! Everything is sent after it was committed, so a subscriber never sees a
//! change that was rolled back; having no subscribers is not an error.

use advmix_protocol::EventLine;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::evals::EvalRow;
use crate::store::runs::RunSummary;

/// An ingested event of a run, or of an evaluation job of that run.
#[derive(Clone, Debug)]
pub struct RunEvent {
    pub run_id: i64,
    pub line: EventLine,
}

/// Where a job is and what it is doing, in an executor's own words.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Placement {
    /// `local process 1234`, `slurm job 98765 on node7`.
    #[serde(rename = "where")]
    pub place: String,
    /// The executor's state word: `running`, `PENDING`, `gone`.
    pub state: String,
    /// Why, when the executor says: `Priority`, `Resources`.
    pub reason: Option<String>,
}

impl Placement {
    /// `Slurm job 12 on node7 · PENDING (Priority)`.
    pub fn line(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{} · {} ({reason})", self.place, self.state),
            None => format!("{} · {}", self.place, self.state),
        }
    }
}

/// A run's status changed: the run as it is now.
#[derive(Clone, Debug, Serialize)]
pub struct StatusChange {
    #[serde(flatten)]
    pub run: RunSummary,
    /// Whether a resume would continue from a checkpoint.
    pub resume_from_checkpoint: bool,
    /// Where the current attempt runs, while it does.
    pub executor: Option<Placement>,
}

#[derive(Clone, Debug)]
pub enum BusEvent {
    Event(RunEvent),
    Status(Box<StatusChange>),
    /// An evaluation job's row changed status.
    EvalStatus(Box<EvalRow>),
}

impl BusEvent {
    /// The run it concerns.
    pub fn run_id(&self) -> i64 {
        match self {
            BusEvent::Event(e) => e.run_id,
            BusEvent::Status(s) => s.run.id,
            BusEvent::EvalStatus(e) => e.run_id,
        }
    }
}

#[derive(Clone)]
pub struct Bus(broadcast::Sender<BusEvent>);

impl Bus {
    /// A lagging subscriber loses the oldest of `capacity` messages.
    pub fn new(capacity: usize) -> Bus {
        Bus(broadcast::channel(capacity).0)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.0.subscribe()
    }

    pub fn send(&self, event: BusEvent) {
        let _ = self.0.send(event);
    }

    pub fn event(&self, run_id: i64, line: EventLine) {
        self.send(BusEvent::Event(RunEvent { run_id, line }));
    }
}

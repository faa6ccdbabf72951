//! What a job's task works with: the database, the executor, the bus, the
//! paths and the shutdown signal. Tasks get this and their slot lease, never
//! the scheduler.

use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::watch;

use super::bus::{Bus, BusEvent, StatusChange};
use super::executor::{Executor, Handle};
use crate::paths::Paths;
use crate::store;

#[derive(Clone)]
pub struct TaskContext {
    pub db: SqlitePool,
    pub executor: Arc<dyn Executor>,
    pub bus: Bus,
    pub paths: Arc<Paths>,
    pub shutdown: watch::Receiver<bool>,
    /// How often a task reads its events file and asks its job's state.
    pub poll: Duration,
    /// How long a cancelled job has to save and exit before it is killed.
    pub stop_grace: Duration,
    /// Stop running jobs when the server stops (default: leave them, and
    /// adopt them at the next start).
    pub stop_on_exit: bool,
}

impl TaskContext {
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Tells the bus how run `run_id` stands now. Called after every status
    /// change has been committed.
    pub async fn publish_run(&self, run_id: i64) {
        let run = match store::runs::fetch(&self.db, run_id).await {
            Ok(run) => run,
            Err(sqlx::Error::RowNotFound) => return,
            Err(e) => {
                tracing::warn!(run = run_id, error = %e, "cannot read the run to announce its status");
                return;
            }
        };
        let executor = match run.handle.clone() {
            Some(handle) if run.status.is_live() => Some(self.executor.describe(&Handle(handle)).await),
            _ => None,
        };
        let resume_from_checkpoint = self.paths.resume_file(run_id).exists();
        self.bus.send(BusEvent::Status(Box::new(StatusChange { run, resume_from_checkpoint, executor })));
    }

    /// Tells the bus how evaluation `eval_id` stands now.
    pub async fn publish_eval(&self, eval_id: i64) {
        match store::evals::get(&self.db, eval_id).await {
            Ok(Some(row)) => self.bus.send(BusEvent::EvalStatus(Box::new(row))),
            Ok(None) => {}
            Err(e) => tracing::warn!(eval = eval_id, error = %e, "cannot read the evaluation to announce its status"),
        }
    }
}

impl TaskContext {
    /// Retries `write` (a job's last events and how it ended) until it lands:
    /// a full or failing disk must not leave the run showing `running` for
    /// ever. Gives up only when the server stops; the next start settles
    /// the job then, as it does any it finds ended.
    pub async fn until_written<F, Fut, E>(&self, what: &str, mut write: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let mut wait = Duration::from_millis(250);
        let mut shutdown = self.shutdown.clone();
        loop {
            match write().await {
                Ok(()) => return true,
                Err(e) => tracing::error!(error = %e, retry_in = ?wait, "cannot record {what}; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = until_shutdown(&mut shutdown) => return false,
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }
}

/// Resolves once shutdown has begun (or its sender is gone).
pub async fn until_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

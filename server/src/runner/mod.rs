//! Everything that starts, follows and settles work: the `slots`, the
//! `scheduler` loop, one task kind per job (`tasks`), the `executor`s, the
//! event `ingest`, the `follow`er that drives it, the adaptive sweeps'
//! `early_termination` (decided at ingest) and `proposals` (made as slots
//! free up), and the `bus` that tells live pages. [`Runner`] is the handle the service layer holds.

pub mod bus;
pub mod context;
pub mod early_termination;
pub mod executor;
pub mod follow;
pub mod ingest;
pub mod proposals;
pub mod scheduler;
pub mod slots;
pub mod tasks;

use std::sync::Arc;
use std::time::Duration;

use advmix_protocol::RunConfig;
use sqlx::SqlitePool;
use tokio::sync::{Notify, watch};

use bus::{Bus, Placement};
use context::TaskContext;
use executor::{Executor, Handle};
use scheduler::Scheduler;
use slots::{Job, Slot, Slots};

use crate::paths::Paths;

pub struct RunnerConfig {
    pub slots: Vec<Slot>,
    pub paths: Paths,
    pub stop_runs_on_exit: bool,
    pub stop_grace: Duration,
    pub poll: Duration,
    /// Free bytes the data directory's disk must keep for new work to start.
    pub min_free_bytes: u64,
}

#[derive(Clone)]
pub struct Runner(Arc<Scheduler>);

impl Runner {
    pub fn new(db: SqlitePool, executor: Arc<dyn Executor>, bus: Bus, shutdown: watch::Receiver<bool>, config: RunnerConfig) -> Runner {
        let wake = Arc::new(Notify::new());
        let ctx = TaskContext {
            db,
            executor,
            bus,
            paths: Arc::new(config.paths),
            shutdown,
            poll: config.poll,
            stop_grace: config.stop_grace,
            stop_on_exit: config.stop_runs_on_exit,
        };
        let slots = Slots::new(config.slots, wake.clone());
        Runner(Arc::new(Scheduler::new(ctx, slots, wake, config.min_free_bytes)))
    }

    /// Adopts the jobs a previous server left running, then starts queued
    /// work until shutdown.
    pub async fn run(self) {
        self.0.run().await;
    }

    /// Asks the scheduler to look at the queue now (work was queued or ended).
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Why queued work is held back now (the data directory's disk is
    /// nearly full), if it is.
    pub fn held(&self) -> Option<String> {
        self.0.held()
    }

    pub fn paths(&self) -> &Paths {
        &self.0.ctx.paths
    }

    pub fn slots(&self) -> &[Slot] {
        self.0.slots.all()
    }

    /// The slot a run holds now, if any.
    pub fn slot_of_run(&self, run_id: i64) -> Option<Slot> {
        self.0.slots.of(Job::Run(run_id)).cloned()
    }

    /// Refuses a run whose device preference no slot of this server meets:
    /// it would wait in the queue forever.
    pub fn check_device(&self, config: &RunConfig) -> Result<(), String> {
        let wanted = config.device;
        if self.slots().iter().any(|slot| wanted.accepts(&slot.device)) {
            return Ok(());
        }
        let have = self.slots().iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        Err(format!("this server has no {} slot (its slots: {have}); choose auto or a device it has", wanted.as_str()))
    }

    /// Refuses a run on a dataset whose files are not in the data
    /// directory's `datasets/` (where the trainer reads them, locally or on
    /// a cluster that shares it): it would fail a second after it started.
    pub fn check_dataset(&self, dataset: advmix_protocol::Dataset) -> Result<(), String> {
        let Some((dir, files, command)) = advmix_protocol::layout::dataset_files(dataset) else { return Ok(()) };
        let root = self.paths().datasets();
        let missing: Vec<&str> = files.iter().copied().filter(|f| !root.join(dir).join(f).is_file()).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{} is not in {}: {} missing; run `./target/release/{command} --data-dir {}` to fetch and check it \
             (or copy the archive there first on a machine without internet), or choose digits, which is built in",
            serde_json::to_value(dataset).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            root.join(dir).display(),
            if missing.len() == files.len() { "its files are".to_owned() } else { format!("{} is", missing.join(", ")) },
            root.display(),
        ))
    }

    /// The executor's verdict on what a run asks of a cluster.
    pub async fn check_resources(&self, resources: &advmix_protocol::config::Resources) -> Result<(), String> {
        self.0.ctx.executor.check(resources).await
    }

    /// Asks the executor to stop the job behind `handle`; it saves and exits,
    /// and is made to go after the grace period.
    pub async fn cancel(&self, handle: &str) -> std::io::Result<()> {
        self.0.ctx.executor.cancel(&Handle(handle.to_owned()), self.0.ctx.stop_grace).await
    }

    /// Where the job behind `handle` runs and how it is doing.
    pub async fn describe(&self, handle: &str) -> Placement {
        self.0.ctx.executor.describe(&Handle(handle.to_owned())).await
    }

    /// Where jobs go, in the executor's words, when it has more to say than
    /// the slot names.
    pub async fn executor_summary(&self) -> Option<String> {
        self.0.ctx.executor.summary().await
    }

    /// Announces run `run_id`'s current status on the bus.
    pub async fn publish_run(&self, run_id: i64) {
        self.0.ctx.publish_run(run_id).await;
    }

    pub async fn publish_eval(&self, eval_id: i64) {
        self.0.ctx.publish_eval(eval_id).await;
    }

    pub fn bus(&self) -> &Bus {
        &self.0.ctx.bus
    }

    /// Waits (up to `limit`) for every job's task to settle after shutdown
    /// began: they ingest what is left and, with `stop_runs_on_exit`, stop
    /// their jobs.
    pub async fn drain(&self, limit: Duration) {
        self.0.drain(limit).await;
    }
}

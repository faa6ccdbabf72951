//! The scheduler: queued runs into free device slots, FIFO within priority.
//!
//! Slots are fixed at start-up from the trainer's `doctor` report: each GPU
//! times `runs_per_gpu`, or `cpu_slots` CPU slots when there is no GPU. Each
//! started run gets a supervisor task (`supervisor.rs`) that follows it and
//! frees its slot when it ends. Evaluation jobs (`evals/job.rs`) share the
//! slots and go before queued runs: someone is waiting on them, and they are
//! short next to a training run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use advmix_protocol::DoctorReport;
use sqlx::SqlitePool;
use tokio::sync::{Mutex, Notify, watch};

use crate::executor::{Executor, Launch};
use crate::ingest::Broadcast;
use crate::{evals, store, supervisor};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Stored with the run: `cuda:0/1` is the second run on GPU 0.
    pub name: String,
    pub device: String,
}

/// The slots this machine offers. `gpus` overrides the number of GPUs the
/// trainer found (0 forces CPU).
pub fn plan_slots(report: Option<&DoctorReport>, gpus: Option<usize>, runs_per_gpu: usize, cpu_slots: usize) -> Vec<Slot> {
    let gpus = gpus.unwrap_or_else(|| report.map_or(0, |r| r.cuda_devices.len()));
    if gpus > 0 {
        (0..gpus)
            .flat_map(|g| (0..runs_per_gpu.max(1)).map(move |k| Slot { name: format!("cuda:{g}/{k}"), device: format!("cuda:{g}") }))
            .collect()
    } else {
        (0..cpu_slots.max(1)).map(|k| Slot { name: format!("cpu/{k}"), device: "cpu".into() }).collect()
    }
}

pub struct Scheduler {
    pub db: SqlitePool,
    pub executor: Arc<dyn Executor>,
    pub slots: Vec<Slot>,
    /// What occupies each slot.
    busy: Mutex<Vec<Option<Job>>>,
    wake: Notify,
    pub events: Broadcast,
    pub data_dir: PathBuf,
    /// Off once shutdown begins: nothing new starts.
    accepting: AtomicBool,
    pub shutdown: watch::Receiver<bool>,
    /// Stop running trainers when the server stops (default: leave them).
    pub stop_runs_on_exit: bool,
    pub stop_grace: Duration,
    pub poll: Duration,
    /// Supervisor tasks, so that shutdown can wait for them to settle.
    tasks: Mutex<tokio::task::JoinSet<()>>,
}

/// What a slot is busy with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Run(i64),
    Eval(i64),
}

pub struct SchedulerConfig {
    pub slots: Vec<Slot>,
    pub data_dir: PathBuf,
    pub stop_runs_on_exit: bool,
    pub stop_grace: Duration,
    pub poll: Duration,
}

impl Scheduler {
    pub fn new(
        db: SqlitePool,
        executor: Arc<dyn Executor>,
        events: Broadcast,
        shutdown: watch::Receiver<bool>,
        config: SchedulerConfig,
    ) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            db,
            executor,
            busy: Mutex::new(vec![None; config.slots.len()]),
            slots: config.slots,
            wake: Notify::new(),
            events,
            data_dir: config.data_dir,
            accepting: AtomicBool::new(true),
            shutdown,
            stop_runs_on_exit: config.stop_runs_on_exit,
            stop_grace: config.stop_grace,
            poll: config.poll,
            tasks: Mutex::new(tokio::task::JoinSet::new()),
        })
    }

    pub fn run_dir(&self, run_id: i64) -> PathBuf {
        run_dir(&self.data_dir, run_id)
    }

    /// How run `run_id` is launched on `device`: its files and directories.
    pub fn launch(&self, run_id: i64, device: &str, resume: bool) -> Launch {
        let run_dir = self.run_dir(run_id);
        Launch {
            run_id,
            config: run_dir.join("run.json"),
            run_dir,
            datasets: self.data_dir.join("datasets"),
            device: device.to_owned(),
            resume,
        }
    }

    /// Asks the loop to look at the queue now (a run was queued or ended).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Adopts runs left `running` by a previous server, then starts queued
    /// runs until shutdown.
    pub async fn run(self: Arc<Self>) {
        if let Err(e) = supervisor::recover(&self).await {
            tracing::error!(error = %e, "recovering running runs failed");
        }
        if let Err(e) = evals::job::recover(&self).await {
            tracing::error!(error = %e, "settling evaluations left running failed");
        }
        let mut shutdown = self.shutdown.clone();
        loop {
            if let Err(e) = self.fill_slots().await {
                tracing::error!(error = %e, "starting queued runs failed");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                // A safety net: a missed wake-up costs at most a few seconds.
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
                () = until_shutdown(&mut shutdown) => break,
            }
        }
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// Occupies `slot` with an adopted (already running) run.
    pub(crate) async fn occupy(&self, run_id: i64, slot: Option<&str>) -> Option<usize> {
        let mut busy = self.busy.lock().await;
        let index = slot
            .and_then(|name| self.slots.iter().position(|s| s.name == name))
            .filter(|&i| busy[i].is_none())
            .or_else(|| busy.iter().position(Option::is_none))?;
        busy[index] = Some(Job::Run(run_id));
        Some(index)
    }

    pub(crate) async fn release(&self, index: usize) {
        self.busy.lock().await[index] = None;
        self.wake();
    }

    async fn fill_slots(self: &Arc<Self>) -> anyhow::Result<()> {
        // Each pass starts one job in the first free slot that has one, then
        // looks again: a CPU slot may have work when a GPU slot has none.
        'pass: while self.accepting.load(Ordering::SeqCst) && !self.shutting_down() {
            let free: Vec<usize> =
                self.busy.lock().await.iter().enumerate().filter(|(_, b)| b.is_none()).map(|(i, _)| i).collect();
            for index in free {
                if let Some(job) = evals::next_queued(&self.db).await? {
                    self.start_eval(index, &job).await?;
                    continue 'pass;
                }
                let slot = &self.slots[index];
                let Some(run) = store::next_queued(&self.db, &slot.device).await? else { continue };
                if !store::claim(&self.db, run.id, &slot.name, &slot.device).await? {
                    continue 'pass;
                }
                self.busy.lock().await[index] = Some(Job::Run(run.id));
                if let Err(e) = self.start(index, &run).await {
                    tracing::error!(run = run.id, error = %e, "cannot start run");
                    store::mark_ended(&self.db, run.id, "failed", None, Some(&format!("cannot start the trainer: {e}"))).await?;
                    self.busy.lock().await[index] = None;
                }
                continue 'pass;
            }
            return Ok(());
        }
        Ok(())
    }

    /// Refuses a run whose device preference no slot of this server meets:
    /// it would wait in the queue forever.
    pub fn check_device(&self, config: &advmix_protocol::RunConfig) -> Result<(), String> {
        let wanted = config.device;
        if self.slots.iter().any(|slot| wanted.accepts(&slot.device)) {
            return Ok(());
        }
        let have = self.slots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
        Err(format!("this server has no {} slot (its slots: {have}); choose auto or a device it has", wanted.as_str()))
    }

    async fn start_eval(self: &Arc<Self>, index: usize, job: &evals::QueuedEval) -> anyhow::Result<()> {
        let slot = &self.slots[index];
        if !evals::claim(&self.db, job.id, &slot.name, &slot.device).await? {
            return Ok(());
        }
        self.busy.lock().await[index] = Some(Job::Eval(job.id));
        if let Err(e) = evals::job::start(self, index, job).await {
            tracing::error!(eval = job.id, error = %e, "cannot start evaluation");
            evals::fail(&self.db, job.id, &format!("cannot start the evaluation: {e}")).await?;
            self.busy.lock().await[index] = None;
        }
        Ok(())
    }

    async fn start(self: &Arc<Self>, index: usize, run: &store::QueuedRun) -> anyhow::Result<()> {
        let slot = &self.slots[index];
        let run_dir = self.run_dir(run.id);
        std::fs::create_dir_all(&run_dir)?;
        let launch = self.launch(run.id, &slot.device, run.resume);
        std::fs::write(&launch.config, &run.config)?;
        let started = self.executor.start(&launch)?;
        store::set_pid(&self.db, run.id, started.pid).await?;
        tracing::info!(run = run.id, slot = %slot.name, pid = started.pid, resume = run.resume, "run started");
        let watch = supervisor::supervise(self.clone(), run.id, Some(index), started.pid, Some(started.exit), started.activity);
        self.spawn(watch).await;
        Ok(())
    }

    pub(crate) async fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Waits (up to `limit`) for every supervisor to finish after shutdown
    /// began: they ingest what is left and, with `stop_runs_on_exit`, stop
    /// their trainers.
    pub async fn drain(&self, limit: Duration) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().await);
        if tokio::time::timeout(limit, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("some runs were still settling at shutdown; the next start picks them up");
        }
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The run occupying a slot, if any, with its slot index.
    pub async fn slot_of(&self, run_id: i64) -> Option<usize> {
        self.busy.lock().await.iter().position(|r| *r == Some(Job::Run(run_id)))
    }

    pub async fn busy_count(&self) -> usize {
        self.busy.lock().await.iter().flatten().count()
    }
}

/// Resolves once shutdown has begun (or its sender is gone).
pub async fn until_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

pub fn run_dir(data_dir: &Path, run_id: i64) -> PathBuf {
    data_dir.join("runs").join(run_id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_gpus_or_fall_back_to_cpu() {
        let cpu = plan_slots(None, None, 1, 2);
        assert_eq!(cpu.iter().map(|s| s.device.as_str()).collect::<Vec<_>>(), ["cpu", "cpu"]);
        let gpus = plan_slots(None, Some(2), 2, 1);
        assert_eq!(gpus.len(), 4);
        assert_eq!(gpus[3], Slot { name: "cuda:1/1".into(), device: "cuda:1".into() });
        assert_eq!(plan_slots(None, Some(0), 2, 3).len(), 3);
    }
}

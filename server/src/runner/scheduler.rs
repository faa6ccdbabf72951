//! The scheduler loop: queued work into free slots. Evaluation jobs go
//! first (someone is waiting on them, and they are short next to a training
//! run), then runs by priority, first come first served within one. At
//! start it adopts the jobs a previous server left running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Notify};

use super::context::{TaskContext, until_shutdown};
use super::executor::{EvalArgs, Handle, JobSpec, eval_args, train_args};
use super::slots::{Job, SlotLease, Slots};
use super::tasks;
use advmix_protocol::layout::CHECKPOINT_DIR;
use crate::store::{self, RunStatus};

pub struct Scheduler {
    pub(super) ctx: TaskContext,
    pub(super) slots: Arc<Slots>,
    pub(super) wake: Arc<Notify>,
    /// Off once shutdown begins: nothing new starts.
    accepting: AtomicBool,
    /// The jobs' tasks, so that shutdown can wait for them to settle.
    tasks: Mutex<tokio::task::JoinSet<()>>,
    /// Below this many free bytes on the data directory's disk nothing new
    /// starts: a run that fills the disk fails, and takes the database's
    /// writes down with it.
    min_free: u64,
    /// Why queued work is held back now, for the home page.
    held: std::sync::Mutex<Option<String>>,
}

impl Scheduler {
    pub(super) fn new(ctx: TaskContext, slots: Arc<Slots>, wake: Arc<Notify>, min_free: u64) -> Scheduler {
        Scheduler {
            ctx,
            slots,
            wake,
            accepting: AtomicBool::new(true),
            tasks: Mutex::new(tokio::task::JoinSet::new()),
            min_free,
            held: std::sync::Mutex::new(None),
        }
    }

    pub(super) fn held(&self) -> Option<String> {
        self.held.lock().expect("not poisoned").clone()
    }

    /// Whether the data directory has room for another job; says why not
    /// (and logs it once) when it has not.
    fn room(&self) -> bool {
        let dir = self.ctx.paths.data_dir();
        let why = match crate::paths::free_bytes(dir) {
            Ok(free) if free >= self.min_free => None,
            Ok(free) => Some(format!(
                "queued work waits: {} has {} MiB free, under the {} MiB that --min-free-mb asks; free space there and it starts again",
                dir.display(),
                free >> 20,
                self.min_free >> 20
            )),
            Err(e) => Some(format!("queued work waits: cannot read the free space of {}: {e}", dir.display())),
        };
        let mut held = self.held.lock().expect("not poisoned");
        // Logged when the state flips, not each time the free MiB change.
        if held.is_some() != why.is_some() {
            match &why {
                Some(why) => tracing::warn!(%why, "holding queued work"),
                None => tracing::info!("space is back: starting queued work again"),
            }
        }
        *held = why;
        held.is_none()
    }

    /// Removes what writers left half-written in directories no job writes
    /// to now: archives being built, and checkpoints of runs not running.
    fn remove_temp_files(&self, live: &[i64]) {
        let paths = &self.ctx.paths;
        let mut removed = crate::paths::remove_temp_files(&paths.archives());
        let runs = std::fs::read_dir(paths.data_dir().join("runs")).into_iter().flatten().flatten();
        for id in runs.filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok()).filter(|id| !live.contains(id)) {
            let dir = paths.run_dir(id);
            removed += crate::paths::remove_temp_files(&dir) + crate::paths::remove_temp_files(&dir.join(CHECKPOINT_DIR));
        }
        if removed > 0 {
            tracing::info!(removed, "removed temporary files left by an earlier crash or full disk");
        }
    }

    pub(super) async fn run(&self) {
        if let Err(e) = self.adopt().await {
            tracing::error!(error = %e, "adopting the jobs of the previous server failed");
        }
        let mut shutdown = self.ctx.shutdown.clone();
        loop {
            if let Err(e) = self.fill_slots().await {
                tracing::error!(error = %e, "starting queued work failed");
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

    /// Follows again what the database says is running. A job that ended
    /// meanwhile is settled by its task's first look at it.
    async fn adopt(&self) -> sqlx::Result<()> {
        let running = store::runs::running(&self.ctx.db).await?;
        self.remove_temp_files(&running.iter().map(|r| r.id).collect::<Vec<_>>());
        for run in running {
            let lease = self.slots.adopt(Job::Run(run.id), run.slot.as_deref());
            let handle = Handle(run.handle.unwrap_or_default());
            tracing::info!(run = run.id, %handle, "following a run that outlived the last server");
            self.spawn(tasks::run::run(self.ctx.clone(), run.id, handle, Arc::new(Notify::new()), lease)).await;
        }
        for job in store::evals::running_jobs(&self.ctx.db).await? {
            let lease = self.slots.adopt(Job::Eval(job.id), job.slot.as_deref());
            let handle = Handle(job.handle.unwrap_or_default());
            tracing::info!(eval = job.id, %handle, "following an evaluation that outlived the last server");
            self.spawn(tasks::eval::run(self.ctx.clone(), job.id, handle, Arc::new(Notify::new()), lease)).await;
        }
        Ok(())
    }

    fn open(&self) -> bool {
        self.accepting.load(Ordering::SeqCst) && !self.ctx.shutting_down()
    }

    /// Whether the executor takes another job.
    fn has_capacity(&self) -> bool {
        self.ctx.executor.capacity().is_none_or(|cap| self.slots.busy_count() < cap)
    }

    async fn fill_slots(&self) -> anyhow::Result<()> {
        // Each pass starts one job in the first free slot that has one, then
        // looks again: a CPU slot may have work when a GPU slot has none.
        'pass: while self.open() && self.has_capacity() && !self.slots.free().is_empty() && self.room() {
            for index in self.slots.free() {
                let slot = self.slots.all()[index].clone();
                if let Some(job) = store::evals::next_queued(&self.ctx.db).await? {
                    // The lease first: a job claimed without one would show
                    // as running with nothing following it.
                    let Some(lease) = self.slots.take(index, Job::Eval(job.id)) else { continue 'pass };
                    if store::evals::claim(&self.ctx.db, job.id, &slot.name, &slot.device).await? {
                        self.start_eval(lease, &job).await?;
                    }
                    continue 'pass;
                }
                let Some(run) = store::runs::next_queued(&self.ctx.db, &slot.device).await? else {
                    // A free slot and nothing queued: a bayes sweep's next
                    // proposal, made now from everything finished so far.
                    if super::proposals::propose_next(&self.ctx.db).await? {
                        continue 'pass;
                    }
                    continue;
                };
                let Some(lease) = self.slots.take(index, Job::Run(run.id)) else { continue 'pass };
                if store::runs::claim(&self.ctx.db, run.id, &slot.name, &slot.device).await? {
                    self.start_run(lease, &run).await?;
                }
                continue 'pass;
            }
            return Ok(());
        }
        Ok(())
    }

    async fn start_run(&self, lease: SlotLease, run: &store::runs::QueuedRun) -> sqlx::Result<()> {
        let ctx = &self.ctx;
        let device = lease.slot().device.clone();
        let submitted = async {
            let dir = ctx.paths.run_dir(run.id);
            std::fs::create_dir_all(&dir)?;
            let config = ctx.paths.run_config(run.id);
            std::fs::write(&config, &run.config)?;
            let args = train_args(&config, &dir, &ctx.paths.datasets(), &device, run.resume);
            let resources = serde_json::from_str::<advmix_protocol::RunConfig>(&run.config).map(|c| c.resources).unwrap_or_default();
            ctx.executor.submit(JobSpec { name: format!("run-{}", run.id), dir, args, device: device.clone(), resources }).await
        };
        match submitted.await {
            Ok(job) => {
                store::runs::set_handle(&ctx.db, run.id, job.handle.as_str(), job.waiting).await?;
                tracing::info!(run = run.id, slot = %lease.slot().name, handle = %job.handle, resume = run.resume, waiting = job.waiting, "run submitted");
                ctx.publish_run(run.id).await;
                self.spawn(tasks::run::run(ctx.clone(), run.id, job.handle, job.activity, Some(lease))).await;
            }
            Err(e) => {
                tracing::error!(run = run.id, error = %e, "cannot start run");
                let reason = format!("cannot start the trainer: {e}");
                store::runs::mark_ended(&ctx.db, run.id, RunStatus::Failed, None, Some(&reason)).await?;
                ctx.publish_run(run.id).await;
            }
        }
        Ok(())
    }

    async fn start_eval(&self, lease: SlotLease, job: &store::evals::QueuedEval) -> sqlx::Result<()> {
        let ctx = &self.ctx;
        let device = lease.slot().device.clone();
        let submitted = async {
            let path = job.path.as_deref().ok_or_else(|| std::io::Error::other("its checkpoint was deleted before the job started"))?;
            let dir = ctx.paths.eval_dir(job.id);
            std::fs::create_dir_all(&dir)?;
            let args = eval_args(&EvalArgs {
                checkpoint: &ctx.paths.run_dir(job.run_id).join(path),
                suite: &job.suite,
                n: job.n,
                epsilon: job.epsilon,
                datasets: &ctx.paths.datasets(),
                device: &device,
                dir: &dir,
            });
            let resources = Default::default();
            ctx.executor.submit(JobSpec { name: format!("eval-{}", job.id), dir, args, device: device.clone(), resources }).await
        };
        match submitted.await {
            Ok(submitted) => {
                store::evals::set_handle(&ctx.db, job.id, submitted.handle.as_str()).await?;
                tracing::info!(eval = job.id, run = job.run_id, slot = %lease.slot().name, suite = %job.suite, "evaluation started");
                ctx.publish_eval(job.id).await;
                self.spawn(tasks::eval::run(ctx.clone(), job.id, submitted.handle, submitted.activity, Some(lease))).await;
            }
            Err(e) => {
                tracing::error!(eval = job.id, error = %e, "cannot start evaluation");
                store::evals::fail(&ctx.db, job.id, &format!("cannot start the evaluation: {e}")).await?;
                ctx.publish_eval(job.id).await;
            }
        }
        Ok(())
    }

    async fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }

    /// Waits (up to `limit`) for every task to finish after shutdown began.
    pub(super) async fn drain(&self, limit: Duration) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().await);
        if tokio::time::timeout(limit, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("some jobs were still settling at shutdown; the next start picks them up");
        }
    }
}

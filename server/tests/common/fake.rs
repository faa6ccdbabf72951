//! An executor that runs nothing: jobs are entries that a test moves through
//! their states, writing their events files itself. The scheduler, the
//! tasks and the ingest cannot tell it from a real one.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use advmix_protocol::{Event, EventLine};
use advmix_server::runner::bus::Placement;
use advmix_server::runner::executor::{Executor, Exit, Handle, JobSpec, JobState, Submitted};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

pub struct Job {
    pub spec: JobSpec,
    pub state: JobState,
    pub cancelled: bool,
}

#[derive(Default)]
pub struct FakeExecutor {
    pub capacity: Option<usize>,
    /// Jobs wait in the executor's own queue until `start`, as on a cluster.
    pub queueing: bool,
    /// Every job ever submitted, by handle, in submission order.
    jobs: Mutex<Vec<(Handle, Job)>>,
}

impl FakeExecutor {
    pub fn new(capacity: Option<usize>) -> FakeExecutor {
        FakeExecutor { capacity, queueing: false, jobs: Mutex::new(Vec::new()) }
    }

    /// Its jobs wait, pending for `Priority`, until a test starts them.
    pub fn queueing() -> FakeExecutor {
        FakeExecutor { queueing: true, ..FakeExecutor::new(None) }
    }

    pub fn start(&self, name: &str) {
        self.with(name, |_, j| j.state = JobState::Running);
    }

    /// The names (`run-3`, `eval-1`) of the jobs submitted so far, in order.
    pub fn submitted(&self) -> Vec<String> {
        self.jobs.lock().unwrap().iter().map(|(_, j)| j.spec.name.clone()).collect()
    }

    /// The jobs in this state now.
    pub fn running(&self) -> Vec<String> {
        let jobs = self.jobs.lock().unwrap();
        jobs.iter().filter(|(_, j)| j.state == JobState::Running).map(|(_, j)| j.spec.name.clone()).collect()
    }

    pub fn spec(&self, name: &str) -> JobSpec {
        self.with(name, |_, j| j.spec.clone())
    }

    pub fn was_cancelled(&self, name: &str) -> bool {
        self.with(name, |_, j| j.cancelled)
    }

    /// Appends `event` to the job's events.jsonl, as the trainer would.
    pub fn emit(&self, name: &str, event: Event) {
        let dir = self.spec(name).dir;
        emit(&dir, event);
    }

    /// The job ends with `exit`.
    pub fn end(&self, name: &str, exit: Exit) {
        self.with(name, |_, j| j.state = JobState::Ended(exit));
    }

    /// The executor forgets the job, as a cluster forgets a purged job.
    pub fn vanish(&self, name: &str) {
        self.with(name, |_, j| j.state = JobState::Gone);
    }

    fn with<T>(&self, name: &str, f: impl FnOnce(&Handle, &mut Job) -> T) -> T {
        let mut jobs = self.jobs.lock().unwrap();
        let (handle, job) = jobs.iter_mut().rev().find(|(_, j)| j.spec.name == name).unwrap_or_else(|| panic!("no job {name}"));
        f(handle, job)
    }
}

pub fn emit(dir: &std::path::Path, event: Event) {
    std::fs::create_dir_all(dir).unwrap();
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("events.jsonl")).unwrap();
    let line = serde_json::to_string(&EventLine { time: 1.0, event }).unwrap();
    writeln!(file, "{line}").unwrap();
}

impl Executor for FakeExecutor {
    fn submit(&self, job: JobSpec) -> BoxFuture<'_, std::io::Result<Submitted>> {
        let mut jobs = self.jobs.lock().unwrap();
        let handle = Handle::new("fake", jobs.len() + 1);
        let state = if self.queueing { JobState::Pending(Some("Priority".into())) } else { JobState::Running };
        jobs.push((handle.clone(), Job { spec: job, state, cancelled: false }));
        std::future::ready(Ok(Submitted { handle, activity: Default::default(), waiting: self.queueing })).boxed()
    }

    fn state<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, JobState> {
        let jobs = self.jobs.lock().unwrap();
        let state = jobs.iter().find(|(h, _)| h == handle).map_or(JobState::Gone, |(_, j)| j.state.clone());
        std::future::ready(state).boxed()
    }

    /// Does what the trainer does on SIGTERM: writes `stopped` and exits 0.
    fn cancel<'a>(&'a self, handle: &'a Handle, _grace: Duration) -> BoxFuture<'a, std::io::Result<()>> {
        let mut jobs = self.jobs.lock().unwrap();
        let result = match jobs.iter_mut().find(|(h, _)| h == handle) {
            Some((_, job)) => {
                job.cancelled = true;
                emit(&job.spec.dir, Event::Stopped { reason: "stopped by request".into() });
                job.state = JobState::Ended(Exit::Code(0));
                Ok(())
            }
            None => Err(std::io::Error::other(format!("no job {handle}"))),
        };
        std::future::ready(result).boxed()
    }

    fn describe<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Placement> {
        let jobs = self.jobs.lock().unwrap();
        let (state, reason) = match jobs.iter().find(|(h, _)| h == handle).map(|(_, j)| &j.state) {
            Some(JobState::Pending(reason)) => ("pending", reason.clone()),
            _ => ("running", None),
        };
        std::future::ready(Placement { place: format!("fake job {}", handle.id()), state: state.into(), reason }).boxed()
    }

    fn capacity(&self) -> Option<usize> {
        self.capacity
    }
}

//! Executors: where jobs run. The runner hands an executor a [`JobSpec`]
//! (the trainer's arguments and the job's directory) and gets back an
//! opaque [`Handle`]; from then on it only asks the handle's state, cancels
//! it, or asks where it is. Nothing else is shared: results come from the
//! job's `events.jsonl`, so an executor whose jobs run on other machines
//! (a cluster that shares only the filesystem) fits the same trait.
//!
//! `local` runs jobs as child processes of this server; it alone knows how
//! a process is found, asked to stop and killed.

pub mod local;
pub mod slurm;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

pub use crate::runner::bus::Placement;

/// An executor's name for a submitted job, stored as TEXT: `local:12345`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Handle(pub String);

impl Handle {
    pub fn new(executor: &str, id: impl std::fmt::Display) -> Handle {
        Handle(format!("{executor}:{id}"))
    }

    /// The executor's part: `local`.
    pub fn executor(&self) -> &str {
        self.0.split_once(':').map_or("", |(e, _)| e)
    }

    /// The executor's own id: `12345`.
    pub fn id(&self) -> &str {
        self.0.split_once(':').map_or(&self.0, |(_, id)| id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// `run-12`, `eval-3`: for logs and cluster job names.
    pub name: String,
    /// The job's directory: events.jsonl and stderr.log go here.
    pub dir: PathBuf,
    /// The trainer's arguments (`train --config …`).
    pub args: Vec<OsString>,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// What the run asks a cluster for; executors without one ignore it.
    pub resources: advmix_protocol::config::Resources,
}

/// How a job ended, as far as its executor knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    /// Ended by a signal or by the cluster (time limit, node failure, out
    /// of memory), in the executor's words.
    Killed(String),
    /// Cancelled; the words say by whom.
    Cancelled(String),
    /// It ended, but how is not known (a process this server did not start).
    Unknown,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Killed(how) | Exit::Cancelled(how) => f.write_str(how),
            Exit::Unknown => f.write_str("an unknown exit status"),
        }
    }
}

/// A handle's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to start, with the executor's reason.
    Pending(Option<String>),
    Running,
    Ended(Exit),
    /// The executor does not know the handle (any more).
    Gone,
    /// The executor did not answer (a cluster's controller is busy): the
    /// job is followed on as it was.
    Unknown(String),
}

/// A submitted job.
pub struct Submitted {
    pub handle: Handle,
    /// Signalled when the job has something new (a local child's stdout), so
    /// that its events file is read at once instead of at the next poll.
    /// Executors without such a channel leave it unsignalled.
    pub activity: Arc<Notify>,
    /// In the executor's own queue, not running yet: the run shows as
    /// queued, with the executor's reason, until it starts.
    pub waiting: bool,
}

pub trait Executor: Send + Sync {
    fn submit(&self, job: JobSpec) -> BoxFuture<'_, std::io::Result<Submitted>>;

    fn state<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, JobState>;

    /// Asks the job to stop (it saves and exits), and makes sure it is gone
    /// `grace` later. Returns once the request is made.
    fn cancel<'a>(&'a self, handle: &'a Handle, grace: Duration) -> BoxFuture<'a, std::io::Result<()>>;

    /// Where the job runs and in what state, for the run page.
    fn describe<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Placement>;

    /// Whether a job asking for `resources` would be accepted, asked before
    /// a sweep is stored, so that a refusal lands on the spec; `Err` with
    /// the executor's own words.
    fn check<'a>(&'a self, _resources: &'a advmix_protocol::config::Resources) -> BoxFuture<'a, Result<(), String>> {
        futures_util::FutureExt::boxed(std::future::ready(Ok(())))
    }

    /// How many times the executor started the job again by itself (a
    /// cluster's requeue after preemption): each restart is a new attempt.
    fn restarts<'a>(&'a self, _handle: &'a Handle) -> BoxFuture<'a, u32> {
        futures_util::FutureExt::boxed(std::future::ready(0))
    }

    /// A line for the home page on where jobs go and how many wait or run;
    /// `None` when the slots say it all.
    fn summary(&self) -> BoxFuture<'_, Option<String>> {
        futures_util::FutureExt::boxed(std::future::ready(None))
    }

    /// How many jobs it takes at once; `None` when the runner's slots decide.
    fn capacity(&self) -> Option<usize> {
        None
    }
}

/// The trainer's arguments for a training run. The run page shows the same
/// list, so what it displays is what was run.
pub fn train_args(config: &std::path::Path, run_dir: &std::path::Path, datasets: &std::path::Path, device: &str, resume: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "train".into(),
        "--config".into(),
        config.into(),
        "--run-dir".into(),
        run_dir.into(),
        "--data-dir".into(),
        datasets.into(),
        "--device".into(),
        device.into(),
    ];
    if resume {
        args.push("--resume".into());
    }
    args
}

/// What an evaluation job runs: `advmix-trainer eval` on one checkpoint,
/// its events and report in `dir`.
pub struct EvalArgs<'a> {
    pub checkpoint: &'a std::path::Path,
    pub suite: &'a str,
    pub n: i64,
    pub epsilon: Option<f64>,
    pub datasets: &'a std::path::Path,
    pub device: &'a str,
    pub dir: &'a std::path::Path,
}

pub fn eval_args(a: &EvalArgs<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "eval".into(),
        "--checkpoint".into(),
        a.checkpoint.into(),
        "--attack".into(),
        a.suite.into(),
        "--n".into(),
        a.n.to_string().into(),
        "--device".into(),
        a.device.into(),
        "--data-dir".into(),
        a.datasets.into(),
        "--report".into(),
        a.dir.join(advmix_protocol::layout::EVAL_REPORT).into(),
        "--events-dir".into(),
        a.dir.into(),
    ];
    if let Some(eps) = a.epsilon {
        args.push("--eps".into());
        args.push(eps.to_string().into());
    }
    args
}

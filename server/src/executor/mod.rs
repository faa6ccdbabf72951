//! How a run's trainer process is started. The scheduler only needs a pid to
//! signal and a way to learn the exit status; everything else (metrics,
//! checkpoints) comes from the run directory's `events.jsonl`, so a future
//! Slurm executor that shares only the filesystem fits the same interface.

pub mod local;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Notify;

/// What to run: the trainer, its run directory and its device.
#[derive(Clone, Debug)]
pub struct Launch {
    pub run_id: i64,
    pub run_dir: PathBuf,
    /// The run config file the trainer reads (`RUN_DIR/run.json`).
    pub config: PathBuf,
    pub datasets: PathBuf,
    /// `cpu` or `cuda:N`.
    pub device: String,
    pub resume: bool,
}

/// How a launched process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(9) => f.write_str("killed by SIGKILL (out of memory, or killed by hand)"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

pub type ExitFuture = Pin<Box<dyn Future<Output = std::io::Result<Exit>> + Send>>;

pub struct Started {
    pub pid: u32,
    pub exit: ExitFuture,
    /// Signalled whenever the process reports an event on its own channel
    /// (a local child's stdout), so the supervisor ingests the file at once
    /// instead of at its next poll. Executors without such a channel leave
    /// it unsignalled; polling still finds everything.
    pub activity: Arc<Notify>,
}

/// An evaluation job: `advmix-trainer eval` on one checkpoint.
#[derive(Clone, Debug)]
pub struct EvalLaunch {
    pub eval_id: i64,
    /// Holds the report and the job's stderr.log.
    pub dir: PathBuf,
    pub checkpoint: PathBuf,
    pub suite: String,
    pub n: i64,
    pub epsilon: Option<f64>,
    pub datasets: PathBuf,
    pub device: String,
}

pub struct EvalStarted {
    pub pid: u32,
    pub exit: ExitFuture,
    /// The job's event lines (its stdout), as they come.
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

pub trait Executor: Send + Sync {
    fn start(&self, launch: &Launch) -> std::io::Result<Started>;

    /// Evaluation jobs are short and report on stdout only; an executor that
    /// cannot run them says so, and the job fails with that message.
    fn start_eval(&self, _launch: &EvalLaunch) -> std::io::Result<EvalStarted> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "this executor cannot run evaluation jobs"))
    }
}

/// Sends `signal` to a process by pid. Works for processes this server did
/// not start, such as trainers adopted after a restart.
pub fn signal(pid: u32, signal: i32) -> bool {
    // SAFETY: kill(2) with a plain pid and signal number.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Whether `pid` is alive and is an advmix trainer (a pid can be reused by an
/// unrelated process after a reboot or a long downtime).
pub fn is_trainer_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| {
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("advmix-trainer") && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|stat| stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
                .unwrap_or(true)
        })
        .unwrap_or(false)
}

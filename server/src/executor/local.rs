//! Trainers as local child processes.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::Notify;

use super::{EvalLaunch, EvalStarted, Executor, Exit, ExitFuture, Launch, Started};

pub const STDERR_LOG: &str = "stderr.log";

/// The trainer's arguments for `launch`. The run page shows the same list,
/// so what it displays is what was run.
pub fn trainer_args(launch: &Launch) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "train".into(),
        "--config".into(),
        launch.config.clone().into(),
        "--run-dir".into(),
        launch.run_dir.clone().into(),
        "--data-dir".into(),
        launch.datasets.clone().into(),
        "--device".into(),
        launch.device.clone().into(),
    ];
    if launch.resume {
        args.push("--resume".into());
    }
    args
}

pub struct LocalExecutor {
    pub trainer: PathBuf,
}

impl Executor for LocalExecutor {
    fn start(&self, launch: &Launch) -> std::io::Result<Started> {
        std::fs::create_dir_all(&launch.run_dir)?;
        let stderr = OpenOptions::new().create(true).append(true).open(launch.run_dir.join(STDERR_LOG))?;
        let mut command = Command::new(&self.trainer);
        command
            .args(trainer_args(launch))
            // stdout carries the same events as events.jsonl; it is read only
            // to learn that the file grew. The trainer ignores a closed
            // stdout, so it outlives this server's end of the pipe.
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .stdin(Stdio::null())
            // Its own process group: Ctrl-C on the server's terminal must not
            // stop trainers that are meant to outlive a server restart.
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        let activity = Arc::new(Notify::new());
        if let Some(stdout) = child.stdout.take() {
            let activity = activity.clone();
            let run_id = launch.run_id;
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if serde_json::from_str::<advmix_protocol::EventLine>(&line).is_ok() {
                        activity.notify_one();
                    } else {
                        tracing::debug!(run = run_id, %line, "trainer stdout line is not an event");
                    }
                }
            });
        }
        Ok(Started { pid, exit: exit_of(child), activity })
    }

    fn start_eval(&self, launch: &EvalLaunch) -> std::io::Result<EvalStarted> {
        std::fs::create_dir_all(&launch.dir)?;
        let stderr = OpenOptions::new().create(true).append(true).open(launch.dir.join(STDERR_LOG))?;
        let mut command = Command::new(&self.trainer);
        command
            .arg("eval")
            .arg("--checkpoint")
            .arg(&launch.checkpoint)
            .arg("--attack")
            .arg(&launch.suite)
            .arg("--n")
            .arg(launch.n.to_string())
            .arg("--device")
            .arg(&launch.device)
            .arg("--data-dir")
            .arg(&launch.datasets)
            .arg("--report")
            .arg(launch.dir.join(EVAL_REPORT))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(eps) = launch.epsilon {
            command.arg("--eps").arg(eps.to_string());
        }
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(async move {
                let mut reader = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(EvalStarted { pid, exit: exit_of(child), lines })
    }
}

/// The report an evaluation job writes into its directory.
pub const EVAL_REPORT: &str = "report.json";

fn exit_of(mut child: tokio::process::Child) -> ExitFuture {
    Box::pin(async move {
        let status = child.wait().await?;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        })
    })
}

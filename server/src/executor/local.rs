//! Trainers as local child processes.

use std::fs::OpenOptions;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::Notify;

use super::{Executor, Exit, Launch, Started};

pub const STDERR_LOG: &str = "stderr.log";

pub struct LocalExecutor {
    pub trainer: PathBuf,
}

impl Executor for LocalExecutor {
    fn start(&self, launch: &Launch) -> std::io::Result<Started> {
        std::fs::create_dir_all(&launch.run_dir)?;
        let stderr = OpenOptions::new().create(true).append(true).open(launch.run_dir.join(STDERR_LOG))?;
        let mut command = Command::new(&self.trainer);
        command
            .arg("train")
            .arg("--config")
            .arg(&launch.config)
            .arg("--run-dir")
            .arg(&launch.run_dir)
            .arg("--data-dir")
            .arg(&launch.datasets)
            .arg("--device")
            .arg(&launch.device)
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
        if launch.resume {
            command.arg("--resume");
        }
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
        let exit = Box::pin(async move {
            let status = child.wait().await?;
            Ok(match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Code(-1),
            })
        });
        Ok(Started { pid, exit, activity })
    }
}

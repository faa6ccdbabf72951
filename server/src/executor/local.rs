//! Trainers as local child processes.

use std::fs::OpenOptions;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::Command;

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
            // The events file is the record; stdout would only tie the
            // trainer's life to this server's pipe.
            .stdout(Stdio::null())
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
        let exit = Box::pin(async move {
            let status = child.wait().await?;
            Ok(match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Code(-1),
            })
        });
        Ok(Started { pid, exit })
    }
}

//! Jobs as local child processes. The only module of the server that knows
//! about pids, signals and `/proc`: a handle is `local:PID`.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use advmix_protocol::layout::STDERR_LOG;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

use super::{Executor, Exit, Handle, JobSpec, JobState, Placement, Submitted};

pub const NAME: &str = "local";

pub struct LocalExecutor {
    pub trainer: PathBuf,
    /// Children this server started, so that their exit status is known.
    /// Trainers adopted after a restart are not in here: only /proc tells
    /// whether they still run.
    children: Mutex<HashMap<u32, Child>>,
    /// Children sent SIGTERM by a stop: one that dies of it was stopped
    /// before it could handle it (while starting), not crashed.
    stopping: Mutex<std::collections::HashSet<u32>>,
    /// CPU threads each job may use (`ADVMIX_THREADS`); None leaves the
    /// trainer's default of every core.
    threads: Option<usize>,
}

impl LocalExecutor {
    pub fn new(trainer: PathBuf) -> LocalExecutor {
        LocalExecutor { trainer, children: Mutex::new(HashMap::new()), stopping: Mutex::new(Default::default()), threads: None }
    }

    /// Splits this machine's cores between `jobs` jobs at a time. Trainers
    /// that each take every core spin against one another and run several
    /// times slower than their share (two tiny CPU runs on two cores took
    /// 53 s instead of 22 s).
    pub fn sharing_cores(self, jobs: usize) -> LocalExecutor {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        LocalExecutor { threads: Some(threads_per_job(cores, jobs)), ..self }
    }

    fn spawn(&self, job: &JobSpec) -> std::io::Result<Submitted> {
        std::fs::create_dir_all(&job.dir)?;
        let stderr = OpenOptions::new().create(true).append(true).open(job.dir.join(STDERR_LOG))?;
        let mut command = Command::new(&self.trainer);
        command
            .args(&job.args)
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
        if let Some(threads) = self.threads {
            command.env("ADVMIX_THREADS", threads.to_string());
        }
        let mut child = command.spawn()?;
        let pid = child.id().ok_or_else(|| std::io::Error::other("the trainer exited before it could be followed"))?;
        let activity = Arc::new(Notify::new());
        if let Some(stdout) = child.stdout.take() {
            let activity = activity.clone();
            let name = job.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if serde_json::from_str::<advmix_protocol::EventLine>(&line).is_ok() {
                        activity.notify_one();
                    } else {
                        tracing::debug!(job = %name, %line, "trainer stdout line is not an event");
                    }
                }
                // Closed: the process is ending, so look at it now.
                activity.notify_one();
            });
        }
        self.children.lock().expect("not poisoned").insert(pid, child);
        Ok(Submitted { handle: Handle::new(NAME, pid), activity, waiting: false })
    }

    fn state_now(&self, handle: &Handle) -> JobState {
        let Some(pid) = pid_of(handle) else { return JobState::Gone };
        let mut children = self.children.lock().expect("not poisoned");
        if let Some(child) = children.get_mut(&pid) {
            return match child.try_wait() {
                Ok(None) => JobState::Running,
                Ok(Some(status)) => {
                    children.remove(&pid);
                    let stopped = self.stopping.lock().expect("not poisoned").remove(&pid);
                    JobState::Ended(match (status.code(), status.signal()) {
                        (Some(code), _) => Exit::Code(code),
                        (None, Some(libc::SIGTERM)) if stopped => {
                            Exit::Cancelled("stopped while the trainer was starting, before it had saved anything".into())
                        }
                        (None, Some(libc::SIGKILL)) if stopped => {
                            Exit::Cancelled("stopped: the trainer did not stop within the grace period and was killed".into())
                        }
                        (None, Some(libc::SIGKILL)) => Exit::Killed("killed by SIGKILL (out of memory, or killed by hand)".into()),
                        (None, Some(signal)) => Exit::Killed(format!("killed by signal {signal}")),
                        (None, None) => Exit::Unknown,
                    })
                }
                Err(_) => {
                    children.remove(&pid);
                    JobState::Ended(Exit::Unknown)
                }
            };
        }
        if is_trainer_alive(pid) { JobState::Running } else { JobState::Ended(Exit::Unknown) }
    }
}

/// Each of `jobs` concurrent jobs gets an equal share of `cores`, at least one.
fn threads_per_job(cores: usize, jobs: usize) -> usize {
    (cores / jobs.max(1)).max(1)
}

/// The pid of a `local:PID` handle.
fn pid_of(handle: &Handle) -> Option<u32> {
    (handle.executor() == NAME).then(|| handle.id().parse().ok()).flatten()
}

impl Executor for LocalExecutor {
    fn submit(&self, job: JobSpec) -> BoxFuture<'_, std::io::Result<Submitted>> {
        std::future::ready(self.spawn(&job)).boxed()
    }

    fn state<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, JobState> {
        std::future::ready(self.state_now(handle)).boxed()
    }

    /// SIGTERM now (the trainer saves a checkpoint and exits), SIGKILL after
    /// `grace` if it is still there.
    fn cancel<'a>(&'a self, handle: &'a Handle, grace: Duration) -> BoxFuture<'a, std::io::Result<()>> {
        let result = match pid_of(handle) {
            None => Err(std::io::Error::other(format!("{handle} is not a local process"))),
            Some(pid) => {
                self.stopping.lock().expect("not poisoned").insert(pid);
                signal(pid, libc::SIGTERM);
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    if is_trainer_alive(pid) {
                        tracing::warn!(pid, "trainer ignored SIGTERM; killing it");
                        signal(pid, libc::SIGKILL);
                    }
                });
                Ok(())
            }
        };
        std::future::ready(result).boxed()
    }

    fn describe<'a>(&'a self, handle: &'a Handle) -> BoxFuture<'a, Placement> {
        let state = match self.state_now(handle) {
            JobState::Running => "running".to_owned(),
            JobState::Pending(_) => "starting".to_owned(),
            JobState::Ended(exit) => format!("ended ({exit})"),
            JobState::Gone => "gone".to_owned(),
            JobState::Unknown(why) => format!("unknown ({why})"),
        };
        let place = match pid_of(handle) {
            Some(pid) => format!("local process {pid}"),
            None => handle.to_string(),
        };
        std::future::ready(Placement { place, state, reason: None }).boxed()
    }
}

/// Sends `signal` to a process by pid. Works for processes this server did
/// not start, such as trainers adopted after a restart.
fn signal(pid: u32, signal: i32) -> bool {
    // SAFETY: kill(2) with a plain pid and signal number.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Whether `pid` is alive and is an advmix trainer (a pid can be reused by an
/// unrelated process after a reboot or a long downtime).
fn is_trainer_alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmd| {
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("advmix-trainer")
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|stat| stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
                    .unwrap_or(true)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use sqlx::SqlitePool;
    use sqlx::migrate::Migrator;

    use super::*;
    use crate::paths::Paths;
    use crate::runner::bus::Bus;
    use crate::runner::slots::plan_slots;
    use crate::runner::{Runner, RunnerConfig};
    use crate::store::{self, MIGRATOR, RunStatus};

    /// A long-lived process whose command line names advmix-trainer, as a
    /// real trainer's does: `sleep` under that name.
    fn fake_trainer(dir: &std::path::Path) -> std::process::Child {
        let path = dir.join("advmix-trainer");
        std::os::unix::fs::symlink("/bin/sleep", &path).unwrap();
        std::process::Command::new(&path).arg("60").spawn().unwrap()
    }

    /// A trainer that dies of the stop's SIGTERM (it was still starting, with
    /// no handler yet) was stopped, not crashed; one killed by someone else
    /// was not.
    #[tokio::test]
    async fn dying_of_a_stops_sigterm_is_a_stop() {
        let dir = tempfile::tempdir().unwrap();
        let trainer = dir.path().join("advmix-trainer");
        std::fs::write(&trainer, "#!/bin/sh\nexec sleep 60\n").unwrap();
        std::fs::set_permissions(&trainer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let executor = LocalExecutor::new(trainer);
        let job = |name: &str| JobSpec {
            name: name.into(),
            dir: dir.path().join(name),
            args: Vec::new(),
            device: "cpu".into(),
            resources: Default::default(),
        };
        let ended = |handle: Handle| {
            let executor = &executor;
            async move {
                for _ in 0..100 {
                    if let JobState::Ended(exit) = executor.state(&handle).await {
                        return exit;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                panic!("{handle} did not end");
            }
        };
        let stopped = executor.submit(job("stopped")).await.unwrap().handle;
        executor.cancel(&stopped, Duration::from_secs(30)).await.unwrap();
        assert!(matches!(ended(stopped).await, Exit::Cancelled(why) if why.contains("while the trainer was starting")));

        let killed = executor.submit(job("killed")).await.unwrap().handle;
        signal(pid_of(&killed).unwrap(), libc::SIGTERM);
        assert_eq!(ended(killed).await, Exit::Killed("killed by signal 15".into()));
    }

    /// Each job learns its share of the cores through ADVMIX_THREADS, which
    /// the trainer reads as --threads.
    #[tokio::test]
    async fn jobs_get_their_share_of_the_cores() {
        assert_eq!(threads_per_job(2, 2), 1);
        assert_eq!(threads_per_job(16, 3), 5);
        assert_eq!(threads_per_job(2, 4), 1, "never zero");
        assert_eq!(threads_per_job(8, 0), 8);

        let dir = tempfile::tempdir().unwrap();
        let trainer = dir.path().join("advmix-trainer");
        std::fs::write(&trainer, "#!/bin/sh\necho \"threads=${ADVMIX_THREADS:-unset}\" >&2\n").unwrap();
        std::fs::set_permissions(&trainer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let cores = std::thread::available_parallelism().unwrap().get();
        for (executor, said) in [
            (LocalExecutor::new(trainer.clone()), "threads=unset".to_owned()),
            (LocalExecutor::new(trainer.clone()).sharing_cores(1), format!("threads={cores}")),
        ] {
            let job = dir.path().join(&said);
            let handle = executor
                .submit(JobSpec { name: said.clone(), dir: job.clone(), args: Vec::new(), device: "cpu".into(), resources: Default::default() })
                .await
                .unwrap()
                .handle;
            while !matches!(executor.state(&handle).await, JobState::Ended(_)) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(std::fs::read_to_string(job.join(STDERR_LOG)).unwrap().trim(), said);
        }
    }

    #[sqlx::test(migrations = false)]
    async fn a_trainer_running_before_the_handle_migration_is_adopted(db: SqlitePool) {
        let dir = tempfile::tempdir().unwrap();
        let mut trainer = fake_trainer(dir.path());
        let pid = trainer.id();

        // The schema as it was before handles, with a run it was following.
        let before = MIGRATOR.migrations.iter().filter(|m| m.version < 20261202000006).cloned().collect::<Vec<_>>();
        let old = Migrator { migrations: Cow::Owned(before), table_name: MIGRATOR.table_name.clone(), create_schemas: MIGRATOR.create_schemas.clone(), ..Migrator::DEFAULT };
        old.run(&db).await.unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runs (name, config, method, dataset, model, epochs, status, slot, device, pid, attempt)
             VALUES ('old', '{}', 'erm', 'digits', 'small_cnn', 5, 'running', 'cpu/0', 'cpu', ?, 1) RETURNING id",
        )
        .bind(i64::from(pid))
        .fetch_one(&db)
        .await
        .unwrap();

        MIGRATOR.run(&db).await.unwrap();
        let running = store::runs::running(&db).await.unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].handle.as_deref(), Some(format!("local:{pid}").as_str()));

        // A new server's runner adopts it into its old slot and follows it.
        let executor = Arc::new(LocalExecutor::new(dir.path().join("advmix-trainer")));
        assert_eq!(executor.state(&Handle::new(NAME, pid)).await, JobState::Running, "found through /proc, not as a child");
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let config = RunnerConfig {
            slots: plan_slots(None, Some(0), 1, 1),
            paths: Paths::new(dir.path()),
            stop_runs_on_exit: false,
            stop_grace: Duration::from_secs(5),
            poll: Duration::from_millis(50),
            min_free_bytes: 0,
        };
        let runner = Runner::new(db.clone(), executor, Bus::new(16), shutdown, config);
        let scheduling = tokio::spawn(runner.clone().run());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(store::runs::fetch(&db, id).await.unwrap().status, RunStatus::Running);
        assert_eq!(runner.slot_of_run(id).map(|s| s.name), Some("cpu/0".into()));

        // Cancelled through its handle, it ends; with no final event, lost.
        runner.cancel(&format!("local:{pid}")).await.unwrap();
        trainer.wait().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while store::runs::fetch(&db, id).await.unwrap().status == RunStatus::Running {
            assert!(tokio::time::Instant::now() < deadline, "the adopted run was not settled");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(store::runs::fetch(&db, id).await.unwrap().status, RunStatus::Lost);
        stop.send(true).unwrap();
        scheduling.await.unwrap();
    }
}

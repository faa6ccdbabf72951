//! Evaluation jobs: `advmix-trainer eval` in a scheduler slot. The job's
//! stdout events update its row as they come and reach the SSE streams as
//! the run's events; its report file settles it. Jobs are short and do not
//! outlive the server: shutdown stops them, and a restart settles any left
//! running from their report file or marks them failed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use advmix_protocol::{Event, EventLine};

use super::{QueuedEval, fail};
use crate::executor::local::EVAL_REPORT;
use crate::executor::{self, EvalLaunch, EvalStarted, Exit};
use crate::ingest::RunEvent;
use crate::scheduler::{Scheduler, until_shutdown};
use crate::supervisor::{stderr_tail, wait_for_exit};

pub fn eval_dir(data_dir: &Path, id: i64) -> PathBuf {
    data_dir.join("evals").join(id.to_string())
}

/// Launches a claimed job in slot `index`; the follower task frees the slot.
pub async fn start(s: &Arc<Scheduler>, index: usize, job: &QueuedEval) -> anyhow::Result<()> {
    let path = job
        .path
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("its checkpoint was deleted before the job started"))?;
    let slot = &s.slots[index];
    let launch = EvalLaunch {
        eval_id: job.id,
        dir: eval_dir(&s.data_dir, job.id),
        checkpoint: s.run_dir(job.run_id).join(path),
        suite: job.suite.clone(),
        n: job.n,
        epsilon: job.epsilon,
        datasets: s.data_dir.join("datasets"),
        device: slot.device.clone(),
    };
    let started = s.executor.start_eval(&launch)?;
    super::set_pid(&s.db, job.id, started.pid).await?;
    tracing::info!(eval = job.id, run = job.run_id, slot = %slot.name, suite = %job.suite, "evaluation started");
    s.spawn(follow(s.clone(), job.id, job.run_id, index, started, launch.dir)).await;
    Ok(())
}

async fn follow(s: Arc<Scheduler>, id: i64, run_id: i64, index: usize, started: EvalStarted, dir: PathBuf) {
    let EvalStarted { pid, mut exit, mut lines } = started;
    let mut shutdown = s.shutdown.clone();
    let mut outcome = Outcome::default();
    let ended = loop {
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => outcome.apply(&s, id, run_id, &line).await,
                // stdout closed: every line is in; only the exit is left.
                None => break Some((&mut exit).await),
            },
            () = until_shutdown(&mut shutdown) => {
                executor::signal(pid, libc::SIGTERM);
                wait_for_exit(Some(exit), pid, s.stop_grace).await;
                outcome.failure = Some("the server stopped during the evaluation; evaluate again".into());
                break None;
            }
        }
    };
    if !outcome.succeeded {
        let reason = outcome.failure.unwrap_or_else(|| match ended {
            Some(Ok(Exit::Code(0))) => "the evaluation ended without a report".into(),
            Some(Ok(exit)) => format!("the evaluation failed ({exit}): {}", stderr_tail(&dir)),
            Some(Err(e)) => format!("the evaluation's exit status is unknown: {e}"),
            None => "the evaluation was stopped".into(),
        });
        if let Err(e) = fail(&s.db, id, &reason).await {
            tracing::error!(eval = id, error = %e, "cannot record the failed evaluation");
        }
    }
    s.release(index).await;
}

#[derive(Default)]
struct Outcome {
    succeeded: bool,
    failure: Option<String>,
}

impl Outcome {
    async fn apply(&mut self, s: &Scheduler, id: i64, run_id: i64, line: &str) {
        let Ok(parsed) = serde_json::from_str::<EventLine>(line) else {
            tracing::debug!(eval = id, %line, "evaluation stdout line is not an event");
            return;
        };
        let stored = match &parsed.event {
            Event::EvalProgress(progress) => match s.db.acquire().await {
                Ok(mut conn) => super::set_progress(&mut conn, id, progress).await,
                Err(e) => Err(e),
            },
            Event::Eval(report) => {
                let stored = match s.db.begin().await {
                    Ok(mut tx) => match super::succeed(&mut tx, id, report).await {
                        Ok(()) => tx.commit().await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                self.succeeded = stored.is_ok();
                stored
            }
            Event::Failed { reason } => {
                self.failure = Some(reason.clone());
                return;
            }
            // Only the evaluation's own events go out on the run's stream:
            // the job's `failed` is not the run's.
            _ => return,
        };
        if let Err(e) = stored {
            tracing::error!(eval = id, error = %e, "cannot store the evaluation's event");
            if self.failure.is_none() {
                self.failure = Some("the server could not store the evaluation's result; see its log".into());
            }
        }
        // Nobody listening is fine.
        let _ = s.events.send(RunEvent { run_id, line: parsed });
    }
}

/// After a restart: jobs left `running` by the previous server are settled
/// from their report if they wrote one, and otherwise failed (and stopped).
pub async fn recover(s: &Scheduler) -> sqlx::Result<()> {
    let left: Vec<(i64, Option<i64>)> = sqlx::query_as("SELECT id, pid FROM evals WHERE status = 'running' AND source = 'job'")
        .fetch_all(&s.db)
        .await?;
    for (id, pid) in left {
        let report = std::fs::read_to_string(eval_dir(&s.data_dir, id).join(EVAL_REPORT))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        if let Some(report) = report {
            let mut tx = s.db.begin().await?;
            super::succeed(&mut tx, id, &report).await?;
            tx.commit().await?;
            continue;
        }
        if let Some(pid) = pid.and_then(|p| u32::try_from(p).ok()).filter(|&p| executor::is_trainer_alive(p)) {
            executor::signal(pid, libc::SIGTERM);
        }
        fail(&s.db, id, "the server restarted during the evaluation; evaluate again").await?;
    }
    Ok(())
}

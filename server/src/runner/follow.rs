//! The one follower of a job, whatever its kind: it ingests the job's events
//! file as it grows (at once when the executor hints that the job wrote
//! something, else every poll) and asks the executor the job's state until
//! the job has ended.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::context::{TaskContext, until_shutdown};
use super::early_termination;
use super::executor::{Exit, Handle, JobState};
use super::ingest::{self, Source};
use crate::store;

/// How following a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// It ended; how, as far as the executor knows.
    Ended(Exit),
    /// The executor no longer knows the handle.
    Gone,
    /// The server is stopping and leaves the job running for the next one.
    LeftRunning,
}

/// Its last lines, written just before it ended, are the caller's to ingest:
/// it retries them together with how the job ended.
pub async fn follow(ctx: &TaskContext, source: Source, events: &Path, handle: &Handle, activity: Arc<Notify>) -> Followed {
    let mut tick = tokio::time::interval(ctx.poll);
    let mut shutdown = ctx.shutdown.clone();
    // Restarts the executor had made before this server followed the job
    // were counted by the server that saw them.
    let mut restarts = ctx.executor.restarts(handle).await;
    // What the run's status last said, so that only a change is written.
    let mut was_waiting = None;
    loop {
        tokio::select! {
            () = activity.notified() => ingest_now(ctx, source, events).await,
            _ = tick.tick() => {
                ingest_now(ctx, source, events).await;
                match ctx.executor.state(handle).await {
                    JobState::Ended(exit) => return Followed::Ended(exit),
                    JobState::Gone => return Followed::Gone,
                    JobState::Pending(reason) => {
                        restarted(ctx, source, handle, &mut restarts, reason).await;
                        waiting(ctx, source, &mut was_waiting, true).await;
                    }
                    JobState::Running => {
                        restarted(ctx, source, handle, &mut restarts, None).await;
                        waiting(ctx, source, &mut was_waiting, false).await;
                    }
                    JobState::Unknown(why) => tracing::debug!(%handle, %why, "job state unknown; asking again"),
                }
            }
            () = until_shutdown(&mut shutdown) => {
                if !ctx.stop_on_exit {
                    ingest_now(ctx, source, events).await;
                    return Followed::LeftRunning;
                }
                return stop_now(ctx, handle).await;
            }
        }
    }
}

/// A run whose job the executor started again (requeued after preemption
/// or a time limit) is on a new attempt, and its page says why.
async fn restarted(ctx: &TaskContext, source: Source, handle: &Handle, seen: &mut u32, reason: Option<String>) {
    let now = ctx.executor.restarts(handle).await;
    if now <= *seen {
        return;
    }
    *seen = now;
    let Source::Run(run_id) = source else { return };
    let why = format!("requeued by the executor (restart {now}){}", reason.map(|r| format!(": {r}")).unwrap_or_default());
    tracing::info!(run = run_id, %handle, %why, "new attempt");
    match store::runs::new_attempt(&ctx.db, run_id, &why).await {
        Ok(()) => ctx.publish_run(run_id).await,
        Err(e) => tracing::warn!(run = run_id, error = %e, "cannot record the new attempt"),
    }
}

/// A run whose job waits in the executor's queue shows as queued (the
/// reason is in its placement), and as running once it starts.
async fn waiting(ctx: &TaskContext, source: Source, was: &mut Option<bool>, waiting: bool) {
    let Source::Run(run_id) = source else { return };
    if *was == Some(waiting) {
        return;
    }
    match store::runs::set_waiting(&ctx.db, run_id, waiting).await {
        Ok(changed) => {
            *was = Some(waiting);
            if changed {
                ctx.publish_run(run_id).await;
            }
        }
        Err(e) => tracing::warn!(run = run_id, error = %e, "cannot record the job's queue state"),
    }
}

/// Cancels the job and waits for it to end, a little past the grace period
/// the executor gives it.
async fn stop_now(ctx: &TaskContext, handle: &Handle) -> Followed {
    if let Err(e) = ctx.executor.cancel(handle, ctx.stop_grace).await {
        tracing::warn!(%handle, error = %e, "cannot stop the job at shutdown");
    }
    let deadline = tokio::time::Instant::now() + ctx.stop_grace + Duration::from_secs(5);
    loop {
        match ctx.executor.state(handle).await {
            JobState::Ended(exit) => return Followed::Ended(exit),
            JobState::Gone => return Followed::Gone,
            _ if tokio::time::Instant::now() >= deadline => return Followed::LeftRunning,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub async fn ingest_now(ctx: &TaskContext, source: Source, events: &Path) {
    match ingest::ingest(&ctx.db, source, events, Some(&ctx.bus)).await {
        Ok(applied) => match source {
            Source::Run(run_id) => early_termination::after_ingest(ctx, run_id, &applied).await,
            // A job's progress is not its run's: it goes out as the job's
            // row, which the run page redraws.
            Source::Eval(eval_id) => {
                if applied.iter().any(|line| matches!(line.event, advmix_protocol::Event::Progress(_))) {
                    ctx.publish_eval(eval_id).await;
                }
            }
        },
        Err(e) => tracing::warn!(?source, error = %e, "ingest failed; retrying on the next tick"),
    }
}

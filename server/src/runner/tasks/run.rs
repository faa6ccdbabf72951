//! A training run's task: follows the trainer, then settles the run's status
//! from how the job ended and the attempt's last event.

use std::path::Path;
use std::sync::Arc;

use advmix_protocol::sweep::early_terminate::Cut;
use advmix_protocol::{Event, EventLine};
use tokio::sync::Notify;

use super::stderr_tail;
use crate::runner::context::TaskContext;
use crate::runner::executor::{Exit, Handle};
use crate::runner::follow::{Followed, follow};
use crate::runner::ingest::{self, Source};
use crate::runner::slots::SlotLease;
use crate::store::{self, RunStatus};

pub async fn run(ctx: TaskContext, run_id: i64, handle: Handle, activity: Arc<Notify>, lease: Option<SlotLease>) {
    let events = ctx.paths.run_events(run_id);
    let followed = follow(&ctx, Source::Run(run_id), &events, &handle, activity).await;
    if followed == Followed::LeftRunning {
        // Left running on purpose: the next server adopts it.
        return;
    }
    let ended = || async {
        // Lines the follower could not store (a full disk) go in first.
        ingest::ingest(&ctx.db, Source::Run(run_id), &events, Some(&ctx.bus)).await.map_err(|e| e.to_string())?;
        settle(&ctx, run_id, &followed).await.map_err(|e| e.to_string())
    };
    if ctx.until_written(&format!("how run {run_id} ended"), ended).await {
        ctx.publish_run(run_id).await;
    }
    drop(lease);
}

/// The attempt's final event, if the trainer wrote one.
fn terminal_event(events: &Path) -> Option<Event> {
    let mut file = crate::paths::open_within(events.parent()?, events.file_name()?.as_ref()).ok()?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).ok()?;
    let last = text.lines().rev().find_map(|l| serde_json::from_str::<EventLine>(l).ok())?;
    matches!(last.event, Event::Finished(_) | Event::Failed { .. } | Event::Stopped { .. }).then_some(last.event)
}

/// The status, exit code and error of a run that ended as `followed` says,
/// with `terminal` as its last event.
pub fn outcome(followed: &Followed, terminal: Option<Event>) -> (RunStatus, Option<i32>, Option<String>) {
    // Whether the exit status is known: a process this server did not start,
    // or a handle that vanished, leaves only the events to go by.
    let exit = match followed {
        Followed::Ended(Exit::Unknown) | Followed::Gone | Followed::LeftRunning => None,
        Followed::Ended(exit) => Some(exit),
    };
    match (exit, terminal) {
        (None | Some(Exit::Code(0) | Exit::Cancelled(_)), Some(Event::Finished(_))) => (RunStatus::Succeeded, Some(0), None),
        // Cancelled outside the trainer's own stop: stopped, saying by whom.
        (Some(Exit::Cancelled(why)), _) => (RunStatus::Stopped, None, Some(why.clone())),
        (None | Some(Exit::Code(0)), Some(Event::Stopped { reason })) => (RunStatus::Stopped, Some(0), Some(reason)),
        (Some(exit), terminal) => {
            let code = match exit {
                Exit::Code(c) => Some(*c),
                _ => None,
            };
            let reason = match terminal {
                Some(Event::Failed { reason }) => format!("{reason} ({exit})"),
                _ => format!("the trainer ended with {exit}"),
            };
            (RunStatus::Failed, code, Some(reason))
        }
        (None, Some(Event::Failed { reason })) => (RunStatus::Failed, None, Some(reason)),
        (None, _) => (
            RunStatus::Lost,
            None,
            Some("the trainer ended while the server was not watching and wrote no final event; resume the run".into()),
        ),
    }
}

/// A run that early termination stopped ends as `pruned`, saying where and
/// why; one that finished before the stop took effect keeps its success.
fn pruned(run: &store::runs::RunSummary, status: RunStatus, error: Option<String>) -> (RunStatus, Option<String>) {
    let cut = run.pruned.as_deref().filter(|_| !run.continued && status == RunStatus::Stopped);
    match cut.map(serde_json::from_str::<Cut>) {
        Some(Ok(cut)) => (RunStatus::Pruned, Some(cut.reason())),
        Some(Err(_)) => (RunStatus::Pruned, error),
        None => (status, error),
    }
}

async fn settle(ctx: &TaskContext, run_id: i64, followed: &Followed) -> sqlx::Result<()> {
    let run_dir = ctx.paths.run_dir(run_id);
    let (status, code, error) = outcome(followed, terminal_event(&ctx.paths.run_events(run_id)));
    let run = store::runs::fetch(&ctx.db, run_id).await?;
    let (status, error) = pruned(&run, status, error);
    // A cut whose stop came too late (the run finished or failed first) is
    // dropped, so that `pruned` is set only on runs that were pruned (or
    // continued after it).
    if run.pruned.is_some() && !run.continued && status != RunStatus::Pruned {
        store::runs::clear_pruning(&ctx.db, run_id).await?;
    }
    let error = error.map(|reason| {
        let tail = if status == RunStatus::Failed { stderr_tail(&run_dir) } else { String::new() };
        if tail.is_empty() { reason } else { format!("{reason}\n--- last lines of stderr ---\n{tail}") }
    });
    tracing::info!(run = run_id, %status, "run ended");
    // A final stage cut short (stopped, killed, crashed) says so instead of
    // showing as running for ever; a resume runs it again.
    let cut_short = format!("the run ended ({status}) before its final attack finished");
    store::evals::fail_unfinished_final(&ctx.db, run_id, &cut_short).await?;
    store::runs::mark_ended(&ctx.db, run_id, status, code, error.as_deref()).await?;
    Ok(())
}

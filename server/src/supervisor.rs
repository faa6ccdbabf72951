//! The supervisor: one task per running run. It ingests the run's
//! `events.jsonl` as it grows, waits for the process to end, and then settles
//! the run's status from the exit and the last event. After a server restart
//! it adopts trainers that are still alive and marks the others `lost`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use advmix_protocol::layout::EVENTS_FILE;
use advmix_protocol::{Event, EventLine};
use tokio::sync::Notify;

use crate::executor::{self, Exit, ExitFuture};
use crate::ingest;
use crate::scheduler::{Scheduler, until_shutdown};
use crate::store;

const STDERR_TAIL_LINES: usize = 20;

/// Follows one run until it ends (or the server stops), then frees its slot.
/// `exit` is None for a trainer adopted after a restart: it is not our child,
/// so only its pid and its events tell when it is done.
pub async fn supervise(
    s: Arc<Scheduler>,
    run_id: i64,
    slot: Option<usize>,
    pid: u32,
    mut exit: Option<ExitFuture>,
    activity: Arc<Notify>,
) {
    let events = s.run_dir(run_id).join(EVENTS_FILE);
    let mut tick = tokio::time::interval(s.poll);
    let mut shutdown = s.shutdown.clone();
    let ended = loop {
        tokio::select! {
            result = async { exit.as_mut().expect("guarded by the if").await }, if exit.is_some() => {
                break Some(result);
            }
            () = activity.notified() => ingest_now(&s, run_id, &events).await,
            _ = tick.tick() => {
                ingest_now(&s, run_id, &events).await;
                if exit.is_none() && !executor::is_trainer_alive(pid) {
                    break None;
                }
            }
            () = until_shutdown(&mut shutdown) => {
                if !s.stop_runs_on_exit {
                    // Left running on purpose: the next server adopts it.
                    ingest_now(&s, run_id, &events).await;
                    return;
                }
                executor::signal(pid, libc::SIGTERM);
                let result = wait_for_exit(exit.take(), pid, s.stop_grace).await;
                break result;
            }
        }
    };
    ingest_now(&s, run_id, &events).await;
    if let Err(e) = settle(&s, run_id, ended).await {
        tracing::error!(run = run_id, error = %e, "cannot record how the run ended");
    }
    if let Some(slot) = slot {
        s.release(slot).await;
    }
}

/// Waits up to `grace` for the process to end after SIGTERM, then kills it.
pub(crate) async fn wait_for_exit(exit: Option<ExitFuture>, pid: u32, grace: Duration) -> Option<std::io::Result<Exit>> {
    match exit {
        Some(mut exit) => match tokio::time::timeout(grace, &mut exit).await {
            Ok(result) => Some(result),
            Err(_) => {
                executor::signal(pid, libc::SIGKILL);
                Some(exit.await)
            }
        },
        None => {
            let deadline = tokio::time::Instant::now() + grace;
            while executor::is_trainer_alive(pid) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if executor::is_trainer_alive(pid) {
                executor::signal(pid, libc::SIGKILL);
            }
            None
        }
    }
}

async fn ingest_now(s: &Scheduler, run_id: i64, events: &Path) {
    if !events.exists() {
        return;
    }
    if let Err(e) = ingest::ingest_file(&s.db, run_id, events, Some(&s.events)).await {
        tracing::warn!(run = run_id, error = %e, "ingest failed; retrying on the next tick");
    }
}

/// The attempt's final event, if the trainer wrote one.
fn terminal_event(events: &Path) -> Option<Event> {
    let text = std::fs::read_to_string(events).ok()?;
    let last = text.lines().rev().find_map(|l| serde_json::from_str::<EventLine>(l).ok())?;
    matches!(last.event, Event::Finished(_) | Event::Failed { .. } | Event::Stopped { .. }).then_some(last.event)
}

pub(crate) fn stderr_tail(run_dir: &Path) -> String {
    let text = std::fs::read_to_string(run_dir.join(executor::local::STDERR_LOG)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n")
}

/// Status from how the process ended (`None`: it ended while nobody waited
/// on it, so only the events tell) and the attempt's last event.
async fn settle(s: &Scheduler, run_id: i64, ended: Option<std::io::Result<Exit>>) -> sqlx::Result<()> {
    let run_dir = s.run_dir(run_id);
    let terminal = terminal_event(&run_dir.join(EVENTS_FILE));
    let with_tail = |reason: String| {
        let tail = stderr_tail(&run_dir);
        if tail.is_empty() { reason } else { format!("{reason}\n--- last lines of stderr ---\n{tail}") }
    };
    let (status, code, error) = match (ended, terminal) {
        (Some(Ok(Exit::Code(0))), Some(Event::Finished(_))) | (None, Some(Event::Finished(_))) => {
            ("succeeded", Some(0), None)
        }
        (Some(Ok(Exit::Code(0))), Some(Event::Stopped { reason })) | (None, Some(Event::Stopped { reason })) => {
            ("stopped", Some(0), Some(reason))
        }
        (Some(Ok(exit)), terminal) => {
            let code = match exit {
                Exit::Code(c) => Some(c),
                Exit::Signal(_) => None,
            };
            let reason = match terminal {
                Some(Event::Failed { reason }) => format!("{reason} ({exit})"),
                _ => format!("the trainer ended with {exit}"),
            };
            ("failed", code, Some(with_tail(reason)))
        }
        (Some(Err(e)), _) => ("failed", None, Some(with_tail(format!("lost track of the trainer process: {e}")))),
        (None, Some(Event::Failed { reason })) => ("failed", None, Some(with_tail(reason))),
        (None, _) => (
            "lost",
            None,
            Some("the trainer ended while the server was not watching and wrote no final event; resume the run".into()),
        ),
    };
    tracing::info!(run = run_id, status, "run ended");
    // A final stage cut short (stopped, killed, crashed) says so instead of
    // showing as running for ever; a resume runs it again.
    let cut_short = format!("the run ended ({status}) before its final attack finished");
    crate::evals::fail_unfinished_final(&s.db, run_id, &cut_short).await?;
    store::mark_ended(&s.db, run_id, status, code, error.as_deref()).await
}

/// Runs the database says are running: follow the live ones again, settle
/// the dead ones from their events file.
pub async fn recover(s: &Arc<Scheduler>) -> sqlx::Result<()> {
    for run in store::running(&s.db).await? {
        let pid = run.pid.and_then(|p| u32::try_from(p).ok());
        match pid.filter(|&p| executor::is_trainer_alive(p)) {
            Some(pid) => {
                let slot = s.occupy(run.id, run.slot.as_deref()).await;
                tracing::info!(run = run.id, pid, "following a trainer that outlived the last server");
                s.spawn(supervise(s.clone(), run.id, slot, pid, None, Arc::new(Notify::new()))).await;
            }
            None => {
                let events = s.run_dir(run.id).join(EVENTS_FILE);
                ingest_now(s, run.id, &events).await;
                settle(s, run.id, None).await?;
            }
        }
    }
    Ok(())
}

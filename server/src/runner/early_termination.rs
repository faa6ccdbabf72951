//! Early termination, decided in the server the moment a run's epoch at a
//! rung is ingested: the rule is the sweep spec's (`protocol`'s rungs), the
//! values are every run of the sweep that reached the rung so far. A run
//! that is cut gets its cut recorded first and is then stopped through the
//! executor like a user stop, so it keeps its checkpoints; its task settles
//! it as `pruned`.

use advmix_protocol::sweep::early_terminate::{Cut, Verdict};
use advmix_protocol::{Event, EventLine, SweepSpec};
use sqlx::SqlitePool;

use super::context::TaskContext;
use super::executor::Handle;
use crate::store;

/// Looks at the epochs in `events` (just ingested for `run_id`) and stops
/// the run if one of them is a rung it falls behind at.
pub async fn after_ingest(ctx: &TaskContext, run_id: i64, events: &[EventLine]) {
    let epochs: Vec<u32> = events
        .iter()
        .filter_map(|line| match &line.event {
            Event::Epoch(m) => Some(m.epoch),
            _ => None,
        })
        .collect();
    if epochs.is_empty() {
        return;
    }
    match decide(&ctx.db, run_id, &epochs).await {
        Ok(Some((cut, handle))) => prune(ctx, run_id, &cut, handle).await,
        Ok(None) => {}
        // The next epoch's ingest looks again; a missed rung only means the
        // run goes on, which is what it would do without early termination.
        Err(e) => tracing::warn!(run = run_id, error = %e, "cannot decide early termination"),
    }
}

/// The cut for `run_id` at the first of `epochs` that is a rung it falls
/// behind at, with its job's handle; None when it goes on, is not in a
/// sweep with `early_terminate`, was continued by hand, or was cut already.
async fn decide(db: &SqlitePool, run_id: i64, epochs: &[u32]) -> sqlx::Result<Option<(Cut, String)>> {
    let run = store::runs::fetch(db, run_id).await?;
    let (Some(sweep_id), Some(handle)) = (run.sweep_id, run.handle.clone()) else { return Ok(None) };
    if run.continued || run.pruned.is_some() || !run.has_job() {
        return Ok(None);
    }
    let Some(head) = store::sweeps::head(db, sweep_id).await? else { return Ok(None) };
    let spec = match serde_json::from_str::<SweepSpec>(&head.spec) {
        Ok(spec) => spec,
        Err(e) => {
            tracing::warn!(sweep = sweep_id, error = %e, "the stored sweep spec does not parse; no early termination");
            return Ok(None);
        }
    };
    let Some(rule) = &spec.early_terminate else { return Ok(None) };
    let planned = |epochs: i64| u32::try_from(epochs).unwrap_or(u32::MAX);
    let rungs = rule.rungs(planned(run.epochs));
    // Most ingested epochs are no rung: they need no look at the sweep.
    if !epochs.iter().any(|&epoch| rungs.rung_of(epoch).is_some()) {
        return Ok(None);
    }
    // Only runs for which this epoch is a rung too are compared, as the
    // replay does: a shorter run at its last epoch is not at a rung.
    let lengths: std::collections::HashMap<i64, u32> =
        store::runs::of_sweep(db, sweep_id).await?.iter().map(|r| (r.id, planned(r.epochs))).collect();
    for &epoch in epochs {
        let Some(rung) = rungs.rung_of(epoch) else { continue };
        let reached = store::epochs::of_sweep(db, sweep_id, Some(epoch)).await?;
        let value_of = |rows: &[_]| rungs.metric.value_at(rows, epoch, rungs.goal);
        let Some(value) = reached.get(&run_id).and_then(|rows| value_of(rows)) else { continue };
        let at_rung = |id: &i64| lengths.get(id).is_some_and(|&len| rule.rungs(len).rung_of(epoch).is_some());
        let others: Vec<f64> = reached
            .iter()
            .filter(|(id, _)| **id != run_id && at_rung(id))
            .filter_map(|(_, rows)| value_of(rows))
            .collect();
        match rungs.decide(rung, value, &others) {
            Verdict::Stop(cut) => return Ok(Some((cut, handle))),
            Verdict::Undecided { reached, needed } => {
                tracing::debug!(run = run_id, epoch, reached, needed, "rung not decided yet: too few runs have reached it");
            }
            Verdict::Continue => {}
        }
    }
    Ok(None)
}

async fn prune(ctx: &TaskContext, run_id: i64, cut: &Cut, handle: String) {
    let json = serde_json::to_string(cut).expect("cuts serialize");
    match store::runs::mark_pruning(&ctx.db, run_id, &json).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(run = run_id, error = %e, "cannot record the early-termination cut; the run goes on");
            return;
        }
    }
    tracing::info!(run = run_id, reason = %cut.reason(), "early termination stops the run");
    if let Err(e) = ctx.executor.cancel(&Handle(handle), ctx.stop_grace).await {
        tracing::warn!(run = run_id, error = %e, "cannot stop the pruned run's job");
    }
    ctx.publish_run(run_id).await;
}

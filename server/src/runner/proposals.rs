//! A bayes sweep's runs are proposed one config at a time, as slots free
//! up, from what its finished and pruned runs scored: the scheduler asks
//! here when it has a free slot and nothing queued to put in it.

use std::collections::BTreeMap;

use advmix_protocol::sweep::Observation;
use advmix_protocol::{SweepRun, SweepSpec};
use serde_json::Value;
use sqlx::SqlitePool;

use crate::store::{self, RunStatus};

/// Queues the next proposal of the oldest bayes sweep that has proposals
/// left and nothing queued; true when it queued runs.
pub async fn propose_next(db: &SqlitePool) -> anyhow::Result<bool> {
    for (sweep_id, spec_json) in store::sweeps::wanting_proposals(db).await? {
        let spec: SweepSpec = match serde_json::from_str(&spec_json) {
            Ok(spec) => spec,
            Err(e) => {
                tracing::warn!(sweep = sweep_id, error = %e, "the stored sweep spec does not parse; it proposes nothing");
                continue;
            }
        };
        let runs = store::runs::of_sweep(db, sweep_id).await?;
        let made = runs.iter().filter_map(|r| r.proposal).max().map_or(0, |last| last + 1);
        if made >= i64::try_from(spec.count.unwrap_or(0)).unwrap_or(i64::MAX) {
            continue;
        }
        let epochs = store::epochs::of_sweep(db, sweep_id, None).await?;
        let observed: Vec<Observation> = observations(&spec, &runs, &epochs).into_iter().map(|(_, o)| o).collect();
        let proposal = usize::try_from(made).unwrap_or(usize::MAX);
        let new: Vec<(SweepRun, Option<i64>)> = match spec.propose(proposal, &observed) {
            Ok(new) => new.into_iter().map(|run| (run, Some(made))).collect(),
            Err(e) => {
                tracing::warn!(sweep = sweep_id, error = %e, "cannot make the next proposal");
                continue;
            }
        };
        store::sweeps::add_runs(db, sweep_id, &new, None).await?;
        tracing::info!(sweep = sweep_id, proposal, observed = observed.len(), runs = new.len(), "bayes proposal queued");
        return Ok(true);
    }
    Ok(false)
}

/// One observation per proposal (with its index) whose runs have all ended
/// and at least one finished or was pruned: the mean of those runs'
/// objective (a failed or stopped run says nothing about its config).
pub fn observations(
    spec: &SweepSpec,
    runs: &[store::runs::RunSummary],
    epochs: &std::collections::HashMap<i64, Vec<advmix_protocol::events::EpochMetrics>>,
) -> Vec<(i64, Observation)> {
    let (metric, goal) = spec.objective();
    let mut by_proposal: BTreeMap<i64, Vec<&store::runs::RunSummary>> = BTreeMap::new();
    for run in runs {
        if let Some(p) = run.proposal {
            by_proposal.entry(p).or_default().push(run);
        }
    }
    by_proposal
        .into_iter()
        .filter(|(_, runs)| runs.iter().all(|r| !r.status.is_live()))
        .filter_map(|(index, runs)| {
            let values: Vec<f64> = runs
                .iter()
                .filter(|r| matches!(r.status, RunStatus::Succeeded | RunStatus::Pruned))
                .filter_map(|r| metric.last_value(epochs.get(&r.id)?, goal))
                .collect();
            if values.is_empty() {
                return None;
            }
            let mut params: serde_json::Map<String, Value> = serde_json::from_str(&runs[0].params).unwrap_or_default();
            params.remove("seed");
            Some((index, Observation { params, value: values.iter().sum::<f64>() / values.len() as f64 }))
        })
        .collect()
}

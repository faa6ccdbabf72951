//! Growing a stored sweep: more seeds (for every config, or the top k by
//! the sweep's metric), new values on a grid's axes, or more random or
//! bayes configs. An addition is validated like a new sweep, counts against
//! the run limit with the runs the sweep already has, and is recorded in
//! the sweep's history together with the spec after it; all or nothing.

use std::collections::{BTreeMap, HashSet};

use advmix_protocol::sweep::{SweepMethod, SweepRun, SweepSpec};
use advmix_protocol::{FieldError, RunConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::runner::Runner;
use crate::store::{self, RunStatus};

/// What to add; exactly one of `seeds`, `values` or `count`.
#[derive(Deserialize, Serialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Grow {
    /// Every config (or the `top` ones) runs once more per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// With `seeds`: only the configs with the best `top` values of the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<usize>,
    /// Parameter path → new values for a grid axis given as `values`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Map<String, Value>>,
    /// More configs for a random or bayes sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

/// What a grow did.
#[derive(Serialize, Debug)]
pub struct Grown {
    /// Runs queued now.
    pub added: usize,
    /// Runs a bayes sweep will propose later because of it.
    pub to_propose: usize,
    pub summary: String,
}

pub async fn grow(db: &SqlitePool, runner: &Runner, max_runs: usize, sweep_id: i64, ask: &Grow) -> Result<Grown, AppError> {
    let head = store::sweeps::head(db, sweep_id).await?.ok_or(AppError::NotFound)?;
    let spec: SweepSpec = serde_json::from_str(&head.spec)
        .map_err(|e| AppError::Conflict(format!("sweep {sweep_id}'s stored spec no longer reads ({e}); it cannot grow")))?;
    let existing = store::runs::of_sweep(db, sweep_id).await?;
    let asked = [ask.seeds.is_some(), ask.values.is_some(), ask.count.is_some()].iter().filter(|a| **a).count();
    if asked != 1 {
        return Err(AppError::field("grow", "give exactly one of `seeds`, `values` or `count`"));
    }
    if ask.top.is_some() && ask.seeds.is_none() {
        return Err(AppError::field("top", "goes with `seeds`: it picks the configs that get them"));
    }
    let mut plan = if let Some(seeds) = &ask.seeds {
        more_seeds(db, sweep_id, &spec, &existing, seeds, ask.top).await?
    } else if let Some(values) = &ask.values {
        more_values(db, sweep_id, &spec, values, max_runs).await?
    } else {
        more_configs(&spec, &existing, ask.count.unwrap_or(0), max_runs)?
    };
    // A bayes sweep's proposals still to come count too, with the seeds the
    // grown spec gives each: otherwise more seeds would slip past the limit.
    if plan.spec.method == SweepMethod::Bayes {
        let made = existing.iter().filter_map(|r| r.proposal).max().map_or(0, |p| p + 1);
        let left = plan.spec.count.unwrap_or(0).saturating_sub(usize::try_from(made).unwrap_or(usize::MAX));
        plan.to_propose = left.saturating_mul(plan.spec.seeds.as_ref().map_or(1, Vec::len));
    }
    let total = existing.len() + plan.runs.len() + plan.to_propose;
    if total > max_runs {
        return Err(AppError::field(
            plan.field,
            format!(
                "the sweep would have {total} runs ({} now, {} more), over this server's limit of {max_runs}; add fewer, or start the server with a higher --max-sweep-runs",
                existing.len(),
                plan.runs.len() + plan.to_propose
            ),
        ));
    }
    if plan.runs.is_empty() && plan.to_propose == 0 {
        return Err(AppError::field(plan.field, "adds no run that the sweep does not have already"));
    }
    let runs: Vec<SweepRun> = plan.runs.iter().map(|(run, _)| run.clone()).collect();
    super::placeable(runner, &runs).await.map_err(|e| AppError::Invalid(vec![e]))?;
    let change = serde_json::to_string(ask).expect("grows serialize");
    let spec_json = serde_json::to_string(&plan.spec).expect("specs serialize");
    let record = store::sweeps::Change { summary: &plan.summary, change: &change, spec: &spec_json };
    store::sweeps::add_runs(db, sweep_id, &plan.runs, Some(record)).await?;
    runner.wake();
    Ok(Grown { added: plan.runs.len(), to_propose: plan.to_propose, summary: plan.summary })
}

struct Plan {
    spec: SweepSpec,
    runs: Vec<(SweepRun, Option<i64>)>,
    to_propose: usize,
    summary: String,
    /// Where a refusal of the whole addition lands.
    field: &'static str,
}

/// One config of the sweep: its runs (one per seed so far).
struct Config {
    params: Map<String, Value>,
    name: String,
    config: RunConfig,
    proposal: Option<i64>,
    seeds: Vec<u64>,
    /// The sweep's metric, averaged over its finished and pruned runs.
    value: Option<f64>,
}

async fn more_seeds(
    db: &SqlitePool,
    sweep_id: i64,
    spec: &SweepSpec,
    existing: &[store::runs::RunSummary],
    seeds: &[u64],
    top: Option<usize>,
) -> Result<Plan, AppError> {
    if seeds.is_empty() {
        return Err(AppError::field("seeds", "is empty; list the seeds to add, e.g. [3, 4]"));
    }
    let mut unique = HashSet::new();
    if let Some(twice) = seeds.iter().find(|s| !unique.insert(**s)) {
        return Err(AppError::field("seeds", format!("lists seed {twice} twice")));
    }
    let mut configs = configs(db, sweep_id, spec, existing).await?;
    if let Some(k) = top {
        if k == 0 {
            return Err(AppError::field("top", "is 0; give how many of the best configs get the new seeds"));
        }
        let (_, goal) = spec.objective();
        configs.retain(|c| c.value.is_some());
        configs.sort_by(|a, b| {
            let (a, b) = (a.value.unwrap_or_default(), b.value.unwrap_or_default());
            let order = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
            if goal == advmix_protocol::sweep::Goal::Maximize { order.reverse() } else { order }
        });
        configs.truncate(k);
        if configs.is_empty() {
            return Err(AppError::field("top", "no config has a finished run to rank by yet; wait for one, or add seeds to all"));
        }
    }
    if let Some((config, seed)) = configs.iter().find_map(|c| seeds.iter().find(|s| c.seeds.contains(s)).map(|s| (c, s))) {
        return Err(AppError::field("seeds", format!("seed {seed} already runs `{}`; add seeds the sweep does not have", config.name)));
    }
    let mut runs = Vec::new();
    for config in &configs {
        for &seed in seeds {
            runs.push((with_seed(config, seed), config.proposal));
        }
    }
    let mut grown = spec.clone();
    // Only seeds for every config belong in the spec: its later configs (a
    // bayes sweep's proposals, more random draws) then get them too.
    if top.is_none() {
        let mut all = spec.seeds.clone().unwrap_or_else(|| configs.first().map(|c| c.seeds.clone()).unwrap_or_default());
        all.extend_from_slice(seeds);
        grown.seeds = Some(all);
    }
    let list = seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let whom = match (top, configs.len()) {
        (Some(k), _) => format!("the top {k} configs by {}", spec.objective().0.name()),
        (None, 1) => "the one config".to_owned(),
        (None, n) => format!("all {n} configs"),
    };
    Ok(Plan { spec: grown, runs, to_propose: 0, summary: format!("added seeds {list} for {whom}"), field: "seeds" })
}

/// The sweep's runs, one entry per config (its params without `seed`), in
/// order of first appearance.
async fn configs(db: &SqlitePool, sweep_id: i64, spec: &SweepSpec, existing: &[store::runs::RunSummary]) -> Result<Vec<Config>, AppError> {
    let stored: std::collections::HashMap<i64, String> = store::runs::configs_of_sweep(db, sweep_id).await?.into_iter().collect();
    let epochs = store::epochs::of_sweep(db, sweep_id, None).await?;
    let (metric, goal) = spec.objective();
    let mut out: Vec<Config> = Vec::new();
    let mut values: Vec<Vec<f64>> = Vec::new();
    for run in existing {
        let Some(config) = stored.get(&run.id).and_then(|c| serde_json::from_str::<RunConfig>(c).ok()) else { continue };
        let mut params: Map<String, Value> = serde_json::from_str(&run.params).unwrap_or_default();
        params.remove("seed");
        let value = matches!(run.status, RunStatus::Succeeded | RunStatus::Pruned)
            .then(|| epochs.get(&run.id).and_then(|rows| metric.last_value(rows, goal)))
            .flatten();
        let seed = config.seed;
        let index = match out.iter().position(|c| c.params == params) {
            Some(i) => i,
            None => {
                out.push(Config { params, name: base_name(&run.name), config, proposal: run.proposal, seeds: Vec::new(), value: None });
                values.push(Vec::new());
                out.len() - 1
            }
        };
        out[index].seeds.push(seed);
        values[index].extend(value);
    }
    for (config, values) in out.iter_mut().zip(values) {
        config.value = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
    }
    Ok(out)
}

/// A run name without its `seed=N` part; `base` when nothing else is left
/// (the name a sweep gives when nothing varies).
fn base_name(name: &str) -> String {
    let kept: Vec<&str> = name.split(',').filter(|part| !part.starts_with("seed=")).collect();
    if kept.is_empty() || kept == ["base"] { String::new() } else { kept.join(",") }
}

fn with_seed(config: &Config, seed: u64) -> SweepRun {
    let mut run = config.config.clone();
    run.seed = seed;
    let mut params = config.params.clone();
    params.insert("seed".into(), seed.into());
    let name = if config.name.is_empty() { format!("seed={seed}") } else { format!("{},seed={seed}", config.name) };
    SweepRun { config: run, params, name }
}

async fn more_values(
    db: &SqlitePool,
    sweep_id: i64,
    spec: &SweepSpec,
    asked: &Map<String, Value>,
    max_runs: usize,
) -> Result<Plan, AppError> {
    if spec.method != SweepMethod::Grid {
        return Err(AppError::field("values", "new values extend a grid; a random or bayes sweep grows with `count`"));
    }
    if asked.is_empty() {
        return Err(AppError::field("values", "is empty; give a parameter and its new values, e.g. {\"epsilon\": [0.2]}"));
    }
    let mut grown = spec.clone();
    let mut added: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, new) in asked {
        let field = format!("values.{path}");
        let Some(new) = new.as_array().filter(|n| !n.is_empty()) else {
            return Err(AppError::field(&field, "give the new values as a non-empty list"));
        };
        let Some((_, parameter)) = grown.parameters.iter_mut().find(|(p, _)| p == path) else {
            return Err(AppError::field(&field, format!("`{path}` is not a parameter of this sweep; only its `values` axes can grow")));
        };
        let Some(values) = parameter.values.as_mut() else {
            return Err(AppError::field(&field, format!("`{path}` is not given as `values`, so it has no list to extend")));
        };
        if let Some(there) = new.iter().find(|v| values.contains(v)) {
            return Err(AppError::field(&field, format!("{there} is already one of its values")));
        }
        values.extend(new.iter().cloned());
        added.insert(path, new.len());
    }
    let runs = grown.expand(max_runs).map_err(|e| prefixed(e, "values"))?;
    let have: HashSet<String> = store::runs::configs_of_sweep(db, sweep_id).await?.into_iter().map(|(_, c)| canonical(&c)).collect();
    let runs: Vec<(SweepRun, Option<i64>)> = runs
        .into_iter()
        .filter(|run| !have.contains(&canonical(&serde_json::to_string(&run.config).expect("configs serialize"))))
        .map(|run| (run, None))
        .collect();
    let summary = format!(
        "added values: {}",
        asked.iter().map(|(path, v)| format!("{path} {v}")).collect::<Vec<_>>().join("; ")
    );
    Ok(Plan { spec: grown, runs, to_propose: 0, summary, field: "values" })
}

/// A config's JSON in one canonical form, so configs compare by content.
fn canonical(json: &str) -> String {
    serde_json::from_str::<Value>(json).map(|v| v.to_string()).unwrap_or_default()
}

fn more_configs(spec: &SweepSpec, existing: &[store::runs::RunSummary], count: usize, max_runs: usize) -> Result<Plan, AppError> {
    if count == 0 {
        return Err(AppError::field("count", "is 0; give how many more configs to add"));
    }
    let before = spec.count.unwrap_or(0);
    let mut grown = spec.clone();
    grown.count = Some(before + count);
    let per_config = spec.seeds.as_ref().map_or(1, Vec::len);
    let summary = format!("added {count} configs ({before} → {})", before + count);
    match spec.method {
        SweepMethod::Grid => Err(AppError::field("count", "a grid runs every combination; grow it with new `values`")),
        // The draws are keyed by the sweep's seed, so the grown spec draws
        // the same first configs again and the new ones after them.
        SweepMethod::Random => {
            let runs = grown.expand(max_runs.max(existing.len() + count * per_config)).map_err(|e| prefixed(e, "count"))?;
            let runs = runs.into_iter().skip(before * per_config).map(|run| (run, None)).collect();
            Ok(Plan { spec: grown, runs, to_propose: 0, summary, field: "count" })
        }
        SweepMethod::Bayes => {
            let made = existing.iter().filter_map(|r| r.proposal).max().map_or(0, |p| p + 1);
            let left = before.saturating_sub(usize::try_from(made).unwrap_or(usize::MAX));
            Ok(Plan { spec: grown, runs: Vec::new(), to_propose: (left + count) * per_config, summary, field: "count" })
        }
    }
}

/// A spec error from expanding the grown spec lands on the addition's
/// field, naming the spec's field in its message.
fn prefixed(e: advmix_protocol::sweep::SweepError, field: &str) -> AppError {
    AppError::Invalid(
        e.errors.into_iter().map(|e| FieldError { field: field.to_owned(), message: format!("{}: {}", e.field, e.message) }).collect(),
    )
}

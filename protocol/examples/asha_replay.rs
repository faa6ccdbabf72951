//! What early termination would have saved on a recorded sweep, and what it
//! would have cost, against random search given the same number of epochs.
//!
//! `cargo run --release -p advmix-protocol --example asha_replay -- DIR [SPEC...]`
//!
//! DIR holds one folder per run, each with the run's `config.json` and
//! `events.jsonl` (`bench/asha_record.sh` records `bench/data/asha-digits-27`).
//! Each SPEC is an `early_terminate` in JSON, e.g.
//! `'{"type":"asha","min_epochs":2}'`; without any, a built-in list is
//! compared. `bench/asha.sh` wraps this; its table goes in bench/RESULTS.md.
//!
//! The objective is the sweep's default: the final epoch's `test_pgd_acc`.
//! Every setting is judged by it, whatever metric its rungs compare, because
//! that is what the researcher picks the winner by.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use advmix_protocol::events::{Event, EventLine};
use advmix_protocol::rng::SplitMix64;
use advmix_protocol::sweep::early_terminate::{EarlyTerminate, Replay, ReplayRun, replay};

/// ASHA's default, a gentler cut, a later first rung, a best-so-far metric
/// that forgives a bad epoch at a rung, and W&B's hyperband as documented
/// (non-strict, so also best-so-far) and strict.
const SETTINGS: [&str; 6] = [
    r#"{"type":"asha","min_epochs":1,"eta":3}"#,
    r#"{"type":"asha","min_epochs":1,"eta":2}"#,
    r#"{"type":"asha","min_epochs":3,"eta":3}"#,
    r#"{"type":"asha","min_epochs":1,"eta":3,"metric":"best_test_pgd_acc"}"#,
    r#"{"type":"hyperband","min_iter":1}"#,
    r#"{"type":"hyperband","min_iter":1,"strict":true}"#,
];

/// Enough draws that the random-search figures move by well under 1% between
/// seeds; fixed, so that a rerun prints the same table.
const DRAWS: u32 = 20_000;
const SEED: u64 = 12;
/// Queue orders to replay each setting in, besides the recorded one: enough
/// for the shares to settle to about a percent.
const ORDERS: u32 = 1_000;

struct Run {
    /// The run's folder name, which is how the table refers to it.
    name: String,
    recorded: ReplayRun,
    /// When it started (its first epoch when no start was recorded), the
    /// point its timings are shifted by to move it in the queue.
    start: f64,
    /// The objective, for runs that recorded all their planned epochs: a run
    /// cut short by a crash has no final value to be picked by.
    final_acc: Option<f64>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("asha_replay: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: asha_replay DIR [EARLY_TERMINATE_JSON...]")?);
    let runs = load(&dir)?;
    let mut run_epochs: Vec<u32> = runs.iter().map(|r| r.recorded.planned_epochs).collect();
    run_epochs.sort_unstable();
    run_epochs.dedup();
    let given: Vec<String> = args.collect();
    let specs: Vec<&str> =
        if given.is_empty() { SETTINGS.to_vec() } else { given.iter().map(String::as_str).collect() };
    let settings = specs
        .iter()
        .map(|spec| {
            let et: EarlyTerminate = serde_json::from_str(spec).map_err(|e| format!("early_terminate {spec}: {e}"))?;
            match et.problems(&run_epochs).as_slice() {
                [] => Ok(et),
                problems => {
                    let said: Vec<String> = problems.iter().map(|p| format!("{} {}", p.field, p.message)).collect();
                    Err(format!("early_terminate {spec}: {}", said.join("; ")))
                }
            }
        })
        .collect::<Result<Vec<_>, String>>()?;

    let accs: Vec<Option<f64>> = runs.iter().map(|r| r.final_acc).collect();
    let (best, best_acc) =
        best_of(&accs, 0..runs.len()).ok_or_else(|| format!("{}: no run recorded all its epochs", dir.display()))?;
    let recorded: Vec<ReplayRun> = runs.iter().map(|r| r.recorded.clone()).collect();
    let epochs_recorded: u64 = recorded.iter().map(|r| r.epochs.len() as u64).sum();
    let planned = match run_epochs.as_slice() {
        [only] => only.to_string(),
        several => format!("{}-{}", several[0], several[several.len() - 1]),
    };
    // A full run costs what the recorded runs took on average, so that a
    // budget of B epochs buys floor(B / that) of them.
    let runs_for = |budget: u64| (budget * runs.len() as u64 / epochs_recorded.max(1)) as usize;

    println!(
        "Replay of {}: {} runs of {planned} epochs, {epochs_recorded} epochs recorded, in the recording's arrival order. \
         Objective: final test_pgd_acc; true best {} ({}). Random search: {DRAWS} seeded draws of the runs it can afford.",
        dir.display(),
        runs.len(),
        runs[best].name,
        percent(best_acc),
    );
    println!();
    println!(
        "| early_terminate | rungs | runs stopped (at epoch) | epochs kept / recorded | saved | {} survives | pick among survivors | random search: runs | P(has {}) | its pick, mean |",
        runs[best].name, runs[best].name
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");

    let everything = Baseline::draw(&accs, best, runs.len());
    println!(
        "| none: all {} to the end | - | 0 | {epochs_recorded} / {epochs_recorded} | 0 (0.0%) | yes | {} {} | {} | {} | {} |",
        runs.len(),
        runs[best].name,
        percent(best_acc),
        everything.runs,
        percent(everything.has_best),
        everything.mean_pick.map_or("-".to_owned(), percent),
    );

    for et in &settings {
        let replayed = replay(et, &recorded);
        let spec = serde_json::to_string(et).map_err(|e| e.to_string())?;
        let rungs = replayed.rungs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        let survivors = replayed.runs.iter().enumerate().filter(|(_, o)| o.stopped.is_none()).map(|(i, _)| i);
        let pick = best_of(&accs, survivors)
            .map_or("none finished".to_owned(), |(i, acc)| format!("{} {}", runs[i].name, percent(acc)));
        let best_fate = match &replayed.runs[best].stopped {
            None => "yes".to_owned(),
            Some(cut) => format!("no, stopped at epoch {}", cut.epoch),
        };
        let baseline = Baseline::draw(&accs, best, runs_for(replayed.epochs_kept));
        println!(
            "| `{spec}` | {rungs} | {} | {} / {} | {} ({}) | {best_fate} | {pick} | {} | {} | {} |",
            stopped(&replayed),
            replayed.epochs_kept,
            replayed.epochs_recorded,
            replayed.epochs_saved,
            percent(replayed.epochs_saved as f64 / replayed.epochs_recorded.max(1) as f64),
            baseline.runs,
            percent(baseline.has_best),
            baseline.mean_pick.map_or("-".to_owned(), percent),
        );
    }

    // One recorded order is one draw of the queue, while random search's
    // figures are averages; these make ASHA's averages too.
    println!();
    println!(
        "The same settings over {ORDERS} shuffled queue orders: each run keeps its own recorded epoch timings but starts when another run of the recording started."
    );
    println!();
    println!(
        "| early_terminate | {} survives | pick among survivors: mean | worst | epochs kept: mean (min-max) |",
        runs[best].name
    );
    println!("|---|---|---|---|---|");
    for et in &settings {
        let spec = serde_json::to_string(et).map_err(|e| e.to_string())?;
        let orders = Orders::replay(et, &runs, &accs, best);
        println!(
            "| `{spec}` | {} | {} | {} | {:.0} ({}-{}) |",
            percent(orders.best_survives),
            orders.mean_pick.map_or("-".to_owned(), percent),
            orders.worst_pick.map_or("-".to_owned(), percent),
            orders.kept_mean,
            orders.kept_min,
            orders.kept_max,
        );
    }
    Ok(())
}

/// A setting replayed over [`ORDERS`] random queue orders.
struct Orders {
    best_survives: f64,
    /// The objective of the best surviving run, over the orders that leave a
    /// finished run to pick.
    mean_pick: Option<f64>,
    worst_pick: Option<f64>,
    kept_mean: f64,
    kept_min: u64,
    kept_max: u64,
}

impl Orders {
    fn replay(et: &EarlyTerminate, runs: &[Run], accs: &[Option<f64>], best: usize) -> Orders {
        let mut rng = SplitMix64::new(SEED);
        let mut slots: Vec<usize> = (0..runs.len()).collect();
        let (mut best_survives, mut picks, mut pick_sum, mut worst_pick) = (0u32, 0u32, 0.0, None::<f64>);
        let (mut kept_sum, mut kept_min, mut kept_max) = (0u64, u64::MAX, 0u64);
        for _ in 0..ORDERS {
            for i in (1..slots.len()).rev() {
                slots.swap(i, rng.below(i + 1));
            }
            let queued: Vec<ReplayRun> = runs
                .iter()
                .zip(&slots)
                .map(|(run, &slot)| {
                    let shift = runs[slot].start - run.start;
                    ReplayRun { times: run.recorded.times.iter().map(|t| t + shift).collect(), ..run.recorded.clone() }
                })
                .collect();
            let replayed = replay(et, &queued);
            best_survives += u32::from(replayed.runs[best].stopped.is_none());
            let survivors = replayed.runs.iter().enumerate().filter(|(_, o)| o.stopped.is_none()).map(|(i, _)| i);
            if let Some((_, pick)) = best_of(accs, survivors) {
                picks += 1;
                pick_sum += pick;
                worst_pick = Some(worst_pick.map_or(pick, |worst| worst.min(pick)));
            }
            kept_sum += replayed.epochs_kept;
            kept_min = kept_min.min(replayed.epochs_kept);
            kept_max = kept_max.max(replayed.epochs_kept);
        }
        Orders {
            best_survives: f64::from(best_survives) / f64::from(ORDERS),
            mean_pick: (picks > 0).then(|| pick_sum / f64::from(picks)),
            worst_pick,
            kept_mean: kept_sum as f64 / f64::from(ORDERS),
            kept_min,
            kept_max,
        }
    }
}

/// Random search that can afford `runs` full runs: each draw is a uniform
/// subset of that many of the recorded runs.
struct Baseline {
    runs: usize,
    /// How often the subset holds the true best run.
    has_best: f64,
    /// The objective of the subset's best run, averaged over the draws that
    /// have a finished run to pick; None when none do.
    mean_pick: Option<f64>,
}

impl Baseline {
    fn draw(accs: &[Option<f64>], best: usize, runs: usize) -> Baseline {
        let runs = runs.min(accs.len());
        let mut rng = SplitMix64::new(SEED);
        let mut order: Vec<usize> = (0..accs.len()).collect();
        let (mut has_best, mut picks, mut pick_sum) = (0u32, 0u32, 0.0);
        for _ in 0..DRAWS {
            // A partial Fisher-Yates shuffle: whatever order it starts from,
            // the first `runs` entries end up a uniform subset.
            for i in 0..runs {
                let j = i + rng.below(accs.len() - i);
                order.swap(i, j);
            }
            let chosen = &order[..runs];
            has_best += u32::from(chosen.contains(&best));
            if let Some((_, pick)) = best_of(accs, chosen.iter().copied()) {
                picks += 1;
                pick_sum += pick;
            }
        }
        Baseline {
            runs,
            has_best: f64::from(has_best) / f64::from(DRAWS),
            mean_pick: (picks > 0).then(|| pick_sum / f64::from(picks)),
        }
    }
}

/// The run with the highest objective among `candidates`, and that value;
/// ties go to the earlier run, as in `replay`.
fn best_of(accs: &[Option<f64>], candidates: impl IntoIterator<Item = usize>) -> Option<(usize, f64)> {
    candidates
        .into_iter()
        .filter_map(|i| accs[i].filter(|acc| !acc.is_nan()).map(|acc| (i, acc)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
}

/// How many runs were stopped, and at which epochs, e.g. `19 (8 at 1, 11 at 3)`.
fn stopped(replayed: &Replay) -> String {
    let mut at: BTreeMap<u32, usize> = BTreeMap::new();
    for cut in replayed.runs.iter().filter_map(|o| o.stopped.as_ref()) {
        *at.entry(cut.epoch).or_default() += 1;
    }
    let total: usize = at.values().sum();
    if total == 0 {
        return "0".to_owned();
    }
    let parts: Vec<String> = at.iter().map(|(epoch, n)| format!("{n} at {epoch}")).collect();
    format!("{total} ({})", parts.join(", "))
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// The run folders in DIR (those with a config.json), in name order; a run's
/// id is its place in that order, which breaks ties in arrival time.
fn load(dir: &Path) -> Result<Vec<Run>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut folders = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.join("config.json").is_file() {
            folders.push(path);
        }
    }
    folders.sort();
    if folders.is_empty() {
        return Err(format!("{}: no run folders (with a config.json) in it", dir.display()));
    }
    folders.iter().zip(0..).map(|(folder, id)| load_run(folder, id)).collect()
}

fn load_run(folder: &Path, id: i64) -> Result<Run, String> {
    let config_path = folder.join("config.json");
    let config: serde_json::Value =
        serde_json::from_str(&read(&config_path)?).map_err(|e| format!("{}: {e}", config_path.display()))?;
    let planned_epochs = config
        .get("epochs")
        .and_then(serde_json::Value::as_u64)
        .and_then(|epochs| u32::try_from(epochs).ok())
        .ok_or_else(|| format!("{}: no whole-number `epochs`", config_path.display()))?;

    let events_path = folder.join("events.jsonl");
    let (mut epochs, mut times, mut start) = (Vec::new(), Vec::new(), None);
    for (number, line) in read(&events_path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line: EventLine =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", events_path.display(), number + 1))?;
        // Each epoch line's own time is when a live sweep would have judged
        // it, so the replay meets the runs in the order they were recorded.
        match line.event {
            Event::Started(_) => start = start.or(Some(line.time)),
            Event::Epoch(metrics) => {
                epochs.push(metrics);
                times.push(line.time);
            }
            _ => {}
        }
    }
    let last = epochs.iter().max_by_key(|m| m.epoch);
    let finished = last.is_some_and(|m| m.epoch >= planned_epochs);
    let final_acc = if finished { last.map(|m| m.test_pgd_acc) } else { None };
    let name = folder.file_name().map_or_else(|| folder.display().to_string(), |n| n.to_string_lossy().into_owned());
    let start = start.or_else(|| times.first().copied()).unwrap_or(0.0);
    Ok(Run { name, recorded: ReplayRun { id, planned_epochs, epochs, times }, start, final_acc })
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

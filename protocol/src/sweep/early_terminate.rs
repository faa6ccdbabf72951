//! A sweep's `early_terminate`: stopping runs that are behind at set epochs
//! (rungs), decided from the per-epoch metrics as they arrive.
//!
//! ```yaml
//! early_terminate: {type: asha, min_epochs: 1, eta: 3}      # rungs at 1, 3, 9, ...
//! early_terminate: {type: hyperband, min_iter: 3}           # W&B's keys, W&B's bands
//! ```
//!
//! # The rule
//!
//! Both schemes become the same [`Rungs`]: a list of epochs, a reduction
//! factor `eta`, how many runs must have reached a rung before it decides
//! anything (`min_runs`), and a metric with its goal. The rule is asynchronous
//! successive halving in its stopping form (ASHA, Li et al. 2020): when a run
//! reaches a rung it is compared with every run that reached that rung
//! *before* it. With n runs there (itself included), the best
//! `max(1, floor(n / eta))` values go on; the run continues if its value is at
//! least as good as the worst of those (ties continue) and is stopped
//! otherwise. A run is judged once per rung, on arrival, and never again
//! there, so the decision can be made the moment its epoch is recorded and
//! needs no run to wait for others. The price is that arrival order matters:
//! early runs meet a lenient rung, late ones a crowded one.
//!
//! A rung at a run's last epoch would stop a run that has nothing left to
//! train, so rungs are always strictly below the run's own epochs.
//!
//! # `asha`
//!
//! Rungs at `min_epochs * eta^k` below `max_epochs` (the run's epochs when
//! left out); `eta` 3; `min_runs` is `eta`, so the first rung stops nothing
//! until there are enough runs for "the top 1/eta" to mean something.
//!
//! # `hyperband`: W&B's meaning, mapped onto the same rule
//!
//! W&B documents `early_terminate: {type: hyperband}` with the keys
//! `min_iter`, `max_iter`, `s`, `eta` (3) and `strict`
//! (<https://docs.wandb.ai/models/sweeps/sweep-config-keys>); the engine is
//! `hyperband_stop_runs` in `src/sweeps/hyperband_stopping.py` of
//! <https://github.com/wandb/sweeps>. What is kept as W&B has it:
//!
//! - **Brackets.** `min_iter: m` puts them at `m, m*eta, m*eta², ...`
//!   (W&B's example: `min_iter: 3` → 3, 9, 27, 81); `max_iter: M` with `s`
//!   puts `s` of them below M, at `M/eta, M/eta², ...` rounded down, dropping
//!   any below 1 (W&B's example: `max_iter: 27, s: 2` → 9 and 3). `max_iter`
//!   itself is never a bracket. W&B counts brackets in logged values of the
//!   metric; advmix logs one row per epoch, so bracket b is epoch b.
//! - **The fraction.** The reduction factor is `eta`, the same one that spaces
//!   the brackets: roughly the top 1/eta go on at each bracket.
//! - **`strict`.** W&B's strict test compares the run's value *at* the
//!   bracket with the threshold; the default, non-strict test compares the
//!   run's best value so far, so a run is not stopped for one bad epoch. Here
//!   `strict: true` uses the metric as named, and otherwise its `best_` form
//!   (`best_test_pgd_acc` by default).
//! - **No minimum number of runs.** W&B thresholds a bracket with whatever
//!   runs reached it, so `min_runs` is 1: the second run at a bracket can be
//!   stopped by the first.
//!
//! What differs, and why:
//!
//! - **When and against whom.** W&B re-examines every running run every few
//!   minutes against a threshold computed from *all* runs that reached its
//!   latest bracket, including runs that got there later, so a run that
//!   passed can be stopped afterwards. Here a run is judged once, on arrival,
//!   against the runs before it: the decision is reproducible from the
//!   recorded epochs, lands exactly at the bracket's epoch, and [`replay`]
//!   gives the same answer the live sweep would have.
//! - **How many go on.** W&B's threshold is the value at index
//!   `floor(n/eta)` of the sorted values, so `floor(n/eta) + 1` runs go on
//!   (2 of 3 with eta 3); here `max(1, floor(n/eta))` do (1 of 3), the count
//!   of the Hyperband and ASHA papers. Below `eta` runs both keep only the best.
//! - **Non-strict values.** W&B compares the run's best so far with the
//!   others' values at the bracket; here everyone's best so far is compared,
//!   so no run is judged by a different measure than the runs it meets.
//! - **`strict`'s default.** The documentation says `false`; the engine's
//!   JSON schema fills in `true`. advmix follows the documentation.
//! - **Integers only.** W&B accepts a fractional `eta`; advmix's is a whole
//!   number of 2 or more, so brackets are whole epochs without rounding.
//! - **Ambiguous keys are refused.** W&B silently prefers `max_iter` when both
//!   it and `min_iter` are given and ignores `s` without `max_iter`; here
//!   both are reported by [`EarlyTerminate::problems`].

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{EpochMetric, Goal};
use crate::events::EpochMetrics;
use crate::validate::FieldError;

/// The reduction factor when a spec leaves it out: W&B's default, and the
/// ASHA paper's.
const DEFAULT_ETA: u32 = 3;

/// One of the two schemes; both map onto the same rungs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EarlyTerminate {
    Asha(Asha),
    Hyperband(Hyperband),
}

/// Asynchronous successive halving in its stopping form (Li et al. 2020).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Asha {
    /// A per-epoch metric (`test_pgd_acc` when left out), or `best_` and
    /// one, for its best value so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// The first rung.
    pub min_epochs: u32,
    /// The reduction factor; 3 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u32>,
    /// No rung at or past this epoch; the runs' own epochs when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_epochs: Option<u32>,
    /// How many runs must have reached a rung before it stops any; `eta`
    /// when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_runs: Option<usize>,
}

/// W&B's `hyperband` early termination, with W&B's keys and meaning.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hyperband {
    /// The first bracket; the next ones are `eta` times further each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_iter: Option<u32>,
    /// Instead of `min_iter`: brackets at `max_iter/eta`, `max_iter/eta²`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<u32>,
    /// With `max_iter`: how many brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s: Option<u32>,
    /// The bracket multiplier and reduction factor; 3 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<u32>,
    /// Judge a run by its value at the bracket rather than its best so far;
    /// false when left out, as W&B documents it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// advmix's additions, as for `asha`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
}

impl EarlyTerminate {
    /// Everything wrong with the spec, for a sweep whose runs train for
    /// `run_epochs` (one value per distinct `epochs` in the sweep; empty when
    /// not known, which skips the checks against the runs' length).
    pub fn problems(&self, run_epochs: &[u32]) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(FieldError { field: format!("early_terminate.{field}"), message });
        };
        let (metric, eta) = match self {
            EarlyTerminate::Asha(a) => (&a.metric, a.eta),
            EarlyTerminate::Hyperband(h) => (&h.metric, h.eta),
        };
        if let Some(name) = metric
            && let Err(message) = EpochMetric::parse(name)
        {
            problem("metric", message);
        }
        if let Some(eta) = eta
            && eta < 2
        {
            problem(
                "eta",
                format!(
                    "is {eta}; eta must be 2 or more (with 3, the default, about a third of the runs go on at each rung)"
                ),
            );
        }
        // The field to blame when no rung falls below the runs' epochs, the
        // start of the message and what to do; None when the spec is already
        // wrong in a way that makes its rungs meaningless.
        let mut no_rung_hint: Option<(&str, String, &str)> = None;
        match self {
            EarlyTerminate::Asha(a) => {
                if a.min_epochs == 0 {
                    problem("min_epochs", "is 0; the first rung must be at epoch 1 or later".to_owned());
                }
                if a.min_runs == Some(0) {
                    problem(
                        "min_runs",
                        "is 0; give at least 1 (leave it out to wait for `eta` runs at a rung)".to_owned(),
                    );
                }
                match a.max_epochs {
                    Some(max) if a.min_epochs > 0 && max <= a.min_epochs => problem(
                        "max_epochs",
                        format!(
                            "is {max}, not above min_epochs {}, so there is no rung; raise max_epochs or lower min_epochs",
                            a.min_epochs
                        ),
                    ),
                    _ => {
                        let head = format!("is {}, which gives no rung below", a.min_epochs);
                        no_rung_hint = Some(("min_epochs", head, "lower min_epochs"));
                    }
                }
            }
            EarlyTerminate::Hyperband(h) => match (h.min_iter, h.max_iter) {
                (None, None) => problem(
                    "min_iter",
                    "is missing; give `min_iter` (the first bracket, e.g. 1) or `max_iter` with `s` (the brackets below it)"
                        .to_owned(),
                ),
                (Some(_), Some(_)) => problem(
                    "max_iter",
                    "is given with min_iter; give one of them (W&B would use max_iter and ignore min_iter)".to_owned(),
                ),
                (Some(min_iter), None) => {
                    if min_iter == 0 {
                        problem("min_iter", "is 0; the first bracket must be at epoch 1 or later".to_owned());
                    }
                    if h.s.is_some() {
                        problem(
                            "s",
                            "only counts the brackets below max_iter; with min_iter leave it out (brackets go on up to the runs' last epoch)"
                                .to_owned(),
                        );
                    }
                    let head = format!("is {min_iter}, which gives no bracket below");
                    no_rung_hint = Some(("min_iter", head, "lower min_iter"));
                }
                (None, Some(max_iter)) => match h.s {
                    None => problem(
                        "s",
                        "is missing: with `max_iter` give `s`, the number of brackets (W&B's meaning: s brackets at max_iter/eta, max_iter/eta², ...)"
                            .to_owned(),
                    ),
                    Some(0) => problem("s", "is 0; give at least 1 bracket".to_owned()),
                    Some(s) => {
                        let eta = self.eta();
                        if max_iter / eta == 0 {
                            problem(
                                "max_iter",
                                format!(
                                    "is {max_iter}, so the first bracket, max_iter/eta = {max_iter}/{eta}, is below 1; raise max_iter or lower eta"
                                ),
                            );
                        } else {
                            let brackets = list(&brackets_below(max_iter, s, eta));
                            let head = format!("is {max_iter}, whose brackets ({brackets}) all lie at or past");
                            no_rung_hint = Some(("max_iter", head, "lower max_iter"));
                        }
                    }
                },
            },
        }
        // Runs of several lengths share the rungs below the shortest, and the
        // longer ones have more, so only a sweep where even the longest runs
        // get no rung stops nothing at all.
        if problems.is_empty()
            && let Some((field, head, fix)) = no_rung_hint
            && let Some(&longest) = run_epochs.iter().max()
            && self.rungs(longest).epochs.is_empty()
        {
            let runs = if run_epochs.iter().all(|&e| e == longest) {
                format!("the runs' {longest} epochs")
            } else {
                format!("the longest runs' {longest} epochs")
            };
            problems.push(FieldError {
                field: format!("early_terminate.{field}"),
                message: format!("{head} {runs}, so nothing would ever be stopped; {fix}"),
            });
        }
        problems
    }

    /// The rungs for a run of `run_epochs` epochs. A spec that
    /// [`problems`](Self::problems) refuses still gets finite rungs (an `eta`
    /// below 2 counts as 2), never a panic or an endless list.
    pub fn rungs(&self, run_epochs: u32) -> Rungs {
        let eta = self.eta();
        let (epochs, min_runs) = match self {
            EarlyTerminate::Asha(a) => {
                let below = a.max_epochs.map_or(run_epochs, |max| max.min(run_epochs));
                (powers(a.min_epochs, eta, below), a.min_runs.unwrap_or(eta as usize).max(1))
            }
            EarlyTerminate::Hyperband(h) => {
                // W&B reads max_iter first when both are given.
                let epochs = match (h.max_iter, h.min_iter) {
                    (Some(max_iter), _) => {
                        let mut brackets = brackets_below(max_iter, h.s.unwrap_or(0), eta);
                        brackets.retain(|&b| b < run_epochs);
                        brackets
                    }
                    (None, Some(min_iter)) => powers(min_iter, eta, run_epochs),
                    (None, None) => Vec::new(),
                };
                (epochs, 1)
            }
        };
        Rungs { epochs, eta, min_runs, metric: self.metric(), goal: self.goal() }
    }

    /// The metric the rungs compare. For a non-strict `hyperband` this is the
    /// named metric's `best_` form (see the module documentation). A name that
    /// does not parse, which [`problems`](Self::problems) reports, reads as
    /// the default.
    pub fn metric(&self) -> EpochMetric {
        let parse = |name: &Option<String>| {
            name.as_deref().and_then(|n| EpochMetric::parse(n).ok()).unwrap_or(EpochMetric::ROBUST)
        };
        match self {
            EarlyTerminate::Asha(a) => parse(&a.metric),
            EarlyTerminate::Hyperband(h) => {
                let named = parse(&h.metric);
                if h.strict == Some(true) || named.is_best_so_far() {
                    named
                } else {
                    EpochMetric::parse(&format!("best_{}", named.field())).unwrap_or(named)
                }
            }
        }
    }

    /// The goal given, or the metric's natural one (losses down, the rest up).
    pub fn goal(&self) -> Goal {
        let goal = match self {
            EarlyTerminate::Asha(a) => a.goal,
            EarlyTerminate::Hyperband(h) => h.goal,
        };
        goal.unwrap_or_else(|| self.metric().default_goal())
    }

    fn eta(&self) -> u32 {
        let eta = match self {
            EarlyTerminate::Asha(a) => a.eta,
            EarlyTerminate::Hyperband(h) => h.eta,
        };
        eta.unwrap_or(DEFAULT_ETA).max(2)
    }
}

/// `first, first*eta, first*eta², ...` strictly below `below`; none when
/// `first` is 0, which would repeat forever.
fn powers(first: u32, eta: u32, below: u32) -> Vec<u32> {
    let mut epochs = Vec::new();
    let mut epoch = first;
    while epoch > 0 && epoch < below {
        epochs.push(epoch);
        match epoch.checked_mul(eta) {
            Some(next) => epoch = next,
            None => break,
        }
    }
    epochs
}

/// W&B's `max_iter` brackets, ascending: up to `s` of `max_iter / eta^i` for
/// i = 1, 2, ..., rounded down and stopping at the first below 1. Integer
/// division gives the same floors as W&B's repeated float division, without
/// its rounding error.
fn brackets_below(max_iter: u32, s: u32, eta: u32) -> Vec<u32> {
    let mut brackets = Vec::new();
    let mut bracket = max_iter;
    for _ in 0..s {
        bracket /= eta;
        if bracket == 0 {
            break;
        }
        brackets.push(bracket);
    }
    brackets.reverse();
    brackets
}

fn list(epochs: &[u32]) -> String {
    epochs.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// Where and how runs are compared; see the module documentation for the rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rungs {
    /// Ascending, all below the run's epochs.
    pub epochs: Vec<u32>,
    pub eta: u32,
    pub min_runs: usize,
    pub metric: EpochMetric,
    pub goal: Goal,
}

/// What a rung says about a run that just reached it.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Continue,
    /// Too few runs have reached the rung to compare; the run goes on.
    Undecided {
        reached: usize,
        needed: usize,
    },
    Stop(Cut),
}

/// Why a run was stopped: enough to say so in a sentence and to draw it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Cut {
    /// 0-based index into the rungs.
    pub rung: usize,
    pub epoch: u32,
    pub metric: String,
    pub goal: Goal,
    /// The run's value at the rung.
    pub value: f64,
    /// The worst value that still went on.
    pub cut: f64,
    /// How many runs had reached the rung, this one included.
    pub reached: usize,
    /// How many of them go on (more when values tie at the cut).
    pub kept: usize,
}

impl Rungs {
    /// The rung (index into `epochs`) at `epoch`, if there is one.
    pub fn rung_of(&self, epoch: u32) -> Option<usize> {
        self.epochs.iter().position(|&e| e == epoch)
    }

    /// Judges a run that reached rung `rung` with `value`, given the values
    /// there of every other run that reached it earlier. A NaN value (a
    /// diverged run) ranks below every number.
    ///
    /// # Panics
    ///
    /// When `rung` is not an index into `epochs`.
    pub fn decide(&self, rung: usize, value: f64, others: &[f64]) -> Verdict {
        let epoch = self.epochs[rung];
        let reached = others.len() + 1;
        if reached < self.min_runs {
            return Verdict::Undecided { reached, needed: self.min_runs };
        }
        let kept = (reached / self.eta.max(1) as usize).max(1);
        let mut all = others.to_vec();
        all.push(value);
        all.sort_by(|a, b| best_first(self.goal, *a, *b));
        let cut = all[kept - 1];
        if best_first(self.goal, value, cut) == Ordering::Greater {
            Verdict::Stop(Cut { rung, epoch, metric: self.metric.name(), goal: self.goal, value, cut, reached, kept })
        } else {
            Verdict::Continue
        }
    }
}

/// Orders values best first for `goal`, NaN last (and equal to NaN, so that a
/// NaN cut lets a NaN run through as a tie).
fn best_first(goal: Goal, a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => match goal {
            Goal::Maximize => b.total_cmp(&a),
            Goal::Minimize => a.total_cmp(&b),
        },
    }
}

impl Cut {
    /// One sentence for the run's page, e.g. `pruned at rung 2 (epoch 3):
    /// test_pgd_acc 12.3% was below the cut 20.1% (the top 2 of 6 runs at
    /// this rung go on)`.
    pub fn reason(&self) -> String {
        let accuracy = EpochMetric::parse(&self.metric).is_ok_and(EpochMetric::is_accuracy);
        let show = |v: f64| format_value(v, accuracy);
        let goes_on = if self.kept == 1 {
            format!("only the best of {} runs at this rung goes on", self.reached)
        } else {
            format!("the top {} of {} runs at this rung go on", self.kept, self.reached)
        };
        let compared = if self.value.is_nan() {
            format!("{} was NaN, which ranks below every value", self.metric)
        } else {
            let side = match self.goal {
                Goal::Maximize => "below",
                Goal::Minimize => "above",
            };
            format!("{} {} was {side} the cut {}", self.metric, show(self.value), show(self.cut))
        };
        format!("pruned at rung {} (epoch {}): {compared} ({goes_on})", self.rung + 1, self.epoch)
    }
}

/// Accuracies (fractions) as percentages with one decimal; anything else with
/// 4 significant digits, in plain notation unless it is very small or large.
fn format_value(value: f64, accuracy: bool) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if accuracy {
        return format!("{:.1}%", value * 100.0);
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    // The exponent after rounding to 4 digits, so that 9.9996 counts as 10.00.
    let scientific = format!("{value:.3e}");
    let exponent: i32 = scientific.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
    match exponent {
        -4..=3 => format!("{value:.*}", (3 - exponent) as usize),
        4..=8 => {
            let unit = 10f64.powi(exponent - 3);
            format!("{:.0}", (value / unit).round() * unit)
        }
        _ => scientific,
    }
}

/// One run's recorded epochs, for [`replay`].
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayRun {
    pub id: i64,
    pub planned_epochs: u32,
    /// In epoch order.
    pub epochs: Vec<EpochMetrics>,
    /// When each of `epochs` was recorded, in seconds from any common origin;
    /// the same length as `epochs`.
    pub times: Vec<f64>,
}

/// What early termination would have done to a set of recorded runs.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Replay {
    /// In the order given.
    pub runs: Vec<ReplayOutcome>,
    pub epochs_recorded: u64,
    /// The epochs up to and including the rung each stopped run stops at,
    /// and every epoch of the others.
    pub epochs_kept: u64,
    pub epochs_saved: u64,
    /// The run with the best final value among those that recorded all their
    /// planned epochs.
    pub best_final: Option<i64>,
    /// Whether that run would have gone on to its end.
    pub best_final_survives: Option<bool>,
    /// The rung epochs for the runs' most common planned epochs, for drawing.
    pub rungs: Vec<u32>,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ReplayOutcome {
    pub id: i64,
    pub stopped: Option<Cut>,
    pub epochs_recorded: u32,
    pub epochs_kept: u32,
}

/// Replays `runs` through `et`'s rungs: every arrival of a run at a rung, in
/// the order they were recorded (ties by run id), is judged as the live sweep
/// would have judged it. A stopped run takes no part in later rungs; a run
/// that ended before a rung (still running, or failed) takes part as far as
/// it got.
pub fn replay(et: &EarlyTerminate, runs: &[ReplayRun]) -> Replay {
    struct Arrival {
        time: f64,
        id: i64,
        run: usize,
        rung: usize,
        epoch: u32,
        value: f64,
    }

    let metric = et.metric();
    let goal = et.goal();
    let rungs: Vec<Rungs> = runs.iter().map(|run| et.rungs(run.planned_epochs)).collect();
    let mut arrivals = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        for (rung, &epoch) in rungs[index].epochs.iter().enumerate() {
            let Some(row) = run.epochs.iter().position(|m| m.epoch == epoch) else { continue };
            let (Some(&time), Some(value)) = (run.times.get(row), metric.value_at(&run.epochs, epoch, goal)) else {
                continue;
            };
            arrivals.push(Arrival { time, id: run.id, run: index, rung, epoch, value });
        }
    }
    arrivals.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.id.cmp(&b.id)).then(a.epoch.cmp(&b.epoch)));

    // Keyed by epoch, not rung index, so that runs of different lengths meet
    // at the same epochs (their rung lists share a prefix anyway).
    let mut reached: HashMap<u32, Vec<f64>> = HashMap::new();
    let mut stopped: Vec<Option<Cut>> = vec![None; runs.len()];
    for arrival in arrivals {
        if stopped[arrival.run].is_some() {
            continue;
        }
        let others = reached.entry(arrival.epoch).or_default();
        if let Verdict::Stop(cut) = rungs[arrival.run].decide(arrival.rung, arrival.value, others) {
            stopped[arrival.run] = Some(cut);
        }
        // A stopped run did reach the rung, so later runs still meet its value.
        others.push(arrival.value);
    }

    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let outcomes: Vec<ReplayOutcome> = runs
        .iter()
        .zip(stopped)
        .map(|(run, stopped)| {
            let epochs_recorded = count(run.epochs.len());
            let epochs_kept = match &stopped {
                Some(cut) => count(run.epochs.iter().filter(|m| m.epoch <= cut.epoch).count()),
                None => epochs_recorded,
            };
            ReplayOutcome { id: run.id, stopped, epochs_recorded, epochs_kept }
        })
        .collect();

    let best = runs
        .iter()
        .enumerate()
        .filter(|(_, run)| run.epochs.iter().any(|m| m.epoch >= run.planned_epochs))
        .filter_map(|(index, run)| Some((index, metric.last_value(&run.epochs, goal)?)))
        .min_by(|a, b| best_first(goal, a.1, b.1).then(runs[a.0].id.cmp(&runs[b.0].id)))
        .map(|(index, _)| index);

    let mut lengths: HashMap<u32, usize> = HashMap::new();
    for run in runs {
        *lengths.entry(run.planned_epochs).or_default() += 1;
    }
    // Ties go to the longer runs, whose rungs include the shorter ones'.
    let common = lengths.into_iter().max_by_key(|&(epochs, n)| (n, epochs)).map(|(epochs, _)| epochs);

    let epochs_recorded: u64 = outcomes.iter().map(|o| u64::from(o.epochs_recorded)).sum();
    let epochs_kept: u64 = outcomes.iter().map(|o| u64::from(o.epochs_kept)).sum();
    Replay {
        epochs_recorded,
        epochs_kept,
        epochs_saved: epochs_recorded - epochs_kept,
        best_final: best.map(|index| runs[index].id),
        best_final_survives: best.map(|index| outcomes[index].stopped.is_none()),
        rungs: common.map(|epochs| et.rungs(epochs).epochs).unwrap_or_default(),
        runs: outcomes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asha(min_epochs: u32) -> Asha {
        Asha { metric: None, goal: None, min_epochs, eta: None, max_epochs: None, min_runs: None }
    }

    fn hyperband() -> Hyperband {
        Hyperband { min_iter: None, max_iter: None, s: None, eta: None, strict: None, metric: None, goal: None }
    }

    fn yaml(text: &str) -> Result<EarlyTerminate, serde_norway::Error> {
        serde_norway::from_str(text)
    }

    fn row(epoch: u32, pgd_acc: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            lr: 0.1,
            train_loss: 1.0,
            train_acc: 0.5,
            train_clean_loss: 1.0,
            train_clean_acc: 0.5,
            test_clean_loss: 1.0,
            test_clean_acc: 0.6,
            test_pgd_loss: 2.0,
            test_pgd_acc: pgd_acc,
            epoch_seconds: 1.0,
            images_per_second: 100.0,
        }
    }

    /// A run whose epoch `e` is recorded at `start + e` seconds.
    fn run(id: i64, planned_epochs: u32, accs: &[f64], start: f64) -> ReplayRun {
        let epochs: Vec<_> = accs.iter().zip(1..).map(|(&acc, epoch)| row(epoch, acc)).collect();
        let times = epochs.iter().map(|m| start + f64::from(m.epoch)).collect();
        ReplayRun { id, planned_epochs, epochs, times }
    }

    fn stopped_ids(replay: &Replay) -> Vec<i64> {
        replay.runs.iter().filter(|o| o.stopped.is_some()).map(|o| o.id).collect()
    }

    fn fields(problems: &[FieldError]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn asha_rungs_are_powers_of_eta_below_the_last_epoch() {
        let et = EarlyTerminate::Asha(asha(1));
        assert_eq!(et.rungs(27).epochs, [1, 3, 9], "a rung at the last epoch decides nothing");
        assert_eq!(et.rungs(28).epochs, [1, 3, 9, 27]);
        assert_eq!(et.rungs(1).epochs, Vec::<u32>::new());
        let rungs = et.rungs(27);
        assert_eq!((rungs.eta, rungs.min_runs), (3, 3), "eta 3, and min_runs follows eta");
        assert_eq!((rungs.metric, rungs.goal), (EpochMetric::ROBUST, Goal::Maximize));
        let et = EarlyTerminate::Asha(Asha { eta: Some(2), min_runs: Some(5), ..asha(2) });
        assert_eq!(et.rungs(20).epochs, [2, 4, 8, 16]);
        assert_eq!(et.rungs(20).min_runs, 5);
        // Near u32::MAX the next power would overflow: the list just ends.
        let et = EarlyTerminate::Asha(Asha { eta: Some(2), ..asha(1 << 31) });
        assert_eq!(et.rungs(u32::MAX).epochs, [1 << 31]);
    }

    #[test]
    fn max_epochs_caps_the_rungs_but_never_past_the_run() {
        let capped = |max| EarlyTerminate::Asha(Asha { max_epochs: Some(max), ..asha(1) }).rungs(27).epochs;
        assert_eq!(capped(9), [1, 3], "no rung at max_epochs itself");
        assert_eq!(capped(10), [1, 3, 9]);
        assert_eq!(capped(100), [1, 3, 9], "the run's own last epoch still caps");
    }

    #[test]
    fn rung_of_finds_the_index() {
        let rungs = EarlyTerminate::Asha(asha(1)).rungs(27);
        assert_eq!(rungs.rung_of(3), Some(1));
        assert_eq!(rungs.rung_of(4), None);
        assert_eq!(rungs.rung_of(27), None);
    }

    #[test]
    fn hyperband_brackets_are_wandbs_documented_ones() {
        // W&B's documentation: `min_iter: 3` → [3, 9, 27, 81] with eta 3.
        let et = EarlyTerminate::Hyperband(Hyperband { min_iter: Some(3), ..hyperband() });
        assert_eq!(et.rungs(100).epochs, [3, 9, 27, 81]);
        assert_eq!(et.rungs(81).epochs, [3, 9, 27], "81 is the runs' last epoch");
        // W&B's documentation: `max_iter: 27, s: 2` → [27/eta, 27/eta/eta] = [9, 3].
        let et = EarlyTerminate::Hyperband(Hyperband { max_iter: Some(27), s: Some(2), ..hyperband() });
        assert_eq!(et.rungs(27).epochs, [3, 9]);
        assert_eq!(et.rungs(100).epochs, [3, 9], "max_iter is not a bracket itself");
        assert_eq!(et.rungs(5).epochs, [3]);
        // The engine's own tests (wandb/sweeps tests/test_hyperband_stopping.py).
        let max_iter = |max_iter, s, eta| {
            EarlyTerminate::Hyperband(Hyperband { max_iter: Some(max_iter), s: Some(s), eta, ..hyperband() })
                .rungs(1000)
                .epochs
        };
        assert_eq!(max_iter(81, 3, Some(3)), [3, 9, 27]);
        assert_eq!(max_iter(18, 2, Some(3)), [2, 6]);
        assert_eq!(max_iter(9, 2, Some(3)), [1, 3]);
        assert_eq!(max_iter(5, 2, Some(2)), [1, 2]);
        // More brackets than fit: those below 1 are dropped, as W&B does.
        assert_eq!(max_iter(27, 5, None), [1, 3, 9]);
    }

    #[test]
    fn hyperband_strict_chooses_the_value_at_the_bracket_or_the_best_so_far() {
        let loose = EarlyTerminate::Hyperband(Hyperband { min_iter: Some(1), ..hyperband() });
        assert_eq!(loose.metric().name(), "best_test_pgd_acc", "not strict, as W&B documents the default");
        assert_eq!(loose.goal(), Goal::Maximize);
        let strict = EarlyTerminate::Hyperband(Hyperband { strict: Some(true), ..hyperband() });
        assert_eq!(strict.metric(), EpochMetric::ROBUST);
        let loss = EarlyTerminate::Hyperband(Hyperband { metric: Some("test_pgd_loss".into()), ..hyperband() });
        assert_eq!((loss.metric().name().as_str(), loss.goal()), ("best_test_pgd_loss", Goal::Minimize));
        let named_best = EarlyTerminate::Hyperband(Hyperband {
            metric: Some("best_test_clean_acc".into()),
            strict: Some(true),
            ..hyperband()
        });
        assert_eq!(named_best.metric().name(), "best_test_clean_acc", "a named best_ metric is kept");
    }

    #[test]
    fn hyperband_decides_from_the_second_run_like_wandb() {
        let rungs = EarlyTerminate::Hyperband(Hyperband { min_iter: Some(1), ..hyperband() }).rungs(9);
        assert_eq!((rungs.min_runs, rungs.eta), (1, 3));
        assert_eq!(rungs.decide(0, 0.2, &[]), Verdict::Continue, "alone at a bracket, a run is its own best");
        assert!(matches!(rungs.decide(0, 0.2, &[0.3]), Verdict::Stop(Cut { kept: 1, reached: 2, .. })));
        assert_eq!(rungs.decide(0, 0.4, &[0.3]), Verdict::Continue);
    }

    #[test]
    fn fewer_runs_than_min_runs_decide_nothing() {
        let rungs = EarlyTerminate::Asha(asha(1)).rungs(9);
        assert_eq!(rungs.decide(0, 0.0, &[]), Verdict::Undecided { reached: 1, needed: 3 });
        assert_eq!(rungs.decide(0, 0.0, &[0.5]), Verdict::Undecided { reached: 2, needed: 3 });
        assert!(matches!(rungs.decide(0, 0.0, &[0.5, 0.9]), Verdict::Stop(Cut { reached: 3, .. })));
        let patient = EarlyTerminate::Asha(Asha { min_runs: Some(5), ..asha(1) }).rungs(9);
        assert_eq!(patient.decide(0, 0.0, &[0.5, 0.9, 0.7]), Verdict::Undecided { reached: 4, needed: 5 });
    }

    #[test]
    fn the_top_n_over_eta_go_on_and_ties_continue() {
        let rungs = EarlyTerminate::Asha(asha(1)).rungs(9);
        let others = [0.1, 0.2, 0.3, 0.4, 0.5];
        // Six runs, eta 3: the best two go on.
        assert_eq!(rungs.decide(0, 0.45, &others), Verdict::Continue);
        let Verdict::Stop(cut) = rungs.decide(0, 0.35, &others) else { panic!("0.35 is third of six") };
        assert_eq!((cut.cut, cut.kept, cut.reached, cut.value), (0.4, 2, 6, 0.35));
        // A tie at the cut goes on, so more than `kept` runs can pass.
        assert_eq!(rungs.decide(0, 0.3, &[0.3, 0.3]), Verdict::Continue);
        assert_eq!(rungs.decide(0, 0.4, &others), Verdict::Continue);
        assert!(matches!(rungs.decide(0, 0.2999, &[0.3, 0.3]), Verdict::Stop(_)));
        // A diverged run ranks last, and cannot become the cut for others.
        assert!(matches!(rungs.decide(0, f64::NAN, &[0.1, 0.2]), Verdict::Stop(_)));
        assert_eq!(rungs.decide(0, 0.05, &[f64::NAN, f64::NAN]), Verdict::Continue);
    }

    #[test]
    fn minimize_keeps_the_lowest() {
        let et = EarlyTerminate::Asha(Asha { metric: Some("test_pgd_loss".into()), ..asha(1) });
        assert_eq!(et.goal(), Goal::Minimize, "losses go down by default");
        let rungs = et.rungs(9);
        let Verdict::Stop(cut) = rungs.decide(1, 2.0, &[1.0, 1.5]) else { panic!("2.0 is the worst loss") };
        assert_eq!((cut.cut, cut.epoch, cut.metric.as_str()), (1.0, 3, "test_pgd_loss"));
        assert!(cut.reason().contains("test_pgd_loss 2.000 was above the cut 1.000"), "{}", cut.reason());
        assert_eq!(rungs.decide(1, 0.9, &[1.0, 1.5]), Verdict::Continue);
        // An explicit goal overrides the metric's own.
        let up = EarlyTerminate::Asha(Asha { goal: Some(Goal::Maximize), ..asha(1) });
        assert!(matches!(up.rungs(9).decide(0, 0.9, &[1.0, 1.5]), Verdict::Stop(_)));
    }

    #[test]
    fn reason_is_one_readable_sentence() {
        let cut = Cut {
            rung: 1,
            epoch: 3,
            metric: "test_pgd_acc".into(),
            goal: Goal::Maximize,
            value: 0.123,
            cut: 0.201,
            reached: 6,
            kept: 2,
        };
        assert_eq!(
            cut.reason(),
            "pruned at rung 2 (epoch 3): test_pgd_acc 12.3% was below the cut 20.1% (the top 2 of 6 runs at this rung go on)"
        );
        let alone = Cut { kept: 1, reached: 3, ..cut.clone() };
        assert!(alone.reason().ends_with("(only the best of 3 runs at this rung goes on)"), "{}", alone.reason());
        let nan = Cut { value: f64::NAN, ..cut };
        assert!(nan.reason().contains("test_pgd_acc was NaN"), "{}", nan.reason());
    }

    #[test]
    fn values_that_are_not_accuracies_get_four_significant_digits() {
        assert_eq!(format_value(1.23456, false), "1.235");
        assert_eq!(format_value(0.000123456, false), "0.0001235");
        assert_eq!(format_value(12345.6, false), "12350");
        assert_eq!(format_value(9.99996, false), "10.00");
        assert_eq!(format_value(-0.5, false), "-0.5000");
        assert_eq!(format_value(1.5e-7, false), "1.500e-7");
        assert_eq!(format_value(0.0, false), "0");
        assert_eq!(format_value(0.5, true), "50.0%");
    }

    #[test]
    fn arrival_order_decides_who_is_stopped() {
        let et = EarlyTerminate::Asha(asha(1));
        // The same three values at epoch 1 (the only rung of 3-epoch runs);
        // `starts` sets when each run records it.
        let runs = |starts: [f64; 3]| {
            let accs = [0.30, 0.20, 0.25];
            (0..3).map(|i| run(i as i64 + 1, 3, &[accs[i], 0.5, 0.5], starts[i])).collect::<Vec<_>>()
        };
        // 1 and 2 wait for a third run; 3 arrives below 1's 0.30.
        assert_eq!(stopped_ids(&replay(&et, &runs([0.0, 1.0, 2.0]))), [3]);
        // 3 and 1 wait; 2 arrives, the worst of three.
        assert_eq!(stopped_ids(&replay(&et, &runs([1.0, 2.0, 0.0]))), [2]);
        // 2 and 3 wait; 1 arrives as the best and nobody is stopped.
        assert_eq!(stopped_ids(&replay(&et, &runs([2.0, 0.0, 1.0]))), Vec::<i64>::new());
        // Recorded at the same moment, runs arrive in id order.
        assert_eq!(stopped_ids(&replay(&et, &runs([0.0, 0.0, 0.0]))), [3]);
    }

    #[test]
    fn a_best_so_far_metric_forgives_a_dip() {
        let runs = [
            run(1, 6, &[0.30, 0.40, 0.4, 0.4, 0.4, 0.4], 0.0),
            run(2, 6, &[0.20, 0.35, 0.4, 0.4, 0.4, 0.4], 0.1),
            // Best at epoch 1, then a bad epoch exactly at the rung.
            run(3, 6, &[0.50, 0.10, 0.4, 0.4, 0.4, 0.4], 0.2),
            run(4, 6, &[0.36, 0.36, 0.4, 0.4, 0.4, 0.4], 0.3),
        ];
        let plain = EarlyTerminate::Asha(asha(2));
        assert_eq!(plain.rungs(6).epochs, [2]);
        assert_eq!(stopped_ids(&replay(&plain, &runs)), [3, 4]);
        let best = EarlyTerminate::Asha(Asha { metric: Some("best_test_pgd_acc".into()), ..asha(2) });
        let replayed = replay(&best, &runs);
        assert_eq!(stopped_ids(&replayed), [4], "3's best so far is 0.50, the best of all");
        let cut = replayed.runs[3].stopped.as_ref().expect("4 is stopped");
        assert_eq!((cut.metric.as_str(), cut.cut), ("best_test_pgd_acc", 0.50));
    }

    /// Nine runs of 9 epochs, rungs at 1 and 3 (eta 3, min_runs 3), all
    /// advancing in lockstep so that each rung sees them in id order:
    ///
    /// epoch 1: 1 .30 wait, 2 .20 wait, 3 .25 < .30 stop, 4 .40 best, 5 .35 <
    /// .40 stop, 6 .10 < .35 (top 2 of 6) stop, 7 .38 = 2nd of 7, 8 .38 ties
    /// 2nd of 8, 9 .05 < .38 (top 3 of 9) stop.
    /// epoch 3: 1 .45 wait, 2 .30 wait, 4 .50 best, 7 .44 < .50 stop, 8 .55 best.
    ///
    /// Run 2 failed after epoch 5. Run 7 would have ended best (.60).
    #[test]
    fn replay_of_nine_runs_matches_the_hand_count() {
        let table: [(f64, f64, f64); 9] = [
            (0.30, 0.45, 0.50),
            (0.20, 0.30, 0.40),
            (0.25, 0.50, 0.52),
            (0.40, 0.50, 0.55),
            (0.35, 0.48, 0.50),
            (0.10, 0.20, 0.30),
            (0.38, 0.44, 0.60),
            (0.38, 0.55, 0.58),
            (0.05, 0.10, 0.20),
        ];
        let runs: Vec<ReplayRun> = table
            .iter()
            .zip(1..)
            .map(|(&(at1, at3, last), id)| {
                let mut accs = vec![at1, (at1 + at3) / 2.0, at3];
                accs.extend((4..=9).map(|e| at3 + (last - at3) * f64::from(e - 3) / 6.0));
                if id == 2 {
                    accs.truncate(5);
                }
                let mut run = run(id, 9, &accs, 0.0);
                // Epoch e of run `id` at 10e + id: in lockstep, in id order.
                run.times = run.epochs.iter().map(|m| f64::from(m.epoch) * 10.0 + id as f64).collect();
                run
            })
            .collect();
        let et = EarlyTerminate::Asha(asha(1));
        let replayed = replay(&et, &runs);

        assert_eq!(stopped_ids(&replayed), [3, 5, 6, 7, 9]);
        let cut = |id: usize| replayed.runs[id - 1].stopped.clone().expect("stopped");
        let expected = [
            (3, 0, 1, 0.25, 0.30, 3, 1),
            (5, 0, 1, 0.35, 0.40, 5, 1),
            (6, 0, 1, 0.10, 0.35, 6, 2),
            (9, 0, 1, 0.05, 0.38, 9, 3),
            (7, 1, 3, 0.44, 0.50, 4, 1),
        ];
        for (id, rung, epoch, value, at, reached, kept) in expected {
            let c = cut(id);
            assert_eq!((c.rung, c.epoch, c.value, c.cut, c.reached, c.kept), (rung, epoch, value, at, reached, kept));
        }
        let kept: Vec<u32> = replayed.runs.iter().map(|o| o.epochs_kept).collect();
        assert_eq!(kept, [9, 5, 1, 9, 1, 1, 3, 9, 1]);
        assert_eq!(replayed.runs[1].epochs_recorded, 5);
        assert_eq!((replayed.epochs_recorded, replayed.epochs_kept, replayed.epochs_saved), (77, 39, 38));
        assert_eq!(replayed.best_final, Some(7), "run 2 did not finish, so it cannot be best");
        assert_eq!(replayed.best_final_survives, Some(false));
        assert_eq!(replayed.rungs, [1, 3]);
        assert_eq!(
            cut(7).reason(),
            "pruned at rung 2 (epoch 3): test_pgd_acc 44.0% was below the cut 50.0% (only the best of 4 runs at this rung goes on)"
        );
    }

    #[test]
    fn replay_of_nothing_is_empty() {
        let replayed = replay(&EarlyTerminate::Asha(asha(1)), &[]);
        assert_eq!((replayed.epochs_recorded, replayed.best_final, replayed.rungs.len()), (0, None, 0));
        assert_eq!(replayed.best_final_survives, None);
    }

    #[test]
    fn replay_draws_the_rungs_of_the_most_common_length() {
        let et = EarlyTerminate::Asha(asha(1));
        let runs = [run(1, 27, &[0.1], 0.0), run(2, 9, &[0.1], 0.0), run(3, 9, &[0.1], 0.0)];
        assert_eq!(replay(&et, &runs).rungs, [1, 3]);
    }

    #[test]
    fn valid_specs_have_no_problems() {
        let specs = [
            "{type: asha, min_epochs: 1}",
            "{type: asha, min_epochs: 2, eta: 2, max_epochs: 20, min_runs: 4, metric: best_test_pgd_acc, goal: maximize}",
            "{type: hyperband, min_iter: 3}",
            "{type: hyperband, max_iter: 27, s: 2, eta: 3, strict: true, metric: test_pgd_loss}",
        ];
        for spec in specs {
            assert_eq!(yaml(spec).unwrap().problems(&[30]), [], "{spec}");
        }
        // The 3-epoch runs get no rung, but the 30-epoch ones do.
        assert_eq!(EarlyTerminate::Asha(asha(3)).problems(&[3, 30]), []);
        assert_eq!(EarlyTerminate::Asha(asha(3)).problems(&[]), [], "unknown epochs: nothing to check against");
    }

    #[test]
    fn problems_name_the_field_and_say_what_to_do() {
        let problems = EarlyTerminate::Asha(asha(0)).problems(&[10]);
        assert_eq!(fields(&problems), ["early_terminate.min_epochs"]);
        assert_eq!(problems[0].message, "is 0; the first rung must be at epoch 1 or later");

        let problems =
            EarlyTerminate::Asha(Asha { eta: Some(1), metric: Some("robust".into()), ..asha(1) }).problems(&[10]);
        assert_eq!(fields(&problems), ["early_terminate.metric", "early_terminate.eta"]);
        assert!(problems[0].message.contains("best_test_pgd_acc"), "{}", problems[0].message);
        assert!(problems[1].message.contains("eta must be 2 or more"), "{}", problems[1].message);

        let problems = EarlyTerminate::Asha(asha(9)).problems(&[9]);
        assert_eq!(fields(&problems), ["early_terminate.min_epochs"]);
        assert_eq!(
            problems[0].message,
            "is 9, which gives no rung below the runs' 9 epochs, so nothing would ever be stopped; lower min_epochs"
        );
        let problems = EarlyTerminate::Asha(asha(12)).problems(&[9, 12]);
        assert!(problems[0].message.contains("the longest runs' 12 epochs"), "{}", problems[0].message);

        let problems = EarlyTerminate::Asha(Asha { max_epochs: Some(3), min_runs: Some(0), ..asha(3) }).problems(&[9]);
        assert_eq!(fields(&problems), ["early_terminate.min_runs", "early_terminate.max_epochs"]);
        assert!(problems[1].message.contains("not above min_epochs 3"), "{}", problems[1].message);
    }

    #[test]
    fn hyperband_problems_follow_wandbs_two_ways_of_placing_brackets() {
        let problem = |spec: &str, epochs: u32| {
            let problems = yaml(spec).unwrap().problems(&[epochs]);
            assert_eq!(problems.len(), 1, "{spec}: {problems:?}");
            (problems[0].field.clone(), problems[0].message.clone())
        };
        let (field, message) = problem("{type: hyperband, max_iter: 27}", 27);
        assert_eq!(field, "early_terminate.s");
        assert!(message.contains("with `max_iter` give `s`, the number of brackets (W&B's meaning"), "{message}");
        let (field, message) = problem("{type: hyperband}", 27);
        assert_eq!(field, "early_terminate.min_iter");
        assert!(message.contains("`max_iter` with `s`"), "{message}");
        let (field, _) = problem("{type: hyperband, min_iter: 1, max_iter: 27, s: 2}", 27);
        assert_eq!(field, "early_terminate.max_iter");
        let (field, _) = problem("{type: hyperband, min_iter: 1, s: 2}", 27);
        assert_eq!(field, "early_terminate.s");
        let (field, message) = problem("{type: hyperband, min_iter: 0}", 27);
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("early_terminate.min_iter", "is 0; the first bracket must be at epoch 1 or later")
        );
        let (field, _) = problem("{type: hyperband, max_iter: 27, s: 0}", 27);
        assert_eq!(field, "early_terminate.s");
        let (field, message) = problem("{type: hyperband, max_iter: 2, s: 1}", 27);
        assert_eq!(field, "early_terminate.max_iter");
        assert!(message.contains("below 1"), "{message}");
        let (field, message) = problem("{type: hyperband, min_iter: 27}", 27);
        assert_eq!(field, "early_terminate.min_iter");
        assert!(message.contains("no bracket below the runs' 27 epochs"), "{message}");
        let (field, message) = problem("{type: hyperband, max_iter: 300, s: 2}", 27);
        assert_eq!(field, "early_terminate.max_iter");
        assert_eq!(
            message,
            "is 300, whose brackets (33, 100) all lie at or past the runs' 27 epochs, so nothing would ever be stopped; lower max_iter"
        );
        let (field, _) = problem("{type: hyperband, min_iter: 1, eta: 1}", 27);
        assert_eq!(field, "early_terminate.eta");
    }

    #[test]
    fn yaml_round_trips_and_unknown_keys_are_refused() {
        let et = yaml("{type: asha, min_epochs: 2}").unwrap();
        assert_eq!(et, EarlyTerminate::Asha(asha(2)));
        assert_eq!(serde_json::to_string(&et).unwrap(), r#"{"type":"asha","min_epochs":2}"#);
        assert_eq!(yaml(&serde_norway::to_string(&et).unwrap()).unwrap(), et);

        let et =
            yaml("{type: hyperband, max_iter: 27, s: 2, strict: true, metric: test_pgd_loss, goal: minimize}").unwrap();
        let EarlyTerminate::Hyperband(h) = &et else { panic!("{et:?}") };
        assert_eq!((h.max_iter, h.s, h.strict, h.goal), (Some(27), Some(2), Some(true), Some(Goal::Minimize)));
        assert_eq!(yaml(&serde_norway::to_string(&et).unwrap()).unwrap(), et);

        for refused in [
            "{type: asha, min_epochs: 2, min_iter: 3}",
            "{type: hyperband, min_epochs: 2}",
            "{type: hyperband, min_iter: 3, strict: yes please}",
            "{type: asha}",
            "{type: median, min_epochs: 2}",
            "{min_epochs: 2}",
        ] {
            assert!(yaml(refused).is_err(), "{refused} should be refused");
        }
    }
}

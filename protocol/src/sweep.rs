//! Sweep specs: one file that describes many runs, in the style of W&B Sweeps,
//! expanded into validated run configs.
//!
//! ```yaml
//! name: aom-lambda                 # optional
//! method: grid                     # grid | random | bayes
//! count: 20                        # random, bayes: how many configs to try
//! random_seed: 0                   # random, bayes: same spec, same samples
//! base: {dataset: digits, model: small_cnn, epochs: 10}   # every run starts here
//! parameters:                      # dotted config paths, in the order given
//!   method: {values: [pgd_at, aom]}
//!   aom.labels: {values: [ratio, geometric]}
//!   epsilon: {value: 0.0313}
//!   mixup_alpha: {min: 0.2, max: 2.0, count: 4}              # grid: 4 evenly spaced points
//!   lr_max: {min: 0.01, max: 0.2, distribution: log_uniform_values} # random, bayes: sampled
//! seeds: [0, 1, 2]                 # every config once per seed
//! metric: {name: test_pgd_acc, goal: maximize}   # bayes: the objective
//! ```
//!
//! A W&B sweep file parses unchanged apart from its parameter names (advmix's
//! are config paths: `lr_max`, `aom.labels`) and metric names: W&B's
//! `program`, `command`, `entity`, `project` and `description` are accepted
//! and ignored ([`SweepSpec::notes`] says so), and every distribution W&B
//! documents has W&B's meaning (from its `sweeps` package):
//!
//! | `distribution` | keys | a draw |
//! |---|---|---|
//! | `constant` | `value` | `value` |
//! | `categorical` | `values`, `probabilities` | one of `values`, uniformly or with the given `probabilities` (summing to 1) |
//! | `int_uniform` | `min`, `max` (whole) | a whole number in [min, max], each equally likely |
//! | `uniform` | `min`, `max` | U(min, max) |
//! | `q_uniform` | `min`, `max`, `q` | round(U(min, max) / q) · q |
//! | `log_uniform` | `min`, `max` | exp(U(min, max)): `min` and `max` are natural-log **exponents** |
//! | `log_uniform_values` | `min`, `max` (> 0) | exp(U(ln min, ln max)): a value in [min, max], uniform in ln x |
//! | `q_log_uniform` | `min`, `max`, `q` | `log_uniform` rounded to a multiple of q |
//! | `q_log_uniform_values` | `min`, `max`, `q` | `log_uniform_values` rounded to a multiple of q |
//! | `inv_log_uniform` | `min`, `max` | exp(−U(min, max)): ln(1/x) uniform between the exponents |
//! | `inv_log_uniform_values` | `min`, `max` (> 0) | a value in [min, max] with ln(1/x) uniform |
//! | `normal` | `mu`, `sigma` | N(mu, sigma²), `sigma` the standard deviation |
//! | `q_normal` | `mu`, `sigma`, `q` | `normal` rounded to a multiple of q |
//! | `log_normal` | `mu`, `sigma` | exp(N(mu, sigma²)) |
//! | `q_log_normal` | `mu`, `sigma`, `q` | `log_normal` rounded to a multiple of q |
//!
//! `q` defaults to 1, `mu` to 0 and `sigma` to 1; a whole `q` gives whole
//! numbers, written as integers. Left out, `distribution` is inferred as W&B
//! does: `values` → `categorical`, `value` → `constant`, `min` and `max` both
//! integers → `int_uniform`, otherwise `uniform`. Values are rounded to 12
//! significant digits and kept within [min, max] where there are bounds; a
//! `q_` draw whose nearest multiple lies outside them takes the nearest one
//! inside. advmix's own `log_uniform` once took the values as `min` and
//! `max`: that is `log_uniform_values`. A random or bayes sweep needs its
//! `count`, which W&B gives its agents instead, and `metric` its `goal`.
//!
//! In a grid, a bounded range takes advmix's `count: N`: N points evenly
//! spaced in the distribution's coordinate (by ratio for the log ones), each
//! rounded to q's multiples for the `q_` ones, repeats dropped. Without a
//! `count`, `int_uniform` gives every integer and `q_uniform` W&B's min,
//! min + q, ... below `max`; other ranges need a `count`. The normal family
//! has no bounds to space points over and `probabilities` only weight draws,
//! so grids refuse both.
//!
//! `method: bayes` takes the same `parameters`, `count` and `random_seed` as
//! `random`, but chooses each config from the results of the ones before it
//! (TPE, see [`bayes`]), so its configs are proposed one at a time as runs
//! finish ([`SweepSpec::propose`]) rather than all at once: [`SweepSpec::expand`]
//! gives only the first. `metric` is what it optimizes (`test_pgd_acc`,
//! maximized, when left out); for grid and random sweeps it is only displayed.
//!
//! Every run is checked exactly as a launched config is (serde, then
//! [`RunConfig::validate`]), and one bad run refuses the whole sweep: a sweep
//! that silently loses some of its runs would be compared as if it had not.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::config::RunConfig;
use crate::rng::SplitMix64;
use crate::validate::FieldError;

pub mod bayes;
pub mod distribution;
pub mod early_terminate;
pub mod metric;

pub use bayes::Observation;
pub use distribution::Distribution;
use distribution::{Range, whole};
pub use early_terminate::EarlyTerminate;
pub use metric::EpochMetric;

/// The most runs [`SweepSpec::expand`] is normally allowed to create.
pub const DEFAULT_MAX_RUNS: usize = 1000;

/// A grid up to this many times the run limit is built before it is judged,
/// since merged combinations may bring it under; a larger one is refused
/// without building anything.
const MERGE_SCAN: usize = 4;

/// Grid, random and bayes points are rounded to this many significant digits, so that
/// 0.2..2.0 in 4 steps reads 0.8, not 0.8000000000000002, in configs and names.
const SIGNIFICANT_DIGITS: usize = 12;

/// A sweep spec; the module documentation shows the format.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub method: SweepMethod,
    /// Random and bayes sweeps only: how many configs to sample or propose
    /// (each then runs once per seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Random and bayes sweeps only: seeds the sampler; 0 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
    /// A partial run config, merged over the defaults, that every run starts from.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub base: Map<String, Value>,
    /// Config path → what to vary it over. Kept in the spec's order, which is
    /// the grid's nesting order (first outermost) and the order in run names.
    #[serde(default, with = "ordered_map", skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<(String, Parameter)>,
    /// Runs every config once per seed, setting `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// What every run asks the cluster for (the Slurm executor): `gres`,
    /// `time`, `partition`, `qos`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::config::Resources>,
    /// The metric the sweep is judged by: a bayes sweep's objective
    /// ([`SweepSpec::objective`]); for grid and random sweeps only stored, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Metric>,
    /// Stops runs that are behind at set epochs (`asha`, `hyperband`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_terminate: Option<EarlyTerminate>,
    /// W&B's keys for its own agent (`program`, `command`) and workspace
    /// (`entity`, `project`), and its free-text `description`: accepted so
    /// that a W&B file parses unchanged, kept so that the stored spec is the
    /// one submitted, and otherwise unused ([`SweepSpec::notes`] says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Value>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SweepMethod {
    /// Every combination of the parameters' values.
    Grid,
    /// `count` independent draws.
    Random,
    /// `count` configs, each proposed from the results so far.
    Bayes,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    pub goal: Goal,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    Maximize,
    Minimize,
}

/// What one config path is varied over: `values`, `value`, a `min`/`max`
/// range, or a normal distribution's `mu`/`sigma`, with the `distribution`
/// that says how (see the module documentation for the keys each takes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Number>,
    /// Grids only (advmix's own key): how many points to space over `min`..`max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    /// `categorical`: the chance of each of `values`, summing to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probabilities: Option<Vec<f64>>,
    /// The `q_` distributions: values are multiples of `q` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<Number>,
    /// The normal family: the mean of x, or of ln x for the log ones (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<f64>,
    /// The normal family: the standard deviation of x, or of ln x (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<f64>,
}

/// One run of an expanded sweep.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SweepRun {
    pub config: RunConfig,
    /// Only the values that vary across the sweep (path → value), plus `seed`
    /// when the spec lists `seeds`.
    pub params: Map<String, Value>,
    /// `params` as `path=value,...` in spec order, e.g.
    /// `method=aom,aom.labels=geometric,seed=1`; `base` when nothing varies. A
    /// random sweep can draw the same point twice, so names need not be unique.
    pub name: String,
}

/// Everything wrong with a sweep, each problem at the field it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct SweepError {
    pub errors: Vec<FieldError>,
}

impl SweepError {
    fn one(field: &str, message: impl Into<String>) -> SweepError {
        SweepError { errors: vec![field_error(field, message)] }
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_owned(), message: message.into() }
}

impl SweepSpec {
    /// A spec with only `method` set, for building one field by field.
    pub fn new(method: SweepMethod) -> SweepSpec {
        SweepSpec {
            name: None,
            method,
            count: None,
            random_seed: None,
            base: Map::new(),
            parameters: Vec::new(),
            seeds: None,
            resources: None,
            metric: None,
            early_terminate: None,
            program: None,
            command: None,
            entity: None,
            project: None,
            description: None,
        }
    }

    /// The W&B keys the spec carries that advmix accepts and ignores, in the
    /// order `program`, `command`, `entity`, `project`, `description`.
    pub fn ignored_keys(&self) -> Vec<&'static str> {
        [
            ("program", &self.program),
            ("command", &self.command),
            ("entity", &self.entity),
            ("project", &self.project),
            ("description", &self.description),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.is_some().then_some(key))
        .collect()
    }

    /// Sentences for whoever submits the spec, about parts of it that parse
    /// but may not do what a W&B user expects: the W&B keys that were ignored,
    /// and the values each exponent-bounded distribution (`log_uniform`,
    /// `q_log_uniform`, `inv_log_uniform`) actually draws, since writing
    /// values there instead of exponents is an easy mistake that parses.
    pub fn notes(&self) -> Vec<String> {
        let ignored = self.ignored_keys();
        let mut notes = Vec::new();
        let runner: Vec<&str> =
            ignored.iter().copied().filter(|k| matches!(*k, "program" | "command")).collect();
        match runner.as_slice() {
            [] => {}
            [one] => notes.push(format!(
                "`{one}` is a W&B setting advmix does not use; it was ignored (advmix runs its own trainer)."
            )),
            _ => notes.push(
                "`program` and `command` are W&B settings advmix does not use; they were ignored \
                 (advmix runs its own trainer)."
                    .to_owned(),
            ),
        }
        let workspace: Vec<&str> =
            ignored.iter().copied().filter(|k| matches!(*k, "entity" | "project")).collect();
        match workspace.as_slice() {
            [] => {}
            [one] => notes.push(format!(
                "`{one}` names a W&B workspace, which advmix does not use; it was ignored \
                 (the sweep lives on this server)."
            )),
            _ => notes.push(
                "`entity` and `project` name a W&B workspace, which advmix does not use; they \
                 were ignored (the sweep lives on this server)."
                    .to_owned(),
            ),
        }
        if self.description.is_some() {
            notes.push(
                "`description` is W&B's free-text note; advmix keeps it with the spec but does \
                 not use it."
                    .to_owned(),
            );
        }
        for (path, parameter) in &self.parameters {
            let Some(distribution) = parameter.distribution.filter(|d| d.takes_exponents()) else {
                continue;
            };
            let Ok(Domain::Range(range, _)) = parameter.domain() else { continue };
            let (Some((low, high)), Some(min), Some(max)) =
                (range.bounds(), &parameter.min, &parameter.max)
            else {
                continue;
            };
            notes.push(format!(
                "`parameters.{path}`: `{}` takes natural-log exponents, so `min` {min} and `max` \
                 {max} give values from {} to {}; if you meant {min} and {max} as the values, \
                 write `{}_values`.",
                distribution.name(),
                short(&low),
                short(&high),
                distribution.name(),
            ));
        }
        notes
    }

    pub fn from_json(text: &str) -> Result<SweepSpec, SweepError> {
        shallow(text)?;
        serde_json::from_str(text)
            .map_err(|e| SweepError::one("spec", format!("is not a valid sweep spec (JSON): {e}")))
    }

    pub fn from_yaml(text: &str) -> Result<SweepSpec, SweepError> {
        shallow(text)?;
        // JSON values (what parameters hold) have no infinity, so `.inf`
        // would be refused with a message about JSON: name its field instead.
        let lower = text.to_ascii_lowercase();
        if lower.contains(".inf") || lower.contains(".nan") {
            let value = serde_norway::from_str::<serde_norway::Value>(text);
            if let Some(field) = value.ok().and_then(|v| non_finite(&v, "")).filter(|f| !f.is_empty()) {
                return Err(SweepError::one(
                    &field,
                    "is infinite or not a number (`.inf`, `.nan`); write a finite number",
                ));
            }
        }
        serde_norway::from_str(text)
            .map_err(|e| SweepError::one("spec", format!("is not a valid sweep spec (YAML): {e}")))
    }

    /// Parses YAML or JSON. JSON is valid YAML, but JSON's parser gives the
    /// clearer message for a JSON mistake, so text starting with `{` goes there.
    pub fn parse(text: &str) -> Result<SweepSpec, SweepError> {
        if text.trim_start().starts_with('{') {
            Self::from_json(text)
        } else {
            Self::from_yaml(text)
        }
    }

    /// How many runs expansion would create, without creating them; for a
    /// bayes sweep, how many all its proposals will have created.
    pub fn run_count(&self) -> Result<usize, SweepError> {
        self.plan()?.run_count()
    }

    /// The parameters that vary (path list, spec order), plus `seed` when the
    /// spec lists `seeds`: the keys of every [`SweepRun::params`], for display.
    pub fn varying(&self) -> Vec<String> {
        let paths =
            self.parameters.iter().filter(|(_, p)| p.varies()).map(|(path, _)| path.clone());
        paths.chain(self.seeds.as_ref().map(|_| "seed".to_owned())).collect()
    }

    /// All runs of the sweep, each config validated; nothing when any run is
    /// invalid or when there would be more than `max_runs` runs. A bayes
    /// sweep's later configs depend on results, so it gives only the runs of
    /// its first proposal, while the limit still counts all `count` of them.
    pub fn expand(&self, max_runs: usize) -> Result<Vec<SweepRun>, SweepError> {
        let plan = self.plan()?;
        // Counted before anything is generated, so a huge grid is refused at
        // once. A grid somewhat over the limit is built anyway: merging the
        // combinations that differ only in ignored keys may bring it under.
        let runs = plan.run_count()?;
        let may_merge = matches!(plan.sampling, Sampling::Grid(_)) && runs <= max_runs.saturating_mul(MERGE_SCAN);
        if runs > max_runs && !may_merge {
            return Err(plan.over_limit(runs, runs, max_runs));
        }
        let built = plan.build_runs(&plan.configs(), 0)?;
        if built.len() > max_runs {
            return Err(plan.over_limit(runs, built.len(), max_runs));
        }
        Ok(built)
    }

    /// Checks everything that does not depend on the generated values, and
    /// turns the spec into what generation needs.
    fn plan(&self) -> Result<Plan<'_>, SweepError> {
        let defaults = serde_json::to_value(RunConfig::default())
            .expect("a RunConfig always serializes to a JSON object");
        let mut errors = self.check_top_level();
        let base = self.merged_base(&defaults, &mut errors);
        let (targets, domains) = self.targets(&defaults, &mut errors);
        if let Some(early_terminate) = &self.early_terminate {
            let run_epochs = self.run_epochs(&base, &targets, &domains, &errors);
            errors.extend(early_terminate.problems(&run_epochs));
        }
        let sampling = self.sampling(&targets, domains, &mut errors);
        if !errors.is_empty() {
            return Err(SweepError { errors });
        }
        Ok(Plan { spec: self, base, targets, sampling })
    }

    /// The fields whose meaning depends on `method`, and `seeds`.
    fn check_top_level(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(problem) = self.name.as_deref().and_then(crate::validate::name_problem) {
            errors.push(field_error("name", problem));
        }
        match (self.method, self.count) {
            (SweepMethod::Random, None) => errors.push(field_error(
                "count",
                "a random sweep needs `count`: how many configs to sample",
            )),
            (SweepMethod::Bayes, None) => errors.push(field_error(
                "count",
                "a bayes sweep needs `count`: how many configs to propose",
            )),
            (SweepMethod::Random | SweepMethod::Bayes, Some(0)) => {
                errors.push(field_error("count", "is 0; try at least 1 config"))
            }
            (SweepMethod::Grid, Some(_)) => errors.push(field_error(
                "count",
                "only applies to `method: random` or `bayes`; a grid runs every combination, \
                 so remove it",
            )),
            _ => {}
        }
        if self.method == SweepMethod::Grid && self.random_seed.is_some() {
            errors.push(field_error(
                "random_seed",
                "only applies to `method: random` or `bayes`; a grid samples nothing, so remove it",
            ));
        }
        if self.method == SweepMethod::Bayes {
            errors.extend(self.objective_problem());
        }
        if let Some(seeds) = &self.seeds {
            errors.extend(check_seeds(seeds));
            if self.parameters.iter().any(|(path, _)| path == "seed") {
                errors.push(field_error(
                    "parameters.seed",
                    "conflicts with `seeds`, which sets `seed` for every run; remove one of them",
                ));
            }
        }
        errors
    }

    /// The defaults with `base` merged in, every base field checked like a parameter.
    fn merged_base(&self, defaults: &Value, errors: &mut Vec<FieldError>) -> Value {
        let mut merged = defaults.clone();
        let mut leaves = Vec::new();
        flatten("", &self.base, &mut leaves);
        for (path, value) in leaves {
            let field = format!("base.{path}");
            let checked = field_pointer(defaults, &path)
                .and_then(|pointer| fits(defaults, &pointer, &value).map(|()| pointer));
            match checked {
                Ok(pointer) => set(&mut merged, &pointer, value),
                Err(message) => errors.push(field_error(&field, message)),
            }
        }
        if let Some(resources) = &self.resources {
            merged["resources"] = serde_json::to_value(resources).expect("resources serialize");
        }
        merged
    }

    /// Resolves each parameter's path and checks its values' types; returns the
    /// parameters that passed, as targets with their domains.
    fn targets(
        &self,
        defaults: &Value,
        errors: &mut Vec<FieldError>,
    ) -> (Vec<Target>, Vec<Domain>) {
        let mut targets = Vec::new();
        let mut domains = Vec::new();
        for (path, parameter) in &self.parameters {
            let checked = field_pointer(defaults, path).and_then(|pointer| {
                let domain = parameter.domain()?;
                domain.check_fits(defaults, &pointer)?;
                Ok((pointer, domain))
            });
            match checked {
                Ok((pointer, domain)) => {
                    targets.push(Target {
                        path: path.clone(),
                        pointer,
                        varies: parameter.varies(),
                    });
                    domains.push(domain);
                }
                Err(message) => errors.push(field_error(&format!("parameters.{path}"), message)),
            }
        }
        (targets, domains)
    }

    /// Every `epochs` the runs can have, for early termination's checks
    /// against the runs' length: the swept values (of a range, its ends, the
    /// shortest and longest runs), else base's. Empty, which skips those
    /// checks, when the length is unknown: `epochs` was refused, or is drawn
    /// from an unbounded (normal-family) distribution.
    fn run_epochs(
        &self,
        base: &Value,
        targets: &[Target],
        domains: &[Domain],
        errors: &[FieldError],
    ) -> Vec<u32> {
        let as_epochs = |v: &Value| v.as_u64().and_then(|e| u32::try_from(e).ok());
        let swept = targets.iter().position(|t| t.pointer == "/epochs").map(|i| &domains[i]);
        let mut epochs: Vec<u32> = match swept {
            Some(Domain::List(values) | Domain::Weighted(values, _)) => {
                values.iter().filter_map(as_epochs).collect()
            }
            Some(Domain::Range(range, _)) => match range.bounds() {
                Some((min, max)) => [min, max].iter().filter_map(as_epochs).collect(),
                None => Vec::new(),
            },
            None if self.parameters.iter().any(|(path, _)| path == "epochs")
                || errors.iter().any(|e| e.field == "base.epochs") =>
            {
                Vec::new()
            }
            None => base.pointer("/epochs").and_then(as_epochs).into_iter().collect(),
        };
        epochs.sort_unstable();
        epochs.dedup();
        epochs
    }

    /// Turns the domains into grid axes or samplers, refusing what the method cannot use.
    fn sampling(
        &self,
        targets: &[Target],
        domains: Vec<Domain>,
        errors: &mut Vec<FieldError>,
    ) -> Sampling {
        match self.method {
            SweepMethod::Grid => {
                Sampling::Grid(convert_each(targets, domains, Domain::into_axis, errors))
            }
            SweepMethod::Random => {
                let draws = convert_each(targets, domains, Domain::into_draw, errors);
                Sampling::Random(self.draws(draws))
            }
            SweepMethod::Bayes => {
                let (draws, spaces) =
                    convert_each(targets, domains, Domain::into_bayes, errors).into_iter().unzip();
                Sampling::Bayes(self.draws(draws), spaces)
            }
        }
    }

    fn draws(&self, draws: Vec<Draw>) -> Draws {
        // A missing count is reported by `check_top_level`; 0 then stands in.
        Draws { draws, count: self.count.unwrap_or(0), random_seed: self.random_seed.unwrap_or(0) }
    }
}

/// Applies a method's conversion to each domain, reporting refusals at their parameter.
fn convert_each<T>(
    targets: &[Target],
    domains: Vec<Domain>,
    convert: fn(Domain) -> Result<T, String>,
    errors: &mut Vec<FieldError>,
) -> Vec<T> {
    let mut converted = Vec::new();
    for (target, domain) in targets.iter().zip(domains) {
        match convert(domain) {
            Ok(item) => converted.push(item),
            Err(message) => {
                errors.push(field_error(&format!("parameters.{}", target.path), message))
            }
        }
    }
    converted
}

/// A value in a sentence: 4 significant digits, in exponent form when far from 1.
fn short(value: &Value) -> String {
    let Some(x) = value.as_f64().filter(|_| !value.is_i64() && !value.is_u64()) else {
        return value.to_string();
    };
    let rounded: f64 = format!("{x:.3e}").parse().unwrap_or(x);
    if rounded != 0.0 && !(1e-4..1e6).contains(&rounded.abs()) {
        format!("{rounded:e}")
    } else {
        rounded.to_string()
    }
}

/// The dotted path (below `at`) of the first infinite or NaN number in `value`.
fn non_finite(value: &serde_norway::Value, at: &str) -> Option<String> {
    use serde_norway::Value;
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| !f.is_finite()).then(|| at.to_owned()),
        Value::Sequence(items) => {
            items.iter().enumerate().find_map(|(i, item)| non_finite(item, &format!("{at}[{i}]")))
        }
        Value::Mapping(map) => map.iter().find_map(|(key, item)| {
            let key = key.as_str().map_or_else(|| format!("{key:?}"), str::to_owned);
            non_finite(item, &if at.is_empty() { key } else { format!("{at}.{key}") })
        }),
        Value::Tagged(tagged) => non_finite(&tagged.value, at),
        _ => None,
    }
}

/// Refuses text nested too deep to be a spec, before a parser spends time
/// on it.
fn shallow(text: &str) -> Result<(), SweepError> {
    match crate::depth::too_deep(text, crate::depth::MAX_DEPTH) {
        None => Ok(()),
        Some(line) => Err(SweepError::one(
            "spec",
            format!(
                "nests deeper than {} levels (line {line}); a sweep spec needs a handful: check for unclosed brackets",
                crate::depth::MAX_DEPTH
            ),
        )),
    }
}

fn check_seeds(seeds: &[u64]) -> Vec<FieldError> {
    if seeds.is_empty() {
        return vec![field_error(
            "seeds",
            "is empty; list at least one seed, or remove `seeds` to keep base's seed",
        )];
    }
    let mut seen = std::collections::HashSet::with_capacity(seeds.len());
    let mut errors = Vec::new();
    for seed in seeds {
        // One error per repeated seed, however often it repeats.
        if !seen.insert(seed) && !errors.iter().any(|(s, _)| s == seed) {
            errors.push((*seed, field_error("seeds", format!("lists {seed} twice; list each seed once"))));
        }
        if errors.len() >= 10 {
            break;
        }
    }
    errors.into_iter().map(|(_, e)| e).collect()
}

impl Parameter {
    /// Whether the parameter can take more than one value, i.e. belongs in run names.
    fn varies(&self) -> bool {
        match (&self.values, &self.value, &self.min, &self.max) {
            (Some(values), ..) => values.len() > 1,
            (None, Some(_), ..) => false,
            (None, None, Some(min), Some(max)) => min != max,
            (None, None, None, None) if self.mu.is_some() || self.sigma.is_some() => {
                self.sigma != Some(0.0)
            }
            _ => true,
        }
    }
}

/// A parameter's possible values, before the method decides how to use them.
enum Domain {
    /// `values`, or `value` as a one-element list.
    List(Vec<Value>),
    /// `values` with `probabilities`, given as cumulative sums ending at 1.
    Weighted(Vec<Value>, Vec<f64>),
    /// A distribution's range, with the grid `count` if one was given.
    Range(Range, Option<usize>),
}

impl Domain {
    /// Rejects a value of the wrong type for the field now, naming the
    /// parameter, rather than later as an anonymous serde error for some run.
    fn check_fits(&self, defaults: &Value, pointer: &str) -> Result<(), String> {
        match self {
            Domain::List(values) | Domain::Weighted(values, _) => {
                values.iter().try_for_each(|v| fits(defaults, pointer, v))
            }
            Domain::Range(range, _)
                if !range.is_whole() && defaults.pointer(pointer).is_some_and(Value::is_u64) =>
            {
                Err(range.whole_number_advice())
            }
            // Type errors are per field, so if both ends fit, every point between does.
            Domain::Range(range, _) => match range.bounds() {
                Some((min, max)) => {
                    fits(defaults, pointer, &min)?;
                    fits(defaults, pointer, &max)
                }
                // Unbounded: every draw has the type of the typical one.
                None => fits(defaults, pointer, &range.typical()),
            },
        }
    }

    fn into_axis(self) -> Result<GridAxis, String> {
        match self {
            Domain::List(values) => Ok(GridAxis::List(values)),
            Domain::Weighted(..) => Err("`probabilities` weight random draws, and a grid runs \
                 every value once; remove `probabilities`, or use `method: random`"
                .into()),
            Domain::Range(range, count) => match range.grid_problem(count) {
                Some(problem) => Err(problem),
                None => Ok(GridAxis::Points(range, count)),
            },
        }
    }

    fn into_draw(self) -> Result<Draw, String> {
        match self {
            Domain::List(values) => Ok(Draw::List(values)),
            Domain::Weighted(values, cumulative) => Ok(Draw::Weighted(values, cumulative)),
            Domain::Range(range, None) => Ok(Draw::Range(range)),
            Domain::Range(_, Some(_)) => {
                Err("`count` on a parameter only applies to grid sweeps; \
                 remove it (the sweep's own `count` sets how many configs to try)"
                    .into())
            }
        }
    }
}

/// A grid parameter: its listed values, or a range with a point count.
enum GridAxis {
    List(Vec<Value>),
    Points(Range, Option<usize>),
}

impl GridAxis {
    fn len(&self) -> usize {
        match self {
            GridAxis::List(values) => values.len(),
            GridAxis::Points(range, count) => range.grid_len(*count),
        }
    }

    fn values(&self) -> Vec<Value> {
        match self {
            GridAxis::List(values) => values.clone(),
            GridAxis::Points(range, count) => range.grid_points(*count),
        }
    }
}

/// A random parameter: a uniform or weighted choice from a list, or a range to sample.
enum Draw {
    List(Vec<Value>),
    /// The values and their cumulative probabilities.
    Weighted(Vec<Value>, Vec<f64>),
    Range(Range),
}

impl Draw {
    fn sample(&self, rng: &mut SplitMix64) -> Value {
        match self {
            Draw::List(values) => {
                let i = (u128::from(rng.next_u64()) * values.len() as u128) >> 64;
                values[i as usize].clone()
            }
            // W&B's inverse CDF: the first value whose cumulative probability
            // exceeds the draw, so a value of probability 0 is never chosen.
            Draw::Weighted(values, cumulative) => {
                let u = rng.unit();
                let i = cumulative.iter().position(|&c| u < c).unwrap_or(values.len() - 1);
                values[i].clone()
            }
            Draw::Range(range) => range.sample(rng),
        }
    }
}

/// Where one parameter lands in the config.
struct Target {
    path: String,
    /// The JSON pointer of `path`, e.g. `/aom/steps`.
    pointer: String,
    varies: bool,
}

/// Per parameter, in the order of [`Plan::targets`].
enum Sampling {
    Grid(Vec<GridAxis>),
    Random(Draws),
    /// The random draws (the first proposals, and the value of any parameter
    /// with only one), and per parameter the space TPE searches, None where
    /// there is nothing to choose.
    Bayes(Draws, Vec<Option<bayes::Space>>),
}

/// What random sampling needs: a draw per parameter, how many configs, the seed.
struct Draws {
    draws: Vec<Draw>,
    count: usize,
    random_seed: u64,
}

impl Draws {
    /// The random method's configs, in order, without end.
    fn configs<'a>(&'a self, targets: &[Target]) -> impl Iterator<Item = Vec<Value>> + 'a {
        // One stream per parameter, keyed by its path, so adding or removing
        // a parameter leaves the others' draws unchanged.
        let mut rngs: Vec<SplitMix64> =
            targets.iter().map(|t| keyed_rng(self.random_seed, &t.path)).collect();
        std::iter::repeat_with(move || {
            self.draws.iter().zip(&mut rngs).map(|(draw, rng)| draw.sample(rng)).collect()
        })
    }

    /// The random method's config `index` (from 0).
    fn config(&self, targets: &[Target], index: usize) -> Vec<Value> {
        self.configs(targets).nth(index).expect("the random configs never end")
    }
}

/// A checked spec, ready to count and generate.
struct Plan<'a> {
    spec: &'a SweepSpec,
    /// The defaults with `base` merged in, as JSON.
    base: Value,
    targets: Vec<Target>,
    sampling: Sampling,
}

impl Plan<'_> {
    fn config_count(&self) -> Option<usize> {
        match &self.sampling {
            Sampling::Grid(axes) => {
                axes.iter().try_fold(1usize, |n, axis| n.checked_mul(axis.len()))
            }
            Sampling::Random(draws) | Sampling::Bayes(draws, _) => Some(draws.count),
        }
    }

    fn seed_count(&self) -> usize {
        self.spec.seeds.as_ref().map_or(1, Vec::len)
    }

    fn run_count(&self) -> Result<usize, SweepError> {
        self.config_count().and_then(|n| n.checked_mul(self.seed_count())).ok_or_else(|| {
            SweepError::one(
                "parameters",
                "the grid has more combinations than can be counted; \
                 drop values or lower `count`s, or sample it with `method: random`",
            )
        })
    }

    /// `runs` combinations (configs × seeds), `made` of them once merged.
    fn over_limit(&self, runs: usize, made: usize, max_runs: usize) -> SweepError {
        let (field, advice) = match self.spec.method {
            SweepMethod::Grid => (
                "parameters",
                "drop values, lower a range's `count`, list fewer `seeds`, \
                 or sample the space with `method: random` and a `count`",
            ),
            SweepMethod::Random | SweepMethod::Bayes => {
                ("count", "lower `count` or list fewer `seeds`")
            }
        };
        let advice = format!("{advice}, or raise the server's limit (`advmix serve --max-sweep-runs`)");
        let configs = runs / self.seed_count();
        let merged = if made < runs {
            format!(", {} of them merged as they differ only in keys their method or model ignores", runs - made)
        } else {
            String::new()
        };
        SweepError::one(
            field,
            format!(
                "the sweep would create {made} runs ({configs} configs × {} seeds{merged}), \
                 over the limit of {max_runs}; {advice}",
                self.seed_count()
            ),
        )
    }

    /// Each config's values, aligned with `targets`, before seeds; for a
    /// bayes sweep only the first proposal's, the one that needs no results.
    fn configs(&self) -> Vec<Vec<Value>> {
        match &self.sampling {
            Sampling::Grid(axes) => cartesian(axes.iter().map(GridAxis::values)),
            Sampling::Random(draws) => draws.configs(&self.targets).take(draws.count).collect(),
            Sampling::Bayes(draws, _) => vec![draws.config(&self.targets, 0)],
        }
    }

    /// Every config once per seed, built and validated; `first_run` is the
    /// first run's index in the sweep, for error messages.
    fn build_runs(
        &self,
        configs: &[Vec<Value>],
        first_run: usize,
    ) -> Result<Vec<SweepRun>, SweepError> {
        let seeds: Vec<Option<u64>> = match &self.spec.seeds {
            Some(seeds) => seeds.iter().copied().map(Some).collect(),
            None => vec![None],
        };
        let jobs = configs.iter().flat_map(|values| seeds.iter().map(move |&seed| (values, seed)));
        let mut built = Vec::with_capacity(configs.len() * seeds.len());
        let mut errors = RunErrors::default();
        // A grid that sweeps a key some of its methods ignore (aom.labels
        // beside pgd_at) would train those methods' runs twice: each config
        // is made once. Random draws may repeat by chance, as W&B's do.
        let mut seen = std::collections::HashSet::new();
        let merge = matches!(self.sampling, Sampling::Grid(_));
        for (run, (values, seed)) in jobs.enumerate() {
            match self.build_run(values, seed) {
                Ok(sweep_run) => {
                    if !merge || seen.insert(serde_json::to_string(&sweep_run.config).expect("configs serialize")) {
                        built.push(sweep_run);
                    }
                }
                Err((name, run_errors)) => errors.add(first_run + run, name, run_errors),
            }
        }
        let swept: Vec<&str> = self.spec.parameters.iter().map(|(path, _)| path.as_str()).collect();
        errors.finish(&swept).map(|()| built)
    }

    /// One run: on failure, its name and the config's errors.
    fn build_run(
        &self,
        values: &[Value],
        seed: Option<u64>,
    ) -> Result<SweepRun, (String, Vec<FieldError>)> {
        let mut json = self.base.clone();
        let mut params = Map::new();
        let mut parts = Vec::new();
        for (target, value) in self.targets.iter().zip(values) {
            set(&mut json, &target.pointer, value.clone());
            if target.varies {
                parts.push(format!("{}={}", target.path, display(value)));
                params.insert(target.path.clone(), value.clone());
            }
        }
        if let Some(seed) = seed {
            set(&mut json, "/seed", Value::from(seed));
            parts.push(format!("seed={seed}"));
            params.insert("seed".to_owned(), Value::from(seed));
        }
        let name = if parts.is_empty() { "base".to_owned() } else { parts.join(",") };
        let config = match serde_json::from_value::<RunConfig>(json.clone()) {
            Ok(config) => config,
            Err(e) => return Err((name, vec![field_error("parameters", e.to_string())])),
        };
        // Swept keys this run's method or model ignores keep the base's value
        // and leave its name and params: they would say something untrue.
        let ignored: Vec<&Target> = self.targets.iter().filter(|t| t.varies && config.ignores(&t.path)).collect();
        if !ignored.is_empty() {
            for target in &ignored {
                if let Some(base) = self.base.pointer(&target.pointer) {
                    set(&mut json, &target.pointer, base.clone());
                }
                params.remove(&target.path);
            }
            parts.retain(|part| !ignored.iter().any(|t| part.strip_prefix(t.path.as_str()).is_some_and(|r| r.starts_with('='))));
            let name = if parts.is_empty() { "base".to_owned() } else { parts.join(",") };
            let config = serde_json::from_value::<RunConfig>(json).expect("the base's own values parse where the swept ones did");
            return match config.checked() {
                Ok(config) => Ok(SweepRun { config, params, name }),
                Err(errors) => Err((name, errors)),
            };
        }
        // Step sizes relative to ε are evaluated at this run's ε.
        match config.checked() {
            Ok(config) => Ok(SweepRun { config, params, name }),
            Err(errors) => Err((name, errors)),
        }
    }
}

/// Every combination, the first axis outermost and the last varying fastest.
fn cartesian(axes: impl Iterator<Item = Vec<Value>>) -> Vec<Vec<Value>> {
    axes.fold(vec![Vec::new()], |rows, axis| {
        rows.into_iter()
            .flat_map(|row| {
                axis.iter().map(move |value| {
                    let mut row = row.clone();
                    row.push(value.clone());
                    row
                })
            })
            .collect()
    })
}

/// Config errors across runs, merged so that one bad value that fails a
/// hundred runs is reported once, with the first run that hit it.
#[derive(Default)]
struct RunErrors {
    failures: Vec<Failure>,
    /// (field, message) → index in `failures`.
    index: HashMap<(String, String), usize>,
}

/// One distinct config error and the runs it occurred in.
struct Failure {
    error: FieldError,
    first_run: usize,
    first_name: String,
    other_runs: usize,
}

impl RunErrors {
    fn add(&mut self, run: usize, name: String, errors: Vec<FieldError>) {
        for error in errors {
            let key = (error.field.clone(), error.message.clone());
            match self.index.get(&key) {
                Some(&i) => self.failures[i].other_runs += 1,
                None => {
                    self.index.insert(key, self.failures.len());
                    let first_name = name.clone();
                    self.failures.push(Failure {
                        error,
                        first_run: run,
                        first_name,
                        other_runs: 0,
                    });
                }
            }
        }
    }

    /// `swept`: the parameters' paths. An error in a value that is not swept
    /// is the same in every run, so naming a run would only confuse.
    fn finish(self, swept: &[&str]) -> Result<(), SweepError> {
        if self.failures.is_empty() {
            return Ok(());
        }
        let errors = self.failures.into_iter().map(|f| {
            if !swept.iter().any(|p| f.error.field == *p || f.error.field.starts_with(&format!("{p}."))) {
                return f.error;
            }
            let more = match f.other_runs {
                0 => String::new(),
                1 => ", and 1 more run".to_owned(),
                n => format!(", and {n} more runs"),
            };
            let message =
                format!("{} (in run {}: {}{more})", f.error.message, f.first_run, f.first_name);
            FieldError { field: f.error.field, message }
        });
        Err(SweepError { errors: errors.collect() })
    }
}

/// `base`'s leaves as dotted paths: `{aom: {steps: 5}}` → `aom.steps = 5`.
/// No config field takes an object, so every object is a section to descend.
fn flatten(prefix: &str, object: &Map<String, Value>, leaves: &mut Vec<(String, Value)>) {
    for (key, value) in object {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(inner) => flatten(&path, inner, leaves),
            leaf => leaves.push((path, leaf.clone())),
        }
    }
}

/// The JSON pointer of a dotted config path, if the path names a field of the
/// default config; otherwise says which part is unknown and what exists there.
fn field_pointer(defaults: &Value, path: &str) -> Result<String, String> {
    let mut node = defaults;
    let mut walked: Vec<&str> = Vec::new();
    for key in path.split('.') {
        let section = match walked.as_slice() {
            [] => "the run config".to_owned(),
            keys => format!("`{}`", keys.join(".")),
        };
        let Value::Object(fields) = node else {
            return Err(format!("{section} is a value, not a section with fields"));
        };
        let Some(next) = fields.get(key) else {
            let known: Vec<&str> = fields.keys().map(String::as_str).collect();
            return Err(format!(
                "`{key}` is not a field of {section}; its fields are {}",
                known.join(", ")
            ));
        };
        node = next;
        walked.push(key);
    }
    if let Value::Object(fields) = node {
        let names: Vec<String> = fields.keys().map(|k| format!("{path}.{k}")).collect();
        return Err(format!("`{path}` is a section; name one of its fields: {}", names.join(", ")));
    }
    Ok(walked.iter().map(|key| format!("/{key}")).collect())
}

/// Whether `value` deserializes at `pointer` (else serde's complaint).
fn fits(defaults: &Value, pointer: &str, value: &Value) -> Result<(), String> {
    let mut json = defaults.clone();
    set(&mut json, pointer, value.clone());
    serde_json::from_value::<RunConfig>(json)
        .map(|_| ())
        .map_err(|e| format!("{} does not fit this field: {e}", display(value)))
}

/// Sets the value at a pointer that [`field_pointer`] has resolved, so the
/// slot always exists.
fn set(json: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = json.pointer_mut(pointer) {
        *slot = value;
    }
}

/// A value as it reads in a run name: strings bare, everything else as JSON.
fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A stream for one parameter: the sweep's seed mixed with an FNV-1a hash of
/// the path, so adding a parameter leaves the others' samples unchanged.
fn keyed_rng(seed: u64, path: &str) -> SplitMix64 {
    let hash = path.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    SplitMix64::new(SplitMix64::new(seed).next_u64() ^ hash)
}

/// `parameters` as a list of entries, so the spec's order survives parsing
/// (serde_json's `Map` sorts its keys).
mod ordered_map {
    use std::fmt;

    use serde::de::{Error, MapAccess, Visitor};
    use serde::{Deserializer, Serializer};

    use super::Parameter;

    pub fn serialize<S: Serializer>(
        entries: &[(String, Parameter)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(entries.iter().map(|(k, v)| (k, v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(String, Parameter)>, D::Error> {
        d.deserialize_map(EntriesVisitor)
    }

    struct EntriesVisitor;

    impl<'de> Visitor<'de> for EntriesVisitor {
        type Value = Vec<(String, Parameter)>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map from config path to {values: [...]}, {value: x} or {min, max}")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries: Vec<(String, Parameter)> = Vec::new();
            while let Some((path, parameter)) = map.next_entry::<String, Parameter>()? {
                if entries.iter().any(|(seen, _)| *seen == path) {
                    return Err(A::Error::custom(format!(
                        "parameter `{path}` is listed twice; keep one"
                    )));
                }
                entries.push((path, parameter));
            }
            Ok(entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::{AomLabels, Dataset, Method, Model};

    fn spec(yaml: &str) -> SweepSpec {
        SweepSpec::from_yaml(yaml).unwrap()
    }

    fn expand(yaml: &str) -> Vec<SweepRun> {
        spec(yaml).expand(DEFAULT_MAX_RUNS).unwrap()
    }

    #[test]
    fn the_run_limit_counts_runs_after_merging() {
        let yaml = "method: grid\nparameters:\n  method: {values: [pgd_at, aom]}\n  aom.labels: {values: [ratio, geometric]}\nseeds: [0, 1]";
        // 8 combinations make 6 runs: the limit of 6 holds.
        assert_eq!(spec(yaml).expand(6).unwrap().len(), 6);
        let err = spec(yaml).expand(5).unwrap_err();
        assert_eq!(err.errors[0].field, "parameters");
        assert!(
            err.errors[0].message.starts_with("the sweep would create 6 runs (4 configs × 2 seeds, 2 of them merged"),
            "{err:?}"
        );
        // Far over the limit, nothing is built: the count alone refuses it.
        let err = spec(yaml).expand(1).unwrap_err();
        assert!(err.errors[0].message.starts_with("the sweep would create 8 runs (4 configs × 2 seeds)"), "{err:?}");
    }

    #[test]
    fn a_grid_makes_each_config_once_when_a_method_ignores_a_swept_key() {
        // The README's own example: aom.labels means nothing to pgd_at.
        let runs = expand(
            "method: grid\nparameters:\n  method: {values: [pgd_at, aom]}\n  aom.labels: {values: [ratio, geometric]}\nseeds: [0, 1]",
        );
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "method=pgd_at,seed=0",
                "method=pgd_at,seed=1",
                "method=aom,aom.labels=ratio,seed=0",
                "method=aom,aom.labels=ratio,seed=1",
                "method=aom,aom.labels=geometric,seed=0",
                "method=aom,aom.labels=geometric,seed=1",
            ]
        );
        assert!(!runs[0].params.contains_key("aom.labels"), "{:?}", runs[0].params);
        assert_eq!(runs[0].config.aom.labels, RunConfig::default().aom.labels, "the ignored key keeps the base's value");
        let spec = spec("method: grid\nparameters:\n  method: {values: [pgd_at, aom]}\n  aom.labels: {values: [ratio, geometric]}\nseeds: [0, 1]");
        assert_eq!(spec.run_count().unwrap() - runs.len(), 2, "two merged");

        // Depth and width matter only to a WideResNet; random draws are left as drawn.
        let runs = expand("method: grid\nparameters:\n  model: {values: [small_cnn, wide_resnet]}\n  depth: {values: [16, 22]}");
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["model=small_cnn", "model=wide_resnet,depth=16", "model=wide_resnet,depth=22"]);
        let random = expand("method: random\ncount: 6\nparameters:\n  method: {values: [erm]}\n  pgd_steps: {values: [1, 2]}");
        assert_eq!(random.len(), 6);
        assert!(random.iter().all(|r| r.name == "base"), "{:?}", random.iter().map(|r| &r.name).collect::<Vec<_>>());
    }

    #[test]
    fn ignored_keys_follow_what_each_method_and_model_reads() {
        let config = |method, model| RunConfig { method, model, ..RunConfig::default() };
        assert!(config(Method::PgdAt, Model::SmallCnn).ignores("aom.labels"));
        assert!(config(Method::PgdAt, Model::SmallCnn).ignores("depth"));
        assert!(!config(Method::PgdAt, Model::SmallCnn).ignores("pgd_steps"));
        assert!(!config(Method::Aom, Model::WideResnet).ignores("aom.labels"));
        assert!(config(Method::Aom, Model::WideResnet).ignores("pgd_steps"));
        assert!(!config(Method::Aom, Model::WideResnet).ignores("widen_factor"));
        assert!(config(Method::Erm, Model::PreactResnet18).ignores("mixup_alpha"));
        assert!(!config(Method::Erm, Model::PreactResnet18).ignores("epsilon"), "evaluation reads ε for every method");
        assert!(!config(Method::Erm, Model::PreactResnet18).ignores("aomx"), "a prefix is a whole key");
    }

    #[test]
    fn an_infinite_value_is_refused_at_its_field() {
        let e = SweepSpec::from_yaml("parameters:\n  lr_max: {min: 0.01, max: .inf}\nmethod: random\ncount: 2")
            .unwrap_err();
        assert_eq!(e.errors[0].field, "parameters.lr_max.max", "{e}");
        assert!(e.to_string().contains("finite"), "{e}");
        let e = SweepSpec::from_yaml("parameters:\n  lr_max: {values: [0.1, .NaN]}").unwrap_err();
        assert_eq!(e.errors[0].field, "parameters.lr_max.values[1]", "{e}");
    }

    #[test]
    fn a_name_with_a_nul_is_refused() {
        let e = expand_err("name: \"a\\0b\"\nmethod: grid\nparameters: {lr_max: {values: [0.1, 0.2]}}");
        assert_eq!(e.errors[0].field, "name", "{e}");
    }

    fn expand_err(yaml: &str) -> SweepError {
        spec(yaml).expand(DEFAULT_MAX_RUNS).unwrap_err()
    }

    fn fields(error: &SweepError) -> Vec<&str> {
        error.errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn floats(runs: &[SweepRun], path: &str) -> Vec<f64> {
        runs.iter().map(|r| r.params[path].as_f64().unwrap()).collect()
    }

    #[test]
    fn grid_is_the_cartesian_product_in_spec_order() {
        let runs = expand(
            "method: grid
parameters:
  method: {values: [pgd_at, aom]}
  aom.labels: {values: [ratio, geometric]}
  epsilon: {value: 0.0313}",
        );
        let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        // pgd_at ignores aom.labels: its one config is made once.
        assert_eq!(names, ["method=pgd_at", "method=aom,aom.labels=ratio", "method=aom,aom.labels=geometric"]);
        assert_eq!(runs[2].config.method, Method::Aom);
        assert_eq!(runs[2].config.aom.labels, AomLabels::Geometric);
        assert!(runs.iter().all(|r| r.config.epsilon == 0.0313));
        // A fixed value is applied but is not one of the run's varying params.
        assert_eq!(runs[2].params.keys().collect::<Vec<_>>(), ["method", "aom.labels"], "spec order");
        assert_eq!(runs[2].params["method"], "aom");
    }

    #[test]
    fn seeds_multiply_and_otherwise_base_seed_is_kept() {
        let runs = expand(
            "method: grid
parameters: {lr_max: {values: [0.1, 0.05]}}
seeds: [0, 1, 2]",
        );
        assert_eq!(runs.len(), 6);
        let seeds: Vec<u64> = runs.iter().map(|r| r.config.seed).collect();
        assert_eq!(seeds, [0, 1, 2, 0, 1, 2]);
        assert_eq!(runs[4].name, "lr_max=0.05,seed=1");
        assert_eq!(runs[4].params["seed"], 1);

        let runs =
            expand("method: grid\nbase: {seed: 7}\nparameters: {lr_max: {values: [0.1, 0.05]}}");
        assert!(runs.iter().all(|r| r.config.seed == 7 && !r.params.contains_key("seed")));
    }

    #[test]
    fn grid_ranges_expand_to_evenly_spaced_points() {
        let runs = expand(
            "method: grid\nbase: {method: mixup}\nparameters: {mixup_alpha: {min: 0.2, max: 2.0, count: 4}}",
        );
        assert_eq!(floats(&runs, "mixup_alpha"), [0.2, 0.8, 1.4, 2.0]);
        assert_eq!(runs[1].name, "mixup_alpha=0.8");
        // The default method, pgd_at, never reads mixup_alpha: one run, not four.
        let runs = expand("method: grid\nparameters: {mixup_alpha: {min: 0.2, max: 2.0, count: 4}}");
        assert_eq!(runs.len(), 1);

        let runs = expand(
            "method: grid\nparameters: {lr_max: {min: 0.001, max: 0.1, count: 3, distribution: log_uniform_values}}",
        );
        assert_eq!(floats(&runs, "lr_max"), [0.001, 0.01, 0.1]);

        let runs = expand("method: grid\nparameters: {pgd_steps: {min: 3, max: 10, count: 4}}");
        let steps: Vec<u32> = runs.iter().map(|r| r.config.pgd_steps).collect();
        assert_eq!(steps, [3, 5, 8, 10]);

        // More points than integers in the range: each integer once.
        let s = spec(
            "method: grid\nparameters: {pgd_steps: {min: 1, max: 3, count: 5, distribution: int_uniform}}",
        );
        let steps: Vec<u32> = s.expand(10).unwrap().iter().map(|r| r.config.pgd_steps).collect();
        assert_eq!(steps, [1, 2, 3]);
        assert_eq!(s.run_count().unwrap(), 3);
    }

    #[test]
    fn grid_range_without_count_says_what_to_do() {
        let e = expand_err("method: grid\nparameters: {lr_max: {min: 0.01, max: 0.2}}");
        assert_eq!(fields(&e), ["parameters.lr_max"]);
        assert!(e.to_string().contains("count") && e.to_string().contains("method: random"), "{e}");
    }

    const RANDOM: &str = "method: random
count: 200
random_seed: 7
parameters:
  method: {values: [pgd_at, trades, aom]}
  lr_max: {min: 0.01, max: 0.2, distribution: log_uniform_values}
  mixup_alpha: {min: 0.5, max: 1.5}
  pgd_steps: {min: 3, max: 10, distribution: int_uniform}
  epsilon: {value: 0.03}";

    #[test]
    fn random_is_deterministic_and_within_bounds() {
        let runs = expand(RANDOM);
        assert_eq!(runs, expand(RANDOM));
        assert_ne!(runs, expand(&RANDOM.replace("random_seed: 7", "random_seed: 8")));
        assert_eq!(runs.len(), 200);
        for run in &runs {
            let c = &run.config;
            assert!((0.01..=0.2).contains(&c.lr_max), "{}", c.lr_max);
            // A draw the method ignores is not applied, nor named.
            assert_eq!(c.ignores("mixup_alpha"), !run.params.contains_key("mixup_alpha"));
            assert_eq!(c.ignores("pgd_steps"), !run.params.contains_key("pgd_steps"));
            if !c.ignores("mixup_alpha") {
                assert!((0.5..=1.5).contains(&c.mixup_alpha), "{}", c.mixup_alpha);
            }
            if !c.ignores("pgd_steps") {
                assert!((3..=10).contains(&c.pgd_steps), "{}", c.pgd_steps);
                assert!(run.params["pgd_steps"].is_u64());
            }
            assert_eq!(c.epsilon, 0.03);
        }
        // Log-uniform: about as many draws below the geometric mean as above.
        let below = runs.iter().filter(|r| r.config.lr_max < (0.01f64 * 0.2).sqrt()).count();
        assert!((60..140).contains(&below), "{below} of 200 below the geometric mean");
        let steps: std::collections::HashSet<u32> =
            runs.iter().filter(|r| !r.config.ignores("pgd_steps")).map(|r| r.config.pgd_steps).collect();
        assert_eq!(steps.len(), 8, "every integer in [3, 10] is drawn");
        let methods: std::collections::HashSet<Method> =
            runs.iter().map(|r| r.config.method).collect();
        assert_eq!(methods.len(), 3);
    }

    #[test]
    fn random_needs_count_and_refuses_grid_only_fields() {
        let e = expand_err("method: random\nparameters: {lr_max: {min: 0.01, max: 0.2, count: 3}}");
        assert_eq!(fields(&e), ["count", "parameters.lr_max"]);
        let e = expand_err("method: grid\ncount: 3\nrandom_seed: 1");
        assert_eq!(fields(&e), ["count", "random_seed"]);
    }

    #[test]
    fn unknown_paths_are_refused_by_name() {
        let e = expand_err(
            "method: grid
parameters:
  aom.stpes: {values: [1, 2]}
  epsilonn: {value: 0.1}
  aom: {value: 3}",
        );
        assert_eq!(fields(&e), ["parameters.aom.stpes", "parameters.epsilonn", "parameters.aom"]);
        let text = e.to_string();
        assert!(
            text.contains("`stpes` is not a field of `aom`") && text.contains("steps"),
            "{text}"
        );
        assert!(
            text.contains("`aom` is a section; name one of its fields")
                && text.contains("aom.steps"),
            "{text}"
        );
    }

    #[test]
    fn wrong_types_are_refused_naming_the_parameter() {
        let e = expand_err(
            "method: grid
parameters:
  method: {values: [pgd_at, fgsm]}
  pgd_steps: {min: 3, max: 10, count: 3, distribution: uniform}
  lr_max: {min: 0.3, max: 0.1, count: 3}",
        );
        assert_eq!(fields(&e), ["parameters.method", "parameters.pgd_steps", "parameters.lr_max"]);
        let text = e.to_string();
        assert!(text.contains("fgsm"), "{text}");
        assert!(text.contains("int_uniform"), "{text}");
        assert!(text.contains("swap"), "{text}");
    }

    #[test]
    fn an_invalid_generated_config_refuses_the_whole_sweep() {
        let e =
            expand_err("method: grid\nparameters: {epsilon: {values: [0.1, -1]}}\nseeds: [0, 1]");
        assert_eq!(fields(&e), ["epsilon"]);
        let message = &e.errors[0].message;
        assert!(message.contains("in run 2: epsilon=-1,seed=0, and 1 more run)"), "{message}");
    }

    #[test]
    fn over_the_limit_is_refused_before_generating() {
        let paths = [
            "epsilon",
            "lr_max",
            "momentum",
            "weight_decay",
            "pgd_step",
            "mixup_alpha",
            "trades_beta",
            "aom.lambda_step",
            "aom.clean_weight",
            "eval.pgd_step",
        ];
        let values = "{values: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]}";
        let params: Vec<String> = paths.iter().map(|p| format!("  {p}: {values}")).collect();
        let s = spec(&format!("method: grid\nparameters:\n{}", params.join("\n")));

        let start = Instant::now();
        let e = s.expand(1000).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
        assert_eq!(s.run_count().unwrap(), 10_000_000_000);
        assert_eq!(fields(&e), ["parameters"]);
        let text = e.to_string();
        assert!(text.contains("10000000000 runs") && text.contains("limit of 1000"), "{text}");
        assert!(text.contains("method: random"), "{text}");

        let e = spec("method: random\ncount: 600\nseeds: [1, 2]").expand(1000).unwrap_err();
        assert!(e.to_string().contains("1200 runs (600 configs × 2 seeds)"), "{e}");
    }

    #[test]
    fn yaml_and_json_parse_to_the_same_spec() {
        let yaml = "name: aom-lambda
method: grid
base: {dataset: digits, epochs: 10}
parameters:
  method: {values: [pgd_at, aom]}
  aom.labels: {values: [ratio, geometric]}
  mixup_alpha: {min: 0.2, max: 2.0, count: 4, distribution: uniform}
seeds: [0, 1]
metric: {name: test_pgd_acc, goal: maximize}";
        let json = r#"{"name": "aom-lambda", "method": "grid",
            "base": {"dataset": "digits", "epochs": 10},
            "parameters": {
                "method": {"values": ["pgd_at", "aom"]},
                "aom.labels": {"values": ["ratio", "geometric"]},
                "mixup_alpha": {"min": 0.2, "max": 2.0, "count": 4, "distribution": "uniform"}},
            "seeds": [0, 1],
            "metric": {"name": "test_pgd_acc", "goal": "maximize"}}"#;
        let from_yaml = SweepSpec::parse(yaml).unwrap();
        assert_eq!(from_yaml, SweepSpec::parse(json).unwrap());
        assert_eq!(from_yaml.metric.as_ref().unwrap().goal, Goal::Maximize);
        let round_trip = SweepSpec::from_json(&serde_json::to_string(&from_yaml).unwrap()).unwrap();
        assert_eq!(round_trip, from_yaml);
        assert_eq!(from_yaml.varying(), ["method", "aom.labels", "mixup_alpha", "seed"]);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let e = SweepSpec::parse(r#"{"method": "grid", "paramters": {}}"#).unwrap_err();
        assert!(e.to_string().contains("JSON") && e.to_string().contains("paramters"), "{e}");
        let e = SweepSpec::parse("method: bayesian").unwrap_err();
        assert!(e.to_string().contains("YAML") && e.to_string().contains("bayesian"), "{e}");
        let e = SweepSpec::parse("method: grid\nparameters: {lr_max: {value: 0.1, vaules: [1]}}")
            .unwrap_err();
        assert!(e.to_string().contains("vaules"), "{e}");
    }

    #[test]
    fn nested_paths_and_base_merge() {
        let runs = expand(
            "method: grid
base: {dataset: digits, model: small_cnn, epochs: 10, aom: {labels: geometric}, eval: {n: all}}
parameters:
  method: {value: aom}
  aom.steps: {min: 2, max: 6, count: 3}",
        );
        let steps: Vec<u32> = runs.iter().map(|r| r.config.aom.steps).collect();
        assert_eq!(steps, [2, 4, 6]);
        let c = &runs[0].config;
        assert_eq!((c.dataset, c.model, c.epochs), (Dataset::Digits, Model::SmallCnn, 10));
        assert_eq!(c.aom.labels, AomLabels::Geometric);
        // Merged, not replaced: untouched fields of the section keep their defaults.
        assert_eq!(c.aom.lambda_max, RunConfig::default().aom.lambda_max);
        assert_eq!(c.eval.pgd_steps, RunConfig::default().eval.pgd_steps);
        assert_eq!(runs[0].name, "aom.steps=2");

        let e = expand_err("method: grid\nbase: {aom: {stpes: 3}, epochs: ten}");
        assert_eq!(fields(&e), ["base.aom.stpes", "base.epochs"]);
    }

    #[test]
    fn run_count_matches_expansion() {
        let grid = "method: grid
parameters:
  method: {values: [pgd_at, trades]}
  pgd_steps: {min: 1, max: 4, count: 9}
  lr_max: {min: 0.01, max: 0.1, count: 3, distribution: log_uniform_values}
seeds: [3, 4]";
        for text in [grid, RANDOM, "method: grid"] {
            let s = spec(text);
            assert_eq!(s.run_count().unwrap(), s.expand(DEFAULT_MAX_RUNS).unwrap().len(), "{text}");
        }
        assert_eq!(spec(grid).run_count().unwrap(), 2 * 4 * 3 * 2);
        assert_eq!(expand("method: grid")[0].name, "base");
    }

    #[test]
    fn early_terminate_is_checked_against_the_runs_epochs() {
        let e = expand_err("method: grid\nearly_terminate: {type: asha, min_epochs: 0}");
        assert_eq!(fields(&e), ["early_terminate.min_epochs"]);
        let asha = "early_terminate: {type: asha, min_epochs: 5}";
        let e = expand_err(&format!("method: grid\nbase: {{epochs: 5}}\n{asha}"));
        assert_eq!(fields(&e), ["early_terminate.min_epochs"]);
        assert!(e.to_string().contains("5 epochs"), "{e}");
        // Swept epochs: the longest runs have a rung, so rungs exist.
        let swept = "parameters: {epochs: {values: [2, 20]}}";
        expand(&format!("method: grid\nbase: {{epochs: 5}}\n{swept}\n{asha}"));
        let e = expand_err(&format!(
            "method: random\ncount: 2\nparameters: {{epochs: {{min: 2, max: 5}}}}\n{asha}"
        ));
        assert!(e.to_string().contains("longest runs' 5 epochs"), "{e}");
        // A refused `epochs` is reported once, not again as a missing rung.
        let e = expand_err(&format!("method: grid\nbase: {{epochs: ten}}\n{asha}"));
        assert_eq!(fields(&e), ["base.epochs"]);
    }

    #[test]
    fn grids_space_each_bounded_distribution_in_its_own_coordinate() {
        let lr = |parameter: &str| {
            floats(&expand(&format!("method: grid\nparameters: {{weight_decay: {parameter}}}")), "weight_decay")
        };
        let decades = [0.001, 0.01, 0.1];
        // Exponents ln 0.001 and ln 0.1, or the values: the same points by ratio.
        assert_eq!(lr("{distribution: log_uniform, min: -6.907755278982137, max: -2.302585092994046, count: 3}"), decades);
        assert_eq!(lr("{distribution: log_uniform_values, min: 0.001, max: 0.1, count: 3}"), decades);
        assert_eq!(lr("{distribution: inv_log_uniform, min: 2.302585092994046, max: 6.907755278982137, count: 3}"), decades);
        assert_eq!(lr("{distribution: inv_log_uniform_values, min: 0.001, max: 0.1, count: 3}"), decades);
        // q_uniform: evenly spaced multiples of q, each once.
        assert_eq!(lr("{distribution: q_uniform, min: 0, max: 1, q: 0.25, count: 3}"), [0.0, 0.5, 1.0]);
        assert_eq!(lr("{distribution: q_uniform, min: 0, max: 1, q: 0.25, count: 9}"), [0.0, 0.25, 0.5, 0.75, 1.0]);
        // Without a count, W&B's grid: min, min + q, ... below max.
        assert_eq!(lr("{distribution: q_uniform, min: 0, max: 1, q: 0.25}"), [0.0, 0.25, 0.5, 0.75]);

        let steps = |parameter: &str| -> Vec<u32> {
            let runs = expand(&format!("method: grid\nparameters: {{pgd_steps: {parameter}}}"));
            assert!(runs.iter().all(|r| r.params["pgd_steps"].is_u64()), "{parameter}");
            runs.iter().map(|r| r.config.pgd_steps).collect()
        };
        assert_eq!(steps("{min: 3, max: 6}"), [3, 4, 5, 6], "int_uniform without a count: every integer, as W&B");
        assert_eq!(steps("{distribution: q_uniform, min: 2, max: 10, q: 2}"), [2, 4, 6, 8]);
        // By ratio, rounded to whole numbers: the dense low end merges.
        let grid = "method: grid\nparameters: {pgd_steps: {distribution: q_log_uniform_values, min: 1, max: 100, count: 20}}";
        let points = steps("{distribution: q_log_uniform_values, min: 1, max: 100, count: 20}");
        assert!(points.windows(2).all(|w| w[0] < w[1]), "distinct and ascending: {points:?}");
        assert_eq!((points[0], points[points.len() - 1]), (1, 100));
        assert!(points.len() < 20, "{points:?}");
        assert_eq!(spec(grid).run_count().unwrap(), points.len());
    }

    #[test]
    fn grids_refuse_what_they_cannot_space_and_say_what_to_write() {
        let cases = [
            ("trades_beta: {distribution: normal, mu: 6, sigma: 1}", "list the points with `values: [...]`"),
            ("trades_beta: {distribution: q_log_normal, q: 1}", "draw them with `method: random`"),
            ("lr_schedule: {values: [piecewise, cosine], probabilities: [0.5, 0.5]}", "remove `probabilities`"),
            ("lr_max: {distribution: log_uniform_values, min: 0.01, max: 0.1}", "add `count: N`"),
            ("lr_max: {distribution: q_uniform, min: 1, max: 1}", "use `value: x`"),
        ];
        for (parameter, advice) in cases {
            let e = expand_err(&format!("method: grid\nparameters: {{{parameter}}}"));
            let path = parameter.split(':').next().unwrap();
            assert_eq!(fields(&e), [format!("parameters.{path}")], "{e}");
            assert!(e.to_string().contains(advice), "{parameter}: {e}");
        }
    }

    #[test]
    fn fields_that_take_whole_numbers_refuse_fractional_distributions() {
        let cases = [
            ("{distribution: log_uniform_values, min: 1, max: 100}", "q_log_uniform_values"),
            ("{distribution: log_uniform, min: 0, max: 4}", "q_log_uniform"),
            ("{distribution: q_uniform, min: 1, max: 10, q: 0.5}", "give `q` a whole number"),
            ("{distribution: normal, mu: 5, sigma: 1}", "q_normal"),
        ];
        for (parameter, advice) in cases {
            let e = expand_err(&format!("method: random\ncount: 2\nparameters: {{pgd_steps: {parameter}}}"));
            assert_eq!(fields(&e), ["parameters.pgd_steps"]);
            assert!(e.to_string().contains("takes whole numbers") && e.to_string().contains(advice), "{e}");
        }
        let runs = expand("method: random\ncount: 20\nparameters: {pgd_steps: {distribution: q_normal, mu: 6, sigma: 1}}");
        assert!(runs.iter().all(|r| r.params["pgd_steps"].is_u64()), "q_normal with q 1 fits");
    }

    #[test]
    fn log_uniform_values_draws_what_advmixs_old_log_uniform_drew() {
        // docs/api.md's random example, written with the old `log_uniform`
        // before W&B's meaning: the renamed spec makes the same runs.
        let runs = SweepSpec::from_json(
            r#"{"name": "mixup-lr-search", "method": "random", "count": 3, "random_seed": 7,
                "base": {"method": "mixup", "model": "small_cnn", "dataset": "digits",
                         "epochs": 2, "batch_size": 128, "eval": {"n": 100}},
                "parameters": {
                  "lr_max": {"min": 0.01, "max": 0.2, "distribution": "log_uniform_values"},
                  "mixup_alpha": {"min": 0.2, "max": 2.0},
                  "lr_schedule": {"values": ["piecewise", "cosine"]}},
                "seeds": [0, 1]}"#,
        )
        .unwrap()
        .expand(DEFAULT_MAX_RUNS)
        .unwrap();
        assert_eq!(runs[0].name, "lr_max=0.114296798105,mixup_alpha=1.32035271466,lr_schedule=cosine,seed=0");
    }

    /// W&B's documented sweep shapes, with advmix's config paths and metric.
    const WANDB_RANDOM: &str = "program: train.py
entity: my-team
project: advmix-robustness
description: learning rate and regularisation, W&B style
command:
  - ${env}
  - python
  - ${program}
  - ${args}
method: random
count: 40
random_seed: 3
metric:
  name: test_pgd_acc
  goal: maximize
base: {method: trades, model: small_cnn, dataset: digits, epochs: 2}
parameters:
  lr_max:
    distribution: log_uniform
    min: -6.9078
    max: -1.6094
  momentum:
    distribution: uniform
    min: 0.8
    max: 0.95
  weight_decay:
    distribution: log_uniform_values
    min: 0.0001
    max: 0.001
  pgd_steps:
    distribution: q_uniform
    min: 2
    max: 10
    q: 2
  trades_beta:
    distribution: q_normal
    mu: 6
    sigma: 1
    q: 0.5
  lr_schedule:
    distribution: categorical
    values: [piecewise, cosine]
    probabilities: [0.7, 0.3]
  epsilon:
    distribution: constant
    value: 0.0314
";

    #[test]
    fn a_w_and_b_random_sweep_parses_unchanged_and_expands() {
        let s = spec(WANDB_RANDOM);
        assert_eq!(s.ignored_keys(), ["program", "command", "entity", "project", "description"]);
        let runs = s.expand(DEFAULT_MAX_RUNS).unwrap();
        assert_eq!(runs.len(), 40);
        for run in &runs {
            let c = &run.config;
            assert!((0.000_999_9..=0.200_01).contains(&c.lr_max), "exp of the exponents: {}", c.lr_max);
            assert!((0.8..=0.95).contains(&c.momentum) && (0.0001..=0.001).contains(&c.weight_decay), "{}", run.name);
            assert!([2, 4, 6, 8, 10].contains(&c.pgd_steps), "{}", c.pgd_steps);
            assert_eq!((c.trades_beta / 0.5).fract(), 0.0, "{}", c.trades_beta);
            assert_eq!(c.epsilon, 0.0314);
        }
        let cosine = runs.iter().filter(|r| r.params["lr_schedule"] == "cosine").count();
        assert!((4..=20).contains(&cosine), "{cosine} of 40 at probability 0.3");

        let notes = s.notes();
        assert_eq!(notes.len(), 4, "{notes:#?}");
        assert_eq!(notes[0], "`program` and `command` are W&B settings advmix does not use; they were ignored (advmix runs its own trainer).");
        assert!(notes[1].contains("`entity` and `project`") && notes[2].contains("`description`"), "{notes:#?}");
        assert!(
            notes[3].starts_with("`parameters.lr_max`: `log_uniform` takes natural-log exponents")
                && notes[3].contains("from 0.001 to 0.2")
                && notes[3].contains("write `log_uniform_values`"),
            "{}",
            notes[3]
        );

        // Stored as JSON and parsed again, it is the same spec.
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""program":"train.py""#), "{json}");
        assert_eq!(SweepSpec::from_json(&json).unwrap(), s);
        assert_eq!(spec("method: grid").notes(), Vec::<String>::new());
        assert_eq!(
            spec("method: grid\nproject: p").notes(),
            ["`project` names a W&B workspace, which advmix does not use; it was ignored (the sweep lives on this server)."]
        );
    }

    #[test]
    fn a_w_and_b_grid_sweep_parses_unchanged_and_expands() {
        let s = spec(
            "program: train.py
method: grid
metric:
  name: test_pgd_acc
  goal: maximize
parameters:
  method:
    values: [pgd_at, trades]
  pgd_steps:
    distribution: int_uniform
    min: 3
    max: 5
  epsilon:
    value: 0.0314
",
        );
        let names: Vec<String> = s.expand(DEFAULT_MAX_RUNS).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names.len(), 6);
        assert_eq!(names[0], "method=pgd_at,pgd_steps=3");
        assert_eq!(names[5], "method=trades,pgd_steps=5");
    }

    #[test]
    fn seeds_must_be_distinct_and_not_also_a_parameter() {
        let e = expand_err("method: grid\nparameters: {seed: {values: [1, 2]}}\nseeds: [1, 1]");
        assert_eq!(fields(&e), ["seeds", "parameters.seed"]);
    }
}

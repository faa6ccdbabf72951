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
//!   lr_max: {min: 0.01, max: 0.2, distribution: log_uniform} # random, bayes: sampled
//! seeds: [0, 1, 2]                 # every config once per seed
//! metric: {name: test_pgd_acc, goal: maximize}   # bayes: the objective
//! ```
//!
//! A range's `distribution` is `uniform`, `log_uniform` or `int_uniform`; left
//! out, it is `int_uniform` when `min` and `max` are both whole-number literals
//! and `uniform` otherwise. Unlike W&B's `log_uniform`, whose bounds are
//! exponents, `min` and `max` here are always the values themselves.
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
pub mod early_terminate;
pub mod metric;

pub use bayes::Observation;
pub use early_terminate::EarlyTerminate;
pub use metric::EpochMetric;

/// The most runs [`SweepSpec::expand`] is normally allowed to create.
pub const DEFAULT_MAX_RUNS: usize = 1000;

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

/// What one config path is varied over: exactly one of `values`, `value`, or a
/// `min`/`max` range (with `count` in a grid, and an optional `distribution`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Uniform,
    LogUniform,
    IntUniform,
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
        // Counted before anything is generated, so a huge grid is refused at once.
        let runs = plan.run_count()?;
        if runs > max_runs {
            return Err(plan.over_limit(runs, max_runs));
        }
        plan.build_runs(&plan.configs(), 0)
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
    /// checks, when a refused `epochs` leaves the length unknown.
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
            Some(Domain::List(values)) => values.iter().filter_map(as_epochs).collect(),
            Some(Domain::Range(range, _)) => {
                let (min, max) = range.bounds();
                [min, max].iter().filter_map(as_epochs).collect()
            }
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

/// Refuses text nested too deep to be a spec, before a parser spends time
/// on it.
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
            _ => true,
        }
    }

    fn domain(&self) -> Result<Domain, String> {
        let has_range = self.min.is_some() || self.max.is_some();
        let given = [self.values.is_some(), self.value.is_some(), has_range];
        if given.into_iter().filter(|&b| b).count() != 1 {
            return Err(
                "give exactly one of `values: [...]`, `value: x`, or `min` and `max`".into()
            );
        }
        if !has_range && (self.count.is_some() || self.distribution.is_some()) {
            return Err(
                "`count` and `distribution` only go with `min` and `max`; remove them".into()
            );
        }
        if let Some(values) = &self.values {
            if values.is_empty() {
                return Err("`values` is empty; list at least one value".into());
            }
            return Ok(Domain::List(values.clone()));
        }
        if let Some(value) = &self.value {
            return Ok(Domain::List(vec![value.clone()]));
        }
        Ok(Domain::Range(self.range()?, self.count))
    }

    fn range(&self) -> Result<Range, String> {
        let (Some(min), Some(max)) = (&self.min, &self.max) else {
            return Err("a range needs both `min` and `max`".into());
        };
        let inferred = if is_integer(min) && is_integer(max) {
            Distribution::IntUniform
        } else {
            Distribution::Uniform
        };
        let range = match self.distribution.unwrap_or(inferred) {
            Distribution::IntUniform => {
                let (Some(min), Some(max)) = (whole(min), whole(max)) else {
                    return Err(format!(
                        "int_uniform needs whole-number `min` and `max`, not {min} and {max}; \
                         use `distribution: uniform` for real numbers"
                    ));
                };
                Range::Int { min, max }
            }
            distribution => {
                let log = distribution == Distribution::LogUniform;
                let (min, max) = (real(min)?, real(max)?);
                if log && min <= 0.0 {
                    return Err(format!(
                        "log_uniform needs `min` above 0, not {min}: its points are spaced by ratio"
                    ));
                }
                Range::Float { min, max, log }
            }
        };
        if range.is_reversed() {
            return Err(format!("`min` ({min}) is above `max` ({max}); swap them"));
        }
        Ok(range)
    }
}

fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64()
}

/// `n` as an i64 if it is a whole number, written `3` or `3.0`.
fn whole(n: &Number) -> Option<i64> {
    // Beyond 2^53 an f64 is always "whole", but no longer exact.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT).map(|f| f as i64))
}

fn real(n: &Number) -> Result<f64, String> {
    n.as_f64().ok_or_else(|| format!("{n} is not representable as a number; write a plain decimal"))
}

/// A parameter's possible values, before the method decides how to use them.
enum Domain {
    /// `values`, or `value` as a one-element list.
    List(Vec<Value>),
    /// `min`..`max`, with the grid `count` if one was given.
    Range(Range, Option<usize>),
}

impl Domain {
    /// Rejects a value of the wrong type for the field now, naming the
    /// parameter, rather than later as an anonymous serde error for some run.
    fn check_fits(&self, defaults: &Value, pointer: &str) -> Result<(), String> {
        match self {
            Domain::List(values) => values.iter().try_for_each(|v| fits(defaults, pointer, v)),
            Domain::Range(Range::Float { .. }, _)
                if defaults.pointer(pointer).is_some_and(Value::is_u64) =>
            {
                Err("takes whole numbers; use `distribution: int_uniform` with whole-number bounds"
                    .into())
            }
            // Type errors are per field, so if both ends fit, every point between does.
            Domain::Range(range, _) => {
                let (min, max) = range.bounds();
                fits(defaults, pointer, &min)?;
                fits(defaults, pointer, &max)
            }
        }
    }

    fn into_axis(self) -> Result<GridAxis, String> {
        match self {
            Domain::List(values) => Ok(GridAxis::List(values)),
            Domain::Range(range, Some(count)) if count >= 2 => Ok(GridAxis::Points(range, count)),
            Domain::Range(_, Some(count)) => Err(format!(
                "count is {count}; a range needs at least 2 points (use `value` for a single value)"
            )),
            Domain::Range(_, None) => Err("a range in a grid needs `count`: add `count: N` for N \
                 evenly spaced points, or sample it with `method: random`"
                .into()),
        }
    }

    fn into_draw(self) -> Result<Draw, String> {
        match self {
            Domain::List(values) => Ok(Draw::List(values)),
            Domain::Range(range, None) => Ok(Draw::Range(range)),
            Domain::Range(_, Some(_)) => {
                Err("`count` on a parameter only applies to grid sweeps; \
                 remove it (the sweep's own `count` sets how many configs to try)"
                    .into())
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Range {
    Float { min: f64, max: f64, log: bool },
    Int { min: i64, max: i64 },
}

impl Range {
    fn is_reversed(self) -> bool {
        match self {
            Range::Float { min, max, .. } => min > max,
            Range::Int { min, max } => min > max,
        }
    }

    fn bounds(self) -> (Value, Value) {
        match self {
            Range::Float { min, max, .. } => (Value::from(min), Value::from(max)),
            Range::Int { min, max } => (Value::from(min), Value::from(max)),
        }
    }

    /// How many distinct integers the range holds, wide enough for i64::MIN..=i64::MAX.
    fn int_span(min: i64, max: i64) -> u128 {
        (i128::from(max) - i128::from(min)) as u128 + 1
    }

    /// How many grid points `count` gives: integers are never repeated, so a
    /// narrow int range gives fewer.
    fn grid_len(self, count: usize) -> usize {
        match self {
            Range::Float { .. } => count,
            Range::Int { min, max } => {
                usize::try_from(Range::int_span(min, max)).map_or(count, |span| span.min(count))
            }
        }
    }

    /// Evenly spaced points (by ratio for log_uniform), both ends included.
    fn grid_points(self, count: usize) -> Vec<Value> {
        let n = self.grid_len(count);
        let t = |i: usize| i as f64 / (n - 1).max(1) as f64;
        match self {
            Range::Float { min, max, log } => {
                (0..n).map(|i| float_point(min, max, log, t(i))).collect()
            }
            Range::Int { min, max } if n as u128 == Range::int_span(min, max) => {
                (min..=max).map(Value::from).collect()
            }
            // The step is above 1, so rounding cannot merge two points.
            Range::Int { min, max } => {
                let span = (i128::from(max) - i128::from(min)) as f64;
                (0..n).map(|i| Value::from((min as f64 + span * t(i)).round() as i64)).collect()
            }
        }
    }

    fn sample(self, rng: &mut SplitMix64) -> Value {
        match self {
            Range::Float { min, max, log } => float_point(min, max, log, rng.unit()),
            Range::Int { min, max } => {
                // Multiply-shift maps 64 random bits onto the span without modulo bias.
                let offset = (u128::from(rng.next_u64()) * Range::int_span(min, max)) >> 64;
                Value::from((i128::from(min) + offset as i128) as i64)
            }
        }
    }
}

/// The point at fraction `t` ∈ [0, 1] of a float range (by ratio when `log`),
/// tidied and clamped so that rounding never leaves [min, max].
fn float_point(min: f64, max: f64, log: bool, t: f64) -> Value {
    let x =
        if log { (min.ln() * (1.0 - t) + max.ln() * t).exp() } else { min * (1.0 - t) + max * t };
    tidy(x, min, max)
}

/// `x` rounded to [`SIGNIFICANT_DIGITS`] and clamped, so that rounding never
/// leaves [min, max].
fn tidy(x: f64, min: f64, max: f64) -> Value {
    let rounded: f64 = format!("{x:.*e}", SIGNIFICANT_DIGITS - 1).parse().unwrap_or(x);
    Value::from(rounded.clamp(min, max))
}

/// A grid parameter: its listed values, or a range with a point count.
enum GridAxis {
    List(Vec<Value>),
    Points(Range, usize),
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

/// A random parameter: a uniform choice from a list, or a range to sample.
enum Draw {
    List(Vec<Value>),
    Range(Range),
}

impl Draw {
    fn sample(&self, rng: &mut SplitMix64) -> Value {
        match self {
            Draw::List(values) => {
                let i = (u128::from(rng.next_u64()) * values.len() as u128) >> 64;
                values[i as usize].clone()
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

    fn over_limit(&self, runs: usize, max_runs: usize) -> SweepError {
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
        SweepError::one(
            field,
            format!(
                "the sweep would create {runs} runs ({configs} configs × {} seeds), \
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
            return match config.validate() {
                Ok(()) => Ok(SweepRun { config, params, name }),
                Err(errors) => Err((name, errors)),
            };
        }
        match config.validate() {
            Ok(()) => Ok(SweepRun { config, params, name }),
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
            "method: grid\nparameters: {lr_max: {min: 0.001, max: 0.1, count: 3, distribution: log_uniform}}",
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
  lr_max: {min: 0.01, max: 0.2, distribution: log_uniform}
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
  lr_max: {min: 0.01, max: 0.1, count: 3, distribution: log_uniform}
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
    fn seeds_must_be_distinct_and_not_also_a_parameter() {
        let e = expand_err("method: grid\nparameters: {seed: {values: [1, 2]}}\nseeds: [1, 1]");
        assert_eq!(fields(&e), ["seeds", "parameters.seed"]);
    }
}

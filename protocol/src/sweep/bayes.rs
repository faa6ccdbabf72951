//! `method: bayes`: each config is proposed from the results of the ones
//! before it, by TPE (the Tree-structured Parzen Estimator of Bergstra et al.
//! 2011, from the `tpe` crate).
//!
//! A proposal is a function of the spec, its index and the observations
//! given, nothing else, so the server can make proposal `i` whenever runs
//! finish (and make it again after a restart) and always get the same config:
//!
//! - While fewer than [`STARTUP`] observations are known, proposal `i` is the
//!   random method's config `i` for the same spec: TPE has nothing to model
//!   yet, and a few spread-out points are what it needs to start.
//! - After that, each parameter that can vary gets its own TPE optimizer (TPE
//!   models each parameter on its own, so the parameters are chosen
//!   independently), working in the coordinate its distribution is uniform
//!   in, so that TPE's prior is what the random method samples: `uniform` and
//!   `q_uniform` over [min, max]; `log_uniform`, `log_uniform_values` and
//!   their `q_` forms over ln x (so ratios, not differences, are what it
//!   resolves); the `inv_log_uniform` ones over ln(1/x); `int_uniform` over
//!   [min, max + 1) floored to an integer; the normal family over Φ(z), z the
//!   standard normal draw behind the value (Φ its CDF, cut at 10⁻⁶ from 0 and
//!   1), so a proposal is mu + sigma·Φ⁻¹(p), exponentiated for the log ones;
//!   and `values` as a categorical choice among their indices, leaving out
//!   any whose `probability` is 0 (TPE's histogram has no prior weights, so
//!   other `probabilities` only shape the random first proposals). `q_`
//!   proposals are rounded to q's multiples after TPE chooses. Every
//!   observation is told to every optimizer whose parameter it holds a value
//!   for, and each optimizer is asked with a random stream keyed by the
//!   sweep's `random_seed`, the proposal's index and the parameter's path.

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tpe::TpeOptimizer;

use super::distribution::{Bounded, Unbounded, normal_cdf, normal_quantile};
use super::{
    Domain, Draw, EpochMetric, Goal, Range, Sampling, SweepError, SweepMethod, SweepRun, SweepSpec,
    field_error, keyed_rng, whole,
};
use crate::rng::SplitMix64;
use crate::validate::FieldError;

/// How many observations TPE needs before it proposes; until then proposals
/// are random draws. Four: with TPE's split of the best 10% (rounded up) as
/// "good", fewer would model a single point against a handful, and a sweep of
/// a few dozen configs should not spend many more of them on random search.
pub const STARTUP: usize = 4;

/// One finished proposal, as the next proposal learns from it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Observation {
    /// The proposal's swept values, as in [`SweepRun::params`] (a `seed` there
    /// is ignored). A parameter missing here, or holding a value outside the
    /// spec's domain for it (say, from an older version of the spec), leaves
    /// this observation out of that parameter's model only.
    pub params: Map<String, Value>,
    /// The objective ([`SweepSpec::objective`]) the proposal reached; with
    /// `seeds`, the caller averages its runs. NaN (a run that diverged) counts
    /// as the worst possible value.
    pub value: f64,
}

impl SweepSpec {
    /// The metric a bayes sweep optimizes and in which direction: `metric` when
    /// given, else `test_pgd_acc`, maximized. A name that is not a per-epoch
    /// metric (refused for bayes sweeps, only displayed for the others) gives
    /// the default too, since its goal is no longer about anything readable.
    pub fn objective(&self) -> (EpochMetric, Goal) {
        let named =
            self.metric.as_ref().and_then(|m| Some((EpochMetric::parse(&m.name).ok()?, m.goal)));
        named.unwrap_or((EpochMetric::ROBUST, EpochMetric::ROBUST.default_goal()))
    }

    /// A bayes sweep's proposal `index` (from 0, below `count`), from the
    /// `observed` results so far: its runs, one per seed (one when the spec
    /// lists no seeds), built and validated exactly as a random sweep's.
    pub fn propose(
        &self,
        index: usize,
        observed: &[Observation],
    ) -> Result<Vec<SweepRun>, SweepError> {
        let plan = self.plan()?;
        let Sampling::Bayes(draws, spaces) = &plan.sampling else {
            return Err(SweepError::one(
                "method",
                "only `method: bayes` proposes configs one at a time; \
                 expand a grid or random sweep to get all its runs",
            ));
        };
        if index >= draws.count {
            return Err(SweepError::one(
                "count",
                format!(
                    "is {}, so there is no proposal {index} (proposals count from 0); \
                     raise `count` for more",
                    draws.count
                ),
            ));
        }
        let random = draws.config(&plan.targets, index);
        let values = if observed.len() < STARTUP {
            random
        } else {
            let goal = self.objective().1;
            let seed = draws.random_seed ^ SplitMix64::new(index as u64).next_u64();
            let chosen = plan.targets.iter().zip(spaces).zip(random);
            chosen
                .map(|((target, space), random)| match space {
                    Some(space) => {
                        let mut rng =
                            StdRng::seed_from_u64(keyed_rng(seed, &target.path).next_u64());
                        space.suggest(&target.path, observed, goal, &mut rng)
                    }
                    None => random,
                })
                .collect()
        };
        plan.build_runs(&[values], index * plan.seed_count())
    }

    /// A bayes sweep's `metric.name` must be readable off the runs' epochs.
    pub(super) fn objective_problem(&self) -> Option<FieldError> {
        let metric = self.metric.as_ref().filter(|_| self.method == SweepMethod::Bayes)?;
        EpochMetric::parse(&metric.name).err().map(|message| field_error("metric.name", message))
    }
}

impl Domain {
    /// A random draw (for the startup proposals) and the space TPE searches.
    pub(super) fn into_bayes(self) -> Result<(Draw, Option<Space>), String> {
        let draw = self.into_draw()?;
        let space = Space::of(&draw)?;
        Ok((draw, space))
    }
}

/// One parameter as a TPE optimizer sees it: a range of f64 and the way
/// between it and the parameter's values.
pub(super) struct Space {
    kind: Kind,
    /// Start inclusive, end exclusive, as the crate's ranges are.
    range: tpe::range::Range,
}

enum Kind {
    /// The values that can be chosen; the optimizer chooses an index.
    Categorical(Vec<Value>),
    /// The optimizer works on the distribution's uniform coordinate: x,
    /// ln x or ln(1/x); `q_` proposals are rounded to q's multiples after.
    Float(Bounded),
    /// The optimizer works on the offset from `min` (so that large bounds keep
    /// their precision), integer `k` occupying [k, k + 1).
    Int { min: i64, max: i64 },
    /// The optimizer works on Φ(z), z the standard normal draw behind the
    /// value: uniform there is the distribution itself, so TPE's prior is
    /// what the random method samples.
    Normal(Unbounded),
}

/// How far Φ's coordinate stops short of 0 and 1, where z is infinite:
/// z stays within ±4.75, which leaves out 2 draws in a million.
const NORMAL_EDGE: f64 = 1e-6;

impl Space {
    /// None when the draw has only one value, so there is nothing to choose.
    fn of(draw: &Draw) -> Result<Option<Space>, String> {
        let too_wide =
            |_| "`min` and `max` are too far apart to search; narrow the range".to_owned();
        let categorical = |values: Vec<Value>| -> Result<Option<Space>, String> {
            if values.len() < 2 {
                return Ok(None);
            }
            Ok(Some(Space {
                range: tpe::categorical_range(values.len()).map_err(too_wide)?,
                kind: Kind::Categorical(values),
            }))
        };
        let space = match *draw {
            Draw::List(ref values) => return categorical(values.clone()),
            // TPE's histogram has no prior weights: it chooses among the
            // values that can be drawn at all, the random startup proposals
            // having followed `probabilities`.
            Draw::Weighted(ref values, ref cumulative) => {
                let possible = values.iter().zip(cumulative).scan(0.0, |before, (value, &c)| {
                    let drawn = c > *before;
                    *before = c;
                    Some(drawn.then(|| value.clone()))
                });
                return categorical(possible.flatten().collect());
            }
            Draw::Range(Range::Float(bounded)) if !bounded.varies() => return Ok(None),
            // The crate's ranges exclude their end, and `hi` is a coordinate
            // random draws can reach, so the end is the next float up.
            Draw::Range(Range::Float(bounded)) => Space {
                range: tpe::range(bounded.lo, bounded.hi.next_up()).map_err(too_wide)?,
                kind: Kind::Float(bounded),
            },
            Draw::Range(Range::Int { min, max }) if min == max => return Ok(None),
            Draw::Range(Range::Int { min, max }) => Space {
                range: tpe::range(0.0, Range::int_span(min, max) as f64).map_err(too_wide)?,
                kind: Kind::Int { min, max },
            },
            Draw::Range(Range::Normal(normal)) if normal.sigma == 0.0 => return Ok(None),
            Draw::Range(Range::Normal(normal)) => Space {
                range: tpe::range(NORMAL_EDGE, 1.0 - NORMAL_EDGE).map_err(too_wide)?,
                kind: Kind::Normal(normal),
            },
        };
        Ok(Some(space))
    }

    /// Where an observed value sits in the optimizer's range; None when it is
    /// not one of this parameter's values.
    fn param(&self, value: &Value) -> Option<f64> {
        let x = match self.kind {
            Kind::Categorical(ref values) => {
                values.iter().position(|v| same_value(v, value))? as f64
            }
            Kind::Float(bounded) => {
                let v = value.as_f64().filter(|v| (bounded.min..=bounded.max).contains(v))?;
                bounded.scale.coordinate(v)
            }
            Kind::Int { min, max } => {
                let Value::Number(n) = value else { return None };
                let k = whole(n).filter(|k| (min..=max).contains(k))?;
                // The middle of k's cell, so its kernel leans to neither neighbour.
                (i128::from(k) - i128::from(min)) as f64 + 0.5
            }
            Kind::Normal(normal) => normal_cdf(normal.z(value.as_f64()?)?),
        };
        // Rounding (ln, Φ, or offsets beyond 2^53) must not push a value that
        // is in the domain out of the range, where `tell` would refuse it.
        Some(x.clamp(self.range.start(), self.range.end().next_down()))
    }

    /// The parameter's value at a point the optimizer proposed.
    fn value(&self, x: f64) -> Value {
        match self.kind {
            Kind::Categorical(ref values) => values[(x as usize).min(values.len() - 1)].clone(),
            Kind::Float(bounded) => bounded.finish(bounded.scale.value(x)),
            Kind::Int { min, max } => {
                let k =
                    (i128::from(min) + x.floor() as i128).clamp(i128::from(min), i128::from(max));
                Value::from(k as i64)
            }
            Kind::Normal(normal) => normal.at(normal_quantile(x)),
        }
    }

    /// TPE's choice for `path`, given every observation's value of it.
    fn suggest(&self, path: &str, observed: &[Observation], goal: Goal, rng: &mut StdRng) -> Value {
        let estimator = match self.kind {
            Kind::Categorical(_) => tpe::histogram_estimator(),
            Kind::Float(_) | Kind::Int { .. } | Kind::Normal(_) => tpe::parzen_estimator(),
        };
        let mut optimizer = TpeOptimizer::new(estimator, self.range);
        for observation in observed {
            if let Some(param) = observation.params.get(path).and_then(|v| self.param(v)) {
                optimizer
                    .tell(param, loss(observation.value, goal))
                    .expect("`param` is inside the range and a loss is never NaN");
            }
        }
        let Ok(x) = optimizer.ask(rng);
        self.value(x)
    }
}

/// What TPE minimizes: the objective, negated when it is to be maximized.
fn loss(value: f64, goal: Goal) -> f64 {
    match goal {
        _ if value.is_nan() => f64::INFINITY,
        Goal::Maximize => -value,
        Goal::Minimize => value,
    }
}

/// JSON equality, except that numbers compare by value: stored params that
/// went through a float (`2.0`) still match the spec's `2`.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Method;
    use crate::sweep::DEFAULT_MAX_RUNS;

    fn spec(yaml: &str) -> SweepSpec {
        SweepSpec::from_yaml(yaml).unwrap()
    }

    fn fields(error: &SweepError) -> Vec<&str> {
        error.errors.iter().map(|e| e.field.as_str()).collect()
    }

    /// A proposal's swept values, as the caller would record them.
    fn observe(runs: &[SweepRun], value: f64) -> Observation {
        let mut params = runs[0].params.clone();
        params.remove("seed");
        Observation { params, value }
    }

    /// `n` proposals made one after another, each observed before the next.
    fn sequential(
        spec: &SweepSpec,
        n: usize,
        objective: impl Fn(&SweepRun) -> f64,
    ) -> Vec<SweepRun> {
        let mut observed = Vec::new();
        let mut proposals = Vec::new();
        for index in 0..n {
            let runs = spec.propose(index, &observed).unwrap();
            observed.push(observe(&runs, objective(&runs[0])));
            proposals.push(runs[0].clone());
        }
        proposals
    }

    fn median(mut xs: Vec<f64>) -> f64 {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    }

    const LR: &str = "lr_max: {min: 0.0001, max: 1.0, distribution: log_uniform_values}";

    #[test]
    fn bayes_needs_count_and_refuses_grid_only_fields() {
        let e = spec("method: bayes\nparameters: {lr_max: {min: 0.01, max: 0.2, count: 3}}")
            .expand(DEFAULT_MAX_RUNS)
            .unwrap_err();
        assert_eq!(fields(&e), ["count", "parameters.lr_max"]);
        assert!(e.errors[0].message.contains("bayes sweep needs `count`"), "{e}");
        assert!(e.errors[1].message.contains("only applies to grid sweeps; remove it"), "{e}");
        let e = spec("method: bayes\ncount: 0").expand(DEFAULT_MAX_RUNS).unwrap_err();
        assert_eq!(fields(&e), ["count"]);
        let e =
            spec("method: grid\ncount: 3\nrandom_seed: 1").expand(DEFAULT_MAX_RUNS).unwrap_err();
        assert!(e.errors.iter().all(|e| e.message.contains("`bayes`")), "{e}");
    }

    #[test]
    fn the_objective_is_the_metric_and_only_bayes_refuses_an_unknown_one() {
        let default = spec("method: bayes\ncount: 2").objective();
        assert_eq!(default, (EpochMetric::ROBUST, Goal::Maximize));
        let loss =
            spec("method: bayes\ncount: 2\nmetric: {name: best_test_pgd_loss, goal: minimize}");
        let (metric, goal) = loss.objective();
        assert_eq!((metric.name().as_str(), goal), ("best_test_pgd_loss", Goal::Minimize));

        let unknown = "count: 2\nmetric: {name: robust, goal: maximize}";
        let e = spec(&format!("method: bayes\n{unknown}")).expand(DEFAULT_MAX_RUNS).unwrap_err();
        assert_eq!(fields(&e), ["metric.name"]);
        assert!(e.to_string().contains("test_pgd_acc"), "{e}");
        let random = spec(&format!("method: random\n{unknown}"));
        assert_eq!(random.expand(DEFAULT_MAX_RUNS).unwrap().len(), 2, "display only");
        assert_eq!(random.objective(), default);
    }

    #[test]
    fn expand_gives_the_first_proposal_and_the_limit_counts_them_all() {
        let s = spec(&format!("method: bayes\ncount: 30\nseeds: [0, 1]\nparameters: {{{LR}}}"));
        assert_eq!(s.run_count().unwrap(), 60);
        let runs = s.expand(60).unwrap();
        assert_eq!(runs, s.propose(0, &[]).unwrap());
        assert_eq!(runs.len(), 2);
        let e = s.expand(59).unwrap_err();
        assert_eq!(fields(&e), ["count"]);
        assert!(e.to_string().contains("60 runs (30 configs × 2 seeds)"), "{e}");
    }

    #[test]
    fn only_bayes_proposes_and_only_count_proposals() {
        let e = spec("method: random\ncount: 3").propose(0, &[]).unwrap_err();
        assert_eq!(fields(&e), ["method"]);
        let s = spec("method: bayes\ncount: 3");
        assert!(s.propose(2, &[]).is_ok());
        let e = s.propose(3, &[]).unwrap_err();
        assert_eq!(fields(&e), ["count"]);
    }

    /// Five observations of a random sweep over `parameters`, scored by `score`.
    fn observations(parameters: &str, score: impl Fn(&SweepRun) -> f64) -> Vec<Observation> {
        let runs = spec(&format!("method: random\ncount: 5\nparameters: {parameters}"))
            .expand(DEFAULT_MAX_RUNS)
            .unwrap();
        runs.iter().map(|run| observe(std::slice::from_ref(run), score(run))).collect()
    }

    #[test]
    fn the_same_inputs_give_the_same_proposal() {
        let parameters = format!("{{{LR}, method: {{values: [pgd_at, trades, aom]}}}}");
        let s = spec(&format!("method: bayes\ncount: 20\nparameters: {parameters}"));
        let observed = observations(&parameters, |r| r.config.lr_max);
        let proposal = s.propose(10, &observed).unwrap();
        assert_eq!(proposal, s.propose(10, &observed).unwrap());
        assert_ne!(proposal[0].params, s.propose(11, &observed).unwrap()[0].params);
        let reseeded =
            spec(&format!("method: bayes\ncount: 20\nrandom_seed: 1\nparameters: {parameters}"));
        assert_ne!(proposal[0].params, reseeded.propose(10, &observed).unwrap()[0].params);
    }

    #[test]
    fn the_first_proposals_are_the_random_methods_draws() {
        let parameters = format!("{{{LR}, pgd_steps: {{min: 3, max: 10}}}}");
        let random =
            spec(&format!("method: random\ncount: 8\nrandom_seed: 3\nparameters: {parameters}"))
                .expand(DEFAULT_MAX_RUNS)
                .unwrap();
        let bayes =
            spec(&format!("method: bayes\ncount: 8\nrandom_seed: 3\nparameters: {parameters}"));
        let observed = observations(&parameters, |r| r.config.lr_max);
        for (index, random_run) in random.iter().enumerate() {
            // However many proposals came first, until STARTUP have results.
            let known = &observed[..index.min(STARTUP - 1)];
            assert_eq!(
                bayes.propose(index, known).unwrap(),
                std::slice::from_ref(random_run),
                "proposal {index}"
            );
        }
        let modelled = bayes.propose(5, &observed[..STARTUP]).unwrap();
        assert_ne!(modelled[0].params, random[5].params, "TPE takes over at STARTUP");
    }

    #[test]
    fn proposals_stay_in_each_parameters_domain() {
        let s = spec(
            "method: bayes
count: 40
parameters:
  method: {values: [pgd_at, trades, aom]}
  lr_max: {min: 0.01, max: 0.2, distribution: log_uniform_values}
  mixup_alpha: {min: 0.5, max: 1.5}
  pgd_steps: {min: 3, max: 10, distribution: int_uniform}
  epsilon: {value: 0.03}",
        );
        // Rewarding the upper bounds drives TPE against the ends of its ranges.
        let runs = sequential(&s, 40, |r| {
            let c = &r.config;
            let read = |key: &str, value: f64| if c.ignores(key) { 0.0 } else { value };
            c.lr_max.ln() + read("mixup_alpha", c.mixup_alpha) + read("pgd_steps", f64::from(c.pgd_steps))
        });
        for run in &runs {
            let c = &run.config;
            assert!((0.01..=0.2).contains(&c.lr_max), "{}", c.lr_max);
            assert!([Method::PgdAt, Method::Trades, Method::Aom].contains(&c.method));
            assert_eq!(c.epsilon, 0.03);
            // Only the parameters the proposal's method reads are its own.
            let keys: Vec<&str> = run.params.keys().map(String::as_str).collect();
            if c.method == Method::Aom {
                assert_eq!(keys, ["method", "lr_max", "mixup_alpha"]);
                assert!((0.5..=1.5).contains(&c.mixup_alpha), "{}", c.mixup_alpha);
            } else {
                assert_eq!(keys, ["method", "lr_max", "pgd_steps"]);
                assert!((3..=10).contains(&c.pgd_steps), "{}", c.pgd_steps);
                assert!(run.params["pgd_steps"].is_u64());
            }
            for x in [c.lr_max, c.mixup_alpha] {
                let rounded: f64 =
                    format!("{x:.*e}", crate::sweep::SIGNIFICANT_DIGITS - 1).parse().unwrap();
                assert_eq!(rounded, x, "rounded like random draws");
            }
        }
        assert!(
            runs[20..].iter().any(|r| !r.config.ignores("pgd_steps") && r.config.pgd_steps == 10),
            "the top integer is reachable"
        );
    }

    #[test]
    fn observations_outside_the_domain_are_skipped() {
        let parameters = format!(
            "{{{LR}, method: {{values: [pgd_at, trades]}}, pgd_steps: {{min: 3, max: 10}}}}"
        );
        let s = spec(&format!("method: bayes\ncount: 20\nparameters: {parameters}"));
        let observed = observations(&parameters, |r| r.config.lr_max);
        let stale = [
            serde_json::json!({"lr_max": 5.0, "method": "aom", "pgd_steps": 3.5}),
            serde_json::json!({"lr_max": "0.1", "pgd_steps": 11}),
            serde_json::json!({}),
        ];
        let mut mixed = observed.clone();
        for params in stale {
            let Value::Object(params) = params else { unreachable!() };
            mixed.push(Observation { params, value: 1.0 });
        }
        assert_eq!(s.propose(9, &mixed).unwrap(), s.propose(9, &observed).unwrap());
    }

    /// Median `distance` to the optimum over proposals 15..30 of a
    /// 30-proposal sweep of `rest` (its `base` and `parameters`) per random
    /// seed, pooled over 5 seeds; bayes is scored by −distance².
    fn pooled_median_distance(method: &str, rest: &str, distance: impl Fn(&SweepRun) -> f64) -> f64 {
        let mut later = Vec::new();
        for random_seed in 0..5 {
            let s = spec(&format!("method: {method}\ncount: 30\nrandom_seed: {random_seed}\n{rest}"));
            let runs = match s.method {
                SweepMethod::Bayes => sequential(&s, 30, |r| -distance(r).powi(2)),
                _ => s.expand(DEFAULT_MAX_RUNS).unwrap(),
            };
            later.extend(runs[15..].iter().map(&distance));
        }
        median(later)
    }

    /// Distance in ln(lr) from 0.01.
    fn median_distance(method: &str) -> f64 {
        pooled_median_distance(method, &format!("parameters: {{{LR}}}"), |r| (r.config.lr_max.ln() - 0.01f64.ln()).abs())
    }

    #[test]
    fn tpe_concentrates_on_the_optimum() {
        let (tpe, random) = (median_distance("bayes"), median_distance("random"));
        // Random search's median is about a quarter of the ln range (2.3).
        assert!(tpe < 0.6 * random, "TPE {tpe} against random {random}");
    }

    const METHODS: &str = "{method: {values: [pgd_at, trades, aom, erm]}}";

    /// How many of proposals 15..30 chose `method`, the score by method
    /// being `pgd_at` 0.4, `trades` 0.5, `aom` 0.45, `erm` 0.1.
    fn later_choices(metric: &str, method: Method) -> usize {
        let s = spec(&format!("method: bayes\ncount: 30\n{metric}parameters: {METHODS}"));
        let runs = sequential(&s, 30, |r| match r.config.method {
            Method::PgdAt => 0.4,
            Method::Trades => 0.5,
            Method::Aom => 0.45,
            _ => 0.1,
        });
        runs[15..].iter().filter(|r| r.config.method == method).count()
    }

    #[test]
    fn a_categorical_parameter_concentrates_on_the_best_value() {
        // Uniform choice would give about 15 / 4.
        assert!(later_choices("", Method::Trades) >= 8);
    }

    #[test]
    fn a_minimized_objective_concentrates_on_the_lowest_value() {
        let metric = "metric: {name: test_pgd_loss, goal: minimize}\n";
        assert!(later_choices(metric, Method::Erm) >= 8);
        assert!(later_choices(metric, Method::Trades) <= 2);
    }

    #[test]
    fn a_proposal_runs_once_per_seed_with_the_same_params() {
        let parameters = format!("{{{LR}}}");
        let s =
            spec(&format!("method: bayes\ncount: 10\nseeds: [4, 5, 6]\nparameters: {parameters}"));
        let observed = observations(&parameters, |r| r.config.lr_max);
        for (index, known) in [(0, &observed[..0]), (7, &observed[..])] {
            let runs = s.propose(index, known).unwrap();
            assert_eq!(runs.iter().map(|r| r.config.seed).collect::<Vec<_>>(), [4, 5, 6]);
            let lr = &runs[0].params["lr_max"];
            for (run, seed) in runs.iter().zip([4, 5, 6]) {
                assert_eq!(run.params["lr_max"], *lr);
                assert_eq!(run.params["seed"], seed);
                assert!(run.name.ends_with(&format!(",seed={seed}")), "{}", run.name);
            }
        }
    }

    /// A W&B bayes sweep, with advmix's config paths and metric.
    const WANDB_BAYES: &str = "program: train.py
method: bayes
count: 24
random_seed: 5
metric:
  name: best_test_pgd_acc
  goal: maximize
base: {method: mixup_pgd}
parameters:
  lr_max:
    distribution: log_uniform_values
    min: 0.001
    max: 0.3
  weight_decay:
    distribution: inv_log_uniform_values
    min: 0.0001
    max: 0.01
  pgd_steps:
    distribution: q_log_uniform_values
    min: 2
    max: 16
  epsilon:
    distribution: q_uniform
    min: 0.01
    max: 0.05
    q: 0.005
  mixup_alpha:
    distribution: log_normal
    mu: 0
    sigma: 0.5
  momentum:
    distribution: log_uniform
    min: -0.5
    max: -0.05
  lr_schedule:
    values: [piecewise, cosine, onecycle]
    probabilities: [0.5, 0.5, 0.0]
";

    #[test]
    fn a_w_and_b_bayes_sweep_proposes_within_every_distribution() {
        let s = spec(WANDB_BAYES);
        let score = |r: &SweepRun| {
            let c = &r.config;
            -(c.lr_max.ln() - 0.05f64.ln()).powi(2) - (c.mixup_alpha - 2.0).powi(2) + f64::from(c.pgd_steps) / 16.0
        };
        let runs = sequential(&s, 24, score);
        assert_eq!(runs, sequential(&s, 24, score), "reproducible");
        for run in &runs {
            let c = &run.config;
            assert!((0.001..=0.3).contains(&c.lr_max), "{}", c.lr_max);
            assert!((0.0001..=0.01).contains(&c.weight_decay), "{}", c.weight_decay);
            assert!(run.params["pgd_steps"].is_u64() && (2..=16).contains(&c.pgd_steps), "{}", c.pgd_steps);
            let k = c.epsilon / 0.005;
            assert!((k - k.round()).abs() < 1e-9 && (0.01..=0.05).contains(&c.epsilon), "{}", c.epsilon);
            assert!(c.mixup_alpha > 0.0, "{}", c.mixup_alpha);
            assert!(((-0.5f64).exp()..=(-0.05f64).exp()).contains(&c.momentum), "exponents -0.5..-0.05: {}", c.momentum);
            assert_ne!(run.params["lr_schedule"], "onecycle", "probability 0 is never proposed");
        }
    }

    #[test]
    fn an_observed_value_maps_back_to_itself_in_every_space() {
        let parameters = [
            ("lr_max", "{distribution: log_uniform, min: -7, max: -1}"),
            ("lr_max", "{distribution: inv_log_uniform, min: 1, max: 7}"),
            ("lr_max", "{distribution: inv_log_uniform_values, min: 0.001, max: 0.3}"),
            ("lr_max", "{distribution: q_log_uniform_values, min: 0.01, max: 0.3, q: 0.01}"),
            ("trades_beta", "{distribution: normal, mu: 6, sigma: 2}"),
            ("trades_beta", "{distribution: q_log_normal, mu: 1.5, sigma: 0.5, q: 0.25}"),
            ("pgd_steps", "{distribution: q_uniform, min: 2, max: 20, q: 2}"),
        ];
        for (path, parameter) in parameters {
            let draw = spec(&format!("method: bayes\ncount: 2\nparameters: {{{path}: {parameter}}}"))
                .parameters[0]
                .1
                .domain()
                .unwrap()
                .into_draw()
                .unwrap();
            let space = Space::of(&draw).unwrap().unwrap();
            let mut rng = SplitMix64::new(9);
            for _ in 0..200 {
                let value = draw.sample(&mut rng);
                let x = space.param(&value).unwrap_or_else(|| panic!("{parameter}: {value} is in the domain"));
                let back = space.value(x).as_f64().unwrap();
                let v = value.as_f64().unwrap();
                assert!((back - v).abs() <= 1e-6 * v.abs().max(1e-3), "{parameter}: {value} → {x} → {back}");
            }
        }
    }

    /// Distance of trades_beta from 9, for a normal prior centred at 6.
    fn normal_median_distance(method: &str) -> f64 {
        let rest = "base: {method: trades}\nparameters: {trades_beta: {distribution: normal, mu: 6, sigma: 2}}";
        pooled_median_distance(method, rest, |r| (r.config.trades_beta - 9.0).abs())
    }

    #[test]
    fn tpe_searches_a_normal_parameter_and_concentrates_on_the_optimum() {
        let (tpe, random) = (normal_median_distance("bayes"), normal_median_distance("random"));
        // Random draws sit about 3 from 9 (1.5 sigma); TPE moves towards it.
        assert!(tpe < 0.6 * random, "TPE {tpe} against random {random}");
    }
}

//! What one parameter is drawn from: W&B's distributions, under W&B's names
//! and with W&B's definitions (its `sweeps` package), so that a W&B sweep file
//! means here what it means there. The [module documentation](super) has the
//! table; this module resolves a [`Parameter`] into a domain and draws from it.
//!
//! Every bounded distribution is one uniform draw in a coordinate of the
//! value: the value itself, its logarithm, or the logarithm of its inverse.
//! Grids space points evenly in that coordinate and TPE searches in it, so
//! each method sees the same shape of space the random method samples.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::{Domain, Parameter, SIGNIFICANT_DIGITS};
use crate::rng::SplitMix64;

/// How a parameter's value is drawn. Left out, it is inferred as W&B does:
/// `values` → `categorical`, `value` → `constant`, `min` and `max` both
/// integers → `int_uniform`, otherwise `uniform`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Always `value`.
    Constant,
    /// One of `values`: uniformly, or weighted by `probabilities`. W&B's
    /// schema also names the weighted form `categorical_w_probabilities`.
    #[serde(alias = "categorical_w_probabilities")]
    Categorical,
    /// A whole number in [min, max], each equally likely.
    IntUniform,
    /// U(min, max).
    Uniform,
    /// round(U(min, max) / q) · q.
    QUniform,
    /// exp(U(min, max)): `min` and `max` are natural-log exponents.
    LogUniform,
    /// exp(U(ln min, ln max)): `min` and `max` are the values.
    LogUniformValues,
    /// `log_uniform`, rounded to a multiple of `q`.
    QLogUniform,
    /// `log_uniform_values`, rounded to a multiple of `q`.
    QLogUniformValues,
    /// exp(−U(min, max)): ln(1/x) is uniform between the exponents `min` and `max`.
    InvLogUniform,
    /// exp(−U(−ln max, −ln min)): ln(1/x) uniform, the values between `min` and `max`.
    InvLogUniformValues,
    /// N(mu, sigma²); `sigma` is the standard deviation.
    Normal,
    /// `normal`, rounded to a multiple of `q`.
    QNormal,
    /// exp(N(mu, sigma²)): `mu` and `sigma` describe ln x.
    LogNormal,
    /// `log_normal`, rounded to a multiple of `q`.
    QLogNormal,
}

impl Distribution {
    pub const ALL: [Distribution; 15] = [
        Distribution::Constant,
        Distribution::Categorical,
        Distribution::IntUniform,
        Distribution::Uniform,
        Distribution::QUniform,
        Distribution::LogUniform,
        Distribution::LogUniformValues,
        Distribution::QLogUniform,
        Distribution::QLogUniformValues,
        Distribution::InvLogUniform,
        Distribution::InvLogUniformValues,
        Distribution::Normal,
        Distribution::QNormal,
        Distribution::LogNormal,
        Distribution::QLogNormal,
    ];

    /// The name a spec writes.
    pub fn name(self) -> &'static str {
        match self {
            Distribution::Constant => "constant",
            Distribution::Categorical => "categorical",
            Distribution::IntUniform => "int_uniform",
            Distribution::Uniform => "uniform",
            Distribution::QUniform => "q_uniform",
            Distribution::LogUniform => "log_uniform",
            Distribution::LogUniformValues => "log_uniform_values",
            Distribution::QLogUniform => "q_log_uniform",
            Distribution::QLogUniformValues => "q_log_uniform_values",
            Distribution::InvLogUniform => "inv_log_uniform",
            Distribution::InvLogUniformValues => "inv_log_uniform_values",
            Distribution::Normal => "normal",
            Distribution::QNormal => "q_normal",
            Distribution::LogNormal => "log_normal",
            Distribution::QLogNormal => "q_log_normal",
        }
    }

    /// Whether `min` and `max` are natural-log exponents rather than values.
    pub fn takes_exponents(self) -> bool {
        matches!(
            self,
            Distribution::LogUniform | Distribution::QLogUniform | Distribution::InvLogUniform
        )
    }

    /// The same draw with `min` and `max` as values, for advice.
    fn with_values(self) -> Distribution {
        match self {
            Distribution::LogUniform => Distribution::LogUniformValues,
            Distribution::QLogUniform => Distribution::QLogUniformValues,
            Distribution::InvLogUniform => Distribution::InvLogUniformValues,
            other => other,
        }
    }

    fn is_quantized(self) -> bool {
        matches!(
            self,
            Distribution::QUniform
                | Distribution::QLogUniform
                | Distribution::QLogUniformValues
                | Distribution::QNormal
                | Distribution::QLogNormal
        )
    }

    fn is_normal_family(self) -> bool {
        matches!(
            self,
            Distribution::Normal
                | Distribution::QNormal
                | Distribution::LogNormal
                | Distribution::QLogNormal
        )
    }

    /// The parameter keys it takes besides `distribution`. `count` is
    /// advmix's own: a grid's number of points over a bounded range.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Distribution::Constant => &["value"],
            Distribution::Categorical => &["values", "probabilities"],
            Distribution::IntUniform
            | Distribution::Uniform
            | Distribution::LogUniform
            | Distribution::LogUniformValues
            | Distribution::InvLogUniform
            | Distribution::InvLogUniformValues => &["min", "max", "count"],
            Distribution::QUniform
            | Distribution::QLogUniform
            | Distribution::QLogUniformValues => &["min", "max", "q", "count"],
            Distribution::Normal | Distribution::LogNormal => &["mu", "sigma"],
            Distribution::QNormal | Distribution::QLogNormal => &["mu", "sigma", "q"],
        }
    }

    /// What to use instead for a field that takes whole numbers.
    fn whole_number_advice(self) -> String {
        let advice = match self {
            Distribution::QUniform
            | Distribution::QLogUniform
            | Distribution::QLogUniformValues
            | Distribution::QNormal
            | Distribution::QLogNormal => "give `q` a whole number (`q: 1` for every integer)",
            Distribution::LogUniform => {
                "use `q_log_uniform` (q defaults to 1) to round the draws to whole numbers"
            }
            Distribution::LogUniformValues => {
                "use `q_log_uniform_values` (q defaults to 1) to round the draws to whole numbers"
            }
            Distribution::InvLogUniform | Distribution::InvLogUniformValues => {
                "use `int_uniform`, or `q_log_uniform_values` for whole numbers spaced by ratio"
            }
            Distribution::Normal => "use `q_normal` (q defaults to 1) to round the draws",
            Distribution::LogNormal => "use `q_log_normal` (q defaults to 1) to round the draws",
            _ => {
                "use `distribution: int_uniform` with whole-number bounds, or `q_uniform` with a whole-number `q`"
            }
        };
        format!(
            "takes whole numbers, which `{}` does not draw; {advice}",
            self.name()
        )
    }
}

/// `keys` as prose: "`min`, `max` and `count`".
fn listed(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

impl Parameter {
    /// The keys given, besides `distribution`, in a fixed order.
    fn given_keys(&self) -> Vec<&'static str> {
        [
            ("values", self.values.is_some()),
            ("value", self.value.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("count", self.count.is_some()),
            ("probabilities", self.probabilities.is_some()),
            ("q", self.q.is_some()),
            ("mu", self.mu.is_some()),
            ("sigma", self.sigma.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, given)| given.then_some(key))
        .collect()
    }

    /// `distribution`, or the one W&B infers from the keys when it is left out.
    pub(super) fn resolved_distribution(&self) -> Result<Distribution, String> {
        if let Some(distribution) = self.distribution {
            return Ok(distribution);
        }
        let has_range = self.min.is_some() || self.max.is_some();
        let given = [self.values.is_some(), self.value.is_some(), has_range];
        match given.into_iter().filter(|&b| b).count() {
            1 => {}
            0 if self.mu.is_some() || self.sigma.is_some() => {
                return Err("`mu` and `sigma` belong to a normal distribution: add \
                     `distribution: normal` (or `log_normal`, `q_normal`, `q_log_normal`)"
                    .into());
            }
            0 if self.q.is_some() => {
                return Err(
                    "`q` rounds a distribution's draws: add `distribution: q_uniform` \
                     (or `q_log_uniform_values`, `q_normal`, ...) with its `min` and `max`"
                        .into(),
                );
            }
            _ => {
                return Err(
                    "give exactly one of `values: [...]`, `value: x`, or `min` and `max`".into(),
                );
            }
        }
        if self.values.is_some() {
            return Ok(Distribution::Categorical);
        }
        if self.value.is_some() {
            return Ok(Distribution::Constant);
        }
        let (Some(min), Some(max)) = (&self.min, &self.max) else {
            return Err("a range needs both `min` and `max`".into());
        };
        Ok(if is_integer(min) && is_integer(max) {
            Distribution::IntUniform
        } else {
            Distribution::Uniform
        })
    }

    pub(super) fn domain(&self) -> Result<Domain, String> {
        let distribution = self.resolved_distribution()?;
        let takes = distribution.keys();
        let extra: Vec<&str> = self
            .given_keys()
            .into_iter()
            .filter(|key| !takes.contains(key))
            .collect();
        if !extra.is_empty() {
            let implied = match (self.distribution, distribution) {
                (Some(_), _) => String::new(),
                (None, Distribution::Categorical) => " (what `values` means)".to_owned(),
                (None, Distribution::Constant) => " (what `value` means)".to_owned(),
                (None, _) => " (what `min` and `max` mean without a `distribution`)".to_owned(),
            };
            let (verb, pronoun) = if extra.len() == 1 {
                ("does", "it")
            } else {
                ("do", "them")
            };
            let hint = if extra.contains(&"q") {
                "; `q` goes with a rounding distribution: `q_uniform`, `q_log_uniform_values`, ..."
            } else if extra.contains(&"mu") || extra.contains(&"sigma") {
                "; `mu` and `sigma` go with `normal`, `log_normal`, `q_normal` or `q_log_normal`"
            } else if extra.contains(&"probabilities") {
                "; `probabilities` go with `values`, weighting each"
            } else if extra.contains(&"count") {
                "; `count` sets how many points a grid spaces over a `min`/`max` range"
            } else {
                ""
            };
            return Err(format!(
                "{} {verb} not go with `{}`{implied}, which takes {}; remove {pronoun}{hint}",
                listed(&extra),
                distribution.name(),
                listed(takes),
            ));
        }
        match distribution {
            Distribution::Constant => {
                let value = self.value.clone().ok_or("`constant` needs `value: x`")?;
                Ok(Domain::List(vec![value]))
            }
            Distribution::Categorical => self.categorical(),
            d if d.is_normal_family() => Ok(Domain::Range(self.normal(d)?, None)),
            d => Ok(Domain::Range(self.bounded(d)?, self.count)),
        }
    }

    fn categorical(&self) -> Result<Domain, String> {
        let values = self
            .values
            .clone()
            .ok_or("`categorical` needs `values: [...]`")?;
        if values.is_empty() {
            return Err("`values` is empty; list at least one value".into());
        }
        let Some(probabilities) = &self.probabilities else {
            return Ok(Domain::List(values));
        };
        if probabilities.len() != values.len() {
            return Err(format!(
                "`probabilities` has {} entries for {} `values`; give one probability per value",
                probabilities.len(),
                values.len()
            ));
        }
        if let Some(p) = probabilities
            .iter()
            .find(|p| !(p.is_finite() && **p >= 0.0))
        {
            return Err(format!(
                "`probabilities` holds {p}; each must be a number, 0 or more"
            ));
        }
        let sum: f64 = probabilities.iter().sum();
        // W&B's own check: numpy's isclose(sum, 1).
        if (sum - 1.0).abs() > 1e-8 + 1e-5 {
            return Err(format!(
                "`probabilities` add up to {sum}, not 1; make them sum to 1"
            ));
        }
        let cumulative = probabilities
            .iter()
            .scan(0.0, |running, p| {
                *running += p;
                Some(*running / sum)
            })
            .collect();
        Ok(Domain::Weighted(values, cumulative))
    }

    /// `q`, for the distributions that round to its multiples (W&B's default 1).
    fn quantum(&self, distribution: Distribution) -> Result<Option<Quantum>, String> {
        if !distribution.is_quantized() {
            return Ok(None);
        }
        let q = match &self.q {
            Some(q) => real(q)?,
            None => 1.0,
        };
        if !(q.is_finite() && q > 0.0) {
            return Err(format!(
                "`q` is {q}; it must be above 0 (values are multiples of q)"
            ));
        }
        Ok(Some(Quantum {
            q,
            whole: q.fract() == 0.0 && q <= EXACT,
        }))
    }

    fn bounded(&self, distribution: Distribution) -> Result<Range, String> {
        let name = distribution.name();
        let (Some(min), Some(max)) = (&self.min, &self.max) else {
            let what = if distribution.takes_exponents() {
                " (natural-log exponents)"
            } else {
                ""
            };
            return Err(format!("`{name}` needs both `min` and `max`{what}"));
        };
        if distribution == Distribution::IntUniform {
            let (Some(min), Some(max)) = (whole(min), whole(max)) else {
                return Err(format!(
                    "int_uniform needs whole-number `min` and `max`, not {min} and {max}; \
                     use `distribution: uniform` for real numbers"
                ));
            };
            if min > max {
                return Err(format!("`min` ({min}) is above `max` ({max}); swap them"));
            }
            return Ok(Range::Int { min, max });
        }
        let (lo, hi) = (real(min)?, real(max)?);
        if lo > hi {
            return Err(format!("`min` ({min}) is above `max` ({max}); swap them"));
        }
        let (scale, coordinates, values) = match distribution {
            Distribution::Uniform | Distribution::QUniform => (Scale::Linear, (lo, hi), (lo, hi)),
            Distribution::LogUniformValues
            | Distribution::QLogUniformValues
            | Distribution::InvLogUniformValues => {
                if lo <= 0.0 {
                    return Err(format!(
                        "`{name}` needs `min` above 0, not {lo}: its values are spaced by ratio"
                    ));
                }
                if distribution == Distribution::InvLogUniformValues {
                    (Scale::InvLog, (-hi.ln(), -lo.ln()), (lo, hi))
                } else {
                    (Scale::Log, (lo.ln(), hi.ln()), (lo, hi))
                }
            }
            Distribution::LogUniform | Distribution::QLogUniform | Distribution::InvLogUniform => {
                if let Some(e) = [lo, hi].into_iter().find(|e| e.abs() > MAX_EXPONENT) {
                    return Err(format!(
                        "`{name}` takes natural-log exponents, and e^{e} is beyond what a number \
                         holds; if {lo} and {hi} are the values themselves, write `{}`",
                        distribution.with_values().name()
                    ));
                }
                // The values' bounds are rounded like the values, so that
                // clamping a rounded value never un-rounds it.
                let value = |e: f64| round_significant(e.exp());
                if distribution == Distribution::InvLogUniform {
                    (Scale::InvLog, (lo, hi), (value(-hi), value(-lo)))
                } else {
                    (Scale::Log, (lo, hi), (value(lo), value(hi)))
                }
            }
            _ => unreachable!("{name} is not a bounded distribution"),
        };
        let multiples = match self.quantum(distribution)? {
            None => None,
            Some(quantum) => Some(Multiples::within(quantum, values.0, values.1)?),
        };
        Ok(Range::Float(Bounded {
            distribution,
            scale,
            lo: coordinates.0,
            hi: coordinates.1,
            min: values.0,
            max: values.1,
            multiples,
        }))
    }

    fn normal(&self, distribution: Distribution) -> Result<Range, String> {
        let mu = self.mu.unwrap_or(0.0);
        let sigma = self.sigma.unwrap_or(1.0);
        if !mu.is_finite() {
            return Err(format!("`mu` is {mu}; write a finite number"));
        }
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(format!(
                "`sigma` is {sigma}; it is a standard deviation, 0 or more"
            ));
        }
        let log = matches!(
            distribution,
            Distribution::LogNormal | Distribution::QLogNormal
        );
        // Box–Muller's draws stay within about 8.6 standard deviations.
        if log && mu + 9.0 * sigma > MAX_EXPONENT {
            return Err(format!(
                "`mu` + 9 `sigma` is {}, and e to that is beyond what a number holds; `{}` takes \
                 the mean and standard deviation of ln x, so lower them",
                mu + 9.0 * sigma,
                distribution.name()
            ));
        }
        let q = self.quantum(distribution)?;
        Ok(Range::Normal(Unbounded {
            distribution,
            mu,
            sigma,
            log,
            q,
        }))
    }
}

/// Exponents beyond this overflow (e^709.8 is the largest f64).
const MAX_EXPONENT: f64 = 700.0;

/// Beyond 2^53 an f64 is always "whole", but no longer exact.
const EXACT: f64 = 9_007_199_254_740_992.0;

pub(super) fn is_integer(n: &Number) -> bool {
    n.is_i64() || n.is_u64()
}

/// `n` as an i64 if it is a whole number, written `3` or `3.0`.
pub(super) fn whole(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT)
            .map(|f| f as i64)
    })
}

pub(super) fn real(n: &Number) -> Result<f64, String> {
    n.as_f64()
        .ok_or_else(|| format!("{n} is not representable as a number; write a plain decimal"))
}

/// `x` rounded to [`SIGNIFICANT_DIGITS`].
fn round_significant(x: f64) -> f64 {
    format!("{x:.*e}", SIGNIFICANT_DIGITS - 1)
        .parse()
        .unwrap_or(x)
}

/// `x` rounded to [`SIGNIFICANT_DIGITS`] and clamped, so that rounding never
/// leaves [min, max].
pub(super) fn tidy(x: f64, min: f64, max: f64) -> Value {
    // `+ 0.0` turns a -0.0 (a tiny negative draw rounded) into 0.
    Value::from(round_significant(x).clamp(min, max) + 0.0)
}

/// The coordinate a bounded distribution is uniform in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scale {
    /// x itself.
    Linear,
    /// ln x.
    Log,
    /// ln(1/x).
    InvLog,
}

impl Scale {
    pub(super) fn coordinate(self, x: f64) -> f64 {
        match self {
            Scale::Linear => x,
            Scale::Log => x.ln(),
            Scale::InvLog => -x.ln(),
        }
    }

    pub(super) fn value(self, u: f64) -> f64 {
        match self {
            Scale::Linear => u,
            Scale::Log => u.exp(),
            Scale::InvLog => (-u).exp(),
        }
    }
}

/// The step of a `q_` distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Quantum {
    q: f64,
    /// Whether `q` is a whole number, so that its multiples are written as
    /// integers and fit fields that take whole numbers.
    whole: bool,
}

impl Quantum {
    /// W&B's rounding, numpy's `round(x / q)`: ties to even.
    fn nearest(self, x: f64) -> f64 {
        (x / self.q).round_ties_even()
    }

    /// The `k`-th multiple of q.
    fn value(self, k: f64) -> Value {
        let x = k * self.q;
        if self.whole && x.abs() <= EXACT {
            Value::from(x as i64)
        } else {
            tidy(x, f64::NEG_INFINITY, f64::INFINITY)
        }
    }
}

/// The multiples of q inside a bounded range: k·q for k in first..=last.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Multiples {
    quantum: Quantum,
    first: f64,
    last: f64,
}

impl Multiples {
    fn within(quantum: Quantum, min: f64, max: f64) -> Result<Multiples, String> {
        // A bound that is a multiple, such as 0.3 for q 0.1, divides to
        // 2.9999999999999996: the slack keeps it in.
        let slack = |k: f64| 1e-9 * k.abs().max(1.0);
        let (low, high) = (min / quantum.q, max / quantum.q);
        let first = (low - slack(low)).ceil();
        let last = (high + slack(high)).floor();
        if first > last {
            return Err(format!(
                "no multiple of `q` ({}) lies between {min} and {max}; lower `q` or widen the range",
                quantum.q
            ));
        }
        Ok(Multiples {
            quantum,
            first,
            last,
        })
    }

    /// The multiple nearest `x`; a draw whose nearest multiple lies outside
    /// the range takes the closest one inside it.
    fn nearest(self, x: f64) -> Value {
        self.quantum
            .value(self.quantum.nearest(x).clamp(self.first, self.last))
    }

    fn len(self) -> f64 {
        self.last - self.first + 1.0
    }
}

/// A parameter's range, as every method uses it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Range {
    /// `int_uniform`.
    Int { min: i64, max: i64 },
    /// The uniform and log-uniform families.
    Float(Bounded),
    /// The normal family.
    Normal(Unbounded),
}

/// A distribution that draws `u` uniformly in [lo, hi] and gives the value
/// `scale.value(u)` in [min, max], rounded to a multiple of q for the `q_` ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Bounded {
    pub(super) distribution: Distribution,
    pub(super) scale: Scale,
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) multiples: Option<Multiples>,
}

impl Bounded {
    /// The value at fraction `t` ∈ [0, 1] of the coordinate's range.
    pub(super) fn at(self, t: f64) -> Value {
        self.finish(self.scale.value(self.lo * (1.0 - t) + self.hi * t))
    }

    /// A drawn or proposed value, rounded (to q's multiples or to
    /// [`SIGNIFICANT_DIGITS`]) and kept within [min, max].
    pub(super) fn finish(self, x: f64) -> Value {
        match self.multiples {
            Some(multiples) => multiples.nearest(x),
            None => tidy(x, self.min, self.max),
        }
    }

    /// Whether more than one value can come out.
    pub(super) fn varies(self) -> bool {
        self.lo < self.hi && self.multiples.is_none_or(|m| m.first < m.last)
    }

    fn bounds(self) -> (Value, Value) {
        match self.multiples {
            Some(m) => (m.quantum.value(m.first), m.quantum.value(m.last)),
            None => (Value::from(self.min), Value::from(self.max)),
        }
    }

    /// `n` points evenly spaced in the coordinate, ascending in value.
    fn spaced(self, n: usize) -> Vec<Value> {
        let t = |i: usize| {
            let t = i as f64 / (n - 1).max(1) as f64;
            // ln(1/x) falls as x rises.
            if self.scale == Scale::InvLog {
                1.0 - t
            } else {
                t
            }
        };
        let mut points: Vec<Value> = (0..n).map(|i| self.at(t(i))).collect();
        // Rounding to q's multiples merges neighbours at the dense end of a
        // log scale; ascending, so equal points are adjacent.
        points.dedup();
        points
    }

    /// W&B's grid for `q_uniform` without a `count` (numpy's
    /// `arange(min, max, q)`): min, min + q, ... while below `max`.
    fn arange_len(self) -> usize {
        let q = self.multiples.map_or(1.0, |m| m.quantum.q);
        let n = ((self.max - self.min) / q).ceil();
        if n >= usize::MAX as f64 {
            usize::MAX
        } else {
            n as usize
        }
    }

    fn arange(self) -> Vec<Value> {
        let Some(Multiples { quantum, .. }) = self.multiples else {
            return Vec::new();
        };
        let whole = quantum.whole && self.min.fract() == 0.0 && self.min.abs() <= EXACT;
        (0..self.arange_len())
            .map(|i| {
                let x = self.min + i as f64 * quantum.q;
                if whole {
                    Value::from(x as i64)
                } else {
                    tidy(x, self.min, self.max)
                }
            })
            .collect()
    }
}

/// A normal-family distribution: mu + sigma·z for a standard normal z,
/// exponentiated for the log ones, rounded to q's multiples for the `q_` ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Unbounded {
    pub(super) distribution: Distribution,
    pub(super) mu: f64,
    pub(super) sigma: f64,
    pub(super) log: bool,
    q: Option<Quantum>,
}

impl Unbounded {
    /// The value for the standard normal draw `z`.
    pub(super) fn at(self, z: f64) -> Value {
        let y = self.mu + self.sigma * z;
        let x = if self.log { y.exp() } else { y };
        match self.q {
            Some(q) => q.value(q.nearest(x) + 0.0),
            None => tidy(x, f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// The standard normal draw that gives `x`; None for a value a log
    /// distribution cannot give.
    pub(super) fn z(self, x: f64) -> Option<f64> {
        let y = if self.log {
            (x > 0.0).then(|| x.ln())?
        } else {
            x
        };
        Some((y - self.mu) / self.sigma)
    }

    fn is_whole(self) -> bool {
        self.q.is_some_and(|q| q.whole)
    }
}

impl Range {
    /// Whether every value it gives is a whole number, written as an integer.
    pub(super) fn is_whole(self) -> bool {
        match self {
            Range::Int { .. } => true,
            Range::Float(b) => b.multiples.is_some_and(|m| m.quantum.whole),
            Range::Normal(n) => n.is_whole(),
        }
    }

    pub(super) fn distribution(self) -> Distribution {
        match self {
            Range::Int { .. } => Distribution::IntUniform,
            Range::Float(b) => b.distribution,
            Range::Normal(n) => n.distribution,
        }
    }

    /// Why a field that takes whole numbers cannot take these values.
    pub(super) fn whole_number_advice(self) -> String {
        self.distribution().whole_number_advice()
    }

    /// The smallest and largest values; None for the unbounded normal family.
    pub(super) fn bounds(self) -> Option<(Value, Value)> {
        match self {
            Range::Int { min, max } => Some((Value::from(min), Value::from(max))),
            Range::Float(b) => Some(b.bounds()),
            Range::Normal(_) => None,
        }
    }

    /// A value it gives, for checking its type against the field: for the
    /// normal family, the one at the mean of the underlying normal.
    pub(super) fn typical(self) -> Value {
        match self {
            Range::Normal(n) => n.at(0.0),
            other => other.bounds().expect("bounded ranges have bounds").0,
        }
    }

    /// How many distinct integers the range holds, wide enough for i64::MIN..=i64::MAX.
    pub(super) fn int_span(min: i64, max: i64) -> u128 {
        (i128::from(max) - i128::from(min)) as u128 + 1
    }

    /// Why a grid cannot use this range with this `count`, if it cannot.
    pub(super) fn grid_problem(self, count: Option<usize>) -> Option<String> {
        let name = self.distribution().name();
        match (self, count) {
            (Range::Normal(_), _) => Some(format!(
                "`{name}` is unbounded, so a grid cannot space points over it; list the points \
                 with `values: [...]`, or draw them with `method: random`"
            )),
            (_, Some(count)) if count < 2 => Some(format!(
                "count is {count}; a range needs at least 2 points (use `value` for a single value)"
            )),
            (_, Some(_)) | (Range::Int { .. }, None) => None,
            (Range::Float(b), None) if b.distribution == Distribution::QUniform => {
                (b.arange_len() == 0).then(|| {
                    "without `count`, a grid takes q_uniform's min, min + q, ... below `max` \
                     (as W&B does), and `min` equal to `max` leaves none; use `value: x`"
                        .to_owned()
                })
            }
            (Range::Float(_), None) => Some(
                "a range in a grid needs `count`: add `count: N` for N evenly spaced points, \
                 or sample it with `method: random`"
                    .into(),
            ),
        }
    }

    /// How many grid points `count` gives (see [`Range::grid_points`]);
    /// only for a range [`Range::grid_problem`] accepts.
    pub(super) fn grid_len(self, count: Option<usize>) -> usize {
        const COUNTED: f64 = (1u64 << 20) as f64;
        match (self, count) {
            (Range::Int { min, max }, None) => {
                usize::try_from(Range::int_span(min, max)).unwrap_or(usize::MAX)
            }
            (Range::Int { min, max }, Some(count)) => {
                usize::try_from(Range::int_span(min, max)).map_or(count, |span| span.min(count))
            }
            (Range::Float(b), None) => b.arange_len(),
            (Range::Float(b), Some(count)) => match b.multiples {
                None => count,
                Some(m) if b.scale == Scale::Linear => {
                    if m.len() < count as f64 {
                        m.len() as usize
                    } else {
                        count
                    }
                }
                // Merged points are only known by making them; a grid this
                // large is over any limit, so its upper bound serves.
                Some(m) if m.len().min(count as f64) > COUNTED => {
                    if m.len() < count as f64 {
                        m.len() as usize
                    } else {
                        count
                    }
                }
                Some(_) => b.spaced(count).len(),
            },
            (Range::Normal(_), _) => 0,
        }
    }

    /// Evenly spaced points, both ends included: by ratio for the log
    /// distributions, each integer at most once for `int_uniform` (all of
    /// them without a `count`, as W&B does), the multiples of q for `q_`
    /// ones (each at most once), and W&B's min, min + q, ... for
    /// `q_uniform` without a `count`.
    pub(super) fn grid_points(self, count: Option<usize>) -> Vec<Value> {
        match (self, count) {
            (Range::Int { min, max }, None) => (min..=max).map(Value::from).collect(),
            (Range::Int { min, max }, Some(count)) => int_grid(min, max, count)
                .into_iter()
                .map(Value::from)
                .collect(),
            (Range::Float(b), None) => b.arange(),
            (Range::Float(b), Some(count)) => match b.multiples {
                // Evenly spaced multiples, so that none repeat.
                Some(m) if b.scale == Scale::Linear => {
                    int_grid(m.first as i64, m.last as i64, count)
                        .into_iter()
                        .map(|k| m.quantum.value(k as f64))
                        .collect()
                }
                _ => b.spaced(count),
            },
            (Range::Normal(_), _) => Vec::new(),
        }
    }

    pub(super) fn sample(self, rng: &mut SplitMix64) -> Value {
        match self {
            Range::Int { min, max } => {
                // Multiply-shift maps 64 random bits onto the span without modulo bias.
                let offset = (u128::from(rng.next_u64()) * Range::int_span(min, max)) >> 64;
                Value::from((i128::from(min) + offset as i128) as i64)
            }
            Range::Float(b) => b.at(rng.unit()),
            Range::Normal(n) => n.at(rng.normal()),
        }
    }
}

/// `count` of the integers min..=max, evenly spaced, both ends included;
/// all of them when there are no more than `count`.
fn int_grid(min: i64, max: i64, count: usize) -> Vec<i64> {
    let span = Range::int_span(min, max);
    if span <= count as u128 {
        return (min..=max).collect();
    }
    // The step is above 1, so rounding cannot merge two points.
    let width = (i128::from(max) - i128::from(min)) as f64;
    let t = |i: usize| i as f64 / (count - 1).max(1) as f64;
    (0..count)
        .map(|i| (min as f64 + width * t(i)).round() as i64)
        .collect()
}

/// The standard normal CDF Φ, to about 1e-7 (Numerical Recipes' Chebyshev
/// fit of erfc): enough for TPE, which models proposals in Φ's coordinate.
pub(super) fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| c + t * acc);
    let erfc = t * (-x * x + poly).exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

/// Φ⁻¹ for p in (0, 1), by Acklam's rational approximation (relative error
/// below 1.2e-9).
pub(super) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let horner = |coefficients: &[f64], x: f64| coefficients.iter().fold(0.0, |acc, c| acc * x + c);
    let tail = |p: f64| {
        let q = (-2.0 * p.ln()).sqrt();
        horner(&C, q) / (horner(&D, q) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail(p)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        horner(&A, r) * q / (horner(&B, r) * r + 1.0)
    } else {
        -tail(1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::{E, LN_10};

    use serde_json::json;

    use super::*;
    use crate::sweep::Draw;

    /// Draws per statistical test: the standard error of a mean is then
    /// 0.5% of a standard deviation, so the 6-standard-error tolerance is
    /// 3% of one, far below what any of the mix-ups tested for shifts.
    const N: usize = 40_000;

    fn parameter(yaml: &str) -> Parameter {
        serde_norway::from_str(yaml).unwrap()
    }

    fn draw(yaml: &str) -> Draw {
        parameter(yaml).domain().unwrap().into_draw().unwrap()
    }

    /// `N` draws from a fixed seed, as a random sweep makes them.
    fn sample(yaml: &str) -> Vec<Value> {
        let draw = draw(yaml);
        let mut rng = SplitMix64::new(2024);
        (0..N).map(|_| draw.sample(&mut rng)).collect()
    }

    fn reals(values: &[Value]) -> Vec<f64> {
        values.iter().map(|v| v.as_f64().unwrap()).collect()
    }

    fn mean(xs: &[f64]) -> f64 {
        xs.iter().sum::<f64>() / xs.len() as f64
    }

    fn variance(xs: &[f64]) -> f64 {
        let m = mean(xs);
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
    }

    /// The sample mean is within 6 standard errors of `expected`, for a
    /// distribution of standard deviation `sd`.
    fn assert_mean(xs: &[f64], expected: f64, sd: f64, what: &str) {
        let (m, se) = (mean(xs), sd / (xs.len() as f64).sqrt());
        assert!(
            (m - expected).abs() <= 6.0 * se,
            "{what}: mean {m}, expected {expected} ± {}",
            6.0 * se
        );
    }

    /// The sample variance is within 6 standard errors of `expected`; the
    /// standard error needs the fourth central moment `mu4`.
    fn assert_variance(xs: &[f64], expected: f64, mu4: f64, what: &str) {
        let (v, se) = (
            variance(xs),
            ((mu4 - expected * expected) / xs.len() as f64).sqrt(),
        );
        assert!(
            (v - expected).abs() <= 6.0 * se,
            "{what}: variance {v}, expected {expected} ± {}",
            6.0 * se
        );
    }

    /// Each value's share of the draws is within 6 standard errors of its
    /// probability, and no other value was drawn when the listed ones cover
    /// all the probability.
    fn assert_frequencies(values: &[Value], expected: &[(Value, f64)]) {
        let n = values.len() as f64;
        for (value, p) in expected {
            let share = values
                .iter()
                .filter(|v| v.as_f64() == value.as_f64() && v.is_number() || *v == value)
                .count() as f64
                / n;
            let se = (p * (1.0 - p) / n).sqrt();
            assert!(
                (share - p).abs() <= 6.0 * se + 1e-12,
                "{value}: share {share}, expected {p} ± {}",
                6.0 * se
            );
        }
        let covered: f64 = expected.iter().map(|(_, p)| p).sum();
        if (covered - 1.0).abs() < 1e-9 {
            let strays: Vec<&Value> = values
                .iter()
                .filter(|v| !expected.iter().any(|(e, _)| e == *v))
                .take(3)
                .collect();
            assert!(strays.is_empty(), "drawn but not possible: {strays:?}");
        }
    }

    fn assert_within(xs: &[f64], min: f64, max: f64) {
        let (low, high) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        assert!(
            min <= low && high <= max,
            "draws span [{low}, {high}], outside [{min}, {max}]"
        );
    }

    fn ln(xs: &[f64]) -> Vec<f64> {
        xs.iter().map(|x| x.ln()).collect()
    }

    /// Mean, variance and fourth central moment of U(a, b).
    fn uniform_moments(a: f64, b: f64) -> (f64, f64, f64) {
        let w = b - a;
        ((a + b) / 2.0, w * w / 12.0, w.powi(4) / 80.0)
    }

    #[test]
    fn constant_and_categorical_draw_as_w_and_b_defines_them() {
        for yaml in ["{value: 5}", "{distribution: constant, value: 5}"] {
            assert!(sample(yaml).iter().all(|v| *v == json!(5)), "{yaml}");
        }
        for yaml in [
            "{values: [a, b, c]}",
            "{distribution: categorical, values: [a, b, c]}",
        ] {
            let third = 1.0 / 3.0;
            assert_frequencies(
                &sample(yaml),
                &[
                    (json!("a"), third),
                    (json!("b"), third),
                    (json!("c"), third),
                ],
            );
        }
        let weighted = sample("{values: [a, b, c, d], probabilities: [0.5, 0.3, 0.2, 0.0]}");
        assert_frequencies(
            &weighted,
            &[
                (json!("a"), 0.5),
                (json!("b"), 0.3),
                (json!("c"), 0.2),
                (json!("d"), 0.0),
            ],
        );
        // W&B's schema name for the weighted form means the same.
        let named = sample(
            "{distribution: categorical_w_probabilities, values: [a, b, c, d], probabilities: [0.5, 0.3, 0.2, 0.0]}",
        );
        assert_eq!(named, weighted);
    }

    #[test]
    fn int_uniform_gives_each_integer_equally_often() {
        let draws = sample("{min: 3, max: 7}");
        assert!(draws.iter().all(Value::is_i64), "integers, not floats");
        let each: Vec<(Value, f64)> = (3..=7).map(|k| (json!(k), 0.2)).collect();
        assert_frequencies(&draws, &each);
    }

    #[test]
    fn uniform_has_the_uniform_mean_and_variance() {
        let xs = reals(&sample("{min: -1.0, max: 3}"));
        assert_within(&xs, -1.0, 3.0);
        let (m, v, mu4) = uniform_moments(-1.0, 3.0);
        assert_mean(&xs, m, v.sqrt(), "uniform");
        assert_variance(&xs, v, mu4, "uniform");
    }

    #[test]
    fn q_uniform_rounds_to_the_nearest_multiple_of_q() {
        // Rounding (not flooring) gives the end multiples half a cell each.
        let draws = sample("{distribution: q_uniform, min: 0, max: 10, q: 2.5}");
        let expected = [
            (0.0, 0.125),
            (2.5, 0.25),
            (5.0, 0.25),
            (7.5, 0.25),
            (10.0, 0.125),
        ];
        assert_frequencies(&draws, &expected.map(|(x, p)| (json!(x), p)));
        // A whole q gives integers: they fit fields that take whole numbers.
        let draws = sample("{distribution: q_uniform, min: 1, max: 9, q: 2}");
        assert!(draws.iter().all(Value::is_i64), "{:?}", &draws[..3]);
        assert_frequencies(&draws, &[2, 4, 6, 8].map(|k| (json!(k), 0.25)));
        // q defaults to 1.
        let draws = sample("{distribution: q_uniform, min: 0.5, max: 2.5}");
        assert_frequencies(&draws, &[(json!(1), 0.5), (json!(2), 0.5)]);
    }

    #[test]
    fn log_uniform_takes_exponents_and_log_uniform_values_takes_values() {
        // Exponents 1 and 3: values from e to e³, ln x uniform on [1, 3].
        let xs = reals(&sample("{distribution: log_uniform, min: 1, max: 3}"));
        assert_within(&xs, E, E.powi(3) + 1e-9);
        let (m, v, mu4) = uniform_moments(1.0, 3.0);
        assert_mean(&ln(&xs), m, v.sqrt(), "ln of log_uniform");
        assert_variance(&ln(&xs), v, mu4, "ln of log_uniform");
        let mean_x = (E.powi(3) - E) / 2.0;
        let sd_x = ((E.powi(6) - E.powi(2)) / 4.0 - mean_x * mean_x).sqrt();
        assert_mean(&xs, mean_x, sd_x, "log_uniform");

        // The same numbers as values: x from 1 to 3, ln x uniform on [0, ln 3].
        let xs = reals(&sample(
            "{distribution: log_uniform_values, min: 1, max: 3}",
        ));
        assert_within(&xs, 1.0, 3.0);
        let (m, v, mu4) = uniform_moments(0.0, 3f64.ln());
        assert_mean(&ln(&xs), m, v.sqrt(), "ln of log_uniform_values");
        assert_variance(&ln(&xs), v, mu4, "ln of log_uniform_values");
        let mean_x = 2.0 / 3f64.ln();
        let sd_x = ((9.0 - 1.0) / (2.0 * 3f64.ln()) - mean_x * mean_x).sqrt();
        assert_mean(&xs, mean_x, sd_x, "log_uniform_values");
    }

    /// P(round(x) = k) when ln x is uniform on [0, ln 100].
    fn rounded_log_uniform(k: f64) -> f64 {
        let (low, high) = ((k - 0.5).max(1.0), (k + 0.5).min(100.0));
        (high.ln() - low.ln()) / 100f64.ln()
    }

    #[test]
    fn q_log_uniform_and_q_log_uniform_values_round_the_same_draws() {
        let expected: Vec<(Value, f64)> = [1.0, 2.0, 3.0, 5.0, 10.0, 100.0]
            .map(|k| (json!(k as i64), rounded_log_uniform(k)))
            .to_vec();
        for yaml in [
            format!(
                "{{distribution: q_log_uniform, min: 0, max: {}}}",
                2.0 * LN_10
            ),
            "{distribution: q_log_uniform_values, min: 1, max: 100, q: 1}".to_owned(),
        ] {
            let draws = sample(&yaml);
            assert!(draws.iter().all(Value::is_i64), "{yaml}");
            assert_within(&reals(&draws), 1.0, 100.0);
            assert_frequencies(&draws, &expected);
        }
        // A fractional q: multiples of it, as floats.
        let xs = reals(&sample(
            "{distribution: q_log_uniform_values, min: 0.5, max: 4, q: 0.5}",
        ));
        assert!(
            xs.iter().all(|x| (x / 0.5).fract() == 0.0),
            "multiples of 0.5"
        );
        assert_within(&xs, 0.5, 4.0);
    }

    #[test]
    fn inv_log_uniform_makes_ln_of_the_inverse_uniform() {
        // ln(1/x) uniform on the exponents [1, 3]: x from e⁻³ to e⁻¹.
        let xs = reals(&sample("{distribution: inv_log_uniform, min: 1, max: 3}"));
        assert_within(&xs, (-3f64).exp() - 1e-12, (-1f64).exp() + 1e-12);
        let (m, v, mu4) = uniform_moments(1.0, 3.0);
        let inverse_ln: Vec<f64> = xs.iter().map(|x| (1.0 / x).ln()).collect();
        assert_mean(&inverse_ln, m, v.sqrt(), "ln(1/x) of inv_log_uniform");
        assert_variance(&inverse_ln, v, mu4, "ln(1/x) of inv_log_uniform");
        let inverses: Vec<f64> = xs.iter().map(|x| 1.0 / x).collect();
        let mean_inverse = (E.powi(3) - E) / 2.0;
        let sd_inverse = ((E.powi(6) - E.powi(2)) / 4.0 - mean_inverse * mean_inverse).sqrt();
        assert_mean(
            &inverses,
            mean_inverse,
            sd_inverse,
            "1/x of inv_log_uniform",
        );

        let xs = reals(&sample(
            "{distribution: inv_log_uniform_values, min: 0.01, max: 1}",
        ));
        assert_within(&xs, 0.01, 1.0);
        let (m, v, mu4) = uniform_moments(0.01f64.ln(), 0.0);
        assert_mean(&ln(&xs), m, v.sqrt(), "ln of inv_log_uniform_values");
        assert_variance(&ln(&xs), v, mu4, "ln of inv_log_uniform_values");
    }

    #[test]
    fn normal_takes_the_standard_deviation_and_defaults_to_the_standard_normal() {
        let xs = reals(&sample("{distribution: normal, mu: 2, sigma: 3}"));
        assert_mean(&xs, 2.0, 3.0, "normal");
        // sigma is the standard deviation: the variance is 9, not 3.
        assert_variance(&xs, 9.0, 3.0 * 81.0, "normal");
        let xs = reals(&sample("{distribution: normal}"));
        assert_mean(&xs, 0.0, 1.0, "default normal");
        assert_variance(&xs, 1.0, 3.0, "default normal");
    }

    #[test]
    fn q_normal_rounds_normal_draws_to_multiples_of_q() {
        let draws = sample("{distribution: q_normal, mu: 0, sigma: 2, q: 0.5}");
        let xs = reals(&draws);
        assert!(
            xs.iter().all(|x| (x / 0.5).fract() == 0.0),
            "multiples of 0.5"
        );
        let cell = |k: f64| normal_cdf((k + 0.25) / 2.0) - normal_cdf((k - 0.25) / 2.0);
        assert_frequencies(&draws, &[0.0, 0.5, -1.0, 2.0].map(|k| (json!(k), cell(k))));
        // Rounding adds q²/12 to the variance (Sheppard).
        let v = 4.0 + 0.25 / 12.0;
        assert_variance(&xs, v, 3.0 * v * v, "q_normal");
    }

    #[test]
    fn log_normal_has_a_normal_logarithm() {
        let xs = reals(&sample("{distribution: log_normal, mu: -1, sigma: 0.5}"));
        assert!(xs.iter().all(|&x| x > 0.0));
        assert_mean(&ln(&xs), -1.0, 0.5, "ln of log_normal");
        assert_variance(&ln(&xs), 0.25, 3.0 * 0.0625, "ln of log_normal");
        let (mean_x, var_x) = (
            (-1.0f64 + 0.125).exp(),
            (0.25f64.exp() - 1.0) * (-2.0f64 + 0.25).exp(),
        );
        assert_mean(&xs, mean_x, var_x.sqrt(), "log_normal");
    }

    #[test]
    fn q_log_normal_rounds_log_normal_draws() {
        let draws = sample("{distribution: q_log_normal, mu: 1, sigma: 1}");
        assert!(draws.iter().all(Value::is_i64), "q defaults to 1: integers");
        let below = |x: f64| normal_cdf(x.ln() - 1.0);
        let expected = [
            (0, below(0.5)),
            (1, below(1.5) - below(0.5)),
            (2, below(2.5) - below(1.5)),
        ];
        assert_frequencies(&draws, &expected.map(|(k, p)| (json!(k), p)));
    }

    #[test]
    fn the_normal_cdf_and_its_inverse_match_tabulated_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.959_963_984_540_054, 0.975),
            (-1.0, 0.158_655_253_931_457_07),
            (3.0, 0.998_650_101_968_369_9),
        ] {
            assert!(
                (normal_cdf(z) - p).abs() < 2e-7,
                "Φ({z}) = {}, not {p}",
                normal_cdf(z)
            );
        }
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.001, -3.090_232_306_167_813),
            (0.9999, 3.719_016_485_455_709),
        ] {
            assert!(
                (normal_quantile(p) - z).abs() < 1e-8 * z.abs().max(1.0),
                "Φ⁻¹({p}) = {}, not {z}",
                normal_quantile(p)
            );
        }
        for i in 1..1000 {
            let p = f64::from(i) / 1000.0;
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 2e-7, "{p}");
        }
    }

    #[test]
    fn a_left_out_distribution_is_inferred_as_w_and_b_does() {
        let inferred = |yaml: &str| parameter(yaml).resolved_distribution().unwrap();
        assert_eq!(inferred("{min: 1, max: 5}"), Distribution::IntUniform);
        assert_eq!(inferred("{min: -3, max: 0}"), Distribution::IntUniform);
        assert_eq!(
            inferred("{min: 1.0, max: 5}"),
            Distribution::Uniform,
            "a float bound makes it real"
        );
        assert_eq!(inferred("{min: 0.5, max: 2.0}"), Distribution::Uniform);
        assert_eq!(inferred("{values: [1, 2]}"), Distribution::Categorical);
        assert_eq!(inferred("{value: 0.1}"), Distribution::Constant);
        assert!(sample("{min: 1, max: 5}").iter().all(Value::is_i64));
        assert!(sample("{min: 1.0, max: 5}").iter().all(|v| v.is_f64()));
    }

    fn problem(yaml: &str) -> String {
        match parameter(yaml).domain() {
            Err(message) => message,
            Ok(_) => panic!("{yaml} was accepted"),
        }
    }

    #[test]
    fn a_parameter_that_cannot_be_drawn_says_what_to_write() {
        let cases = [
            ("{mu: 1}", "add `distribution: normal`"),
            (
                "{q: 2, min: 0, max: 4}",
                "does not go with `int_uniform` (what `min` and `max` mean without a `distribution`), which takes `min`, `max` and `count`; remove it; `q` goes with a rounding distribution",
            ),
            ("{q: 2}", "add `distribution: q_uniform`"),
            (
                "{values: [1, 2], count: 3}",
                "`count` sets how many points a grid spaces",
            ),
            (
                "{distribution: uniform, min: 0, max: 1, mu: 0}",
                "which takes `min`, `max` and `count`; remove it",
            ),
            (
                "{distribution: normal, min: 0, max: 1}",
                "which takes `mu` and `sigma`; remove them",
            ),
            (
                "{distribution: log_uniform_values, min: 0.1, max: 1, sigma: 1}",
                "`mu` and `sigma` go with `normal`",
            ),
            ("{distribution: constant}", "needs `value: x`"),
            (
                "{distribution: categorical, values: []}",
                "list at least one value",
            ),
            (
                "{distribution: log_uniform, min: 0.1}",
                "needs both `min` and `max` (natural-log exponents)",
            ),
            (
                "{distribution: log_uniform_values, min: 0, max: 1}",
                "needs `min` above 0",
            ),
            (
                "{distribution: inv_log_uniform_values, min: -1, max: 1}",
                "needs `min` above 0",
            ),
            (
                "{distribution: log_uniform, min: 0.001, max: 1000}",
                "write `log_uniform_values`",
            ),
            (
                "{distribution: q_uniform, min: 0, max: 1, q: 0}",
                "must be above 0",
            ),
            (
                "{distribution: q_uniform, min: 0.1, max: 0.9, q: 1}",
                "lower `q` or widen the range",
            ),
            (
                "{distribution: normal, sigma: -1}",
                "standard deviation, 0 or more",
            ),
            (
                "{distribution: log_normal, mu: 650, sigma: 10}",
                "lower them",
            ),
            (
                "{values: [a, b], probabilities: [1]}",
                "give one probability per value",
            ),
            (
                "{values: [a, b], probabilities: [0.5, 0.4]}",
                "add up to 0.9, not 1",
            ),
            (
                "{values: [a, b], probabilities: [1.5, -0.5]}",
                "each must be a number, 0 or more",
            ),
            ("{distribution: uniform, min: 2, max: 1}", "swap them"),
        ];
        for (yaml, advice) in cases {
            let message = problem(yaml);
            assert!(message.contains(advice), "{yaml}: {message}");
        }
    }

    #[test]
    fn an_unknown_distribution_lists_the_known_ones() {
        let e = serde_norway::from_str::<Parameter>("{distribution: beta}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("beta") && e.contains("q_log_uniform_values"),
            "{e}"
        );
        for distribution in Distribution::ALL {
            let name = serde_json::to_value(distribution).unwrap();
            assert_eq!(
                name,
                distribution.name(),
                "the serde name is the documented one"
            );
        }
    }
}

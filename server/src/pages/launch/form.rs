//! The launch form: its fields, the value syntax, and the translation of a
//! submitted form into a [`SweepSpec`].
//!
//! Input names are the config's dotted paths (`epsilon`, `aom.lambda_min`), so
//! an error that sweep expansion reports at a config field lands on the input
//! of the same name without a lookup table.
//!
//! Any numeric field takes one value (`0.1`, `1e-3`, `8/255`), a comma list
//! (`0.01, 0.03`) or one range: `0.01..0.1 x4` (4 evenly spaced points, both
//! ends included), `0.001..0.1 x3 log` (spaced by ratio). A whole-number range
//! without a count is every integer in it (`0..4`). In random search a range
//! is sampled, so its count is not needed. Choice fields take every checked box.

use advmix_protocol::sweep::{Distribution, Parameter, SweepMethod, SweepSpec};
use advmix_protocol::{FieldError, RunConfig};
use serde_json::{Map, Number, Value};

use crate::pages::rule_form;

/// Grid ranges are expanded here, so this bounds what one field may allocate;
/// the sweep's own run limit applies after.
const MAX_POINTS: usize = 10_000;

/// Grid points are rounded like the protocol's own ranges, so `0.2..2 x4`
/// reads 0.8, not 0.8000000000000002, in configs and run names.
const SIGNIFICANT_DIGITS: usize = 12;

/// How a field's text is read and written back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    /// A real in [0, 1] pixel units, written back as `k/255` when it is one.
    Pixels,
    /// A step size: like [`Kind::Pixels`], or an expression relative to ε
    /// (`eps/4`, `2.5*eps/steps`).
    Step,
    /// A whole number or `all` (the evaluation subset).
    CountOrAll,
    /// One checkbox per value; several may be checked.
    Choice(&'static [&'static str]),
    /// A boolean as two checkboxes, so both can be swept.
    Flag,
}

pub struct Field {
    /// The input name: the config's dotted path.
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

impl Field {
    /// The checkbox values of a choice or flag field; empty for text fields.
    pub fn options(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Choice(options) => options,
            Kind::Flag => &["true", "false"],
            _ => &[],
        }
    }

    pub fn is_text(&self) -> bool {
        self.options().is_empty()
    }

    /// What the browser's numeric keyboard should offer; `text` where words
    /// (`all`, `log`) are part of the syntax.
    pub fn inputmode(&self) -> &'static str {
        match self.kind {
            Kind::Int => "numeric",
            _ => "text",
        }
    }

    pub fn option_label(&self, option: &str) -> String {
        match (self.kind, option) {
            (Kind::Flag, "true") => "on".into(),
            (Kind::Flag, _) => "off".into(),
            _ => option.to_owned(),
        }
    }
}

/// A fieldset of the form.
pub struct Group {
    /// Used as the fieldset's `id` (`group-aom`), which launch.js shows and hides.
    pub id: &'static str,
    pub title: &'static str,
    pub fields: &'static [Field],
}

const fn field(name: &'static str, label: &'static str, help: &'static str, kind: Kind) -> Field {
    Field { name, label, help, kind }
}

pub const METHODS: &[&str] = &advmix_protocol::Method::NAMES;
pub const DATASETS: &[&str] = &["cifar10", "cifar100", "digits", "synthetic"];
pub const MODELS: &[&str] = &["preact_resnet18", "wide_resnet", "small_cnn"];
pub const SCHEDULES: &[&str] = &["piecewise", "cosine", "onecycle"];
pub const PERTURB: &[&str] = &["endpoints", "mixed", "none"];
pub const LABELS: &[&str] = &["ratio", "geometric"];
pub const FINAL_ATTACKS: &[&str] = &["none", "pgd", "aa-fast", "aa-standard"];
pub const DEVICES: &[&str] = &["auto", "cpu", "cuda"];

/// Every field of the run config except `seed` (the sweep's seeds field), in
/// page order, which is also the grid's nesting order and run-name order.
pub const GROUPS: &[Group] = &[
    Group {
        id: "model",
        title: "Method, data & model",
        fields: &[
            field("method", "Method", "Each checked method is a run of its own.", Kind::Choice(METHODS)),
            field("dataset", "Dataset", "digits is built in and trains offline in seconds.", Kind::Choice(DATASETS)),
            field("model", "Model", "", Kind::Choice(MODELS)),
            field("depth", "WRN depth", "wide_resnet only: 6n+4, e.g. 28 or 34.", Kind::Int),
            field("widen_factor", "WRN width", "wide_resnet only.", Kind::Int),
        ],
    },
    Group {
        id: "optimisation",
        title: "Optimisation",
        fields: &[
            field("epochs", "Epochs", "", Kind::Int),
            field("batch_size", "Batch size", "", Kind::Int),
            field("lr_schedule", "LR schedule", "piecewise: ×0.1 at 50% and 75% of the epochs.", Kind::Choice(SCHEDULES)),
            field("lr_max", "Max LR", "The schedule's peak learning rate (SGD).", Kind::Real),
            field("momentum", "Momentum", "", Kind::Real),
            field("weight_decay", "Weight decay", "", Kind::Real),
        ],
    },
    Group {
        id: "adversary",
        title: "Adversary (training)",
        fields: &[
            field(
                "epsilon",
                "ε (L∞ radius)",
                "A fraction of the pixel range [0, 1]: write 8/255 or 0.0314.",
                Kind::Pixels,
            ),
            field("pgd_steps", "PGD steps", "pgd_at, trades and mixup_pgd.", Kind::Int),
            field("pgd_step", "PGD step size", "A fraction, like ε: 2/255, or relative to ε: eps/4, 2.5*eps/steps.", Kind::Step),
            field("trades_beta", "TRADES β", "trades only.", Kind::Real),
        ],
    },
    Group {
        id: "evaluation",
        title: "Evaluation (after every epoch)",
        fields: &[
            field("eval.n", "Test subset", "Test points evaluated, or all.", Kind::CountOrAll),
            field("eval.pgd_steps", "PGD steps", "", Kind::Int),
            field("eval.pgd_step", "PGD step size", "A fraction, like ε: 2/255, or relative to ε: eps/4, 2.5*eps/steps.", Kind::Step),
            field("eval.restarts", "PGD restarts", "", Kind::Int),
            field(
                "eval.final_attack",
                "Final attack",
                "Run once on the final model, on the same subset.",
                Kind::Choice(FINAL_ATTACKS),
            ),
            field("eval.final_n", "Final attack points", "The first N of the subset's order, or all.", Kind::CountOrAll),
        ],
    },
    Group {
        id: "mixup",
        title: "Mixup",
        fields: &[field(
            "mixup_alpha",
            "Mixup α",
            "λ ~ Beta(α, α); mixup, mixup_pgd and aom.",
            Kind::Real,
        )],
    },
    Group {
        id: "aom",
        title: "Adversarially optimized mixup (aom)",
        fields: &[
            field("aom.perturb", "Perturb", "Which points PGD moves: the endpoints, the mixed point, or neither.", Kind::Choice(PERTURB)),
            field("aom.optimize_lambda", "Optimize λ", "Also step λ towards the worst case.", Kind::Flag),
            field("aom.steps", "Steps", "PGD steps through the interpolation.", Kind::Int),
            field("aom.lambda_step", "λ step", "", Kind::Real),
            field("aom.lambda_min", "λ min", "", Kind::Real),
            field("aom.lambda_max", "λ max", "", Kind::Real),
            field("aom.random_start", "Random start", "δ starts uniform in the ball (on) or at zero.", Kind::Flag),
            field("aom.labels", "Labels", "How the mixed label follows λ.", Kind::Choice(LABELS)),
            field("aom.clean_weight", "Clean weight", "Weight of an added clean-mixup loss.", Kind::Real),
        ],
    },
    Group {
        id: "output",
        title: "Device & output",
        fields: &[
            field("device", "Device", "Which slots may take the runs; auto takes any free one.", Kind::Choice(DEVICES)),
            field("bf16", "bf16 autocast", "Honoured on CUDA only.", Kind::Flag),
            field("checkpoint_every", "Checkpoint every", "Keep a checkpoint every N epochs; 0 keeps only last and best.", Kind::Int),
            field("samples_every", "Samples every", "An image grid every N epochs; 0 writes none.", Kind::Int),
        ],
    },
];

pub fn fields() -> impl Iterator<Item = &'static Field> {
    GROUPS.iter().flat_map(|g| g.fields)
}

pub fn find(name: &str) -> Option<&'static Field> {
    fields().find(|f| f.name == name)
}

/// The inputs of the Sweep fieldset, which are not config fields.
pub const SWEEP_INPUTS: &[&str] =
    &["name", "search", "count", "random_seed", "seeds", "et", "et_first", "et_eta", "et_metric", "yaml"];

/// The submitted (or pre-filled) values, as raw name/value pairs in form
/// order; kept verbatim so a refused form comes back exactly as typed.
#[derive(Clone, Debug, Default)]
pub struct FormValues {
    pairs: Vec<(String, String)>,
}

impl FormValues {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> FormValues {
        let pairs = pairs.into_iter().filter(|(k, _)| k != crate::csrf::FIELD).collect();
        FormValues { pairs }
    }

    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.pairs.push((name.to_owned(), value.into()));
    }

    /// The first value of `name`, or "" when it was not sent.
    pub fn text(&self, name: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn checked(&self, name: &str, option: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && v == option)
    }

    pub fn is_random(&self) -> bool {
        self.text("search") == "random"
    }

    pub fn is_bayes(&self) -> bool {
        self.text("search") == "bayes"
    }

    /// A pasted or uploaded spec replaces the fields.
    pub fn is_yaml(&self) -> bool {
        !self.text("yaml").trim().is_empty()
    }

    /// The form for one run's config: every field one value, so it launches
    /// exactly that config until something is changed.
    pub fn from_config(config: &RunConfig, name: &str) -> FormValues {
        let json = serde_json::to_value(config).expect("a RunConfig always serializes");
        let mut form = FormValues::default();
        form.set("name", name);
        form.set("search", "grid");
        form.set("count", "20");
        form.set("random_seed", "0");
        form.set("et", "none");
        form.set("et_first", "1");
        form.set("et_eta", "3");
        form.set("et_metric", "test_pgd_acc");
        form.set("seeds", config.seed.to_string());
        for field in fields() {
            let Some(value) = json.pointer(&pointer(field.name)) else { continue };
            form.set(field.name, display(field.kind, value));
        }
        form
    }
}

fn pointer(path: &str) -> String {
    path.split('.').map(|key| format!("/{key}")).collect()
}

/// A config value as the form writes it: ε as `8/255` when it is a whole
/// number of grey levels, strings bare.
pub fn display(kind: Kind, value: &Value) -> String {
    match (kind, value) {
        (Kind::Pixels | Kind::Step, Value::Number(n)) => n.as_f64().map_or_else(|| n.to_string(), pixels),
        // A stored step expression: the expression, as it was written.
        (Kind::Step, Value::Object(o)) if o.get("expr").is_some_and(Value::is_string) => {
            o["expr"].as_str().unwrap_or_default().to_owned()
        }
        (_, Value::Number(n)) => match n.as_f64() {
            Some(x) if !n.is_u64() && !n.is_i64() => x.to_string(),
            _ => n.to_string(),
        },
        (_, Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

fn pixels(x: f64) -> String {
    let levels = x * 255.0;
    if levels.round() >= 1.0 && (levels - levels.round()).abs() < 1e-6 {
        format!("{}/255", levels.round())
    } else {
        x.to_string()
    }
}

/// A value for display in the run-count preview: as the form writes it.
pub fn display_param(path: &str, value: &Value) -> String {
    display(find(path).map_or(Kind::Real, |f| f.kind), value)
}

/// What a numeric field's text says.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    List(Vec<Value>),
    Range { min: f64, max: f64, count: Option<usize>, log: bool },
}

/// How one number is read: whole numbers stay integers in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    Whole,
    Real,
    WholeOrAll,
    /// A real, or an expression in `eps` and `steps`.
    Step,
}

fn number_kind(kind: Kind) -> Reading {
    match kind {
        Kind::Step => Reading::Step,
        Kind::Int => Reading::Whole,
        Kind::CountOrAll => Reading::WholeOrAll,
        _ => Reading::Real,
    }
}

fn parse_one(token: &str, kind: Reading) -> Result<Value, String> {
    match kind {
        Reading::WholeOrAll if token.eq_ignore_ascii_case("all") => Ok(Value::from("all")),
        Reading::Whole | Reading::WholeOrAll => {
            let hint = if kind == Reading::WholeOrAll { " or all" } else { "" };
            token.parse::<u64>().map(Value::from).map_err(|_| format!("`{token}` is not a whole number ≥ 0{hint}"))
        }
        Reading::Real => parse_real(token).map(Value::from),
        Reading::Step => match parse_real(token) {
            Ok(x) => Ok(Value::from(x)),
            // Checked here so that a typo is marked at its field; stored as written.
            Err(_) if token.chars().any(|c| c.is_ascii_alphabetic()) => {
                advmix_protocol::step::StepSize::expression(token).map(|_| Value::from(token.trim()))
            }
            Err(e) => Err(e),
        },
    }
}

/// A finite number, or a fraction `a/b` (for ε in grey levels: `8/255`).
fn parse_real(token: &str) -> Result<f64, String> {
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|x| x.is_finite());
    let value = match token.split_once('/') {
        Some((a, b)) => number(a).zip(number(b)).filter(|&(_, b)| b != 0.0).map(|(a, b)| a / b),
        None => number(token),
    };
    value.ok_or_else(|| format!("`{token}` is not a number (write 0.1, 1e-3 or 8/255)"))
}

/// Reads a field's text: one value, a comma list, or one range.
pub fn parse_values(text: &str, kind: Kind) -> Result<Values, String> {
    let number = number_kind(kind);
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty; give a value".into());
    }
    let Some((low, rest)) = text.split_once("..") else {
        let mut values: Vec<Value> = Vec::new();
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let value = parse_one(token, number)?;
            if values.contains(&value) {
                return Err(format!("`{token}` is listed twice; list each value once"));
            }
            values.push(value);
        }
        if values.is_empty() {
            return Err("is empty; give a value".into());
        }
        return Ok(Values::List(values));
    };
    if text.contains(',') {
        return Err("write either a comma list or one range (`0.01..0.1 x4`), not both".into());
    }
    let mut words = rest.split_whitespace();
    let high = words.next().ok_or("a range needs an upper end: `0.01..0.1 x4`")?;
    let bound = |token: &str| -> Result<f64, String> {
        if matches!(number, Reading::Real | Reading::Step) {
            parse_real(token)
        } else {
            token.parse::<u64>().map(|n| n as f64).map_err(|_| format!("`{token}` is not a whole number ≥ 0"))
        }
    };
    let (min, max) = (bound(low.trim())?, bound(high)?);
    let (mut count, mut log) = (None, false);
    for word in words {
        let lower = word.to_ascii_lowercase();
        if let Some(n) = lower.strip_prefix('x').or_else(|| lower.strip_prefix('×')) {
            count = Some(n.parse::<usize>().map_err(|_| format!("`{word}` is not a count; write x4 for 4 points"))?);
        } else if lower == "log" {
            log = true;
        } else if lower == "lin" || lower == "linear" {
            log = false;
        } else {
            return Err(format!("`{word}` is not part of the range syntax: `A..B x4`, `A..B x3 log`"));
        }
    }
    if min > max {
        return Err(format!("the range runs from {min} down to {max}; swap its ends"));
    }
    if log && min <= 0.0 {
        return Err(format!("a log range needs its lower end above 0, not {min}: its points are spaced by ratio"));
    }
    Ok(Values::Range { min, max, count, log })
}

/// A range's grid points, both ends included; whole-number fields are rounded
/// and never repeat a value.
fn grid_points(min: f64, max: f64, count: Option<usize>, log: bool, whole: bool) -> Result<Vec<Value>, String> {
    let span = max - min + 1.0;
    let count = match count {
        Some(n) if n < 2 => return Err(format!("x{n}: a range needs at least 2 points; write a single value instead")),
        Some(n) if n > MAX_POINTS => return Err(format!("x{n} is more than {MAX_POINTS} points")),
        Some(n) => n,
        None if whole && !log && span <= MAX_POINTS as f64 => span as usize,
        None => return Err("a range in grid search needs a count: `A..B x4` gives 4 points (or choose random search)".into()),
    };
    let t = |i: usize| i as f64 / (count - 1) as f64;
    let point = |i: usize| {
        let x = if log { (min.ln() * (1.0 - t(i)) + max.ln() * t(i)).exp() } else { min * (1.0 - t(i)) + max * t(i) };
        let tidy: f64 = format!("{x:.*e}", SIGNIFICANT_DIGITS - 1).parse().unwrap_or(x);
        tidy.clamp(min, max)
    };
    if whole {
        let mut points: Vec<u64> = (0..count).map(|i| point(i).round() as u64).collect();
        points.dedup();
        Ok(points.into_iter().map(Value::from).collect())
    } else {
        Ok((0..count).map(|i| Value::from(point(i))).collect())
    }
}

/// Where one field's values go in the spec.
#[derive(Debug, PartialEq)]
enum Placement {
    Base(Value),
    Parameter(Parameter),
}

fn values_parameter(values: Vec<Value>) -> Parameter {
    Parameter { values: Some(values), ..Parameter::default() }
}

fn place(values: Vec<Value>) -> Placement {
    match <[Value; 1]>::try_from(values) {
        Ok([one]) => Placement::Base(one),
        Err(values) => Placement::Parameter(values_parameter(values)),
    }
}

fn number(x: f64) -> Number {
    Number::from_f64(x).expect("ranges are checked finite")
}

/// One field's values in the spec: a single value into `base`, several into
/// `parameters` (explicit points in a grid; in random search a range is
/// sampled by the spec itself).
fn field_placement(field: &Field, form: &FormValues, method: SweepMethod) -> Result<Placement, String> {
    if !field.is_text() {
        let checked = form.all(field.name);
        if checked.is_empty() {
            return Err("check at least one".into());
        }
        let mut values = Vec::new();
        for option in checked {
            if !field.options().contains(&option) {
                return Err(format!("`{option}` is not one of {}", field.options().join(", ")));
            }
            let value = if field.kind == Kind::Flag { Value::Bool(option == "true") } else { Value::from(option) };
            if !values.contains(&value) {
                values.push(value);
            }
        }
        return Ok(place(values));
    }
    let whole = matches!(field.kind, Kind::Int | Kind::CountOrAll);
    match parse_values(form.text(field.name), field.kind)? {
        Values::List(values) => Ok(place(values)),
        Values::Range { min, max, count, log } if method == SweepMethod::Grid => {
            Ok(place(grid_points(min, max, count, log, whole)?))
        }
        Values::Range { min, max, log, .. } => {
            let (min, max, distribution) = match (whole, log) {
                (true, true) => {
                    return Err("random search samples whole numbers evenly; drop `log`, or list the values".into());
                }
                (true, false) => (Number::from(min as u64), Number::from(max as u64), Distribution::IntUniform),
                // The form's bounds are the values, never exponents.
                (false, true) => (number(min), number(max), Distribution::LogUniformValues),
                (false, false) => (number(min), number(max), Distribution::Uniform),
            };
            Ok(Placement::Parameter(Parameter {
                min: Some(min),
                max: Some(max),
                distribution: Some(distribution),
                ..Parameter::default()
            }))
        }
    }
}

/// Sets a dotted path in a nested object: `aom.steps` → `{aom: {steps: v}}`.
fn insert_path(object: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            object.insert(path.to_owned(), value);
        }
        Some((section, rest)) => {
            let inner = object.entry(section).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                insert_path(inner, rest, value);
            }
        }
    }
}

fn error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.to_owned(), message: message.into() }
}

/// The seeds: one seed is the base config's, several run every config once each.
fn seeds(text: &str) -> Result<Vec<u64>, String> {
    let values = match parse_values(text, Kind::Int)? {
        Values::List(values) => values,
        Values::Range { min, max, count, log } => grid_points(min, max, count, log, true)?,
    };
    Ok(values.iter().filter_map(Value::as_u64).collect())
}

/// The spec a filled-in form describes, or every problem, each at its input.
/// Config rules are not checked here: expansion checks them, once, exactly as
/// for the API.
pub fn to_spec(form: &FormValues) -> Result<SweepSpec, Vec<FieldError>> {
    let mut errors = Vec::new();
    let method = match form.text("search") {
        "grid" | "" => SweepMethod::Grid,
        "random" => SweepMethod::Random,
        "bayes" => SweepMethod::Bayes,
        other => {
            errors.push(error("search", format!("`{other}` is not grid, random or bayes")));
            SweepMethod::Grid
        }
    };
    let name = Some(form.text("name").trim()).filter(|n| !n.is_empty()).map(str::to_owned);
    let mut spec = SweepSpec { name, ..SweepSpec::new(method) };
    if method != SweepMethod::Grid {
        match form.text("count").trim().parse::<usize>() {
            Ok(n) if n >= 1 => spec.count = Some(n),
            _ => errors.push(error("count", "give the number of configs to sample, 1 or more")),
        }
        match form.text("random_seed").trim() {
            "" => {}
            text => match text.parse::<u64>() {
                Ok(seed) => spec.random_seed = Some(seed),
                Err(_) => errors.push(error("random_seed", format!("`{text}` is not a whole number ≥ 0"))),
            },
        }
    }
    for field in fields() {
        match field_placement(field, form, method) {
            Ok(Placement::Base(value)) => insert_path(&mut spec.base, field.name, value),
            Ok(Placement::Parameter(parameter)) => spec.parameters.push((field.name.to_owned(), parameter)),
            Err(message) => errors.push(error(field.name, message)),
        }
    }
    match seeds(form.text("seeds")) {
        Ok(seeds) if seeds.len() == 1 => insert_path(&mut spec.base, "seed", Value::from(seeds[0])),
        Ok(seeds) => spec.seeds = Some(seeds),
        Err(message) => errors.push(error("seeds", message)),
    }
    match rule_form::rule(form.text("et"), form.text("et_first"), form.text("et_eta"), form.text("et_metric")) {
        Ok(rule) => spec.early_terminate = rule,
        Err(e) => errors.push(e),
    }
    if errors.is_empty() { Ok(spec) } else { Err(errors) }
}


/// The input an expansion error belongs to: `base.epsilon`,
/// `parameters.epsilon` and `epsilon` all mean the ε input. None for errors
/// about the sweep as a whole (`parameters`: too many runs).
pub fn input_for(error_field: &str) -> Option<&'static str> {
    if let Some(input) = rule_form::input_for(error_field) {
        return Some(input);
    }
    let path = error_field.strip_prefix("base.").or_else(|| error_field.strip_prefix("parameters.")).unwrap_or(error_field);
    if path == "seed" {
        return Some("seeds");
    }
    find(path).map(|f| f.name).or_else(|| SWEEP_INPUTS.iter().copied().find(|&n| n == path && n != "yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormValues {
        let mut form = FormValues::from_config(&RunConfig::default(), "");
        // Later pairs of the same name replace the defaults, as a browser sends one set.
        for (name, _) in pairs {
            form.pairs.retain(|(k, _)| k != name);
        }
        for (name, value) in pairs {
            form.set(name, *value);
        }
        form
    }

    fn list(values: &[f64]) -> Values {
        Values::List(values.iter().map(|&x| Value::from(x)).collect())
    }

    #[test]
    fn single_values_and_comma_lists() {
        assert_eq!(parse_values("0.1", Kind::Real).unwrap(), list(&[0.1]));
        assert_eq!(parse_values(" 0.01, 0.03 ,", Kind::Real).unwrap(), list(&[0.01, 0.03]));
        assert_eq!(parse_values("1e-3", Kind::Real).unwrap(), list(&[0.001]));
        assert_eq!(parse_values("8/255, 16/255", Kind::Pixels).unwrap(), list(&[8.0 / 255.0, 16.0 / 255.0]));
        assert_eq!(parse_values("3, 5", Kind::Int).unwrap(), Values::List(vec![Value::from(3u64), Value::from(5u64)]));
        assert_eq!(
            parse_values("100, all", Kind::CountOrAll).unwrap(),
            Values::List(vec![Value::from(100u64), Value::from("all")])
        );
    }

    #[test]
    fn ranges_with_count_and_scale() {
        assert_eq!(
            parse_values("0.01..0.1 x4", Kind::Real).unwrap(),
            Values::Range { min: 0.01, max: 0.1, count: Some(4), log: false }
        );
        assert_eq!(
            parse_values("0.001 .. 0.1 ×3 log", Kind::Real).unwrap(),
            Values::Range { min: 0.001, max: 0.1, count: Some(3), log: true }
        );
        assert_eq!(
            parse_values("2/255..8/255 x4 lin", Kind::Pixels).unwrap(),
            Values::Range { min: 2.0 / 255.0, max: 8.0 / 255.0, count: Some(4), log: false }
        );
        assert_eq!(parse_values("0..4", Kind::Int).unwrap(), Values::Range { min: 0.0, max: 4.0, count: None, log: false });
    }

    #[test]
    fn bad_values_say_what_to_write() {
        let cases = [
            ("", Kind::Real, "empty"),
            ("abc", Kind::Real, "not a number"),
            ("inf", Kind::Real, "not a number"),
            ("1/0", Kind::Real, "not a number"),
            ("2.5", Kind::Int, "whole number"),
            ("-1", Kind::Int, "whole number"),
            ("0.1, 0.1", Kind::Real, "twice"),
            ("0.1..", Kind::Real, "upper end"),
            ("0.1..0.01 x3", Kind::Real, "swap"),
            ("0..0.1 x3 log", Kind::Real, "above 0"),
            ("0.01..0.1 x4 cubic", Kind::Real, "cubic"),
            ("0.01..0.1 xfour", Kind::Real, "x4"),
            ("0.01, 0.02..0.1 x4", Kind::Real, "not both"),
            ("some", Kind::CountOrAll, "or all"),
        ];
        for (text, kind, expected) in cases {
            let message = parse_values(text, kind).unwrap_err();
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    #[test]
    fn grid_points_are_even_tidy_and_whole_where_needed() {
        let floats = |v: Vec<Value>| v.iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
        assert_eq!(floats(grid_points(0.2, 2.0, Some(4), false, false).unwrap()), [0.2, 0.8, 1.4, 2.0]);
        assert_eq!(floats(grid_points(0.001, 0.1, Some(3), true, false).unwrap()), [0.001, 0.01, 0.1]);
        let whole = grid_points(1.0, 16.0, Some(5), true, true).unwrap();
        assert_eq!(whole, [1u64, 2, 4, 8, 16].map(Value::from));
        assert_eq!(grid_points(1.0, 3.0, Some(5), false, true).unwrap(), [1u64, 2, 3].map(Value::from));
        assert_eq!(grid_points(0.0, 3.0, None, false, true).unwrap(), [0u64, 1, 2, 3].map(Value::from));
        assert!(grid_points(0.1, 0.2, None, false, false).unwrap_err().contains("count"));
        assert!(grid_points(0.1, 0.2, Some(1), false, false).unwrap_err().contains("at least 2"));
        assert!(grid_points(0.0, 1e12, None, false, true).unwrap_err().contains("count"));
    }

    #[test]
    fn the_default_form_is_the_default_config_in_base() {
        let spec = to_spec(&form(&[])).unwrap();
        assert_eq!(spec.method, SweepMethod::Grid);
        assert!(spec.parameters.is_empty() && spec.seeds.is_none() && spec.name.is_none());
        assert_eq!(spec.run_count().unwrap(), 1);
        let run = &spec.expand(10).unwrap()[0];
        assert_eq!(run.config, RunConfig::default());
        assert_eq!(spec.base["epsilon"], Value::from(8.0 / 255.0));
        assert_eq!(spec.base["aom"]["labels"], "ratio", "dotted names nest");
    }

    #[test]
    fn several_values_become_parameters_in_form_order() {
        let spec = to_spec(&form(&[
            ("name", "  eps sweep "),
            ("method", "pgd_at"),
            ("method", "aom"),
            ("epsilon", "4/255, 8/255"),
            ("lr_max", "0.01..0.1 x3 log"),
            ("aom.optimize_lambda", "true"),
            ("aom.optimize_lambda", "false"),
            ("seeds", "0, 1"),
        ]))
        .unwrap();
        assert_eq!(spec.name.as_deref(), Some("eps sweep"));
        let paths: Vec<&str> = spec.parameters.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["method", "lr_max", "epsilon", "aom.optimize_lambda"]);
        assert_eq!(spec.parameters[1].1.values.as_ref().unwrap(), &[0.01, 0.0316227766017, 0.1].map(Value::from));
        assert_eq!(spec.parameters[3].1.values.as_ref().unwrap(), &[Value::Bool(true), Value::Bool(false)]);
        assert_eq!(spec.seeds, Some(vec![0, 1]));
        assert_eq!(spec.run_count().unwrap(), 2 * 3 * 2 * 2 * 2);
        assert!(!spec.base.contains_key("method"));
    }

    #[test]
    fn random_search_samples_ranges() {
        let spec = to_spec(&form(&[
            ("search", "random"),
            ("count", "5"),
            ("random_seed", "3"),
            ("lr_max", "0.01..0.1 log"),
            ("mixup_alpha", "0.5..2 x9"),
            ("pgd_steps", "3..10"),
            ("seeds", "0..2"),
        ]))
        .unwrap();
        assert_eq!((spec.method, spec.count, spec.random_seed), (SweepMethod::Random, Some(5), Some(3)));
        let paths: Vec<&str> = spec.parameters.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["lr_max", "pgd_steps", "mixup_alpha"]);
        let lr = &spec.parameters[0].1;
        assert_eq!(lr.distribution, Some(Distribution::LogUniformValues));
        assert_eq!((lr.min.clone(), lr.max.clone()), (Number::from_f64(0.01), Number::from_f64(0.1)));
        let alpha = &spec.parameters[2].1;
        assert_eq!((alpha.distribution, alpha.count), (Some(Distribution::Uniform), None), "a count is not needed");
        assert_eq!(spec.parameters[1].1.distribution, Some(Distribution::IntUniform));
        assert_eq!(spec.seeds, Some(vec![0, 1, 2]));
        assert_eq!(spec.run_count().unwrap(), 15);
        assert_eq!(spec.expand(100).unwrap().len(), 15);

        let errors = to_spec(&form(&[("search", "random"), ("count", "0"), ("epochs", "1..16 log")])).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["count", "epochs"]);
    }

    #[test]
    fn every_problem_is_reported_at_its_input() {
        let errors = to_spec(&form(&[("epsilon", "lots"), ("method", "fgsm"), ("seeds", ""), ("search", "annealing")]))
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["search", "method", "epsilon", "seeds"]);
        let mut unchecked = form(&[]);
        unchecked.pairs.retain(|(k, _)| k != "dataset");
        assert_eq!(to_spec(&unchecked).unwrap_err()[0].message, "check at least one");
    }

    #[test]
    fn expansion_errors_map_to_inputs() {
        assert_eq!(input_for("epsilon"), Some("epsilon"));
        assert_eq!(input_for("base.aom.lambda_min"), Some("aom.lambda_min"));
        assert_eq!(input_for("parameters.eval.n"), Some("eval.n"));
        assert_eq!(input_for("parameters.seed"), Some("seeds"));
        assert_eq!(input_for("count"), Some("count"));
        assert_eq!(input_for("parameters"), None);
        assert_eq!(input_for("spec"), None);
    }

    #[test]
    fn the_form_covers_the_whole_config_with_valid_choices() {
        let defaults = serde_json::to_value(RunConfig::default()).unwrap();
        let mut leaves = Vec::new();
        fn walk(prefix: &str, value: &Value, leaves: &mut Vec<String>) {
            match value {
                Value::Object(map) => map.iter().for_each(|(k, v)| {
                    walk(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, leaves)
                }),
                _ => leaves.push(prefix.to_owned()),
            }
        }
        walk("", &defaults, &mut leaves);
        let mut names: Vec<&str> = fields().map(|f| f.name).chain(["seed"]).collect();
        names.sort_unstable();
        leaves.sort_unstable();
        assert_eq!(names, leaves, "a config field the form does not offer (or one that is gone)");
        for field in fields() {
            for option in field.options() {
                let mut form = form(&[]);
                form.pairs.retain(|(k, _)| k != field.name);
                form.set(field.name, *option);
                let spec = to_spec(&form).unwrap();
                // Type-checked by the spec; `none` perturb is a config rule, not a type error.
                spec.run_count().unwrap_or_else(|e| panic!("{}={option}: {e}", field.name));
            }
        }
    }

    #[test]
    fn configs_write_back_as_typed() {
        let mut config = RunConfig { epsilon: 16.0 / 255.0, lr_max: 0.05, weight_decay: 5e-4, seed: 7, ..RunConfig::default() };
        config.eval.n = advmix_protocol::config::EvalSize::ALL;
        let form = FormValues::from_config(&config, "clone of 3");
        assert_eq!(form.text("epsilon"), "16/255");
        assert_eq!(form.text("pgd_step"), "2/255");
        assert_eq!(form.text("lr_max"), "0.05");
        assert_eq!(form.text("weight_decay"), "0.0005");
        assert_eq!(form.text("mixup_alpha"), "1");
        assert_eq!(form.text("eval.n"), "all");
        assert_eq!(form.text("seeds"), "7");
        assert_eq!(form.text("name"), "clone of 3");
        assert!(form.checked("method", "pgd_at") && !form.checked("method", "aom"));
        assert!(form.checked("aom.random_start", "true") && !form.checked("aom.random_start", "false"));
        assert_eq!(to_spec(&form).unwrap().expand(1).unwrap()[0].config, config, "a clone launches the same config");
        assert_eq!(display_param("epsilon", &Value::from(0.0314)), "0.0314");
    }
}

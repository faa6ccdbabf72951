//! The run config: everything one trainer process needs to train one model.
//!
//! Every field has a default, so a config file only names what it changes and a
//! sweep can vary any field. Unknown keys are rejected rather than ignored: a
//! typo in a sweep must not silently run the default.

use serde::{Deserialize, Serialize};

pub use crate::step::StepSize;
use crate::validate::{FieldError, Validator};

/// Training method. See `docs/methods.md` for the exact losses.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Erm,
    Mixup,
    PgdAt,
    Trades,
    MixupPgd,
    Aom,
}

impl Method {
    /// Every method, in the order forms and filters list them.
    pub const ALL: [Method; 6] = [Method::Erm, Method::Mixup, Method::PgdAt, Method::Trades, Method::MixupPgd, Method::Aom];
    /// Their names as configs and sweep specs write them, in the same order
    /// (a test holds them to serde's names).
    pub const NAMES: [&'static str; 6] = ["erm", "mixup", "pgd_at", "trades", "mixup_pgd", "aom"];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    PreactResnet18,
    WideResnet,
    SmallCnn,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Dataset {
    Cifar10,
    Cifar100,
    /// Built into the trainer; see `trainer/assets/digits/README.md`.
    Digits,
    /// Generated from the seed; for tests and benchmarks only.
    Synthetic,
}

impl Dataset {
    pub fn num_classes(self) -> usize {
        match self {
            Dataset::Cifar100 => 100,
            Dataset::Cifar10 | Dataset::Digits | Dataset::Synthetic => 10,
        }
    }

    /// The class names in label order, for the built-in datasets; the
    /// synthetic set's classes have no names.
    pub fn class_names(self) -> Option<&'static [&'static str]> {
        match self {
            Dataset::Cifar10 => Some(&CIFAR10_CLASSES),
            Dataset::Cifar100 => Some(&CIFAR100_CLASSES),
            Dataset::Digits => Some(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
            Dataset::Synthetic => None,
        }
    }

    /// Whether the training split is augmented with random crop and flip.
    /// Digits are not: a flipped 2 is not a 2.
    pub fn augments(self) -> bool {
        matches!(self, Dataset::Cifar10 | Dataset::Cifar100)
    }
}

/// As in the dataset's `batches.meta.txt`.
const CIFAR10_CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// The fine labels, as in the dataset's `fine_label_names.txt`.
const CIFAR100_CLASSES: [&str; 100] = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
];

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// `lr_max`, ×0.1 at 50% and again at 75% of the epochs (Rice et al. 2020).
    Piecewise,
    Cosine,
    Onecycle,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AomPerturb {
    Endpoints,
    Mixed,
    None,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum AomLabels {
    Ratio,
    Geometric,
}

/// How many test points the per-epoch evaluation uses: a count, or `"all"`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum EvalSize {
    Count(u32),
    All(AllMarker),
}

/// The literal string `"all"`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AllMarker {
    All,
}

impl EvalSize {
    pub const ALL: EvalSize = EvalSize::All(AllMarker::All);

    /// The number of points to use out of `available`.
    pub fn resolve(self, available: usize) -> usize {
        match self {
            EvalSize::Count(n) => (n as usize).min(available),
            EvalSize::All(_) => available,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AomConfig {
    /// PGD steps through the mixup interpolation.
    pub steps: u32,
    pub optimize_lambda: bool,
    pub lambda_step: f64,
    pub lambda_min: f64,
    pub lambda_max: f64,
    /// Start δ uniform in the ball (true) or at zero (false).
    pub random_start: bool,
    pub perturb: AomPerturb,
    pub labels: AomLabels,
    /// Weight of an added clean-mixup loss term.
    pub clean_weight: f64,
}

impl Default for AomConfig {
    fn default() -> Self {
        AomConfig {
            steps: 10,
            optimize_lambda: false,
            lambda_step: 0.01,
            lambda_min: 0.0,
            lambda_max: 1.0,
            random_start: true,
            perturb: AomPerturb::Endpoints,
            labels: AomLabels::Ratio,
            clean_weight: 0.0,
        }
    }
}

/// Which of the server's slots may take the run. The trainer itself runs on
/// whatever `--device` it is given; this is the scheduler's constraint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "snake_case")]
pub enum DevicePreference {
    /// Any free slot, GPU or CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl DevicePreference {
    pub fn as_str(self) -> &'static str {
        match self {
            DevicePreference::Auto => "auto",
            DevicePreference::Cpu => "cpu",
            DevicePreference::Cuda => "cuda",
        }
    }

    /// Whether a slot on `device` (`cpu`, `cuda:N`) may take the run.
    pub fn accepts(self, device: &str) -> bool {
        match self {
            DevicePreference::Auto => true,
            DevicePreference::Cpu => device == "cpu",
            DevicePreference::Cuda => device.starts_with("cuda"),
        }
    }
}

/// The attack run once on the final model, after the last epoch.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FinalAttack {
    None,
    /// PGD-20 with step ε/4.
    Pgd,
    /// APGD-CE, then APGD-T.
    #[default]
    AaFast,
    /// APGD-CE, APGD-T, FAB-T, Square: AutoAttack's "standard" version.
    AaStandard,
}

impl FinalAttack {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalAttack::None => "none",
            FinalAttack::Pgd => "pgd",
            FinalAttack::AaFast => "aa-fast",
            FinalAttack::AaStandard => "aa-standard",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Size of the fixed, seeded test subset evaluated after every epoch, and
    /// by the final attack.
    pub n: EvalSize,
    pub pgd_steps: u32,
    /// A number, or an expression in `eps` and `steps` (this section's
    /// `pgd_steps`), see [`StepSize`].
    pub pgd_step: StepSize,
    pub restarts: u32,
    pub final_attack: FinalAttack,
    /// Points the final attack runs on: the first `final_n` of the same
    /// seeded subset order. AutoAttack costs far more than PGD.
    pub final_n: EvalSize,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            n: EvalSize::Count(1000),
            pgd_steps: 20,
            pgd_step: StepSize::fixed(2.0 / 255.0),
            restarts: 1,
            final_attack: FinalAttack::AaFast,
            final_n: EvalSize::Count(1000),
        }
    }
}

/// What a run asks a cluster for, over the server's defaults (`--slurm-*`).
/// The trainer ignores it; the Slurm executor writes it into the job script.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Generic resources, e.g. `gpu:1` or `gpu:a100:2`; empty for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// The time limit, in Slurm's forms: `4:00:00`, `1-00:00:00`, `90`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<String>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// Each value goes into a `#SBATCH` line, so one word of plain characters.
    fn check(&self, v: &mut Validator) {
        for (name, value) in [("gres", &self.gres), ("time", &self.time), ("partition", &self.partition), ("qos", &self.qos)] {
            if let Some(value) = value
                && (value.len() > 100 || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:,=+".contains(&b)))
            {
                v.error(
                    &format!("resources.{name}"),
                    format!("`{value}` is not a Slurm value: use up to 100 letters, digits and _-.:,=+, e.g. gpu:1 or 4:00:00"),
                );
            }
        }
    }
}

/// One run. The defaults are Rice et al. 2020's PGD-AT PreActResNet-18 CIFAR-10
/// set-up, the reference point of the robust-training literature.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    pub method: Method,
    pub model: Model,
    /// Wide ResNet depth (6n+4); ignored by other models.
    pub depth: u32,
    /// Wide ResNet width multiplier; ignored by other models.
    pub widen_factor: u32,
    pub dataset: Dataset,
    pub epochs: u32,
    pub batch_size: u32,
    pub lr_schedule: LrSchedule,
    pub lr_max: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    /// L∞ radius in [0,1] pixel units.
    pub epsilon: f64,
    pub pgd_steps: u32,
    /// A number, or an expression in `eps` and `steps` (the training
    /// attack's: `aom.steps` for aom), see [`StepSize`].
    pub pgd_step: StepSize,
    pub mixup_alpha: f64,
    pub trades_beta: f64,
    pub aom: AomConfig,
    pub eval: EvalConfig,
    pub seed: u64,
    /// Keep a `periodic` checkpoint every N epochs; 0 keeps none.
    pub checkpoint_every: u32,
    /// Write a sample image grid every N epochs and after the last; 0 writes none.
    pub samples_every: u32,
    /// bf16 autocast; only honoured on CUDA.
    pub bf16: bool,
    /// Which slots the scheduler may start the run in.
    pub device: DevicePreference,
    /// Cluster resources, for the Slurm executor.
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            method: Method::PgdAt,
            model: Model::PreactResnet18,
            depth: 28,
            widen_factor: 10,
            dataset: Dataset::Cifar10,
            epochs: 200,
            batch_size: 128,
            lr_schedule: LrSchedule::Piecewise,
            lr_max: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
            epsilon: 8.0 / 255.0,
            pgd_steps: 10,
            pgd_step: StepSize::fixed(2.0 / 255.0),
            mixup_alpha: 1.0,
            trades_beta: 6.0,
            aom: AomConfig::default(),
            eval: EvalConfig::default(),
            seed: 0,
            checkpoint_every: 0,
            samples_every: 10,
            bf16: false,
            device: DevicePreference::Auto,
            resources: Resources::default(),
        }
    }
}

impl RunConfig {
    /// The config keys (dotted paths; a section name covers all its keys)
    /// that this config's method and model never read: the training
    /// attack's steps for methods that train on clean or mixed points,
    /// `aom.*` outside aom, a WideResNet's `depth` and `widen_factor` for the
    /// other models. Two configs that differ only there train the same run.
    pub fn ignored_keys(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = match self.method {
            Method::Erm => vec!["pgd_steps", "pgd_step", "mixup_alpha", "trades_beta", "aom"],
            Method::Mixup => vec!["pgd_steps", "pgd_step", "trades_beta", "aom"],
            Method::MixupPgd => vec!["trades_beta", "aom"],
            Method::PgdAt => vec!["mixup_alpha", "trades_beta", "aom"],
            Method::Trades => vec!["mixup_alpha", "aom"],
            // aom runs its own steps (`aom.steps`) with the training step size.
            Method::Aom => vec!["pgd_steps", "trades_beta"],
        };
        if self.model != Model::WideResnet {
            keys.extend(["depth", "widen_factor"]);
        }
        keys
    }

    /// A stored config (JSON) without the keys its method and model ignore,
    /// and those keys; as given, with none, when it does not read as a
    /// config (an older version's).
    pub fn without_ignored(json: &serde_json::Value) -> (serde_json::Value, Vec<&'static str>) {
        let Ok(config) = serde_json::from_value::<RunConfig>(json.clone()) else { return (json.clone(), Vec::new()) };
        let keys = config.ignored_keys();
        let mut out = json.clone();
        if let Some(map) = out.as_object_mut() {
            for key in &keys {
                map.remove(*key);
            }
        }
        (out, keys)
    }

    /// Whether `path` (dotted) is one of [`RunConfig::ignored_keys`] or inside one.
    pub fn ignores(&self, path: &str) -> bool {
        self.ignored_keys().iter().any(|key| path == *key || path.strip_prefix(key).is_some_and(|rest| rest.starts_with('.')))
    }

    /// Parses JSON and validates it; the error names the first bad field.
    pub fn from_json(text: &str) -> Result<RunConfig, ConfigError> {
        let config: RunConfig = serde_json::from_str(text).map_err(ConfigError::Parse)?;
        config.checked().map_err(ConfigError::Invalid)
    }

    /// The config with its step-size expressions evaluated at its ε, then
    /// validated: how every parsed config becomes one a run can use.
    pub fn checked(mut self) -> Result<RunConfig, Vec<FieldError>> {
        let mut errors = Vec::new();
        let (eps, train_steps, eval_steps) = (self.epsilon, self.attack_steps(), self.eval.pgd_steps);
        if let Err(e) = self.pgd_step.resolve(eps, train_steps) {
            errors.push(FieldError { field: "pgd_step".into(), message: e });
        }
        if let Err(e) = self.eval.pgd_step.resolve(eps, eval_steps) {
            errors.push(FieldError { field: "eval.pgd_step".into(), message: e });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.validate()?;
        Ok(self)
    }

    /// The steps of the training attack: `aom.steps` for aom, else `pgd_steps`.
    pub fn attack_steps(&self) -> u32 {
        if self.method == Method::Aom { self.aom.steps } else { self.pgd_steps }
    }

    /// Attacks whose steps cannot add up to ε: a sign-gradient step moves
    /// each pixel by at most the step size, so steps × step < ε leaves part
    /// of the ball out of reach (a random start aside). Warnings, not
    /// errors: a deliberately weak attack is allowed.
    pub fn step_warnings(&self) -> Vec<FieldError> {
        let mut warnings = Vec::new();
        let mut check = |field: &str, steps: u32, step: &StepSize| {
            let reach = f64::from(steps) * step.value();
            if steps > 0 && reach < self.epsilon * (1.0 - 1e-9) {
                warnings.push(FieldError {
                    field: field.into(),
                    message: format!(
                        "{steps} steps of {} reach only {:.5}, short of ε = {:.5}; use a larger step, such as `2.5*eps/steps`",
                        step.expr().map_or_else(|| format!("{:.5}", step.value()), |e| format!("`{e}` = {:.5}", step.value())),
                        reach,
                        self.epsilon
                    ),
                });
            }
        };
        if !self.ignores("pgd_step") {
            check("pgd_step", self.attack_steps(), &self.pgd_step);
        }
        check("eval.pgd_step", self.eval.pgd_steps, &self.eval.pgd_step);
        warnings
    }

    /// Checks every rule the trainer relies on. Returns all problems at once so
    /// a form can mark each field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::default();
        v.at_least("epochs", self.epochs, 1);
        v.at_least("batch_size", self.batch_size, 2);
        v.positive("lr_max", self.lr_max);
        v.in_range("momentum", self.momentum, 0.0, 1.0);
        v.non_negative("weight_decay", self.weight_decay);
        v.in_range("epsilon", self.epsilon, 0.0, 1.0);
        self.resources.check(&mut v);
        self.check_step(&mut v, "pgd_step", &self.pgd_step, self.attack_steps());
        v.positive("mixup_alpha", self.mixup_alpha);
        v.non_negative("trades_beta", self.trades_beta);
        if matches!(self.method, Method::PgdAt | Method::Trades | Method::MixupPgd) {
            v.at_least("pgd_steps", self.pgd_steps, 1);
        }
        if self.model == Model::WideResnet && (self.depth < 10 || !(self.depth - 4).is_multiple_of(6)) {
            v.error("depth", "a wide ResNet needs depth = 6n+4 with n ≥ 1, e.g. 28 or 34");
        }
        if self.model == Model::WideResnet {
            v.at_least("widen_factor", self.widen_factor, 1);
        }

        let aom = &self.aom;
        v.in_range("aom.lambda_min", aom.lambda_min, 0.0, 1.0);
        v.in_range("aom.lambda_max", aom.lambda_max, 0.0, 1.0);
        if aom.lambda_min > aom.lambda_max {
            v.error(
                "aom.lambda_min",
                format!(
                    "aom.lambda_min ({}) is above aom.lambda_max ({}); set lambda_min ≤ lambda_max",
                    aom.lambda_min, aom.lambda_max
                ),
            );
        }
        v.non_negative("aom.lambda_step", aom.lambda_step);
        v.non_negative("aom.clean_weight", aom.clean_weight);
        if self.method == Method::Aom {
            if aom.perturb == AomPerturb::None && !aom.optimize_lambda {
                v.error(
                    "aom.perturb",
                    "aom.perturb = none optimizes only λ: set aom.optimize_lambda = true or choose endpoints/mixed",
                );
            }
            v.at_least("aom.steps", aom.steps, 1);
        }

        if let EvalSize::Count(n) = self.eval.final_n {
            v.at_least("eval.final_n", n, 1);
        }
        if let EvalSize::Count(n) = self.eval.n {
            v.at_least("eval.n", n, 1);
        }
        self.check_step(&mut v, "eval.pgd_step", &self.eval.pgd_step, self.eval.pgd_steps);
        v.at_least("eval.restarts", self.eval.restarts, 1);
        v.finish()
    }
}

impl RunConfig {
    fn check_step(&self, v: &mut Validator, field: &str, step: &StepSize, steps: u32) {
        // An expression's stored value must be its value at this ε: a config
        // edited by hand, or one whose ε changed, says one thing and runs another.
        if step.expr().is_some() && !step.is_resolved(self.epsilon, steps) {
            v.error(field, format!("`{}` was not evaluated at this ε and steps; send the expression alone", step.expr().unwrap_or("")));
        } else {
            v.non_negative(field, step.value());
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config is not valid JSON for a run config: {0}")]
    Parse(serde_json::Error),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_rice_et_al_pgd_at() {
        let c = RunConfig::default();
        assert_eq!(c.method, Method::PgdAt);
        assert_eq!(c.model, Model::PreactResnet18);
        assert_eq!(c.epochs, 200);
        assert!((c.epsilon - 8.0 / 255.0).abs() < 1e-12);
        assert_eq!(c.pgd_steps, 10);
        assert!((c.pgd_step.value() - 2.0 / 255.0).abs() < 1e-12);
        assert_eq!(c.batch_size, 128);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn partial_json_fills_defaults_and_round_trips() {
        let c = RunConfig::from_json(
            r#"{"method":"aom","dataset":"digits","model":"small_cnn","aom":{"labels":"geometric"},"eval":{"n":"all"}}"#,
        )
        .unwrap();
        assert_eq!(c.method, Method::Aom);
        assert_eq!(c.aom.labels, AomLabels::Geometric);
        assert_eq!(c.aom.steps, AomConfig::default().steps);
        assert_eq!(c.eval.n, EvalSize::ALL);
        assert_eq!(c.eval.n.resolve(359), 359);
        let back: RunConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_fields_and_values_are_rejected() {
        let e = RunConfig::from_json(r#"{"epsilonn":0.1}"#).unwrap_err();
        assert!(e.to_string().contains("epsilonn"), "{e}");
        let e = RunConfig::from_json(r#"{"method":"fgsm"}"#).unwrap_err();
        assert!(e.to_string().contains("fgsm"), "{e}");
        let e = RunConfig::from_json(r#"{"aom":{"stpes":3}}"#).unwrap_err();
        assert!(e.to_string().contains("stpes"), "{e}");
    }

    #[test]
    fn invalid_values_name_the_field() {
        let mut c = RunConfig { epsilon: -0.1, ..RunConfig::default() };
        c.aom.lambda_min = 0.8;
        c.aom.lambda_max = 0.2;
        let errors = c.validate().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["epsilon", "aom.lambda_min"]);
        assert!(errors[1].message.contains("lambda_min ≤ lambda_max"));

        let c = RunConfig { model: Model::WideResnet, depth: 27, ..RunConfig::default() };
        assert_eq!(c.validate().unwrap_err()[0].field, "depth");
    }
}

#[cfg(test)]
mod method_names {
    use super::Method;

    #[test]
    fn names_are_the_serde_names() {
        for method in Method::ALL {
            assert_eq!(serde_json::to_value(method).unwrap(), method.as_str());
        }
    }
}

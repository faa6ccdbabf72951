//! One training step of each method: the input it trains on and its loss.
//! `docs/methods.md` states the losses; each submodule implements one family.

pub mod adversarial;
pub mod aom;
pub mod mixup;

use advmix_protocol::{Method, RunConfig};
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

use crate::attacks::Pgd;

/// What one step of a method produced.
pub struct Step {
    /// The scalar to backpropagate.
    pub loss: Tensor,
    /// The inputs the method built and trained on (mixed, adversarial, ...).
    pub inputs: Tensor,
    /// The model's logits on `inputs`.
    pub logits: Tensor,
    /// The hard label each input counts as for accuracy: the label with the
    /// larger weight in a soft target.
    pub labels: Tensor,
    /// Logits on the clean batch when the method computed them anyway.
    pub clean_logits: Option<Tensor>,
}

/// Runs one step of `config.method` on a batch. `train` is the batch-norm
/// mode: true while training, false to show what the method makes (sample
/// grids) without touching the running statistics.
pub fn step(config: &RunConfig, model: &impl ModuleT, x: &Tensor, y: &Tensor, classes: i64, train: bool) -> Step {
    match config.method {
        Method::Erm => {
            let logits = model.forward_t(x, train);
            let loss = logits.cross_entropy_for_logits(y);
            Step {
                loss,
                inputs: x.shallow_clone(),
                clean_logits: Some(logits.shallow_clone()),
                logits,
                labels: y.shallow_clone(),
            }
        }
        Method::Mixup => mixup::mixup(config, model, x, y, classes, train),
        Method::MixupPgd => mixup::mixup_pgd(config, model, x, y, classes, train),
        Method::PgdAt => adversarial::pgd_at(config, model, x, y, train),
        Method::Trades => adversarial::trades(config, model, x, y, train),
        Method::Aom => aom::aom(config, model, x, y, classes, train),
    }
}

/// The training attack of a config (`epsilon`, `pgd_step`, `pgd_steps`).
pub fn training_pgd(config: &RunConfig) -> Pgd {
    Pgd { epsilon: config.epsilon, step: config.pgd_step.value(), steps: config.pgd_steps, random_start: true }
}

pub fn one_hot(y: &Tensor, classes: i64) -> Tensor {
    y.one_hot(classes).to_kind(Kind::Float)
}

/// Per-sample soft targets w·a + (1−w)·b, for w of shape [B] (or a scalar).
pub fn mix_targets(w: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    let w = if w.dim() == 0 { w.shallow_clone() } else { w.unsqueeze(1) };
    &w * a + (1.0 - &w) * b
}

/// Cross-entropy against soft targets, summed over the batch.
pub fn soft_ce_sum(logits: &Tensor, targets: &Tensor) -> Tensor {
    -(targets * logits.log_softmax(-1, Kind::Float)).sum(Kind::Float)
}

/// Cross-entropy against soft targets, averaged over the batch.
pub fn soft_ce(logits: &Tensor, targets: &Tensor) -> Tensor {
    soft_ce_sum(logits, targets) / logits.size()[0] as f64
}

/// `n` draws of Beta(α, α) on `device`, via the first coordinate of a
/// Dirichlet(α, α) so the sampling stays on the device.
pub fn sample_beta(alpha: f64, n: i64, device: Device) -> Tensor {
    Tensor::full([n, 2], alpha, (Kind::Float, device)).internal_sample_dirichlet().select(1, 0)
}

/// Scales images [B,C,H,W] by a per-sample weight [B].
pub fn per_sample(w: &Tensor, x: &Tensor) -> Tensor {
    w.view([-1, 1, 1, 1]) * x
}

/// Forward-and-backward passes one training image costs under the method:
/// its attack's steps plus the update. Until an evaluation has been timed,
/// the ETA turns training speed into attack speed with it.
pub fn passes_per_image(config: &RunConfig) -> f64 {
    let attack_steps = match config.method {
        Method::Erm | Method::Mixup => 0,
        Method::PgdAt | Method::Trades | Method::MixupPgd => config.pgd_steps,
        Method::Aom => config.aom.steps,
    };
    f64::from(attack_steps + 1)
}

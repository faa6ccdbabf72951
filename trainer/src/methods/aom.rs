//! Adversarially optimized mixup: PGD through the mixup interpolation.
//!
//! The endpoints (or the mixed point) are perturbed inside the ε-ball, and
//! optionally the per-sample ratio λ is ascended too, to find where between
//! two training points the network is least smooth; the model then trains
//! there. The ascent maximizes the ratio-weighted mixup loss; the training
//! targets follow either the final λ or the final point's geometric position.

use advmix_protocol::RunConfig;
use advmix_protocol::config::{AomConfig, AomLabels, AomPerturb};
use tch::nn::ModuleT;
use tch::{Kind, Tensor};

use super::{Step, mix_targets, one_hot, per_sample, sample_beta, soft_ce, soft_ce_sum};
use crate::attacks::{project, random_delta};

/// Where the ascent ended.
pub struct AomPoint {
    pub x_mix: Tensor,
    /// Final per-sample ratio λ, shape [B].
    pub lambda: Tensor,
    /// Weight of `y` in the training targets: λ, or the geometric λ_g.
    pub label_weight: Tensor,
    /// The clean mixup batch at the starting λ, for `aom.clean_weight`.
    pub x_clean_mix: Tensor,
    pub lambda_start: Tensor,
}

/// The batch pairs, so tests can fix them.
pub struct Pair<'a> {
    pub x: &'a Tensor,
    pub x_p: &'a Tensor,
    pub y_oh: &'a Tensor,
    pub y_p_oh: &'a Tensor,
}

fn interpolate(lam: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    per_sample(lam, a) + per_sample(&(1.0 - lam), b)
}

/// The mixed point for the current variables, kept in [0,1].
fn mixed_point(pair: &Pair, perturb: AomPerturb, lam: &Tensor, d: &Tensor, d_p: &Tensor) -> Tensor {
    match perturb {
        AomPerturb::Endpoints => interpolate(lam, &(pair.x + d), &(pair.x_p + d_p)),
        AomPerturb::Mixed => (interpolate(lam, pair.x, pair.x_p) + d).clamp(0.0, 1.0),
        AomPerturb::None => interpolate(lam, pair.x, pair.x_p),
    }
}

/// λ_g = clip(⟨x̃ − x_π, x − x_π⟩ / ‖x − x_π‖², 0, 1): the position of x̃
/// projected on the segment between the clean endpoints. Identical endpoints
/// have no position; they keep λ.
pub fn geometric_lambda(x_mix: &Tensor, x: &Tensor, x_p: &Tensor, lam: &Tensor) -> Tensor {
    let n = x.size()[0];
    let along = (x - x_p).view([n, -1]);
    let offset = (x_mix - x_p).view([n, -1]);
    let norm2 = along.square().sum_dim_intlist(1, false, Kind::Float);
    let dot = (offset * &along).sum_dim_intlist(1, false, Kind::Float);
    let defined = norm2.gt(1e-12);
    let ratio = (dot / norm2.clamp_min(1e-12)).clamp(0.0, 1.0);
    ratio.where_self(&defined, lam)
}

/// Runs the ascent. `train` is the model's batch-norm mode while attacking.
pub fn ascend(
    config: &RunConfig,
    model: &impl ModuleT,
    pair: &Pair,
    lambda_start: Tensor,
    train: bool,
) -> AomPoint {
    let aom: &AomConfig = &config.aom;
    let eps = config.epsilon;
    let start = |z: &Tensor| if aom.random_start { random_delta(z, eps) } else { z.zeros_like() };
    let lambda_start = lambda_start.clamp(aom.lambda_min, aom.lambda_max);
    let mut lam = lambda_start.shallow_clone();
    let (mut d, mut d_p) = match aom.perturb {
        AomPerturb::Endpoints => (start(pair.x), start(pair.x_p)),
        AomPerturb::Mixed => (start(&interpolate(&lam, pair.x, pair.x_p)), pair.x.zeros_like()),
        AomPerturb::None => (pair.x.zeros_like(), pair.x.zeros_like()),
    };
    let perturbs = aom.perturb != AomPerturb::None;
    let endpoints = aom.perturb == AomPerturb::Endpoints;

    for _ in 0..aom.steps {
        let d_var = d.detach().set_requires_grad(perturbs);
        let d_p_var = d_p.detach().set_requires_grad(endpoints);
        let lam_var = lam.detach().set_requires_grad(aom.optimize_lambda);
        let x_mix = mixed_point(pair, aom.perturb, &lam_var, &d_var, &d_p_var);
        let targets = mix_targets(&lam_var, pair.y_oh, pair.y_p_oh);
        let loss = soft_ce_sum(&model.forward_t(&x_mix, train), &targets);

        let mut inputs: Vec<&Tensor> = Vec::with_capacity(3);
        if perturbs {
            inputs.push(&d_var);
        }
        if endpoints {
            inputs.push(&d_p_var);
        }
        if aom.optimize_lambda {
            inputs.push(&lam_var);
        }
        let mut grads = Tensor::run_backward(&[loss], &inputs, false, false).into_iter();
        if perturbs {
            let step = d_var.detach() + grads.next().expect("a gradient per input").sign() * config.pgd_step.value();
            d = if endpoints { project(pair.x, &step, eps) } else { step.clamp(-eps, eps) };
        }
        if endpoints {
            let step = d_p_var.detach() + grads.next().expect("a gradient per input").sign() * config.pgd_step.value();
            d_p = project(pair.x_p, &step, eps);
        }
        if aom.optimize_lambda {
            let g = grads.next().expect("a gradient per input");
            lam = (lam_var.detach() + g * aom.lambda_step).clamp(aom.lambda_min, aom.lambda_max);
        }
    }

    let x_mix = mixed_point(pair, aom.perturb, &lam, &d, &d_p).detach();
    let label_weight = match aom.labels {
        AomLabels::Ratio => lam.shallow_clone(),
        AomLabels::Geometric => geometric_lambda(&x_mix, pair.x, pair.x_p, &lam),
    };
    let x_clean_mix = interpolate(&lambda_start, pair.x, pair.x_p);
    AomPoint { x_mix, lambda: lam, label_weight, x_clean_mix, lambda_start }
}

pub fn aom(config: &RunConfig, model: &impl ModuleT, x: &Tensor, y: &Tensor, classes: i64, train: bool) -> Step {
    let n = x.size()[0];
    let perm = Tensor::randperm(n, (Kind::Int64, x.device()));
    let (x_p, y_oh) = (x.index_select(0, &perm), one_hot(y, classes));
    let y_p_oh = y_oh.index_select(0, &perm);
    let pair = Pair { x, x_p: &x_p, y_oh: &y_oh, y_p_oh: &y_p_oh };
    let lambda_start = sample_beta(config.mixup_alpha, n, x.device());
    let point = ascend(config, model, &pair, lambda_start, train);

    let targets = mix_targets(&point.label_weight, &y_oh, &y_p_oh);
    let logits = model.forward_t(&point.x_mix, train);
    let mut loss = soft_ce(&logits, &targets);
    if config.aom.clean_weight > 0.0 {
        let clean_targets = mix_targets(&point.lambda_start, &y_oh, &y_p_oh);
        let clean_logits = model.forward_t(&point.x_clean_mix, train);
        loss = loss + soft_ce(&clean_logits, &clean_targets) * config.aom.clean_weight;
    }
    Step { loss, inputs: point.x_mix, logits, labels: targets.argmax(-1, false), clean_logits: None }
}

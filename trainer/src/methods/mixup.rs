//! Mixup (Zhang et al. 2018) and mixup with PGD on the mixed input (the mixup
//! runs of Rice et al. 2020). One λ per batch, as in both papers.

use advmix_protocol::RunConfig;
use tch::nn::ModuleT;
use tch::{Kind, Tensor};

use super::{Step, mix_targets, one_hot, sample_beta, soft_ce, soft_ce_sum, training_pgd};

/// A mixed batch: inputs, soft targets and the dominant label of each.
struct Mixed {
    x: Tensor,
    targets: Tensor,
    labels: Tensor,
}

fn mix(config: &RunConfig, x: &Tensor, y: &Tensor, classes: i64) -> Mixed {
    let n = x.size()[0];
    let perm = Tensor::randperm(n, (Kind::Int64, x.device()));
    let lam = sample_beta(config.mixup_alpha, 1, x.device()).squeeze();
    let x_mixed = &lam * x + (1.0 - &lam) * x.index_select(0, &perm);
    let targets = mix_targets(&lam, &one_hot(y, classes), &one_hot(&y.index_select(0, &perm), classes));
    Mixed { x: x_mixed, labels: targets.argmax(-1, false), targets }
}

pub fn mixup(config: &RunConfig, model: &impl ModuleT, x: &Tensor, y: &Tensor, classes: i64, train: bool) -> Step {
    let m = mix(config, x, y, classes);
    let logits = model.forward_t(&m.x, train);
    Step { loss: soft_ce(&logits, &m.targets), inputs: m.x, logits, labels: m.labels, clean_logits: None }
}

pub fn mixup_pgd(config: &RunConfig, model: &impl ModuleT, x: &Tensor, y: &Tensor, classes: i64, train: bool) -> Step {
    let m = mix(config, x, y, classes);
    let adv = training_pgd(config).attack(model, &m.x, train, |logits| soft_ce_sum(logits, &m.targets));
    let logits = model.forward_t(&adv, train);
    Step { loss: soft_ce(&logits, &m.targets), inputs: adv, logits, labels: m.labels, clean_logits: None }
}

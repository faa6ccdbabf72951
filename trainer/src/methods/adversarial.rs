//! PGD adversarial training (Madry et al. 2018) and TRADES (Zhang et al. 2019).

use advmix_protocol::RunConfig;
use tch::nn::ModuleT;
use tch::{Kind, Reduction, Tensor};

use super::{Step, training_pgd};
use crate::attacks::project;

pub fn pgd_at(config: &RunConfig, model: &impl ModuleT, x: &Tensor, y: &Tensor, train: bool) -> Step {
    // The attack runs in train mode, as in Rice et al.'s reference code.
    let adv = training_pgd(config).attack_ce(model, x, y, train);
    let logits = model.forward_t(&adv, train);
    Step {
        loss: logits.cross_entropy_for_logits(y),
        inputs: adv,
        logits,
        labels: y.shallow_clone(),
        clean_logits: None,
    }
}

/// KL(p_clean ‖ p_adv) summed over the batch, from logits.
fn kl_sum(adv_logits: &Tensor, clean_probs: &Tensor) -> Tensor {
    adv_logits.log_softmax(-1, Kind::Float).kl_div(clean_probs, Reduction::Sum, false)
}

pub fn trades(config: &RunConfig, model: &impl ModuleT, x: &Tensor, y: &Tensor, train: bool) -> Step {
    // Zhang et al. generate the attack in eval mode, from a small Gaussian
    // start, maximizing KL to the clean prediction.
    let clean_probs = tch::no_grad(|| model.forward_t(x, false).softmax(-1, Kind::Float));
    let mut delta = project(x, &(x.randn_like() * 0.001), config.epsilon);
    for _ in 0..config.pgd_steps {
        let d = delta.detach().set_requires_grad(true);
        let kl = kl_sum(&model.forward_t(&(x + &d), false), &clean_probs);
        let grad = Tensor::run_backward(&[kl], &[&d], false, false).remove(0);
        delta = project(x, &(d.detach() + grad.sign() * config.pgd_step.value()), config.epsilon);
    }
    let adv = (x + delta).detach();

    let clean_logits = model.forward_t(x, train);
    let adv_logits = model.forward_t(&adv, train);
    let batch = x.size()[0] as f64;
    let robust = kl_sum(&adv_logits, &clean_logits.softmax(-1, Kind::Float)) / batch;
    let loss = clean_logits.cross_entropy_for_logits(y) + robust * config.trades_beta;
    Step { loss, inputs: adv, logits: adv_logits, labels: y.shallow_clone(), clean_logits: Some(clean_logits) }
}

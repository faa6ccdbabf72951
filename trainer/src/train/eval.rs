//! The per-epoch robustness evaluation on a fixed, seeded test subset.

use tch::nn::ModuleT;
use tch::{Kind, Reduction, Tensor};

use crate::attacks::Pgd;
use crate::data::Split;

pub struct EvalResult {
    pub clean_acc: f64,
    pub clean_loss: f64,
    pub pgd_acc: f64,
    /// Per-sample worst loss over the restarts, averaged.
    pub pgd_loss: f64,
}

/// The subset's indices: a seeded permutation's prefix, so every epoch (and a
/// resumed run) evaluates the same points.
pub fn subset(test: &Split, n: usize, seed: i64) -> Split {
    tch::manual_seed(seed);
    let idx = Tensor::randperm(test.len() as i64, (Kind::Int64, test.labels.device())).narrow(0, 0, n as i64);
    Split { images: test.images.index_select(0, &idx), labels: test.labels.index_select(0, &idx) }
}

/// Clean and PGD accuracy in eval mode. A point counts as robust only if it
/// survives every restart. Counts stay on the device until the end.
pub fn evaluate(model: &impl ModuleT, data: &Split, pgd: &Pgd, restarts: u32, batch: i64) -> EvalResult {
    let n = data.len() as i64;
    let device = data.labels.device();
    let zero = || Tensor::zeros([], (Kind::Double, device));
    let (mut clean_correct, mut clean_loss, mut robust, mut adv_loss) = (zero(), zero(), zero(), zero());
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let x = data.images.narrow(0, start, len);
        let y = data.labels.narrow(0, start, len);
        let logits = tch::no_grad(|| model.forward_t(&x, false));
        clean_correct += logits.argmax(-1, false).eq_tensor(&y).sum(Kind::Double);
        clean_loss += logits.cross_entropy_loss::<Tensor>(&y, None, Reduction::Sum, -100, 0.0).to_kind(Kind::Double);

        let mut survives = Tensor::ones([len], (Kind::Bool, device));
        let mut worst = Tensor::full([len], f64::NEG_INFINITY, (Kind::Float, device));
        for _ in 0..restarts.max(1) {
            let adv = pgd.attack_ce(model, &x, &y, false);
            let logits = tch::no_grad(|| model.forward_t(&adv, false));
            survives = survives.logical_and(&logits.argmax(-1, false).eq_tensor(&y));
            let loss = logits.cross_entropy_loss::<Tensor>(&y, None, Reduction::None, -100, 0.0);
            worst = worst.maximum(&loss);
        }
        robust += survives.sum(Kind::Double);
        adv_loss += worst.sum(Kind::Double);
        start += len;
    }
    let per_point = |t: Tensor| t.double_value(&[]) / n as f64;
    EvalResult {
        clean_acc: per_point(clean_correct),
        clean_loss: per_point(clean_loss),
        pgd_acc: per_point(robust),
        pgd_loss: per_point(adv_loss),
    }
}

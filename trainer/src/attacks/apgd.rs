//! Auto-PGD (Croce & Hein 2020) under L∞, configured as in the reference
//! AutoAttack: APGD-CE (untargeted) and APGD-T (targeted DLR loss).
//!
//! All per-sample state (step sizes, best points, counters) lives in tensors
//! on the model's device, so the iteration loop never synchronizes with the
//! host; only the choice of which points are still unbroken, between passes,
//! reads back.

use tch::nn::ModuleT;
use tch::{Kind, Reduction, Tensor};

use super::pgd::project;

/// The loss a pass ascends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApgdLoss {
    /// Cross-entropy against the true label (untargeted).
    Ce,
    /// The targeted DLR loss of [`dlr_targeted`].
    DlrTargeted,
}

impl ApgdLoss {
    /// Per-sample loss, shape `[N]`. `target` is ignored by `Ce`.
    pub fn per_sample(self, logits: &Tensor, y: &Tensor, target: &Tensor) -> Tensor {
        match self {
            Self::Ce => logits.cross_entropy_loss::<Tensor>(y, None, Reduction::None, -100, 0.0),
            Self::DlrTargeted => dlr_targeted(logits, y, target),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Apgd {
    pub epsilon: f64,
    pub iterations: u32,
    pub restarts: u32,
    /// Step-size halving threshold on the fraction of improving steps.
    pub rho: f64,
    /// Weight α of the new step against the previous one.
    pub momentum: f64,
}

impl Default for Apgd {
    fn default() -> Self {
        Self { epsilon: 8.0 / 255.0, iterations: 100, restarts: 1, rho: 0.75, momentum: 0.75 }
    }
}

/// Checkpoints of the step-size schedule: p0 = 0, p1 = 0.22,
/// p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), as iteration indices
/// ceil(p_j * iterations) while < iterations. For 100 iterations:
/// [0, 22, 41, 57, 70, 80, 87, 93, 99].
pub fn checkpoints(iterations: u32) -> Vec<u32> {
    let n = f64::from(iterations);
    // The p_j accumulate rounding error (0.41 * 100 is not exactly 41), so the
    // ceiling gets a little slack.
    let index = |p: f64| (p * n - 1e-9).ceil().max(0.0) as u32;
    let mut out: Vec<u32> = Vec::new();
    let (mut previous, mut p) = (0.0_f64, 0.0_f64);
    while index(p) < iterations {
        // Few iterations map neighbouring p_j to the same index.
        if out.last() != Some(&index(p)) {
            out.push(index(p));
        }
        let next = if p == 0.0 { 0.22 } else { p + (p - previous - 0.03).max(0.06) };
        (previous, p) = (p, next);
    }
    out
}

/// Targeted DLR loss per sample: -(z_y - z_t) / (z_π1 - (z_π3 + z_π4)/2 + 1e-12),
/// z_π = logits sorted descending. Shape `[N]`; needs at least 4 classes.
pub fn dlr_targeted(logits: &Tensor, y: &Tensor, target: &Tensor) -> Tensor {
    let (sorted, _) = logits.sort(-1, true);
    let pick = |class: &Tensor| logits.gather(1, &class.unsqueeze(1), false).squeeze_dim(1);
    let scale = sorted.select(1, 0) - (sorted.select(1, 2) + sorted.select(1, 3)) * 0.5 + 1e-12;
    -(pick(y) - pick(target)) / scale
}

/// `[N]` reshaped to broadcast against `x` (`[N, 1, 1, ...]`).
fn per_sample(values: &Tensor, x: &Tensor) -> Tensor {
    let mut shape = vec![1_i64; x.dim()];
    shape[0] = -1;
    values.view(shape.as_slice())
}

/// `if_true` where the per-sample `mask` holds, else `if_false`.
fn select(mask: &Tensor, if_true: &Tensor, if_false: &Tensor) -> Tensor {
    if_true.where_self(&per_sample(mask, if_true), if_false)
}

/// Loss, its gradient and whether the model is fooled, at one point.
struct Probe {
    loss: Tensor,
    grad: Tensor,
    fooled: Tensor,
}

fn probe(model: &impl ModuleT, x: &Tensor, y: &Tensor, target: &Tensor, loss: ApgdLoss) -> Probe {
    let x = x.detach().set_requires_grad(true);
    let logits = model.forward_t(&x, false);
    let values = loss.per_sample(&logits, y, target);
    // Summed, so a sample's gradient does not depend on the batch.
    let grad = Tensor::run_backward(&[values.sum(Kind::Float)], &[&x], false, false).remove(0);
    Probe { loss: values.detach(), grad, fooled: logits.argmax(-1, false).ne_tensor(y) }
}

/// The reference start: a random corner-ish point with ‖δ‖∞ = ε exactly.
fn random_start(x: &Tensor, epsilon: f64) -> Tensor {
    let t = x.rand_like() * 2.0 - 1.0;
    let norm = t.abs().flatten(1, -1).amax([1].as_slice(), false);
    (x + &t / per_sample(&norm, x) * epsilon).clamp(0.0, 1.0)
}

/// Indices of the points the model still classifies correctly at `adv`.
fn unbroken(model: &impl ModuleT, adv: &Tensor, y: &Tensor) -> Tensor {
    let pred = tch::no_grad(|| model.forward_t(adv, false)).argmax(-1, false);
    pred.eq_tensor(y).nonzero().view(-1)
}

impl Apgd {
    /// Untargeted APGD-CE: returns x_adv (same shape, detached), the best
    /// point found per sample (the one that misclassifies, else the
    /// highest-loss one of the last restart). Points misclassified clean stay at x.
    pub fn attack_ce(&self, model: &impl ModuleT, x: &Tensor, y: &Tensor) -> Tensor {
        let mut adv = x.detach().copy();
        for _ in 0..self.restarts {
            adv = self.refine(model, x, y, y, adv, ApgdLoss::Ce);
        }
        adv
    }

    /// APGD-T: for k in 1..=n_targets, target = the k-th highest non-true
    /// class of the clean logits; each pass runs only on points not yet
    /// broken. Returns x_adv.
    pub fn attack_targeted(&self, model: &impl ModuleT, x: &Tensor, y: &Tensor, n_targets: usize) -> Tensor {
        let logits = tch::no_grad(|| model.forward_t(x, false));
        // Ranking with the true class pushed last makes "k-th highest
        // non-true class" hold even where the clean prediction is wrong.
        let (_, ranked) = logits.scatter_value(1, &y.unsqueeze(1), f64::NEG_INFINITY).sort(-1, true);
        let mut adv = x.detach().copy();
        for k in 0..n_targets {
            let target = ranked.select(1, k as i64);
            for _ in 0..self.restarts {
                adv = self.refine(model, x, y, &target, adv, ApgdLoss::DlrTargeted);
            }
        }
        adv
    }

    /// One APGD pass on the points `adv` does not fool yet; `adv` elsewhere.
    fn refine(
        &self,
        model: &impl ModuleT,
        x: &Tensor,
        y: &Tensor,
        target: &Tensor,
        adv: Tensor,
        loss: ApgdLoss,
    ) -> Tensor {
        let idx = unbroken(model, &adv, y);
        if idx.numel() == 0 {
            return adv;
        }
        let pick = |t: &Tensor| t.index_select(0, &idx);
        let found = self.pass(model, &pick(x).detach(), &pick(y), &pick(target), loss);
        adv.index_copy(0, &idx, &found)
    }

    /// A single APGD run from a random start; returns the best adversarial
    /// point per sample where one was found, else the highest-loss point.
    fn pass(&self, model: &impl ModuleT, x: &Tensor, y: &Tensor, target: &Tensor, loss: ApgdLoss) -> Tensor {
        let n = x.size()[0];
        let options = (Kind::Float, x.device());
        let clip = |v: &Tensor| x + project(x, &(v - x), self.epsilon);

        let mut x_k = random_start(x, self.epsilon);
        let Probe { loss: mut f_k, mut grad, mut fooled } = probe(model, &x_k, y, target, loss);
        let mut x_best_adv = x_k.copy();
        let (mut x_best, mut grad_best, mut f_best) = (x_k.copy(), grad.copy(), f_k.copy());
        let mut x_previous = x_k.copy();
        let mut eta = Tensor::full([n], 2.0 * self.epsilon, options);
        // Checkpoint state: steps that raised the loss since the last one,
        // the best loss then, and whether η was halved then (the reference
        // starts with "halved" so condition 2 cannot fire at the first one).
        let mut increases = Tensor::zeros([n], options);
        let mut f_best_last = f_best.copy();
        let mut halved_last = Tensor::ones([n], (Kind::Bool, x.device()));
        let mut last_checkpoint = 0;
        let mut upcoming = checkpoints(self.iterations).into_iter().skip(1).peekable();

        for i in 0..self.iterations {
            let z = clip(&(&x_k + per_sample(&eta, x) * grad.sign()));
            // No momentum on the first step: there is no previous one.
            let alpha = if i == 0 { 1.0 } else { self.momentum };
            let x_next = clip(&(&x_k + (&z - &x_k) * alpha + (&x_k - &x_previous) * (1.0 - alpha)));
            x_previous = std::mem::replace(&mut x_k, x_next);

            let step = probe(model, &x_k, y, target, loss);
            x_best_adv = select(&step.fooled, &x_k, &x_best_adv);
            fooled = fooled.logical_or(&step.fooled);
            increases += step.loss.gt_tensor(&f_k).to_kind(Kind::Float);
            let improved = step.loss.gt_tensor(&f_best);
            x_best = select(&improved, &x_k, &x_best);
            grad_best = select(&improved, &step.grad, &grad_best);
            f_best = step.loss.where_self(&improved, &f_best);
            (f_k, grad) = (step.loss, step.grad);

            if upcoming.next_if_eq(&(i + 1)).is_some() {
                let steps = f64::from(i + 1 - last_checkpoint);
                last_checkpoint = i + 1;
                // Condition 1: too few steps improved (`<=` as in the reference).
                let oscillating = increases.le(self.rho * steps);
                // Condition 2: η was kept last time and the best loss has not moved.
                let stalled = halved_last.logical_not().logical_and(&f_best_last.ge_tensor(&f_best));
                let halve = oscillating.logical_or(&stalled);
                eta = (&eta * 0.5).where_self(&halve, &eta);
                // A smaller step restarts from the best point so far.
                x_k = select(&halve, &x_best, &x_k);
                grad = select(&halve, &grad_best, &grad);
                halved_last = halve;
                f_best_last = f_best.copy();
                increases = increases.zeros_like();
            }
        }
        select(&fooled, &x_best_adv, &x_best).detach()
    }
}

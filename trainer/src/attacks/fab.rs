//! FAB-T: the targeted, L∞ fast adaptive boundary attack (Croce & Hein,
//! 2020), configured as in AutoAttack's standard version.
//!
//! FAB looks for the adversarial point closest to x rather than the one with
//! the largest loss: each step linearizes the target-vs-true logit margin,
//! projects both the current iterate and the original point onto that
//! hyperplane (inside the [0,1] box), and mixes the two projections with a
//! bias towards x. Once adversarial, the iterate is pulled back towards x.

use tch::nn::ModuleT;
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug)]
pub struct FabT {
    pub epsilon: f64,
    pub iterations: u32,
    /// How many of the most likely wrong classes to try, one after another.
    pub n_targets: usize,
    /// Upper bound on the weight of the projection of the original point.
    pub alpha_max: f64,
    /// Overshoot of the projections, to land past the linearized boundary.
    pub eta: f64,
    /// How far an adversarial iterate is pulled back towards x.
    pub beta: f64,
}

impl Default for FabT {
    fn default() -> Self {
        FabT { epsilon: 8.0 / 255.0, iterations: 100, n_targets: 9, alpha_max: 0.1, eta: 1.05, beta: 0.9 }
    }
}

impl FabT {
    /// Tries the `n_targets` most likely wrong classes of the clean logits
    /// in turn, each on the points not broken yet, and returns the
    /// adversarial input, detached. A point keeps an adversarial example
    /// only if it is misclassified and within ε (L∞); otherwise it is x.
    /// Points misclassified already when clean are returned unchanged.
    pub fn attack(&self, model: &impl ModuleT, x: &Tensor, y: &Tensor) -> Tensor {
        let x = x.detach();
        let logits = tch::no_grad(|| model.forward_t(&x, false));
        let targets = ranked_wrong_classes(&logits, y);
        let mut broken = logits.argmax(-1, false).ne_tensor(y);
        let mut x_adv = x.copy();
        for k in 0..self.n_targets.min(targets.size()[1] as usize) {
            let idx = broken.logical_not().nonzero().squeeze_dim(1);
            if idx.numel() == 0 {
                break;
            }
            let (adv, found) = self.run_targeted(
                model,
                &x.index_select(0, &idx),
                &y.index_select(0, &idx),
                &targets.select(1, k as i64).index_select(0, &idx),
            );
            // `adv` is x wherever nothing was found, so copying it whole is safe.
            x_adv = x_adv.index_copy(0, &idx, &adv);
            broken = broken.index_copy(0, &idx, &found);
        }
        x_adv
    }

    /// One FAB run towards class `t`, started at x0 (AutoAttack's first
    /// restart has no random start). Returns the closest adversarial point
    /// found within ε (x0 where none) and which points were broken.
    fn run_targeted(&self, model: &impl ModuleT, x0: &Tensor, y: &Tensor, t: &Tensor) -> (Tensor, Tensor) {
        let mut x1 = x0.shallow_clone();
        let mut best = x0.shallow_clone();
        let mut best_dist = Tensor::full([x0.size()[0]], f64::INFINITY, (x0.kind(), x0.device()));
        for _ in 0..self.iterations {
            x1 = self.step(model, x0, &x1, y, t);
            let adv = tch::no_grad(|| model.forward_t(&x1, false)).argmax(-1, false).ne_tensor(y);
            let dist = linf(&(&x1 - x0));
            let closer = adv.logical_and(&dist.lt_tensor(&best_dist));
            best = x1.where_self(&per_sample(&closer, &x1), &best);
            best_dist = dist.where_self(&closer, &best_dist);
            // Backtracking keeps the search near x once the boundary is crossed.
            let back = x0 + (&x1 - x0) * self.beta;
            x1 = back.where_self(&per_sample(&adv, &x1), &x1);
        }
        // Re-check, as AutoAttack does, so only genuine misclassifications count.
        let wrong = tch::no_grad(|| model.forward_t(&best, false)).argmax(-1, false).ne_tensor(y);
        let found = wrong.logical_and(&best_dist.le(self.epsilon));
        (best.where_self(&per_sample(&found, &best), x0), found)
    }

    /// One FAB update: the biased mix of the boundary projections of the
    /// iterate `x1` and of the original point `x0`, clamped to the box.
    fn step(&self, model: &impl ModuleT, x0: &Tensor, x1: &Tensor, y: &Tensor, t: &Tensor) -> Tensor {
        let (f, w) = linearize(model, x1, y, t);
        let d1 = project_linf(x1, &w, &f);
        // The same hyperplane, written as an offset from x0.
        let f0 = &f + (&w * (x0 - x1)).flatten(1, -1).sum_dim_intlist(1, false, f.kind());
        let d0 = project_linf(x0, &w, &f0);
        let (a1, a0) = (linf(&d1), linf(&d0));
        let alpha = (&a1 / (&a1 + &a0).clamp_min(1e-12)).clamp_max(self.alpha_max);
        let alpha = per_sample(&alpha, x1);
        ((x1 + &d1 * self.eta) * (1.0f64 - &alpha) + (x0 + &d0 * self.eta) * &alpha).clamp(0.0, 1.0)
    }
}

/// Wrong classes by decreasing clean logit: column k is the (k+1)-th most
/// likely class other than y.
fn ranked_wrong_classes(logits: &Tensor, y: &Tensor) -> Tensor {
    logits.scatter_value(1, &y.unsqueeze(1), f64::NEG_INFINITY).argsort(1, true)
}

/// The margin f = z_t − z_y at x and its input gradient w: one backward pass.
fn linearize(model: &impl ModuleT, x: &Tensor, y: &Tensor, t: &Tensor) -> (Tensor, Tensor) {
    let x = x.detach().set_requires_grad(true);
    let logits = model.forward_t(&x, false);
    let f = (logits.gather(1, &t.unsqueeze(1), false) - logits.gather(1, &y.unsqueeze(1), false)).squeeze_dim(1);
    let w = Tensor::run_backward(&[f.sum(f.kind())], &[&x], false, false).remove(0);
    (f.detach(), w)
}

/// The smallest-L∞ step d with w·d = −f and x + d in [0,1] (the exact
/// box-constrained projection onto the linearized boundary); where the box
/// makes the hyperplane unreachable, d goes as far towards it as the box
/// allows, as in the reference.
///
/// With every coordinate moving by min(ρ, room_i) in the direction that
/// shrinks |f|, the reachable change g(ρ) = Σ|w_i|·min(ρ, room_i) is
/// piecewise linear and increasing; sorting the rooms gives its breakpoints,
/// and ρ is solved for on the segment where g crosses |f|.
fn project_linf(x: &Tensor, w: &Tensor, f: &Tensor) -> Tensor {
    let shape = x.size();
    let (t, w) = (x.flatten(1, -1), w.flatten(1, -1));
    let last = t.size()[1] - 1;
    let dir = -(w.sign() * f.sign().unsqueeze(1));
    let room = (1.0f64 - &t).where_self(&dir.gt(0.0), &t);
    let (room_sorted, order) = room.sort(1, false);
    let a = w.abs().gather(1, &order, false);
    let ar = &a * &room_sorted;
    let before = ar.cumsum(1, ar.kind()) - &ar;
    let from = a.flip([1]).cumsum(1, a.kind()).flip([1]);
    let reach = &before + &room_sorted * &from;
    let target = f.abs().unsqueeze(1);
    let j = reach.lt_tensor(&target).sum_dim_intlist(1, true, Kind::Int64).clamp_max(last);
    let rho = (&target - before.gather(1, &j, false)) / from.gather(1, &j, false).clamp_min(1e-12);
    (dir * room.minimum(&rho)).reshape(shape)
}

fn linf(d: &Tensor) -> Tensor {
    d.flatten(1, -1).abs().amax(1, false)
}

/// A per-sample value shaped to broadcast against a batch like `x`.
fn per_sample(v: &Tensor, x: &Tensor) -> Tensor {
    let mut shape = vec![-1i64];
    shape.resize(x.dim(), 1);
    v.reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// The reachable change Σ|w_i|·min(ρ, room_i), for checking ρ by bisection.
    fn reach(w: &Tensor, room: &Tensor, rho: f64) -> f64 {
        (w.abs() * room.clamp_max(rho)).sum(Kind::Double).double_value(&[])
    }

    #[test]
    fn projection_is_the_smallest_box_step_onto_the_hyperplane() {
        tch::manual_seed(1);
        let opts = (Kind::Double, Device::Cpu);
        let x = Tensor::rand([64, 1, 4, 4], opts);
        // Some exactly zero gradient entries, as on constant image regions.
        let w = Tensor::randn([64, 1, 4, 4], opts) * Tensor::rand([64, 1, 4, 4], opts).gt(0.2);
        let f = Tensor::randn([64], opts) * 2.0;
        let d = project_linf(&x, &w, &f);
        let z = &x + &d;
        assert!(z.min().double_value(&[]) >= -1e-12 && z.max().double_value(&[]) <= 1.0 + 1e-12);
        for i in 0..64 {
            let (xi, wi, fi) = (x.get(i).flatten(0, -1), w.get(i).flatten(0, -1), f.double_value(&[i]));
            let dir = -(wi.sign() * fi.signum());
            let room = (1.0f64 - &xi).where_self(&dir.gt(0.0), &xi);
            let change = (&wi * d.get(i).flatten(0, -1)).sum(Kind::Double).double_value(&[]);
            let size = d.get(i).abs().max().double_value(&[]);
            if reach(&wi, &room, 1.0) < fi.abs() {
                // Unreachable: every useful coordinate goes to its box face.
                assert!((change.abs() - reach(&wi, &room, 1.0)).abs() < 1e-9, "point {i}");
                continue;
            }
            assert!((change + fi).abs() < 1e-9, "point {i} lands on the hyperplane: {change} vs {fi}");
            let (mut lo, mut hi) = (0.0, 1.0);
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if reach(&wi, &room, mid) < fi.abs() { lo = mid } else { hi = mid }
            }
            assert!((size - hi).abs() < 1e-9, "point {i}: step {size}, smallest {hi}");
        }
    }
}

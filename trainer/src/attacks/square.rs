//! The Square Attack (Andriushchenko et al. 2020), L∞, untargeted, as
//! AutoAttack's standard version configures it: a score-based black-box
//! random search over square windows, minimizing the logit margin.
//!
//! It needs no gradients, so it is the part of AutoAttack that still works
//! when a model masks its gradients.

use tch::nn::ModuleT;
use tch::{Kind, Tensor};

#[derive(Clone, Copy, Debug)]
pub struct Square {
    pub epsilon: f64,
    /// Random-search iterations, each one forward pass on the unbroken points.
    pub queries: u32,
    /// Initial fraction of the pixels of a channel that one square covers.
    pub p_init: f64,
}

impl Default for Square {
    fn default() -> Self {
        Self { epsilon: 8.0 / 255.0, queries: 5000, p_init: 0.8 }
    }
}

/// Queries (of 10000) after which the reference halves the square's area.
const BREAKPOINTS: [u32; 9] = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];

/// The fraction of pixels per square at `query`: the paper's schedule, whose
/// breakpoints are given for 10000 queries, rescaled to `queries`. As in the
/// reference, `p_init` halves once the rescaled query passes each breakpoint.
pub fn p_selection(p_init: f64, query: u32, queries: u32) -> f64 {
    let scaled = u64::from(query) * 10_000 / u64::from(queries.max(1));
    let halvings = BREAKPOINTS.iter().filter(|&&b| scaled > u64::from(b)).count();
    p_init / f64::from(1u32 << halvings)
}

/// z_y − max_{j≠y} z_j per sample: negative exactly when the point is misclassified.
fn margin(model: &impl ModuleT, x: &Tensor, y: &Tensor) -> Tensor {
    let logits = tch::no_grad(|| model.forward_t(x, false));
    let y = y.unsqueeze(1);
    let true_logit = logits.gather(1, &y, false).squeeze_dim(1);
    let others = logits.scatter_value(1, &y, f64::NEG_INFINITY).amax([1].as_slice(), false);
    true_logit - others
}

/// Uniform ±1 of the given shape, in `like`'s kind and device.
fn random_signs(shape: &[i64], like: &Tensor) -> Tensor {
    Tensor::randint(2, shape, (like.kind(), like.device())) * 2.0 - 1.0
}

/// Per sample, a mask (N,1,H,W) of one s×s window at a uniform random
/// position, built by broadcasting row and column ranges so the whole batch
/// gets its windows in a few tensor ops.
fn random_windows(n: i64, h: i64, w: i64, s: i64, like: &Tensor) -> Tensor {
    let opts = (Kind::Int64, like.device());
    let inside = |size: i64, shape: [i64; 4]| {
        let start = Tensor::randint(size - s + 1, [n, 1, 1, 1], opts);
        let at = Tensor::arange(size, opts).view(shape);
        at.ge_tensor(&start).logical_and(&at.lt_tensor(&(start + s)))
    };
    inside(h, [1, 1, h, 1]).logical_and(&inside(w, [1, 1, 1, w]))
}

/// Image `a` where the per-sample `mask` holds, else image `b`.
fn pick(mask: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    a.where_self(&mask.view([-1, 1, 1, 1]), b)
}

impl Square {
    /// Black-box: only forward passes (under no_grad), model in eval mode.
    /// Returns x_adv (detached): per sample the point of lowest margin found,
    /// x itself included, so an unbroken sample may come back unchanged.
    pub fn attack(&self, model: &impl ModuleT, x: &Tensor, y: &Tensor) -> Tensor {
        let x = x.detach();
        let (n, c, h, w) = x.size4().expect("images are NCHW");
        let clean = margin(model, &x, y);
        // Vertical stripes: one sign per sample, channel and column.
        let stripes = (&x + random_signs(&[n, c, 1, w], &x) * self.epsilon).clamp(0.0, 1.0);
        // Points misclassified already are not attacked (as in AutoAttack).
        let broken = clean.le(0.0);
        let mut best = pick(&broken, &x, &stripes);
        let mut best_margin = clean.where_self(&broken, &margin(model, &stripes, y));
        for query in 0..self.queries {
            // Only unbroken points cost queries; the nonzero is the one host
            // sync per query and doubles as the early stop.
            let active = best_margin.gt(0.0).nonzero().squeeze_dim(1);
            if active.numel() == 0 {
                break;
            }
            let p = p_selection(self.p_init, query, self.queries);
            let s = ((p * (h * w) as f64).sqrt().round() as i64).clamp(1, h.min(w));
            let best_a = best.index_select(0, &active);
            let best_margin_a = best_margin.index_select(0, &active);
            let candidate = self.propose(&x.index_select(0, &active), &best_a, s);
            let cand_margin = margin(model, &candidate, &y.index_select(0, &active));
            let improved = cand_margin.lt_tensor(&best_margin_a);
            best = best.index_copy(0, &active, &pick(&improved, &candidate, &best_a));
            let new_margin = cand_margin.where_self(&improved, &best_margin_a);
            best_margin = best_margin.index_copy(0, &active, &new_margin);
        }
        // The stripes can start above the clean margin; then x is the best point.
        pick(&clean.le_tensor(&best_margin), &x, &best).detach()
    }

    /// One proposal per sample: `best` with the δ of one random s×s window
    /// moved to a vertex of the ball, one random sign per channel.
    fn propose(&self, x: &Tensor, best: &Tensor, s: i64) -> Tensor {
        let (m, c, h, w) = x.size4().expect("images are NCHW");
        let window = random_windows(m, h, w, s, x);
        let vertex = random_signs(&[m, c, 1, 1], x) * self.epsilon;
        (x + vertex.where_self(&window, &(best - x))).clamp(0.0, 1.0)
    }
}

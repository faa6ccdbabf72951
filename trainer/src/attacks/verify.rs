//! The independent check every adversarial example passes before a point
//! counts as broken: whatever an attack claims, the example must lie in the
//! ε-ball around its clean point, inside [0,1], and be misclassified.

use tch::nn::ModuleT;
use tch::{Kind, Tensor};

/// Slack for float rounding in projections (a pixel step is 1/255 ≈ 4e-3).
pub const TOLERANCE: f64 = 1e-5;

/// Per point: true when `x_adv` is a valid adversarial example for (x, y).
pub fn broken(model: &impl ModuleT, x: &Tensor, x_adv: &Tensor, y: &Tensor, epsilon: f64) -> Tensor {
    let n = x.size()[0];
    let distance = (x_adv - x).abs().view([n, -1]).amax([1].as_slice(), false);
    let in_ball = distance.le(epsilon + TOLERANCE);
    let flat = x_adv.view([n, -1]);
    let in_box = flat.amin([1].as_slice(), false).ge(-TOLERANCE).logical_and(&flat.amax([1].as_slice(), false).le(1.0 + TOLERANCE));
    let wrong = tch::no_grad(|| model.forward_t(x_adv, false)).argmax(-1, false).ne_tensor(y);
    in_ball.logical_and(&in_box).logical_and(&wrong).to_kind(Kind::Bool)
}

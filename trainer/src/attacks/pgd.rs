//! L∞ projected gradient ascent, shared by adversarial training, the
//! per-epoch robustness evaluation and the sample grids.

use tch::nn::ModuleT;
use tch::{Reduction, Tensor};

#[derive(Clone, Copy, Debug)]
pub struct Pgd {
    pub epsilon: f64,
    pub step: f64,
    pub steps: u32,
    /// Uniform start in the ball (Madry et al.) rather than at x.
    pub random_start: bool,
}

/// Moves `x + delta` back into the ε-ball around `x` and into [0,1].
pub fn project(x: &Tensor, delta: &Tensor, epsilon: f64) -> Tensor {
    (x + delta.clamp(-epsilon, epsilon)).clamp(0.0, 1.0) - x
}

/// A uniform random start in the ball, already projected.
pub fn random_delta(x: &Tensor, epsilon: f64) -> Tensor {
    project(x, &((x.rand_like() * 2.0 - 1.0) * epsilon), epsilon)
}

impl Pgd {
    /// Ascends `loss(logits)` (a per-batch sum, so a sample's gradient does
    /// not shrink with the batch size) and returns the adversarial input,
    /// detached. `train` selects the model's batch-norm mode during the attack.
    pub fn attack(
        &self,
        model: &impl ModuleT,
        x: &Tensor,
        train: bool,
        loss: impl Fn(&Tensor) -> Tensor,
    ) -> Tensor {
        let x = x.detach();
        let mut delta =
            if self.random_start { random_delta(&x, self.epsilon) } else { x.zeros_like() };
        for _ in 0..self.steps {
            let d = delta.detach().set_requires_grad(true);
            let value = loss(&model.forward_t(&(&x + &d), train));
            let grad = Tensor::run_backward(&[value], &[&d], false, false).remove(0);
            delta = project(&x, &(d.detach() + grad.sign() * self.step), self.epsilon);
        }
        (x + delta).detach()
    }

    /// The usual untargeted attack: ascend cross-entropy against `y`.
    pub fn attack_ce(&self, model: &impl ModuleT, x: &Tensor, y: &Tensor, train: bool) -> Tensor {
        self.attack(model, x, train, |logits| {
            logits.cross_entropy_loss::<Tensor>(y, None, Reduction::Sum, -100, 0.0)
        })
    }
}

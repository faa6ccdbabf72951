//! SGD with momentum and weight decay, written out so that its momentum
//! buffers are ordinary named tensors: checkpoints save them and `--resume`
//! continues exactly. Same update as `torch.optim.SGD` (no dampening, no
//! Nesterov): buf ← m·buf + (g + wd·p); p ← p − lr·buf.

use tch::{Tensor, nn::VarStore};

pub struct Sgd {
    /// Trainable variables with their names, sorted for a stable order.
    params: Vec<(String, Tensor)>,
    /// Zeros at the start: m·0 + g equals PyTorch's first-step copy of g.
    momentum: Vec<Tensor>,
    momentum_factor: f64,
    weight_decay: f64,
}

impl Sgd {
    pub fn new(vs: &VarStore, momentum: f64, weight_decay: f64) -> Sgd {
        let mut params: Vec<(String, Tensor)> =
            vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let buffers = params.iter().map(|(_, p)| p.zeros_like()).collect();
        Sgd { params, momentum: buffers, momentum_factor: momentum, weight_decay }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    pub fn step(&mut self, lr: f64) {
        tch::no_grad(|| {
            for ((_, p), buf) in self.params.iter_mut().zip(&mut self.momentum) {
                let grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                let update = grad + &*p * self.weight_decay;
                let _ = buf.g_mul_scalar_(self.momentum_factor);
                let _ = buf.g_add_(&update);
                let _ = p.g_sub_(&(&*buf * lr));
            }
        });
    }

    /// The momentum buffers under `momentum.<parameter name>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        self.params
            .iter()
            .zip(&self.momentum)
            .map(|((name, _), buf)| (format!("momentum.{name}"), buf.shallow_clone()))
            .collect()
    }

    /// Restores buffers saved by [`Sgd::state`]; every parameter must have one.
    pub fn load_state(&mut self, lookup: impl Fn(&str) -> Option<Tensor>) -> Result<(), String> {
        for ((name, _), buf) in self.params.iter().zip(&mut self.momentum) {
            let key = format!("momentum.{name}");
            let saved = lookup(&key).ok_or_else(|| format!("the checkpoint has no {key}"))?;
            if saved.size() != buf.size() {
                return Err(format!("{key} has shape {:?}, the model needs {:?}", saved.size(), buf.size()));
            }
            tch::no_grad(|| buf.copy_(&saved));
        }
        Ok(())
    }
}

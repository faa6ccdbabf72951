//! Per-channel input normalization, done inside the model.

use tch::{Device, Kind, Tensor};

/// Per-channel mean and standard deviation of the training images, in [0,1]
/// pixel units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

/// The constants are plain tensors rather than VarStore variables: they are
/// not learned, and a PyTorch state_dict of the reference models has no
/// entry for them.
#[derive(Debug)]
pub(super) struct Normalize {
    mean: Tensor,
    std: Tensor,
}

impl Normalize {
    pub(super) fn new(norm: Normalization, device: Device) -> Self {
        // f64 → f32 here, as `torch.tensor(mean)` does in the reference.
        let per_channel = |v: [f64; 3]| {
            Tensor::from_slice(&v).to_kind(Kind::Float).view([1, 3, 1, 1]).to_device(device)
        };
        Normalize { mean: per_channel(norm.mean), std: per_channel(norm.std) }
    }

    /// `(x - mean) / std`: the same two operations as the reference, rather
    /// than a fused `x * a + b`, so that rounding matches too.
    pub(super) fn apply(&self, xs: &Tensor) -> Tensor {
        // `to_device` is free when the input is already where the constants are.
        (xs - self.mean.to_device(xs.device())) / self.std.to_device(xs.device())
    }
}

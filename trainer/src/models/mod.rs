//! Image classifiers whose variables carry the names of their PyTorch
//! reference implementations (`python/advmix_torch.py`), so that a
//! checkpoint written with [`state_dict`] loads into PyTorch with
//! `load_state_dict(strict=True)` and results can be checked against PyTorch.

mod layers;
mod normalize;
mod preact_resnet;
mod small_cnn;
mod state_dict;
mod wide_resnet;

use advmix_protocol::Model;
use tch::Tensor;
use tch::nn::{self, ModuleT};

pub use normalize::Normalization;
pub use state_dict::state_dict;

use normalize::Normalize;

/// A classifier taking images in [0,1], NCHW; per-channel normalization
/// happens inside forward_t.
///
/// Keeping the normalization inside the model lets attacks and the
/// ε-ball work in pixel units, which is where the threat model is defined.
#[derive(Debug)]
pub struct Net {
    normalize: Normalize,
    body: Box<dyn ModuleT>,
}

impl ModuleT for Net {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.body.forward_t(&self.normalize.apply(xs), train)
    }
}

/// Builds `model` with its variables under `p`. `depth` and `widen_factor`
/// only apply to [`Model::WideResnet`].
///
/// # Panics
///
/// For a wide ResNet whose depth is not 6n+4 with n ≥ 1; `RunConfig::validate`
/// rejects such configs before they get here.
pub fn build(
    p: &nn::Path,
    model: Model,
    depth: u32,
    widen_factor: u32,
    num_classes: i64,
    norm: Normalization,
) -> Net {
    let body: Box<dyn ModuleT> = match model {
        Model::PreactResnet18 => Box::new(preact_resnet::PreActResNet18::new(p, num_classes)),
        Model::WideResnet => {
            Box::new(wide_resnet::WideResNet::new(p, depth, widen_factor, num_classes))
        }
        Model::SmallCnn => Box::new(small_cnn::SmallCnn::new(p, num_classes)),
    };
    Net { normalize: Normalize::new(norm, p.device()), body }
}

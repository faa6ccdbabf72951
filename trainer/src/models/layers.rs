//! Layer constructors shared by the architectures: one place for the
//! initialisation and batch-norm settings.

use tch::Tensor;
use tch::nn::init::{FanInOut, NonLinearity, NormalOrUniform};
use tch::nn::{self, Init};

/// He et al. normal init over fan-out, as the reference WideResNet and
/// torchvision's ResNets initialise their convolutions.
const CONV_INIT: Init = Init::Kaiming {
    dist: NormalOrUniform::Normal,
    fan: FanInOut::FanOut,
    non_linearity: NonLinearity::ReLU,
};

/// A `ksize`×`ksize` convolution padded by `ksize / 2`, which keeps the
/// spatial size at stride 1 for every kernel these nets use (1 and 3).
pub(super) fn conv2d(
    p: nn::Path,
    c_in: i64,
    c_out: i64,
    ksize: i64,
    stride: i64,
    bias: bool,
) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding: ksize / 2,
        bias,
        ws_init: CONV_INIT,
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, ksize, config)
}

/// PyTorch's BatchNorm2d: eps, momentum and affine init spelled out because
/// tch's default weight init is U(0,1), not 1.
pub(super) fn batch_norm2d(p: nn::Path, channels: i64) -> nn::BatchNorm {
    let config = nn::BatchNormConfig {
        eps: 1e-5,
        momentum: 0.1,
        ws_init: Init::Const(1.0),
        bs_init: Init::Const(0.0),
        ..Default::default()
    };
    nn::batch_norm2d(p, channels, config)
}

/// A classifier head with PyTorch's default weight init, U(±1/√fan_in); tch's
/// default is √6 times wider, which starts training with needlessly large
/// logits. The bias starts at zero, as in the reference WideResNet.
pub(super) fn linear(p: nn::Path, c_in: i64, c_out: i64) -> nn::Linear {
    let bound = 1.0 / (c_in as f64).sqrt();
    let config = nn::LinearConfig {
        ws_init: Init::Uniform { lo: -bound, up: bound },
        bs_init: Some(Init::Const(0.0)),
        bias: true,
    };
    nn::linear(p, c_in, c_out, config)
}

/// `F.avg_pool2d(xs, k)`. Not `Tensor::avg_pool2d_default`: that one passes
/// `divisor_override = 1` and so sums instead of averaging.
pub(super) fn avg_pool2d(xs: &Tensor, k: i64) -> Tensor {
    xs.avg_pool2d([k, k], [k, k], [0, 0], false, true, None::<i64>)
}

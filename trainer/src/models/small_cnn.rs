//! A three-layer CNN, small enough to train on a CPU in tests and benchmarks.
//! Batch norm after every convolution: without it the net sits near chance
//! for the first epochs on `digits`, which tests cannot afford.

use tch::Tensor;
use tch::nn::{self, ModuleT};

use super::layers::{batch_norm2d, conv2d, linear};

#[derive(Debug)]
pub(super) struct SmallCnn {
    conv1: nn::Conv2D,
    bn1: nn::BatchNorm,
    conv2: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv3: nn::Conv2D,
    bn3: nn::BatchNorm,
    fc: nn::Linear,
}

impl SmallCnn {
    pub(super) fn new(p: &nn::Path, num_classes: i64) -> Self {
        SmallCnn {
            conv1: conv2d(p / "conv1", 3, 32, 3, 1, false),
            bn1: batch_norm2d(p / "bn1", 32),
            conv2: conv2d(p / "conv2", 32, 64, 3, 1, false),
            bn2: batch_norm2d(p / "bn2", 64),
            conv3: conv2d(p / "conv3", 64, 128, 3, 1, false),
            bn3: batch_norm2d(p / "bn3", 128),
            fc: linear(p / "fc", 128, num_classes),
        }
    }
}

impl ModuleT for SmallCnn {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        xs.apply(&self.conv1)
            .apply_t(&self.bn1, train)
            .relu()
            .max_pool2d_default(2)
            .apply(&self.conv2)
            .apply_t(&self.bn2, train)
            .relu()
            .max_pool2d_default(2)
            .apply(&self.conv3)
            .apply_t(&self.bn3, train)
            .relu()
            .adaptive_avg_pool2d([1, 1])
            .flatten(1, -1)
            .apply(&self.fc)
    }
}

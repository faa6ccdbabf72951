//! PreActResNet-18 as in Rice et al. 2020 ("Overfitting in adversarially
//! robust deep learning"), the standard model of adversarial training on CIFAR.

use tch::Tensor;
use tch::nn::{self, Module, ModuleT};

use super::layers::{avg_pool2d, batch_norm2d, conv2d, linear};

#[derive(Debug)]
struct PreActBlock {
    bn1: nn::BatchNorm,
    conv1: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv2: nn::Conv2D,
    /// A 1×1 projection where the block changes width or resolution. Named
    /// `shortcut.0` because the reference wraps it in an `nn.Sequential`.
    shortcut: Option<nn::Conv2D>,
}

impl PreActBlock {
    fn new(p: nn::Path, c_in: i64, planes: i64, stride: i64) -> Self {
        let shortcut = (stride != 1 || c_in != planes)
            .then(|| conv2d(&p / "shortcut" / 0, c_in, planes, 1, stride, false));
        PreActBlock {
            bn1: batch_norm2d(&p / "bn1", c_in),
            conv1: conv2d(&p / "conv1", c_in, planes, 3, stride, false),
            bn2: batch_norm2d(&p / "bn2", planes),
            conv2: conv2d(&p / "conv2", planes, planes, 3, 1, false),
            shortcut,
        }
    }
}

impl ModuleT for PreActBlock {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let out = xs.apply_t(&self.bn1, train).relu();
        // The projection sees the pre-activated input, the identity the raw one.
        let shortcut = match &self.shortcut {
            Some(conv) => conv.forward(&out),
            None => xs.shallow_clone(),
        };
        out.apply(&self.conv1).apply_t(&self.bn2, train).relu().apply(&self.conv2) + shortcut
    }
}

#[derive(Debug)]
pub(super) struct PreActResNet18 {
    conv1: nn::Conv2D,
    /// `layer1.0`, `layer1.1`, …, `layer4.1`, in forward order.
    blocks: Vec<PreActBlock>,
    bn: nn::BatchNorm,
    linear: nn::Linear,
}

impl PreActResNet18 {
    pub(super) fn new(p: &nn::Path, num_classes: i64) -> Self {
        let conv1 = conv2d(p / "conv1", 3, 64, 3, 1, false);
        let mut blocks = Vec::with_capacity(8);
        let mut c_in = 64;
        for (layer, (planes, stride)) in
            [(64, 1), (128, 2), (256, 2), (512, 2)].into_iter().enumerate()
        {
            let layer_path = p / format!("layer{}", layer + 1);
            blocks.push(PreActBlock::new(&layer_path / 0, c_in, planes, stride));
            blocks.push(PreActBlock::new(&layer_path / 1, planes, planes, 1));
            c_in = planes;
        }
        PreActResNet18 {
            conv1,
            blocks,
            bn: batch_norm2d(p / "bn", 512),
            linear: linear(p / "linear", 512, num_classes),
        }
    }
}

impl ModuleT for PreActResNet18 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let features =
            self.blocks.iter().fold(xs.apply(&self.conv1), |h, block| h.apply_t(block, train));
        avg_pool2d(&features.apply_t(&self.bn, train).relu(), 4).flatten(1, -1).apply(&self.linear)
    }
}

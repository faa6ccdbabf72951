//! The WideResNet of TRADES (Zhang et al. 2019), as used by Rice et al. 2020.

use tch::Tensor;
use tch::nn::{self, Module, ModuleT};

use super::layers::{avg_pool2d, batch_norm2d, conv2d, linear};

#[derive(Debug)]
struct BasicBlock {
    bn1: nn::BatchNorm,
    conv1: nn::Conv2D,
    bn2: nn::BatchNorm,
    conv2: nn::Conv2D,
    /// The 1×1 projection, present exactly when the width changes (the
    /// reference's `not equalInOut`).
    conv_shortcut: Option<nn::Conv2D>,
}

impl BasicBlock {
    fn new(p: nn::Path, c_in: i64, c_out: i64, stride: i64) -> Self {
        let conv_shortcut =
            (c_in != c_out).then(|| conv2d(&p / "convShortcut", c_in, c_out, 1, stride, false));
        BasicBlock {
            bn1: batch_norm2d(&p / "bn1", c_in),
            conv1: conv2d(&p / "conv1", c_in, c_out, 3, stride, false),
            bn2: batch_norm2d(&p / "bn2", c_out),
            conv2: conv2d(&p / "conv2", c_out, c_out, 3, 1, false),
            conv_shortcut,
        }
    }
}

impl ModuleT for BasicBlock {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let out = xs.apply_t(&self.bn1, train).relu();
        // As in the reference, the projection sees the pre-activated input and
        // the identity the raw one.
        let residual = match &self.conv_shortcut {
            Some(conv) => conv.forward(&out),
            None => xs.shallow_clone(),
        };
        residual + out.apply(&self.conv1).apply_t(&self.bn2, train).relu().apply(&self.conv2)
    }
}

#[derive(Debug)]
pub(super) struct WideResNet {
    conv1: nn::Conv2D,
    /// `block1.layer.0`, …, `block3.layer.{n-1}`, in forward order.
    blocks: Vec<BasicBlock>,
    bn1: nn::BatchNorm,
    fc: nn::Linear,
}

impl WideResNet {
    /// WRN-`depth`-`widen_factor`: three groups of (depth − 4) / 6 blocks.
    pub(super) fn new(p: &nn::Path, depth: u32, widen_factor: u32, num_classes: i64) -> Self {
        assert!(
            depth >= 10 && (depth - 4).is_multiple_of(6),
            "a wide ResNet needs depth = 6n+4 with n ≥ 1, got {depth}"
        );
        let n = (depth - 4) / 6;
        let k = i64::from(widen_factor);
        let conv1 = conv2d(p / "conv1", 3, 16, 3, 1, false);
        let mut blocks = Vec::new();
        let mut c_in = 16;
        for (group, (c_out, stride)) in
            [(16 * k, 1), (32 * k, 2), (64 * k, 2)].into_iter().enumerate()
        {
            let layer = p / format!("block{}", group + 1) / "layer";
            for i in 0..n {
                // Only a group's first block changes width and resolution.
                let (block_in, block_stride) = if i == 0 { (c_in, stride) } else { (c_out, 1) };
                blocks.push(BasicBlock::new(&layer / i, block_in, c_out, block_stride));
            }
            c_in = c_out;
        }
        WideResNet {
            conv1,
            blocks,
            bn1: batch_norm2d(p / "bn1", c_in),
            fc: linear(p / "fc", c_in, num_classes),
        }
    }
}

impl ModuleT for WideResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let features =
            self.blocks.iter().fold(xs.apply(&self.conv1), |h, block| h.apply_t(block, train));
        avg_pool2d(&features.apply_t(&self.bn1, train).relu(), 8).flatten(1, -1).apply(&self.fc)
    }
}

//! Datasets as whole-split tensors in [0,1], NCHW, 3×32×32. A split is moved
//! to the training device once, so batches never cross the host boundary.

pub mod digits;

use tch::{Device, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{name} is damaged: {detail}")]
    Corrupt { name: &'static str, detail: String },
}

pub struct Split {
    /// Float, shape [N, 3, 32, 32], values in [0, 1].
    pub images: Tensor,
    /// Int64, shape [N].
    pub labels: Tensor,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_device(&self, device: Device) -> Split {
        Split { images: self.images.to_device(device), labels: self.labels.to_device(device) }
    }
}

pub struct Data {
    pub train: Split,
    pub test: Split,
    pub num_classes: i64,
}

//! Datasets as whole-split tensors in [0,1], NCHW, 3×32×32. A split is moved
//! to the training device once, so batches never cross the host boundary.

pub mod augment;
pub mod cifar;
pub mod digits;
pub mod download;
pub mod synthetic;

use std::path::{Path, PathBuf};

use advmix_protocol::Dataset;
use tch::{Device, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{name} is damaged: {detail}")]
    Corrupt { name: String, detail: String },
    #[error("{} is missing. {help}", path.display())]
    Missing { path: PathBuf, help: String },
    #[error("could not read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
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
    /// Per-channel statistics of the training split, for the model's input
    /// normalization; the images themselves stay in [0, 1].
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

impl Data {
    pub fn to_device(&self, device: Device) -> Data {
        Data {
            train: self.train.to_device(device),
            test: self.test.to_device(device),
            num_classes: self.num_classes,
            mean: self.mean,
            std: self.std,
        }
    }
}

/// Loads `dataset` with both splits on `device`. `data_dir` is the directory
/// holding the downloaded datasets (the trainer's `--data-dir`); only CIFAR
/// reads it. `seed` only matters for the generated `synthetic` set.
pub fn load(dataset: Dataset, data_dir: &Path, seed: u64, device: Device) -> Result<Data, DataError> {
    match dataset {
        Dataset::Cifar10 => cifar::load(&cifar::CIFAR10, data_dir, device),
        Dataset::Cifar100 => cifar::load(&cifar::CIFAR100, data_dir, device),
        Dataset::Digits => Ok(digits::load(device)),
        Dataset::Synthetic => {
            Ok(synthetic::generate(seed, synthetic::TRAIN_SIZE, synthetic::TEST_SIZE, dataset.num_classes() as i64)
                .to_device(device))
        }
    }
}

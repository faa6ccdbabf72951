#![allow(dead_code)]

use std::path::Path;

use advmix_protocol::{Dataset, Method, Model, RunConfig};
use advmix_protocol::config::{EvalSize, LrSchedule};
use advmix_trainer::data::{self, Data, Split};
use tch::Device;

/// A config small enough for a 2-core CPU: small_cnn on digits, short
/// attacks, a 200-point evaluation.
pub fn small_config(method: Method, epochs: u32) -> RunConfig {
    let mut c = RunConfig {
        method,
        model: Model::SmallCnn,
        dataset: Dataset::Digits,
        epochs,
        batch_size: 64,
        lr_schedule: LrSchedule::Onecycle,
        lr_max: 0.1,
        epsilon: 0.1,
        pgd_steps: 3,
        pgd_step: 0.04,
        samples_every: 0,
        ..RunConfig::default()
    };
    c.aom.steps = 3;
    c.eval.n = EvalSize::Count(200);
    c.eval.pgd_steps = 5;
    c.eval.pgd_step = 0.03;
    c
}

pub fn digits() -> Data {
    data::load(Dataset::Digits, Path::new("unused"), 0, Device::Cpu).expect("digits are built in")
}

/// The first `n` training images, for runs that only need a few batches.
pub fn head(data: &Data, n: i64) -> Data {
    Data {
        train: Split { images: data.train.images.narrow(0, 0, n), labels: data.train.labels.narrow(0, 0, n) },
        test: Split { images: data.test.images.shallow_clone(), labels: data.test.labels.shallow_clone() },
        num_classes: data.num_classes,
        mean: data.mean,
        std: data.std,
    }
}

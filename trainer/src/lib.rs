//! The advmix trainer. `main.rs` is the command line; the modules here are
//! usable on their own from tests and benchmarks.
//!
//! - `data/`: datasets as device-resident tensors, augmentation, download
//! - `models/`: the classifiers, with PyTorch-compatible names
//! - `methods/`: one training step of each method (ERM ... AOM)
//! - `attacks`: L∞ PGD
//! - `train/`: the epoch loop, evaluation, sample grids
//! - `optim`, `schedule`, `checkpoint`, `events`, `stop`: its parts

pub mod attacks;
pub mod autocast;
pub mod checkpoint;
pub mod cli;
pub mod data;
pub mod device;
pub mod doctor;
pub mod evaluate;
pub mod events;
pub mod methods;
pub mod models;
pub mod optim;
pub mod schedule;
pub mod stop;
pub mod train;

/// The libtorch directory this binary was linked against (its rpath).
pub const LIBTORCH_LIB: &str = env!("ADVMIX_LIBTORCH_LIB");

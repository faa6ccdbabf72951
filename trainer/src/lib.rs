//! The advmix trainer. `main.rs` is the command line; the modules here are
//! usable on their own from tests and benchmarks.

pub mod data;
pub mod device;
pub mod doctor;

/// The libtorch directory this binary was linked against (its rpath).
pub const LIBTORCH_LIB: &str = env!("ADVMIX_LIBTORCH_LIB");

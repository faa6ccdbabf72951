//! Types that the advmix server and trainer share. This crate depends on
//! neither tch nor axum, so either side can be built without the other.

pub mod config;
pub mod depth;
pub mod doctor;
pub mod events;
pub mod layout;
pub mod rng;
pub mod step;
pub mod sweep;
pub mod validate;

pub use config::{ConfigError, Dataset, FinalAttack, Method, Model, RunConfig};
pub use doctor::{CudaDevice, DoctorReport};
pub use events::{Event, EventLine};
pub use sweep::{SweepError, SweepRun, SweepSpec};
pub use validate::FieldError;

/// Version of the advmix workspace, reported by both binaries.
pub const ADVMIX_VERSION: &str = env!("CARGO_PKG_VERSION");

//! What `advmix-trainer doctor --json` reports about the machine's torch and
//! devices. The server reads it at start-up to decide its GPU slots.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DoctorReport {
    /// Version of the libtorch actually loaded, e.g. `2.11.0+cu130`.
    pub torch_version: String,
    /// Directory the loaded libtorch came from.
    pub libtorch_dir: Option<String>,
    /// The torch version the trainer was compiled against.
    pub built_against: String,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub cuda_devices: Vec<CudaDevice>,
    pub cpu_threads: i32,
    pub trainer_version: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct CudaDevice {
    pub index: usize,
    pub name: String,
    pub total_memory_bytes: Option<u64>,
}

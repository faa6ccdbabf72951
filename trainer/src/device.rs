//! `--device cpu|cuda|cuda:N|auto`.

use std::fmt;
use std::str::FromStr;

use tch::{Cuda, Device};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceRequest {
    Auto,
    Cpu,
    Cuda(usize),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DeviceError {
    #[error("unknown device `{0}`: use cpu, cuda, cuda:N or auto")]
    Unknown(String),
    #[error(
        "--device {requested}: CUDA is not available to this trainer; run `advmix-trainer doctor`, \
         or use --device cpu"
    )]
    NoCuda { requested: String },
    #[error("--device cuda:{index}: only {count} CUDA device(s) found (cuda:0 .. cuda:{last})", last = count.saturating_sub(1))]
    NoSuchDevice { index: usize, count: usize },
}

impl FromStr for DeviceRequest {
    type Err = DeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(DeviceRequest::Auto),
            "cpu" => Ok(DeviceRequest::Cpu),
            "cuda" => Ok(DeviceRequest::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceRequest::Cuda)
                .ok_or_else(|| DeviceError::Unknown(s.to_owned())),
        }
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRequest::Auto => f.write_str("auto"),
            DeviceRequest::Cpu => f.write_str("cpu"),
            DeviceRequest::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceRequest {
    /// The torch device, given how many CUDA devices this process sees.
    pub fn resolve_with(self, cuda_devices: usize) -> Result<Device, DeviceError> {
        match self {
            DeviceRequest::Cpu => Ok(Device::Cpu),
            DeviceRequest::Auto if cuda_devices > 0 => Ok(Device::Cuda(0)),
            DeviceRequest::Auto => Ok(Device::Cpu),
            DeviceRequest::Cuda(_) if cuda_devices == 0 => {
                Err(DeviceError::NoCuda { requested: self.to_string() })
            }
            DeviceRequest::Cuda(index) if index >= cuda_devices => {
                Err(DeviceError::NoSuchDevice { index, count: cuda_devices })
            }
            DeviceRequest::Cuda(index) => Ok(Device::Cuda(index)),
        }
    }

    pub fn resolve(self) -> Result<Device, DeviceError> {
        let count = if Cuda::is_available() { Cuda::device_count().max(0) as usize } else { 0 };
        self.resolve_with(count)
    }
}

/// The device as torch users write it: `cpu`, `cuda:0`.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Cpu => "cpu".to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// CPU threads for torch's operators: `requested`, else the CPUs Slurm
/// allocated to the job, else torch's own choice (every core; see
/// [`set_cpu_threads`] for a process allowed fewer).
///
/// Several trainers that each take every core slow one another down far more
/// than sharing suggests: torch's threads spin while they wait for each other,
/// so one descheduled thread stalls every operator of its process. The server
/// gives each local CPU job its share of the cores; Slurm pins the count itself.
pub fn cpu_threads(requested: Option<usize>, slurm_cpus: Option<&str>) -> Option<usize> {
    requested.or_else(|| slurm_cpus?.trim().parse().ok()).filter(|&n| n > 0)
}

/// Applies [`cpu_threads`] from the environment before any torch work.
pub fn set_cpu_threads(requested: Option<usize>) {
    // Per task when the job asked with --cpus-per-task; else what the job
    // holds on this node, which is never more than the node has.
    let slurm = std::env::var("SLURM_CPUS_PER_TASK").or_else(|_| std::env::var("SLURM_CPUS_ON_NODE")).ok();
    // torch counts the machine's cores, not the CPUs this process may use (a
    // container's quota, an affinity mask): never more threads than those.
    let allowed = || {
        let allowed = std::thread::available_parallelism().ok()?.get();
        (allowed < usize::try_from(tch::get_num_threads()).ok()?).then_some(allowed)
    };
    if let Some(n) = cpu_threads(requested, slurm.as_deref()).or_else(allowed) {
        tch::set_num_threads(n as i32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("auto".parse(), Ok(DeviceRequest::Auto));
        assert_eq!("CPU".parse(), Ok(DeviceRequest::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceRequest::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceRequest::Cuda(3)));
        assert!(matches!("gpu".parse::<DeviceRequest>(), Err(DeviceError::Unknown(_))));
        assert!(matches!("cuda:x".parse::<DeviceRequest>(), Err(DeviceError::Unknown(_))));
    }

    #[test]
    fn resolves_against_the_devices_present() {
        assert_eq!(DeviceRequest::Auto.resolve_with(0), Ok(Device::Cpu));
        assert_eq!(DeviceRequest::Auto.resolve_with(2), Ok(Device::Cuda(0)));
        assert_eq!(DeviceRequest::Cuda(1).resolve_with(2), Ok(Device::Cuda(1)));
        assert_eq!(
            DeviceRequest::Cuda(2).resolve_with(2),
            Err(DeviceError::NoSuchDevice { index: 2, count: 2 })
        );
        let err = DeviceRequest::Cuda(0).resolve_with(0).unwrap_err();
        assert!(err.to_string().contains("--device cpu"), "{err}");
        assert_eq!(device_name(Device::Cuda(1)), "cuda:1");
    }

    #[test]
    fn cpu_threads_come_from_the_flag_then_slurm() {
        assert_eq!(cpu_threads(Some(3), Some("8")), Some(3));
        assert_eq!(cpu_threads(None, Some("8")), Some(8));
        assert_eq!(cpu_threads(None, None), None);
        // Nonsense leaves torch's own choice.
        assert_eq!(cpu_threads(None, Some("lots")), None);
        assert_eq!(cpu_threads(Some(0), None), None);
    }
}

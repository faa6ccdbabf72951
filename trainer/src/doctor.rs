//! `advmix-trainer doctor`: which torch this process loaded and which devices
//! it can use.

use std::ffi::{CStr, c_char, c_int, c_uint};
use std::path::{Path, PathBuf};

use advmix_protocol::{ADVMIX_VERSION, CudaDevice, DoctorReport};
use tch::Cuda;

/// The torch-sys release this binary was built against.
pub const BUILT_AGAINST: &str = "2.11.0";

pub fn report() -> DoctorReport {
    let libtorch_dir = loaded_libtorch_dir();
    let torch_version = libtorch_dir
        .as_deref()
        .and_then(version_of_install)
        .unwrap_or_else(|| format!("{BUILT_AGAINST} (version file not found)"));
    let cuda_available = Cuda::is_available();
    let cuda_devices = if cuda_available { cuda_devices() } else { Vec::new() };
    DoctorReport {
        torch_version,
        libtorch_dir: libtorch_dir.map(|d| d.display().to_string()),
        built_against: BUILT_AGAINST.to_owned(),
        cuda_available,
        cudnn_available: cuda_available && Cuda::cudnn_is_available(),
        cuda_devices,
        cpu_threads: tch::get_num_threads(),
        trainer_version: ADVMIX_VERSION.to_owned(),
    }
}

pub fn print_human(r: &DoctorReport) {
    println!("advmix-trainer {}", r.trainer_version);
    println!("torch          {} (built against {})", r.torch_version, r.built_against);
    println!("libtorch       {}", r.libtorch_dir.as_deref().unwrap_or("unknown"));
    println!("cpu threads    {}", r.cpu_threads);
    println!("cuda           {}", if r.cuda_available { "available" } else { "not available" });
    if r.cuda_available {
        println!("cudnn          {}", if r.cudnn_available { "available" } else { "not available" });
    }
    println!("cuda devices   {}", r.cuda_devices.len());
    for d in &r.cuda_devices {
        let memory = d
            .total_memory_bytes
            .map(|b| format!(", {:.1} GiB", b as f64 / (1u64 << 30) as f64))
            .unwrap_or_default();
        println!("  cuda:{}       {}{memory}", d.index, d.name);
    }
}

/// The directory of the `libtorch_cpu.so` mapped into this process: with an
/// rpath and LD_LIBRARY_PATH both in play, only the loader knows which one won.
fn loaded_libtorch_dir() -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.ends_with("/libtorch_cpu.so"))
        .and_then(|path| Path::new(path).parent().map(Path::to_path_buf))
}

/// Reads the version that a pip install (`torch/version.py`) or a libtorch
/// archive (`build-version`) records beside its `lib/` directory.
fn version_of_install(lib_dir: &Path) -> Option<String> {
    let root = lib_dir.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        let version = text.lines().find_map(|line| {
            let value = line.strip_prefix("__version__")?.split_once('=')?.1;
            Some(value.trim().trim_matches(['\'', '"']).to_owned())
        });
        if version.is_some() {
            return version;
        }
    }
    std::fs::read_to_string(root.join("build-version")).ok().map(|v| v.trim().to_owned())
}

/// Device names come from the CUDA driver API: libtorch's C API, which tch
/// wraps, has no call for them. The driver is opened only here, at run time,
/// so the trainer still starts on machines without one.
fn cuda_devices() -> Vec<CudaDevice> {
    let count = Cuda::device_count().max(0) as usize;
    let names = driver_device_info(count).unwrap_or_default();
    (0..count)
        .map(|index| {
            let (name, total_memory_bytes) = names
                .get(index)
                .cloned()
                .unwrap_or_else(|| ("unknown CUDA device".to_owned(), None));
            CudaDevice { index, name, total_memory_bytes }
        })
        .collect()
}

fn driver_device_info(count: usize) -> Option<Vec<(String, Option<u64>)>> {
    type CuInit = unsafe extern "C" fn(c_uint) -> c_int;
    type CuDeviceGet = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
    type CuDeviceGetName = unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
    type CuDeviceTotalMem = unsafe extern "C" fn(*mut usize, c_int) -> c_int;
    // SAFETY: the signatures are those of the CUDA driver API (cuda.h), stable
    // across driver versions; buffers are sized as the calls require.
    unsafe {
        let lib = libloading::Library::new("libcuda.so.1").ok()?;
        let init: libloading::Symbol<CuInit> = lib.get(b"cuInit").ok()?;
        let get: libloading::Symbol<CuDeviceGet> = lib.get(b"cuDeviceGet").ok()?;
        let get_name: libloading::Symbol<CuDeviceGetName> = lib.get(b"cuDeviceGetName").ok()?;
        let total_mem: Option<libloading::Symbol<CuDeviceTotalMem>> =
            lib.get(b"cuDeviceTotalMem_v2").ok();
        if init(0) != 0 {
            return None;
        }
        let mut out = Vec::with_capacity(count);
        for ordinal in 0..count as c_int {
            let mut device: c_int = 0;
            if get(&mut device, ordinal) != 0 {
                return Some(out);
            }
            let mut buf = [0 as c_char; 256];
            let name = if get_name(buf.as_mut_ptr(), buf.len() as c_int, device) == 0 {
                CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
            } else {
                "unknown CUDA device".to_owned()
            };
            let memory = total_mem.as_ref().and_then(|f| {
                let mut bytes = 0usize;
                (f(&mut bytes, device) == 0).then_some(bytes as u64)
            });
            out.push((name, memory));
        }
        Some(out)
    }
}

//! The trainer must load libtorch's CUDA backend whenever the libtorch it was
//! built against has one, or CUDA reads as unavailable on GPU machines.

use std::path::Path;
use std::process::Command;

#[test]
fn binary_needs_libtorch_cuda_when_it_exists() {
    let bin = env!("CARGO_BIN_EXE_advmix-trainer");
    let out = Command::new("readelf").args(["-d", bin]).output().expect("readelf (binutils) runs");
    let dynamic = String::from_utf8_lossy(&out.stdout);
    let has_cuda_lib = Path::new(advmix_trainer::LIBTORCH_LIB).join("libtorch_cuda.so").exists();
    assert_eq!(
        dynamic.contains("[libtorch_cuda.so]"),
        has_cuda_lib,
        "libtorch_cuda.so in NEEDED must match its presence in {}",
        advmix_trainer::LIBTORCH_LIB
    );
    assert!(dynamic.contains(advmix_trainer::LIBTORCH_LIB), "runpath points at libtorch");
}

#[test]
fn doctor_reports_torch_2_11_without_any_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_advmix-trainer"))
        .args(["doctor", "--json"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("the trainer starts");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: advmix_protocol::DoctorReport = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.torch_version.starts_with("2.11.0"), "{}", report.torch_version);
    assert_eq!(report.cuda_available, !report.cuda_devices.is_empty());
    assert!(report.cpu_threads >= 1);
}

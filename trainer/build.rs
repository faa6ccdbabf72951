//! Link settings that tch's own build script cannot express.
//!
//! 1. rustc links with `--as-needed`, and nothing in tch references a symbol
//!    of `libtorch_cuda.so` directly: the linker drops it and CUDA is then
//!    "unavailable" on a GPU machine. Forcing it into DT_NEEDED makes libtorch
//!    register its CUDA backend when the binary starts.
//! 2. A C++ shim (`csrc/autocast.cpp`) for what tch does not wrap.
//! 3. An rpath to the libtorch we built against lets the binaries run without
//!    anyone exporting LD_LIBRARY_PATH. The rpath is a RUNPATH, so an explicit
//!    LD_LIBRARY_PATH (another machine's torch install) still takes precedence.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let lib = PathBuf::from(
        env::var("DEP_TCH_LIBTORCH_LIB").expect("torch-sys reports its libtorch directory"),
    );
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());

    // The libtorch root is the parent of lib/ in both a pip install and a
    // libtorch archive; its include/ has the ATen headers the shim needs.
    let root = lib.parent().expect("libtorch lib/ has a parent");
    println!("cargo:rerun-if-changed=csrc/autocast.cpp");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .warnings(false)
        .include(root.join("include"))
        .include(root.join("include/torch/csrc/api/include"))
        .define("_GLIBCXX_USE_CXX11_ABI", env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into()).as_str())
        .file("csrc/autocast.cpp")
        .compile("advmix_autocast");
    println!("cargo:rustc-env=ADVMIX_LIBTORCH_LIB={}", lib.display());

    for cuda_lib in ["torch_cuda", "torch_cuda_cu", "torch_cuda_cpp"] {
        if lib.join(format!("lib{cuda_lib}.so")).exists() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-l{cuda_lib},--as-needed");
        }
    }

    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=ADVMIX_GIT_COMMIT={commit}");
}

//! bf16 autocast on CUDA, through the small C++ shim in `csrc/autocast.cpp`.

unsafe extern "C" {
    fn advmix_autocast_bf16_enter() -> i32;
    fn advmix_autocast_exit(previous: i32);
}

/// Runs `f` with CUDA autocast to bfloat16. CPU tensors are unaffected.
pub fn bf16<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: pairs with the enter call below; no arguments to check.
            unsafe { advmix_autocast_exit(self.0) }
        }
    }
    // SAFETY: only flips thread-local autocast state in libtorch.
    let _restore = Restore(unsafe { advmix_autocast_bf16_enter() });
    f()
}

/// Runs `f` under [`bf16`] when bf16 is `wanted` and `device` is CUDA, else
/// as is: autocast to bf16 is a GPU option, CPU runs stay fp32.
pub fn bf16_on_cuda<T>(wanted: bool, device: tch::Device, f: impl FnOnce() -> T) -> T {
    if wanted && device.is_cuda() { bf16(f) } else { f() }
}

// tch's autocast switch keeps CUDA's default autocast dtype, float16. advmix's
// mixed precision is bfloat16 (no loss scaling needed), so set the dtype here.
#include <ATen/autocast_mode.h>

extern "C" {

int advmix_autocast_bf16_enter() {
  bool previous = at::autocast::is_autocast_enabled(at::kCUDA);
  at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
  at::autocast::set_autocast_enabled(at::kCUDA, true);
  at::autocast::increment_nesting();
  return previous ? 1 : 0;
}

void advmix_autocast_exit(int previous) {
  if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
  at::autocast::set_autocast_enabled(at::kCUDA, previous != 0);
}

}

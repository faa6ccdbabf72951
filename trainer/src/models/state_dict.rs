//! A VarStore as a PyTorch `state_dict`.

use tch::Tensor;
use tch::nn::VarStore;

/// PyTorch state_dict of the VarStore: every variable (params and BN
/// running_mean/running_var) under its PyTorch name, plus
/// `<bn>.num_batches_tracked` (int64 scalar = `steps`) for every batch norm, so
/// that `load_state_dict(strict=True)` works.
///
/// The tensors are detached and stay on the VarStore's device, as in PyTorch;
/// entries are sorted by name.
pub fn state_dict(vs: &VarStore, steps: i64) -> Vec<(String, Tensor)> {
    let mut entries: Vec<(String, Tensor)> = Vec::new();
    for (name, var) in vs.variables() {
        // tch keeps no counter of its own, and every batch norm (and only a
        // batch norm) owns a `running_mean`, so that is how they are found.
        if let Some(bn) = name.strip_suffix(".running_mean") {
            let count = Tensor::from(steps).to_device(vs.device());
            entries.push((format!("{bn}.num_batches_tracked"), count));
        }
        entries.push((name, var.detach()));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

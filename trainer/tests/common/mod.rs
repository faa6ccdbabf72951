#![allow(dead_code)]

use std::path::{Path, PathBuf};

use advmix_protocol::{Dataset, FinalAttack, Method, Model, RunConfig};
use advmix_protocol::config::{EvalSize, LrSchedule};
use advmix_trainer::data::{self, Data, Split};
use tch::Device;

/// torch's CPU generator is global to the process and the tests of one file
/// run on parallel threads: a test that seeds it and expects a given stream
/// holds this for as long as it draws, or another test's draws interleave.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn torch_rng() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// A config small enough for a 2-core CPU: small_cnn on digits, short
/// attacks, a 200-point evaluation.
pub fn small_config(method: Method, epochs: u32) -> RunConfig {
    let mut c = RunConfig {
        method,
        model: Model::SmallCnn,
        dataset: Dataset::Digits,
        epochs,
        batch_size: 64,
        lr_schedule: LrSchedule::Onecycle,
        lr_max: 0.1,
        epsilon: 0.1,
        pgd_steps: 3,
        pgd_step: advmix_protocol::config::StepSize::fixed(0.04),
        samples_every: 0,
        ..RunConfig::default()
    };
    c.aom.steps = 3;
    c.eval.n = EvalSize::Count(200);
    c.eval.pgd_steps = 5;
    c.eval.pgd_step = advmix_protocol::config::StepSize::fixed(0.03);
    // Tests that want the final AutoAttack stage turn it on.
    c.eval.final_attack = FinalAttack::None;
    c
}

pub fn digits() -> Data {
    data::load(Dataset::Digits, Path::new("unused"), 0, Device::Cpu).expect("digits are built in")
}

/// The first `n` training images, for runs that only need a few batches.
pub fn head(data: &Data, n: i64) -> Data {
    Data {
        train: Split { images: data.train.images.narrow(0, 0, n), labels: data.train.labels.narrow(0, 0, n) },
        test: Split { images: data.test.images.shallow_clone(), labels: data.test.labels.shallow_clone() },
        num_classes: data.num_classes,
        mean: data.mean,
        std: data.std,
    }
}

/// ERM on digits for a few quick epochs: accurate, and not robust. The
/// attack tests share it as their victim.
pub fn erm_model() -> (tch::nn::VarStore, advmix_trainer::models::Net, Data) {
    trained_model(Method::Erm)
}

/// `method` (small_config's ε and steps) on digits for 5 quick epochs.
pub fn trained_model(method: Method) -> (tch::nn::VarStore, advmix_trainer::models::Net, Data) {
    use advmix_trainer::models::{self, Normalization};
    use advmix_trainer::optim::Sgd;
    use advmix_trainer::schedule::learning_rate;
    use tch::{Kind, Tensor};

    // The same victim every time, whatever the file's other tests draw.
    let _rng = torch_rng();
    tch::manual_seed(0);
    let data = digits();
    let config = small_config(method, 2);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let norm = Normalization { mean: data.mean, std: data.std };
    let net = models::build(&vs.root(), config.model, 0, 0, 10, norm);
    let mut opt = Sgd::new(&vs, 0.9, 5e-4);
    for epoch in 0..5 {
        let order = Tensor::randperm(data.train.len() as i64, (Kind::Int64, Device::Cpu));
        for idx in order.split(64, 0) {
            let x = data.train.images.index_select(0, &idx);
            let y = data.train.labels.index_select(0, &idx);
            let step = advmix_trainer::methods::step(&config, &net, &x, &y, 10, true);
            opt.zero_grad();
            step.loss.backward();
            opt.step(learning_rate(LrSchedule::Piecewise, 0.1, 5, f64::from(epoch)));
        }
    }
    (vs, net, data)
}

/// Eval-mode accuracy of `model` on (x, y).
pub fn accuracy(model: &impl tch::nn::ModuleT, x: &tch::Tensor, y: &tch::Tensor) -> f64 {
    let logits = tch::no_grad(|| model.forward_t(x, false));
    logits.argmax(-1, false).eq_tensor(y).to_kind(tch::Kind::Float).mean(tch::Kind::Float).double_value(&[])
}

pub const HOW_TO_FIX: &str = "these tests compare against PyTorch and need a Python with torch and \
    safetensors: run `scripts/setup.sh test` (it fills the workspace's .venv), or set ADVMIX_PYTHON \
    to such an interpreter";

/// `ADVMIX_PYTHON`, else the active virtualenv's, else the workspace's `.venv`;
/// with where it came from, for the error message.
pub fn python() -> (PathBuf, &'static str) {
    if let Some(python) = std::env::var_os("ADVMIX_PYTHON") {
        return (python.into(), "ADVMIX_PYTHON");
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        let python = Path::new(&venv).join("bin/python");
        if python.exists() {
            return (python, "VIRTUAL_ENV");
        }
    }
    (Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"), "the workspace's .venv")
}


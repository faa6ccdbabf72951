//! `python/advmix_torch.py` against the trainer: a collaborator who loads a
//! checkpoint into PyTorch and feeds it [0,1] images gets the trainer's
//! logits, and PGD run with PyTorch's autograd on it finds the trainer's
//! robust accuracy.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use advmix_protocol::events::CheckpointKind;
use advmix_protocol::{Dataset, Method, Model, RunConfig};
use advmix_trainer::attacks::Pgd;
use advmix_trainer::checkpoint;
use advmix_trainer::models::{self, Normalization};
use advmix_trainer::stop::StopSignal;
use advmix_trainer::train::metadata::{Describe, Input, ModelMetadata, Splits};
use advmix_trainer::train::{self, TrainOptions, eval};
use common::{HOW_TO_FIX, digits, python, small_config, torch_rng};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/loader_check.py")
}

fn run_python(args: &[&std::ffi::OsStr]) -> Output {
    let (python, source) = python();
    let out = Command::new(&python)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (from {source}): {e}\n{HOW_TO_FIX}", python.display()));
    assert!(
        out.status.success(),
        "{} {:?} failed:\n{}\n{HOW_TO_FIX}",
        python.display(),
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The loader's logits for `x`, from the checkpoint alone.
fn loader_logits(checkpoint: &Path, x: &Tensor) -> Tensor {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("input.safetensors"), dir.path().join("output.safetensors"));
    Tensor::write_safetensors(&[("x", x)], &input).unwrap();
    run_python(&[script().as_os_str(), "logits".as_ref(), checkpoint.as_os_str(), input.as_os_str(), output.as_os_str()]);
    Tensor::read_safetensors(&output).unwrap().into_iter().find_map(|(n, t)| (n == "logits").then_some(t)).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Builds `model` for `dataset` with its real normalization, moves the batch
/// norms' statistics off their defaults, and writes it as the trainer writes
/// a best checkpoint. `legacy` writes the metadata of files from before
/// format 2, which name no normalization.
fn write_checkpoint(path: &Path, model: Model, dataset: Dataset, legacy: bool) -> (VarStore, models::Net) {
    let config = RunConfig { model, dataset, depth: 10, widen_factor: 2, ..RunConfig::default() };
    let (mean, std) = match dataset {
        Dataset::Cifar10 => ([0.4914, 0.4822, 0.4465], [0.2471, 0.2435, 0.2616]),
        Dataset::Cifar100 => ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762]),
        Dataset::Digits => ([0.3051; 3], [0.3762; 3]),
        Dataset::Synthetic => ([0.5; 3], [0.25; 3]),
    };
    let classes = dataset.num_classes() as i64;
    let vs = VarStore::new(Device::Cpu);
    let net = models::build(&vs.root(), model, config.depth, config.widen_factor, classes, Normalization { mean, std });
    tch::no_grad(|| {
        for _ in 0..3 {
            let _ = net.forward_t(&Tensor::rand([8, 3, 32, 32], (Kind::Float, Device::Cpu)), true);
        }
    });
    let describe = Describe {
        input: Input { shape: [3, 32, 32], range: [0.0, 1.0], mean, std },
        num_classes: classes,
        splits: Splits { train: 100, test: 10 },
    };
    let meta = ModelMetadata::new(&config, &describe, 3, CheckpointKind::Best, Vec::new());
    let mut map = meta.to_map();
    if legacy {
        let old = serde_json::json!({
            "epoch": 3, "kind": "best", "model": model, "dataset": dataset, "method": config.method,
            "advmix_version": "0.1.0", "config": config,
        });
        map.insert(train::METADATA_KEY.to_owned(), old.to_string());
    }
    checkpoint::write(path, &models::state_dict(&vs, 3), map).unwrap();
    (vs, net)
}

fn loader_matches(model: Model, dataset: Dataset, legacy: bool) {
    let _rng = torch_rng();
    tch::manual_seed(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("best.safetensors");
    let (_vs, net) = write_checkpoint(&path, model, dataset, legacy);
    let x = Tensor::rand([4, 3, 32, 32], (Kind::Float, Device::Cpu));
    let trainer = tch::no_grad(|| net.forward_t(&x, false));
    let loader = loader_logits(&path, &x);
    assert_eq!(trainer.size(), loader.size());
    let diff = max_abs_diff(&trainer, &loader);
    assert!(diff < 1e-4, "{model:?} on {dataset:?}: max |trainer - loader| = {diff:e}");
}

#[test]
fn the_loader_gives_the_trainers_logits_for_preact_resnet18() {
    loader_matches(Model::PreactResnet18, Dataset::Cifar10, false);
}

#[test]
fn the_loader_gives_the_trainers_logits_for_wide_resnet() {
    loader_matches(Model::WideResnet, Dataset::Cifar100, false);
}

#[test]
fn the_loader_gives_the_trainers_logits_for_small_cnn() {
    loader_matches(Model::SmallCnn, Dataset::Digits, false);
}

/// A file written before checkpoints described themselves loads with the
/// dataset's known normalization.
#[test]
fn an_older_checkpoint_loads_with_the_datasets_constants() {
    loader_matches(Model::SmallCnn, Dataset::Cifar100, true);
}

/// A real training run's best checkpoint: PGD with PyTorch autograd on the
/// loaded module finds the trainer's robust accuracy on the same points,
/// within 2 points (the random starts come from different streams).
#[test]
fn pgd_on_the_loaded_module_agrees_with_the_trainers_pgd() {
    let _rng = torch_rng();
    let data = digits();
    let dir = tempfile::tempdir().unwrap();
    let config = RunConfig { epsilon: 0.15, ..small_config(Method::PgdAt, 3) };
    let options =
        TrainOptions { config: config.clone(), run_dir: dir.path().to_owned(), device: Device::Cpu, resume: false, stdout_events: false };
    train::run(&options, &data, &StopSignal::never()).unwrap();
    let best = dir.path().join("checkpoints/best.safetensors");

    // What the file says about itself.
    let loaded = checkpoint::read(&best).unwrap();
    let meta = ModelMetadata::from_map(&loaded.metadata).unwrap();
    let input = meta.input.clone().unwrap();
    assert_eq!((input.mean, input.std, input.shape), (data.mean, data.std, [3, 32, 32]));
    assert_eq!(meta.num_classes, Some(10));
    assert_eq!(meta.class_names.as_ref().map(Vec::len), Some(10));
    assert_eq!(meta.threat_model.as_ref().map(|t| (t.norm.as_str(), t.epsilon)), Some(("Linf", 0.15)));
    assert_eq!(meta.splits.map(|s| (s.train, s.test)), Some((data.train.len(), data.test.len())));
    let evaluation = meta.evaluations.first().expect("a best checkpoint carries its epoch's evaluation");
    assert_eq!((evaluation.epoch, evaluation.n), (meta.epoch, 200));

    // The trainer's PGD on its weights, on the run's whole seeded test set.
    let vs = VarStore::new(Device::Cpu);
    let net = models::build(&vs.root(), Model::SmallCnn, 0, 0, 10, Normalization { mean: data.mean, std: data.std });
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            var.copy_(&loaded.tensors[&name]);
        }
    });
    let points = eval::subset(&data.test, data.test.len(), train::subset_seed(config.seed));
    let (eps, step, steps, seed) = (config.epsilon, config.epsilon / 4.0, 20, 7);
    tch::manual_seed(seed);
    let pgd = Pgd { epsilon: eps, step, steps, random_start: true };
    let trainer = eval::evaluate(&net, &points, &pgd, 1, 500);
    assert!(
        trainer.clean_acc - trainer.pgd_acc > 0.05,
        "the attack must bite for the comparison to mean anything: clean {:.3}, PGD {:.3}",
        trainer.clean_acc,
        trainer.pgd_acc
    );

    let file = dir.path().join("points.safetensors");
    Tensor::write_safetensors(&[("x", &points.images), ("y", &points.labels)], &file).unwrap();
    let args = [eps.to_string(), step.to_string(), steps.to_string(), seed.to_string()];
    let out = run_python(&[
        script().as_os_str(),
        "pgd".as_ref(),
        best.as_os_str(),
        file.as_os_str(),
        "--eps".as_ref(),
        args[0].as_ref(),
        "--step".as_ref(),
        args[1].as_ref(),
        "--steps".as_ref(),
        args[2].as_ref(),
        "--seed".as_ref(),
        args[3].as_ref(),
    ]);
    let torch: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let (clean, robust) = (torch["clean_acc"].as_f64().unwrap(), torch["robust_acc"].as_f64().unwrap());
    eprintln!("trainer: clean {:.4} PGD {:.4}; PyTorch: clean {clean:.4} PGD {robust:.4}", trainer.clean_acc, trainer.pgd_acc);
    assert!((clean - trainer.clean_acc).abs() < 1e-9, "clean accuracy differs: {clean} vs {}", trainer.clean_acc);
    assert!((robust - trainer.pgd_acc).abs() <= 0.02, "PGD accuracy {robust:.4} is not within 2 points of {:.4}", trainer.pgd_acc);

    // And the summary a collaborator prints first.
    let (python, _) = python();
    let summary = Command::new(python)
        .args(["-m", "advmix_torch"])
        .arg(&best)
        .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("../python"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(summary.status.success(), "{}", String::from_utf8_lossy(&summary.stderr));
    for expected in ["small_cnn", "digits", "pgd_at", "0.3051"] {
        assert!(text.contains(expected), "the summary lacks {expected}:\n{text}");
    }
}

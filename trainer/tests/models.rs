//! The models against their PyTorch definitions in `python/advmix_torch.py`:
//! the same variable names, and the same logits from the same weights.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use advmix_protocol::Model;
use advmix_trainer::models::{self, Net, Normalization};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

mod common;
use common::{HOW_TO_FIX, python};

const CIFAR10: Normalization =
    Normalization { mean: [0.4914, 0.4822, 0.4465], std: [0.2471, 0.2435, 0.2616] };
const IDENTITY: Normalization = Normalization { mean: [0.0; 3], std: [1.0; 3] };

#[derive(Clone, Copy)]
struct Spec {
    model: Model,
    /// The model's name on the reference script's command line.
    name: &'static str,
    depth: u32,
    widen: u32,
}

const PREACT: Spec =
    Spec { model: Model::PreactResnet18, name: "preact_resnet18", depth: 0, widen: 0 };
/// WRN-10-2: the smallest wide ResNet, and still one with projection shortcuts.
const WRN: Spec = Spec { model: Model::WideResnet, name: "wide_resnet", depth: 10, widen: 2 };
const SMALL: Spec = Spec { model: Model::SmallCnn, name: "small_cnn", depth: 0, widen: 0 };

fn build(spec: Spec, num_classes: i64, norm: Normalization) -> (VarStore, Net) {
    let vs = VarStore::new(Device::Cpu);
    let net = models::build(&vs.root(), spec.model, spec.depth, spec.widen, num_classes, norm);
    (vs, net)
}

fn images(n: i64) -> Tensor {
    Tensor::rand([n, 3, 32, 32], (Kind::Float, Device::Cpu))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Runs the reference model on `x` in eval mode, with the weights of `state_dict`.
fn reference_logits(
    spec: Spec,
    num_classes: i64,
    norm: Normalization,
    state_dict: &[(String, Tensor)],
    x: &Tensor,
) -> Tensor {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let [checkpoint, input, output] =
        ["model", "input", "output"].map(|name| dir.path().join(format!("{name}.safetensors")));
    // The trainer's own checkpoint writer, so this also proves its files load
    // into PyTorch with strict=True.
    let metadata = [("format".to_owned(), "pt".to_owned())].into();
    advmix_trainer::checkpoint::write(&checkpoint, state_dict, metadata).expect("checkpoint written");
    Tensor::write_safetensors(&[("x", x)], &input).expect("input written");

    let triple = |v: [f64; 3]| format!("{},{},{}", v[0], v[1], v[2]);
    let (python, source) = python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/reference_models.py");
    let run = Command::new(&python)
        .arg(&script)
        .arg(spec.name)
        .args([&checkpoint, &input, &output])
        .args(["--depth", &spec.depth.to_string(), "--widen", &spec.widen.to_string()])
        .args(["--classes", &num_classes.to_string()])
        .args(["--mean", &triple(norm.mean), "--std", &triple(norm.std)])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {} (from {source}): {e}\n{HOW_TO_FIX}", python.display())
        });
    assert!(
        run.status.success(),
        "{} (from {source}) failed on the reference script:\n{}\n{HOW_TO_FIX}",
        python.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    Tensor::read_safetensors(&output)
        .expect("reference output readable")
        .into_iter()
        .find_map(|(name, t)| (name == "logits").then_some(t))
        .expect("reference output has `logits`")
}

/// Trains the batch norms' running statistics away from their defaults, so
/// that eval mode depends on them, then compares eval logits with PyTorch's.
fn matches_pytorch(spec: Spec) {
    const STEPS: i64 = 3;
    tch::manual_seed(0);
    let (vs, net) = build(spec, 10, CIFAR10);
    tch::no_grad(|| {
        for _ in 0..STEPS {
            let _ = net.forward_t(&images(8), true);
        }
    });
    let state_dict = models::state_dict(&vs, STEPS);
    for (name, t) in &state_dict {
        if name.ends_with(".running_mean") {
            assert!(t.abs().sum(Kind::Float).double_value(&[]) > 0.0, "{name} was never updated");
        }
    }

    let x = images(4);
    let logits = tch::no_grad(|| net.forward_t(&x, false));
    let reference = reference_logits(spec, 10, CIFAR10, &state_dict, &x);
    assert_eq!(logits.size(), reference.size());
    let diff = max_abs_diff(&logits, &reference);
    assert!(diff < 1e-4, "{}: max |rust - pytorch| = {diff:e}", spec.name);
}

#[test]
fn preact_resnet18_matches_pytorch() {
    matches_pytorch(PREACT);
}

#[test]
fn wide_resnet_matches_pytorch() {
    matches_pytorch(WRN);
}

#[test]
fn small_cnn_matches_pytorch() {
    matches_pytorch(SMALL);
}

#[test]
fn logits_have_one_column_per_class() {
    for spec in [PREACT, WRN, SMALL] {
        for num_classes in [10, 100] {
            let (_vs, net) = build(spec, num_classes, CIFAR10);
            let logits = tch::no_grad(|| net.forward_t(&images(2), false));
            assert_eq!(logits.size(), [2, num_classes], "{}", spec.name);
        }
    }
}

fn names(state_dict: &[(String, Tensor)]) -> HashSet<&str> {
    state_dict.iter().map(|(name, _)| name.as_str()).collect()
}

#[test]
fn preact_resnet18_state_dict_has_pytorch_names() {
    let (vs, _net) = build(PREACT, 10, IDENTITY);
    let state_dict = models::state_dict(&vs, 7);
    let names = names(&state_dict);
    for name in [
        "conv1.weight",
        "layer1.0.bn1.running_mean",
        "layer2.0.shortcut.0.weight",
        "linear.weight",
        "linear.bias",
        "bn.num_batches_tracked",
    ] {
        assert!(names.contains(name), "no {name} in {names:?}");
    }
    // Identity shortcuts have no weights.
    assert!(!names.contains("layer1.0.shortcut.0.weight"));
    assert!(!names.contains("layer2.1.shortcut.0.weight"));

    let count =
        &state_dict.iter().find(|(name, _)| name == "bn.num_batches_tracked").expect("present").1;
    assert_eq!((count.kind(), count.dim(), count.int64_value(&[])), (Kind::Int64, 0, 7));
    let batch_norms = names.iter().filter(|n| n.ends_with(".running_var")).count();
    let counters = names.iter().filter(|n| n.ends_with(".num_batches_tracked")).count();
    assert_eq!((batch_norms, counters), (17, 17), "2 in each of 8 blocks, and the final one");
}

#[test]
fn wide_resnet_state_dict_has_pytorch_names() {
    let (vs, _net) = build(WRN, 10, IDENTITY);
    let state_dict = models::state_dict(&vs, 0);
    let names = names(&state_dict);
    for name in [
        "conv1.weight",
        "block1.layer.0.bn1.weight",
        "block1.layer.0.convShortcut.weight",
        "block2.layer.0.convShortcut.weight",
        "block3.layer.0.bn2.running_var",
        "block3.layer.0.bn2.num_batches_tracked",
        "bn1.weight",
        "fc.weight",
        "fc.bias",
    ] {
        assert!(names.contains(name), "no {name} in {names:?}");
    }
    assert!(!names.contains("block1.layer.1.bn1.weight"), "WRN-10 has one block per group");
}

#[test]
#[should_panic(expected = "6n+4")]
fn wide_resnet_rejects_a_depth_not_6n_plus_4() {
    build(Spec { depth: 12, ..WRN }, 10, IDENTITY);
}

#[test]
fn preact_resnet18_has_the_reference_parameter_count() {
    let (vs, _net) = build(PREACT, 10, IDENTITY);
    let count: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
    // The 11,171,146 often quoted is for the variant without the final batch
    // norm (kuangliu/pytorch-cifar); Rice et al.'s has it: 2 × 512 more.
    assert_eq!(count, 11_172_170);
}

#[test]
fn normalization_happens_inside_the_model() {
    let norm = Normalization { mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.5] };
    let (vs, net) = build(SMALL, 10, norm);
    let (mut plain_vs, plain) = build(SMALL, 10, IDENTITY);
    plain_vs.copy(&vs).expect("same variables");

    let per_channel = |v: [f64; 3]| Tensor::from_slice(&v).to_kind(Kind::Float).view([1, 3, 1, 1]);
    let x = images(4);
    let normalized = (&x - per_channel(norm.mean)) / per_channel(norm.std);
    let (logits, plain_logits) =
        tch::no_grad(|| (net.forward_t(&x, false), plain.forward_t(&normalized, false)));
    let diff = max_abs_diff(&logits, &plain_logits);
    assert!(diff < 1e-5, "max |normalized inside - outside| = {diff:e}");
    assert!(
        max_abs_diff(&logits, &plain.forward_t(&x, false)) > 1e-3,
        "normalization changes the output"
    );
}

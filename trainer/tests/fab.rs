//! FAB-T on a briefly trained ERM model: its outputs stay in the ε-ball and
//! the box, what it reports as broken is misclassified, and its strength
//! tracks ε.

mod common;

use advmix_trainer::attacks::fab::FabT;
use advmix_trainer::models::Net;
use common::accuracy;
use tch::nn::{ModuleT, VarStore};
use tch::{Kind, Tensor};

const POINTS: i64 = 100;

/// ERM on digits for a few quick epochs: accurate, and not robust.
fn erm_model() -> (VarStore, Net, Tensor, Tensor) {
    let (vs, net, data) = common::erm_model();
    let x = data.test.images.narrow(0, 0, POINTS);
    let y = data.test.labels.narrow(0, 0, POINTS);
    (vs, net, x, y)
}

fn predictions(net: &Net, x: &Tensor) -> Tensor {
    tch::no_grad(|| net.forward_t(x, false)).argmax(-1, false)
}

/// Runs FAB-T, checks the invariants every output must satisfy, and returns
/// the accuracy under attack.
fn attacked_accuracy(net: &Net, x: &Tensor, y: &Tensor, fab: &FabT) -> f64 {
    let adv = fab.attack(net, x, y);
    let linf = (&adv - x).abs().max().double_value(&[]);
    assert!(linf <= fab.epsilon + 1e-6, "ε={}: perturbation {linf}", fab.epsilon);
    assert!(adv.min().double_value(&[]) >= 0.0 && adv.max().double_value(&[]) <= 1.0, "outside [0,1]");
    let moved = (&adv - x).abs().flatten(1, -1).amax(1, false).gt(0.0);
    let wrong = predictions(net, &adv).ne_tensor(y);
    let moved_but_right = moved.logical_and(&wrong.logical_not()).sum(Kind::Int64).int64_value(&[]);
    assert_eq!(moved_but_right, 0, "every point FAB reports as broken is misclassified");
    accuracy(net, &adv, y)
}

#[test]
fn fab_breaks_most_points_at_a_large_epsilon() {
    let (_vs, net, x, y) = erm_model();
    let clean = accuracy(&net, &x, &y);
    assert!(clean > 0.8, "the ERM model learned digits: {clean:.3}");
    let fab = FabT { epsilon: 0.3, iterations: 20, n_targets: 3, ..FabT::default() };
    let robust = attacked_accuracy(&net, &x, &y, &fab);
    eprintln!("ε=0.3: clean {clean:.3}, FAB-T {robust:.3}");
    assert!(robust < 0.2, "FAB-T at ε=0.3 breaks ERM: {robust:.3}");
}

#[test]
fn fab_breaks_almost_nothing_at_a_tiny_epsilon() {
    let (_vs, net, x, y) = erm_model();
    let clean = accuracy(&net, &x, &y);
    let fab = FabT { epsilon: 0.001, iterations: 20, n_targets: 3, ..FabT::default() };
    let robust = attacked_accuracy(&net, &x, &y, &fab);
    eprintln!("ε=0.001: clean {clean:.3}, FAB-T {robust:.3}");
    assert!(clean - robust <= 0.02, "ε=0.001 barely matters: {clean:.3} → {robust:.3}");
}

//! The Square Attack: its schedule, its threat model, and that it breaks a
//! model whose gradients are masked where PGD cannot.

mod common;

use advmix_trainer::attacks::Pgd;
use advmix_trainer::attacks::square::{Square, p_selection};
use advmix_trainer::models::Net;
use common::{accuracy, erm_model};
use tch::nn::ModuleT;
use tch::Tensor;

/// The model behind a rounding of its input to a grid of 1/4: `round` has a
/// zero gradient, so gradient attacks see a flat loss while the decision
/// function is almost unchanged.
#[derive(Debug)]
struct Masked(Net);

impl ModuleT for Masked {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.0.forward_t(&((xs * 4.0).round() / 4.0), train)
    }
}

/// z_y − max_{j≠y} z_j, the quantity Square minimizes.
fn margin(model: &impl ModuleT, x: &Tensor, y: &Tensor) -> Tensor {
    let logits = tch::no_grad(|| model.forward_t(x, false));
    let y = y.unsqueeze(1);
    let others = logits.scatter_value(1, &y, f64::NEG_INFINITY).amax([1].as_slice(), false);
    logits.gather(1, &y, false).squeeze_dim(1) - others
}

#[test]
fn p_selection_halves_at_the_reference_breakpoints_rescaled() {
    let p = |query, queries| p_selection(0.8, query, queries);
    let expected =
        [(0, 0.8), (10, 0.8), (11, 0.4), (50, 0.4), (51, 0.2), (201, 0.1), (501, 0.05)];
    for (query, value) in expected {
        let got = p(query, 10_000);
        assert!((got - value).abs() < 1e-12, "query {query} of 10000: {got}");
    }
    assert!((p(9999, 10_000) - 0.8 / 512.0).abs() < 1e-12, "nine halvings by the end");
    // With 1000 queries the breakpoints move to a tenth: 1, 5, 20, 50, ...
    let last = 0.8 / 512.0;
    let scaled =
        [(0, 0.8), (1, 0.8), (2, 0.4), (5, 0.4), (6, 0.2), (21, 0.1), (51, 0.05), (999, last)];
    for (query, value) in scaled {
        let got = p(query, 1000);
        assert!((got - value).abs() < 1e-12, "query {query} of 1000: {got}");
    }
}

#[test]
fn square_stays_in_the_ball_never_raises_the_margin_and_breaks_erm() {
    let (_vs, net, data) = erm_model();
    let x = data.test.images.narrow(0, 0, 100);
    let y = data.test.labels.narrow(0, 0, 100);
    let eps = 0.2;
    let adv = Square { epsilon: eps, queries: 300, ..Square::default() }.attack(&net, &x, &y);
    let linf = (&adv - &x).abs().max().double_value(&[]);
    assert!(linf <= eps + 1e-6, "perturbation {linf}");
    assert!(adv.min().double_value(&[]) >= 0.0 && adv.max().double_value(&[]) <= 1.0);
    let raised = (margin(&net, &adv, &y) - margin(&net, &x, &y)).max().double_value(&[]);
    assert!(raised <= 1e-5, "some point's margin rose by {raised}");
    let (clean, robust) = (accuracy(&net, &x, &y), accuracy(&net, &adv, &y));
    eprintln!("ERM ε={eps}: clean {clean:.3}, under Square {robust:.3}");
    assert!(robust < clean - 0.3 || robust < 0.3, "clean {clean:.3}, under Square {robust:.3}");
}

#[test]
fn square_breaks_a_gradient_masked_model_that_pgd_cannot() {
    let (_vs, net, data) = erm_model();
    let masked = Masked(net);
    let x = data.test.images.narrow(0, 0, 100);
    let y = data.test.labels.narrow(0, 0, 100);
    let eps = 0.2;
    let pgd = Pgd { epsilon: eps, step: 0.05, steps: 20, random_start: true };
    let pgd_acc = accuracy(&masked, &pgd.attack_ce(&masked, &x, &y, false), &y);
    let square = Square { epsilon: eps, queries: 300, ..Square::default() };
    let square_acc = accuracy(&masked, &square.attack(&masked, &x, &y), &y);
    let clean = accuracy(&masked, &x, &y);
    eprintln!("masked ε={eps}: clean {clean:.3}, PGD {pgd_acc:.3}, Square {square_acc:.3}");
    assert!(square_acc < pgd_acc - 0.2, "PGD {pgd_acc:.3}, Square {square_acc:.3}");
}

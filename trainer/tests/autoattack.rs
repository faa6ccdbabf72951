//! The ensemble on a briefly adversarially trained model: the standard
//! version's extra attacks can only break more points.

mod common;

use advmix_protocol::Method;
use advmix_trainer::attacks::autoattack::{Suite, evaluate};
use common::trained_model;

#[test]
fn aa_standard_is_at_most_aa_fast_on_a_trained_model() {
    let (_vs, net, data) = trained_model(Method::PgdAt);
    let x = data.test.images.narrow(0, 0, 40);
    let y = data.test.labels.narrow(0, 0, 40);
    let eps = 0.1;
    let run = |suite| {
        // The same seed: both suites' APGD runs see the same random starts,
        // so aa-standard differs only by the attacks it adds.
        tch::manual_seed(7);
        evaluate(&net, &x, &y, eps, suite, 40, &mut |_, _, _, _| {})
    };
    let fast = run(Suite::AaFast);
    let standard = run(Suite::AaStandard);
    eprintln!("clean {:.2}, aa-fast {:.2}, aa-standard {:.2}", fast.clean_acc, fast.robust_acc, standard.robust_acc);
    for a in &standard.attacks {
        eprintln!("{}: {:.2} after it ({} points, {:.1} s)", a.attack.as_str(), a.robust_acc, a.points, a.seconds);
    }
    assert!(fast.robust_acc > 0.1, "PGD-AT leaves robust points for the later attacks: {:.2}", fast.robust_acc);
    assert!(standard.robust_acc <= fast.robust_acc, "{} > {}", standard.robust_acc, fast.robust_acc);
    assert_eq!(standard.attacks.len(), 4);
    let accs: Vec<f64> = standard.attacks.iter().map(|a| a.robust_acc).collect();
    assert!(accs.windows(2).all(|w| w[1] <= w[0]), "robust accuracy never rises along the ensemble: {accs:?}");
}

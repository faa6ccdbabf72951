//! APGD-CE and APGD-T: the step-size schedule, the DLR loss, and their
//! strength against PGD on a briefly trained ERM model.

mod common;

use advmix_trainer::attacks::Pgd;
use advmix_trainer::attacks::apgd::{Apgd, checkpoints, dlr_targeted};
use advmix_trainer::data::Data;
use common::{accuracy, erm_model};
use tch::Tensor;

fn assert_in_ball(adv: &Tensor, x: &Tensor, eps: f64) {
    let linf = (adv - x).abs().max().double_value(&[]);
    assert!(linf <= eps + 1e-6, "ε={eps}: perturbation {linf}");
    assert!(adv.min().double_value(&[]) >= 0.0 && adv.max().double_value(&[]) <= 1.0);
}

fn test_points(data: &Data) -> (Tensor, Tensor) {
    (data.test.images.narrow(0, 0, 200), data.test.labels.narrow(0, 0, 200))
}

#[test]
fn the_schedule_matches_the_paper() {
    assert_eq!(checkpoints(100), [0, 22, 41, 57, 70, 80, 87, 93, 99]);
    assert_eq!(checkpoints(0), Vec::<u32>::new());
    let short = checkpoints(5);
    assert!(short.windows(2).all(|w| w[0] < w[1]) && short.iter().all(|&w| w < 5), "{short:?}");
}

#[test]
fn targeted_dlr_matches_hand_computed_values() {
    let logits = Tensor::from_slice(&[3.0_f32, 1.0, 0.0, 2.0, 0.5, 4.0, 1.0, 2.0]).view([2, 4]);
    let y = Tensor::from_slice(&[0_i64, 1]);
    let target = Tensor::from_slice(&[3_i64, 3]);
    let dlr = dlr_targeted(&logits, &y, &target);
    assert_eq!(dlr.size(), [2]);
    // Sorted: [3, 2, 1, 0] and [4, 2, 1, 0.5].
    let expected = [-(3.0 - 2.0) / (3.0 - (1.0 + 0.0) / 2.0), -(4.0 - 2.0) / (4.0 - (1.0 + 0.5) / 2.0)];
    for (i, e) in expected.iter().enumerate() {
        let got = dlr.double_value(&[i as i64]);
        assert!((got - e).abs() < 1e-6, "sample {i}: {got} vs {e}");
    }
}

#[test]
fn apgd_is_at_least_as_strong_as_pgd_and_stays_in_the_ball() {
    let (_vs, net, data) = erm_model();
    let (x, y) = test_points(&data);
    let eps = 0.05;
    let clean = accuracy(&net, &x, &y);
    let pgd = Pgd { epsilon: eps, step: eps / 4.0, steps: 20, random_start: true };
    let pgd_acc = accuracy(&net, &pgd.attack_ce(&net, &x, &y, false), &y);
    let apgd = Apgd { epsilon: eps, iterations: 25, ..Apgd::default() };
    let ce = apgd.attack_ce(&net, &x, &y);
    assert_eq!(ce.size(), x.size());
    assert_in_ball(&ce, &x, eps);
    let ce_acc = accuracy(&net, &ce, &y);
    let targeted = Apgd { iterations: 10, ..apgd }.attack_targeted(&net, &x, &y, 2);
    assert_in_ball(&targeted, &x, eps);
    let t_acc = accuracy(&net, &targeted, &y);
    eprintln!("ε={eps}: clean {clean:.3}, PGD-20 {pgd_acc:.3}, APGD-CE {ce_acc:.3}, APGD-T {t_acc:.3}");
    assert!(ce_acc <= pgd_acc + 0.03, "APGD-CE {ce_acc:.3} vs PGD-20 {pgd_acc:.3}");
    assert!(t_acc <= clean, "APGD-T {t_acc:.3} vs clean {clean:.3}");
}

#[test]
fn apgd_breaks_erm_at_large_epsilon() {
    let (_vs, net, data) = erm_model();
    let (x, y) = test_points(&data);
    let eps = 0.3;
    let adv = Apgd { epsilon: eps, iterations: 20, ..Apgd::default() }.attack_ce(&net, &x, &y);
    assert_in_ball(&adv, &x, eps);
    let acc = accuracy(&net, &adv, &y);
    eprintln!("ε={eps}: APGD-CE accuracy {acc:.3}");
    assert!(acc < 0.05, "at ε=0.3 ERM falls near 0: {acc:.3}");
}

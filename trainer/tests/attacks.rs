//! PGD and the AOM ascent on a briefly trained ERM model.

mod common;

use advmix_protocol::Method;
use advmix_protocol::config::AomPerturb;
use advmix_trainer::attacks::Pgd;
use advmix_trainer::methods::aom::{Pair, ascend, geometric_lambda};
use advmix_trainer::methods::{self, mix_targets, one_hot, sample_beta, soft_ce_sum};
use common::{accuracy, erm_model, small_config};
use tch::nn::ModuleT;
use tch::{Device, Kind, Tensor};

#[test]
fn pgd_breaks_erm_more_at_larger_epsilon_and_stays_in_the_ball() {
    let (_vs, net, data) = erm_model();
    let x = data.test.images.narrow(0, 0, 200);
    let y = data.test.labels.narrow(0, 0, 200);
    let clean = accuracy(&net, &x, &y);
    assert!(clean > 0.8, "the ERM model learned digits: {clean:.3}");
    let mut accuracies = vec![clean];
    for eps in [0.01, 0.03, 0.3] {
        let pgd = Pgd { epsilon: eps, step: eps / 4.0, steps: 10, random_start: true };
        let adv = pgd.attack_ce(&net, &x, &y, false);
        let linf = (&adv - &x).abs().max().double_value(&[]);
        assert!(linf <= eps + 1e-6, "ε={eps}: perturbation {linf}");
        assert!(adv.min().double_value(&[]) >= 0.0 && adv.max().double_value(&[]) <= 1.0);
        let acc = accuracy(&net, &adv, &y);
        eprintln!("ε={eps}: accuracy {acc:.3}");
        accuracies.push(acc);
    }
    assert!(accuracies[1] < accuracies[0], "PGD at ε=0.01 lowers accuracy: {accuracies:?}");
    assert!(accuracies.windows(2).all(|w| w[1] <= w[0]), "a larger ε never helps: {accuracies:?}");
    assert!(accuracies[3] < accuracies[1], "ε=0.3 breaks more than ε=0.01: {accuracies:?}");
    let previous = accuracies[3];
    assert!(previous < 0.1, "at ε=0.3 ERM falls near 0: {previous:.3}");
}

#[test]
fn aom_ascent_increases_the_mixup_loss() {
    let (_vs, net, data) = erm_model();
    let x = data.train.images.narrow(0, 0, 128);
    let y = data.train.labels.narrow(0, 0, 128);
    let perm = Tensor::randperm(128, (Kind::Int64, Device::Cpu));
    let (x_p, y_oh) = (x.index_select(0, &perm), one_hot(&y, 10));
    let y_p_oh = y_oh.index_select(0, &perm);
    let pair = Pair { x: &x, x_p: &x_p, y_oh: &y_oh, y_p_oh: &y_p_oh };
    let lambda = sample_beta(1.0, 128, Device::Cpu);

    for (perturb, optimize_lambda) in
        [(AomPerturb::Endpoints, false), (AomPerturb::Endpoints, true), (AomPerturb::Mixed, false), (AomPerturb::None, true)]
    {
        let mut config = small_config(Method::Aom, 1);
        config.aom.random_start = false;
        config.aom.perturb = perturb;
        config.aom.optimize_lambda = optimize_lambda;
        let mut loss_at = |steps: u32| {
            config.aom.steps = steps;
            let point = ascend(&config, &net, &pair, lambda.shallow_clone(), false);
            let targets = mix_targets(&point.lambda, &y_oh, &y_p_oh);
            tch::no_grad(|| soft_ce_sum(&net.forward_t(&point.x_mix, false), &targets)).double_value(&[])
        };
        let (start, end) = (loss_at(0), loss_at(5));
        eprintln!("{perturb:?} λ-opt {optimize_lambda}: loss {start:.2} → {end:.2}");
        assert!(end > start, "{perturb:?}, optimize λ {optimize_lambda}: {start} → {end}");
    }
}

#[test]
fn geometric_labels_lie_in_the_unit_interval_and_equal_lambda_without_perturbation() {
    let (_vs, net, data) = erm_model();
    let x = data.train.images.narrow(0, 0, 64);
    let x_p = data.train.images.narrow(0, 64, 64);
    let lambda = sample_beta(1.0, 64, Device::Cpu);
    let plain = methods::per_sample(&lambda, &x) + methods::per_sample(&(1.0 - &lambda), &x_p);
    let g = geometric_lambda(&plain, &x, &x_p, &lambda);
    assert!((g - &lambda).abs().max().double_value(&[]) < 1e-5, "δ = 0 gives λ_g = λ");

    let y = data.train.labels.narrow(0, 0, 64);
    let y_oh = one_hot(&y, 10);
    let y_p_oh = one_hot(&data.train.labels.narrow(0, 64, 64), 10);
    let pair = Pair { x: &x, x_p: &x_p, y_oh: &y_oh, y_p_oh: &y_p_oh };
    let mut config = small_config(Method::Aom, 1);
    config.aom.labels = advmix_protocol::config::AomLabels::Geometric;
    config.epsilon = 0.3;
    let point = ascend(&config, &net, &pair, lambda.shallow_clone(), false);
    let w = &point.label_weight;
    assert!(w.min().double_value(&[]) >= 0.0 && w.max().double_value(&[]) <= 1.0);
    assert!((w - &point.lambda).abs().max().double_value(&[]) > 1e-3, "perturbations move λ_g off λ");
}

#[test]
fn the_independent_check_rejects_examples_outside_the_ball_or_the_box() {
    use advmix_trainer::attacks::verify::broken;
    let (_vs, net, data) = erm_model();
    let x = data.test.images.narrow(0, 0, 100);
    let y = data.test.labels.narrow(0, 0, 100);
    let pgd = Pgd { epsilon: 0.3, step: 0.075, steps: 10, random_start: true };
    let adv = pgd.attack_ce(&net, &x, &y, false);
    let valid = broken(&net, &x, &adv, &y, 0.3);
    let count = |t: &Tensor| t.to_kind(Kind::Int64).sum(Kind::Int64).int64_value(&[]);
    assert!(count(&valid) > 80, "PGD at ε=0.3 breaks most points: {}", count(&valid));
    // The same examples judged against a smaller ball all fail the check.
    assert_eq!(count(&broken(&net, &x, &adv, &y, 0.01)), 0, "outside the ball is not broken");
    // Pushed out of [0,1], they fail too, even though the model may misclassify them.
    let outside = (&adv + 2.0).clamp(0.0, 3.0);
    assert_eq!(count(&broken(&net, &x, &outside, &y, 10.0)), 0, "outside the box is not broken");
    // A correctly classified clean point is not broken.
    assert_eq!(count(&broken(&net, &x, &x, &y, 0.3)), count(&tch::no_grad(|| net.forward_t(&x, false)).argmax(-1, false).ne_tensor(&y)));
}

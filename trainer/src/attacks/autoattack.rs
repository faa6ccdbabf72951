//! The AutoAttack ensemble (Croce & Hein 2020), L∞: each attack runs only on
//! the points that are still robust, and a point counts as robust only if
//! every attack fails on it. Every claimed example passes `verify::broken`.

use std::time::Instant;

use advmix_protocol::events::{EvalAttack, EvalProgress, EvalReport};

use tch::nn::ModuleT;
use tch::{Kind, Tensor};

use super::apgd::Apgd;
use super::fab::FabT;
use super::square::Square;
use super::{Pgd, verify};

/// Which attacks run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "kebab-case")]
pub enum Suite {
    /// PGD-20 with step ε/4, the per-epoch evaluation's attack.
    Pgd,
    /// APGD-CE, then APGD-T.
    AaFast,
    /// APGD-CE, APGD-T, FAB-T, Square: the reference's "standard" version.
    AaStandard,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttackName {
    Pgd,
    ApgdCe,
    ApgdT,
    FabT,
    Square,
}

impl AttackName {
    pub fn as_str(self) -> &'static str {
        match self {
            AttackName::Pgd => "pgd",
            AttackName::ApgdCe => "apgd-ce",
            AttackName::ApgdT => "apgd-t",
            AttackName::FabT => "fab-t",
            AttackName::Square => "square",
        }
    }
}

impl AttackName {
    /// About how many forward-and-backward passes the attack spends on a
    /// point, from its budget: the ETA's unit of work. Square queries the
    /// model without gradients, and a forward pass is about a third of a
    /// forward-and-backward one.
    pub fn passes_per_point(self) -> f64 {
        let apgd = Apgd::default();
        let fab = FabT::default();
        match self {
            AttackName::Pgd => f64::from(PGD_STEPS + 1),
            AttackName::ApgdCe => f64::from(apgd.iterations * apgd.restarts),
            AttackName::ApgdT => f64::from(apgd.iterations * apgd.restarts) * APGD_T_TARGETS as f64,
            AttackName::FabT => f64::from(fab.iterations) * fab.n_targets as f64,
            AttackName::Square => f64::from(Square::default().queries) / 3.0,
        }
    }
}

/// The suite's PGD: PGD-20, step ε/4.
const PGD_STEPS: u32 = 20;
/// APGD-T tries the 9 most likely wrong classes, as the reference does.
const APGD_T_TARGETS: usize = 9;

impl Suite {
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::Pgd => "pgd",
            Suite::AaFast => "aa-fast",
            Suite::AaStandard => "aa-standard",
        }
    }

    pub fn attacks(self) -> &'static [AttackName] {
        match self {
            Suite::Pgd => &[AttackName::Pgd],
            Suite::AaFast => &[AttackName::ApgdCe, AttackName::ApgdT],
            Suite::AaStandard => &[AttackName::ApgdCe, AttackName::ApgdT, AttackName::FabT, AttackName::Square],
        }
    }
}

impl Suite {
    /// The suite a run's `eval.final_attack` asks for; None for `none`.
    pub fn for_final(attack: advmix_protocol::FinalAttack) -> Option<Suite> {
        use advmix_protocol::FinalAttack;
        match attack {
            FinalAttack::None => None,
            FinalAttack::Pgd => Some(Suite::Pgd),
            FinalAttack::AaFast => Some(Suite::AaFast),
            FinalAttack::AaStandard => Some(Suite::AaStandard),
        }
    }

    /// The `eval_progress` event after attack `index` (from 1) of this
    /// suite, with `robust_left` of `n` points still robust.
    pub fn progress(self, index: usize, robust_left: i64, n: i64) -> EvalProgress {
        let attacks = self.attacks();
        EvalProgress {
            attack: attacks[index - 1].as_str().to_owned(),
            index: index as u32,
            of: attacks.len() as u32,
            robust_left,
            n,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AttackResult {
    pub attack: AttackName,
    /// Points it was run on (those still robust when it started).
    pub points: i64,
    /// Robust accuracy over all points after this attack.
    pub robust_acc: f64,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub n: i64,
    pub epsilon: f64,
    pub clean_acc: f64,
    pub robust_acc: f64,
    pub attacks: Vec<AttackResult>,
}

impl Report {
    /// The `eval` event for this report.
    pub fn to_event(&self, suite: Suite, checkpoint: String, epoch: Option<u32>) -> EvalReport {
        EvalReport {
            checkpoint,
            epoch,
            suite: suite.as_str().to_owned(),
            epsilon: self.epsilon,
            n: self.n,
            clean_acc: self.clean_acc,
            robust_acc: self.robust_acc,
            attacks: self
                .attacks
                .iter()
                .map(|a| EvalAttack { attack: a.attack.as_str().to_owned(), points: a.points, robust_acc: a.robust_acc, seconds: a.seconds })
                .collect(),
        }
    }
}

/// Progress after each attack: (attack index from 1, attacks in all, points
/// still robust, what the attack did and how long it took).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, i64, &AttackResult);

/// Where an evaluation is, between two batches of an attack.
pub struct Between<'a> {
    /// 1-based position of the attack in the suite.
    pub index: usize,
    pub attack: AttackName,
    /// Points of this attack done, of `points` it runs on.
    pub done: i64,
    pub points: i64,
    /// Which points are still robust; counting it waits for the device, so
    /// only a caller that reports reads it.
    pub robust: &'a Tensor,
    /// Seconds this attack has run.
    pub seconds: f64,
}

impl Between<'_> {
    pub fn robust_left(&self) -> i64 {
        count(self.robust)
    }
}

/// Called before every batch: true gives up the evaluation.
pub type Hook<'a> = &'a mut dyn FnMut(&Between) -> bool;

fn run_attack(name: AttackName, model: &impl ModuleT, x: &Tensor, y: &Tensor, epsilon: f64) -> Tensor {
    match name {
        AttackName::Pgd => Pgd { epsilon, step: epsilon / 4.0, steps: PGD_STEPS, random_start: true }.attack_ce(model, x, y, false),
        AttackName::ApgdCe => Apgd { epsilon, ..Apgd::default() }.attack_ce(model, x, y),
        AttackName::ApgdT => Apgd { epsilon, ..Apgd::default() }.attack_targeted(model, x, y, APGD_T_TARGETS),
        AttackName::FabT => FabT { epsilon, ..FabT::default() }.attack(model, x, y),
        AttackName::Square => Square { epsilon, ..Square::default() }.attack(model, x, y),
    }
}

fn count(mask: &Tensor) -> i64 {
    mask.to_kind(Kind::Int64).sum(Kind::Int64).int64_value(&[])
}

/// Evaluates `model` (eval mode) on (x, y) in batches of `batch`.
pub fn evaluate(
    model: &impl ModuleT,
    x: &Tensor,
    y: &Tensor,
    epsilon: f64,
    suite: Suite,
    batch: i64,
    progress: Progress,
) -> Report {
    evaluate_until(model, x, y, epsilon, suite, batch, progress, &mut |_| false).expect("never asked to stop")
}

/// [`evaluate`], giving up (None) as soon as `between` says so before a
/// batch: a stop request must not wait for a long attack to end.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_until(
    model: &impl ModuleT,
    x: &Tensor,
    y: &Tensor,
    epsilon: f64,
    suite: Suite,
    batch: i64,
    progress: Progress,
    between: Hook,
) -> Option<Report> {
    let n = x.size()[0];
    let clean: Vec<Tensor> = (0..n)
        .step_by(batch as usize)
        .map(|start| {
            let len = batch.min(n - start);
            tch::no_grad(|| model.forward_t(&x.narrow(0, start, len), false)).argmax(-1, false).eq_tensor(&y.narrow(0, start, len))
        })
        .collect();
    let mut robust = Tensor::cat(&clean, 0);
    let clean_acc = count(&robust) as f64 / n as f64;
    let attacks = suite.attacks();
    let mut results = Vec::with_capacity(attacks.len());
    for (k, &name) in attacks.iter().enumerate() {
        let start = Instant::now();
        let idx = robust.nonzero().squeeze_dim(1);
        let points = idx.size()[0];
        let mut offset = 0;
        while offset < points {
            let at = Between { index: k + 1, attack: name, done: offset, points, robust: &robust, seconds: start.elapsed().as_secs_f64() };
            if between(&at) {
                return None;
            }
            let len = batch.min(points - offset);
            let i = idx.narrow(0, offset, len);
            let (xb, yb) = (x.index_select(0, &i), y.index_select(0, &i));
            let adv = run_attack(name, model, &xb, &yb, epsilon);
            let broken = verify::broken(model, &xb, &adv, &yb, epsilon);
            let _ = robust.index_put_(&[Some(i.masked_select(&broken))], &Tensor::from(false).to_device(x.device()), false);
            offset += len;
        }
        let left = count(&robust);
        let result = AttackResult { attack: name, points, robust_acc: left as f64 / n as f64, seconds: start.elapsed().as_secs_f64() };
        progress(k + 1, attacks.len(), left, &result);
        results.push(result);
    }
    let robust_acc = results.last().map_or(clean_acc, |r| r.robust_acc);
    Some(Report { n, epsilon, clean_acc, robust_acc, attacks: results })
}

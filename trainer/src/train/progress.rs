//! `progress` events: where training is inside an epoch and in the final
//! stage, with an estimate of the time left in the whole run.
//!
//! Everything here is host arithmetic on wall-clock times and counters the
//! loop already has; nothing reads a tensor, so reporting never makes the
//! training loop wait for the device. The estimate is in forward-and-backward
//! passes: the per-epoch evaluation and each final attack have a known
//! budget in passes, and the measured passes per second convert it to time.

use std::time::{Duration, Instant};

use advmix_protocol::RunConfig;
use advmix_protocol::events::{AttackProgress, Progress, Stage};

use crate::attacks::autoattack::{AttackName, AttackResult, Suite};

/// At most one progress event this often: a gauge for people, not a log.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Says when the next progress event is due.
pub struct Throttle {
    last: Option<Instant>,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle { last: None }
    }

    /// True the first time, then at most once per [`INTERVAL`].
    pub fn due(&mut self) -> bool {
        let now = Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < INTERVAL) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// What the run has measured of its own speed, and what is left to do.
#[derive(Clone)]
pub struct Pace {
    epochs: u32,
    batches: u64,
    batch_size: f64,
    /// Training batches timed in earlier epochs of this attempt, and their seconds.
    timed_batches: u64,
    timed_seconds: f64,
    /// The last per-epoch evaluation's seconds.
    eval_seconds: Option<f64>,
    /// Passes one per-epoch evaluation costs.
    eval_passes: f64,
    /// Passes per second: from the last timed evaluation, else from training.
    passes_per_second: Option<f64>,
    passes_per_image: f64,
    final_suite: Option<Suite>,
    final_n: f64,
    /// The last evaluation's clean and robust fractions: which points the
    /// final attacks will run on. Unknown before the first evaluation, when
    /// every point is assumed to reach every attack.
    clean: f64,
    robust: f64,
}

impl Pace {
    pub fn new(config: &RunConfig, batches: u64, n_eval: usize, n_final: usize) -> Pace {
        let per_point = f64::from(config.eval.restarts.max(1)) * f64::from(config.eval.pgd_steps + 1) + 1.0;
        Pace {
            epochs: config.epochs,
            batches,
            batch_size: f64::from(config.batch_size),
            timed_batches: 0,
            timed_seconds: 0.0,
            eval_seconds: None,
            eval_passes: n_eval as f64 * per_point,
            passes_per_second: None,
            passes_per_image: crate::methods::passes_per_image(config),
            final_suite: Suite::for_final(config.eval.final_attack),
            final_n: n_final as f64,
            clean: 1.0,
            robust: 1.0,
        }
    }

    /// An evaluation job's: `suite` on `n` points and nothing else, at the
    /// speed its attacks show.
    pub fn attacks_only(suite: Suite, n: usize) -> Pace {
        Pace {
            epochs: 0,
            batches: 0,
            batch_size: 0.0,
            timed_batches: 0,
            timed_seconds: 0.0,
            eval_seconds: None,
            eval_passes: 0.0,
            passes_per_second: None,
            passes_per_image: 0.0,
            final_suite: Some(suite),
            final_n: n as f64,
            clean: 1.0,
            robust: 1.0,
        }
    }

    /// An attack ended: its speed is the guess for the next one until that
    /// one has done a batch.
    pub fn attacked(&mut self, result: &AttackResult) {
        if result.points > 0 && result.seconds > 0.0 {
            self.passes_per_second = Some(result.points as f64 * result.attack.passes_per_point() / result.seconds);
        }
    }

    /// An epoch's training batches ended: `batches` of them in `seconds`.
    pub fn trained(&mut self, batches: u64, seconds: f64) {
        self.timed_batches += batches;
        self.timed_seconds += seconds;
    }

    /// A per-epoch evaluation took `seconds` and found these accuracies.
    pub fn evaluated(&mut self, seconds: f64, clean: f64, robust: f64) {
        self.eval_seconds = Some(seconds);
        if seconds > 0.0 {
            self.passes_per_second = Some(self.eval_passes / seconds);
        }
        self.clean = clean;
        self.robust = robust;
    }

    /// Seconds per training batch: this epoch's so far when it has any,
    /// else the earlier epochs'.
    fn batch_seconds(&self, done: u64, seconds: f64) -> Option<f64> {
        let (b, s) = (self.timed_batches + done, self.timed_seconds + seconds);
        (b > 0 && s > 0.0).then(|| s / b as f64)
    }

    fn passes_per_second(&self, batch_seconds: Option<f64>) -> Option<f64> {
        self.passes_per_second.or_else(|| batch_seconds.map(|s| self.batch_size * self.passes_per_image / s))
    }

    fn eval_estimate(&self, rate: Option<f64>) -> Option<f64> {
        self.eval_seconds.or_else(|| rate.map(|r| self.eval_passes / r))
    }

    /// Passes of the final stage from attack `from` (1-based) on, with
    /// `points` points reaching that attack and `robust` the later ones.
    fn final_passes(&self, from: usize, points: f64, robust: f64) -> f64 {
        let Some(suite) = self.final_suite else { return 0.0 };
        suite
            .attacks()
            .iter()
            .enumerate()
            .skip(from - 1)
            .map(|(k, a)| a.passes_per_point() * if k + 1 == from { points } else { robust })
            .sum()
    }

    /// Progress while training epoch `epoch` (0-based completed epochs
    /// before it): `done` batches in `seconds` this attempt, of which the
    /// first `skipped` were done before a resume and not timed.
    pub fn training(&self, epoch: u32, done: u64, skipped: u64, seconds: f64) -> Progress {
        let timed = done.saturating_sub(skipped);
        let per_batch = self.batch_seconds(timed, seconds);
        let rate = self.passes_per_second(per_batch);
        let eta = per_batch.zip(self.eval_estimate(rate)).zip(rate).map(|((b, e), r)| {
            let epochs_after = f64::from(self.epochs.saturating_sub(epoch + 1));
            let train = b * ((self.batches - done) as f64 + epochs_after * self.batches as f64);
            let evals = e * (epochs_after + 1.0);
            let n = self.final_n;
            train + evals + self.final_passes(1, n * self.clean, n * self.robust) / r
        });
        Progress {
            stage: Stage::Train,
            epoch: epoch + 1,
            done,
            total: self.batches,
            images_per_second: (timed > 0 && seconds > 0.0).then(|| timed as f64 * self.batch_size / seconds),
            eta_seconds: eta,
            attack: None,
        }
    }

    /// Progress when the evaluation of epoch `epoch` (1-based) starts.
    pub fn evaluating(&self, epoch: u32) -> Progress {
        let per_batch = self.batch_seconds(0, 0.0);
        let rate = self.passes_per_second(per_batch);
        let eta = per_batch.zip(self.eval_estimate(rate)).zip(rate).map(|((b, e), r)| {
            let epochs_after = f64::from(self.epochs.saturating_sub(epoch));
            let n = self.final_n;
            b * epochs_after * self.batches as f64 + e * (epochs_after + 1.0) + self.final_passes(1, n * self.clean, n * self.robust) / r
        });
        Progress { stage: Stage::Evaluate, epoch, done: 0, total: 1, images_per_second: None, eta_seconds: eta, attack: None }
    }

    /// Progress in the final stage, attack `index` (1-based) of `suite`
    /// having done `done` of its `points` in `seconds`, `robust_left` of `n`
    /// points still robust.
    #[allow(clippy::too_many_arguments)]
    pub fn final_stage(
        &self,
        epoch: u32,
        suite: Suite,
        index: usize,
        attack: AttackName,
        (done, points): (i64, i64),
        seconds: f64,
        (robust_left, n): (i64, i64),
    ) -> Progress {
        // This attack's own speed once it has one, the evaluations' before.
        let measured = (done > 0 && seconds > 0.0).then(|| done as f64 * attack.passes_per_point() / seconds);
        let rate = measured.or_else(|| self.passes_per_second(self.batch_seconds(0, 0.0)));
        let left = (points - done).max(0) as f64;
        // Later attacks run on the points still robust now, at most.
        let robust = robust_left as f64;
        let passes = attack.passes_per_point() * left + self.final_passes(index + 1, robust, robust);
        Progress {
            stage: Stage::Final,
            epoch,
            done: done.max(0) as u64,
            total: points.max(0) as u64,
            images_per_second: None,
            eta_seconds: rate.map(|r| passes / r),
            attack: Some(AttackProgress {
                attack: attack.as_str().to_owned(),
                index: index as u32,
                of: suite.attacks().len() as u32,
                robust_left,
                n,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use advmix_protocol::FinalAttack;

    fn config(final_attack: FinalAttack) -> RunConfig {
        let mut c = RunConfig::default();
        c.epochs = 4;
        c.batch_size = 100;
        c.eval.final_attack = final_attack;
        c
    }

    #[test]
    fn the_estimate_counts_training_evaluations_and_the_final_stage() {
        let c = config(FinalAttack::None);
        let mut pace = Pace::new(&c, 10, 200, 200);
        // No batch timed yet: no estimate rather than a wrong one.
        assert_eq!(pace.training(0, 0, 0, 0.0).eta_seconds, None);
        // 5 of 10 batches in 5 s: 1 s a batch.
        pace.trained(10, 10.0);
        pace.evaluated(4.0, 0.8, 0.4);
        let p = pace.training(1, 5, 0, 5.0);
        // 5 batches left now, 2 epochs after this one, 3 evaluations of 4 s.
        assert!((p.eta_seconds.unwrap() - (5.0 + 20.0 + 12.0)).abs() < 1e-9, "{p:?}");
        assert_eq!((p.epoch, p.done, p.total), (2, 5, 10));
        assert!((p.images_per_second.unwrap() - 100.0).abs() < 1e-9);

        // The final attack adds its budget at the evaluation's speed.
        let with_final = Pace { final_suite: Suite::for_final(FinalAttack::AaFast), ..pace };
        let p2 = with_final.training(1, 5, 0, 5.0);
        let rate = with_final.eval_passes / 4.0;
        let aa = (100.0 * 200.0 * 0.8 + 900.0 * 200.0 * 0.4) / rate;
        assert!((p2.eta_seconds.unwrap() - (37.0 + aa)).abs() < 1e-6, "{p2:?}");
    }

    #[test]
    fn batches_done_before_a_resume_are_not_timed() {
        let pace = Pace::new(&config(FinalAttack::None), 10, 100, 100);
        let p = pace.training(0, 6, 4, 2.0);
        // 2 batches in 2 s, whatever the 4 before the resume took.
        assert!((p.images_per_second.unwrap() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn the_final_stage_counts_the_points_left_and_the_later_attacks() {
        let c = config(FinalAttack::AaFast);
        let pace = Pace::new(&c, 10, 100, 100);
        // APGD-CE has done 50 of 80 points in 10 s: 500 passes a second.
        let p = pace.final_stage(4, Suite::AaFast, 1, AttackName::ApgdCe, (50, 80), 10.0, (60, 100));
        let expected = (30.0 * 100.0 + 60.0 * 900.0) / 500.0;
        assert!((p.eta_seconds.unwrap() - expected).abs() < 1e-9, "{p:?}");
        let a = p.attack.unwrap();
        assert_eq!((a.attack.as_str(), a.index, a.of, a.robust_left, a.n), ("apgd-ce", 1, 2, 60, 100));
        // The last attack counts only its own points.
        let last = pace.final_stage(4, Suite::AaFast, 2, AttackName::ApgdT, (10, 40), 10.0, (35, 100));
        assert!((last.eta_seconds.unwrap() - 30.0).abs() < 1e-9, "{last:?}");
    }

    #[test]
    fn an_evaluation_job_times_its_attacks_by_the_last_one() {
        let mut pace = Pace::attacks_only(Suite::AaFast, 1000);
        let at = |pace: &Pace, index, attack, done, seconds| {
            pace.final_stage(7, Suite::AaFast, index, attack, (done, 800), seconds, (600, 1000)).eta_seconds
        };
        // Nothing timed yet: no estimate.
        assert_eq!(at(&pace, 1, AttackName::ApgdCe, 0, 0.0), None);
        // 200 of 800 points of APGD-CE (100 passes each) in 10 s: 2000 passes/s.
        let eta = at(&pace, 1, AttackName::ApgdCe, 200, 10.0).unwrap();
        // 600 points of APGD-CE left, then APGD-T (900 passes) on the 600 robust.
        assert!((eta - (600.0 * 100.0 + 600.0 * 900.0) / 2000.0).abs() < 1e-9, "{eta}");
        // APGD-CE ended: 800 points in 40 s. APGD-T's first batch goes at that pace.
        pace.attacked(&AttackResult { attack: AttackName::ApgdCe, points: 800, robust_acc: 0.6, seconds: 40.0 });
        let eta = at(&pace, 2, AttackName::ApgdT, 0, 0.0).unwrap();
        assert!((eta - 800.0 * 900.0 / 2000.0).abs() < 1e-9, "{eta}");
    }

    #[test]
    fn the_throttle_lets_one_through_per_interval() {
        let mut t = Throttle::new();
        assert!(t.due());
        assert!(!t.due());
    }
}

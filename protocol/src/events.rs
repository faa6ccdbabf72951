//! Trainer events: one JSON object per line on the trainer's stdout and in
//! `RUN_DIR/events.jsonl`. `docs/events.md` documents the schema for people;
//! this module is the schema for programs.

use serde::{Deserialize, Serialize};

use crate::config::RunConfig;

/// One line of `events.jsonl`: a wall-clock time plus the event itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EventLine {
    /// Seconds since the Unix epoch.
    pub time: f64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Started(Started),
    Epoch(EpochMetrics),
    Checkpoint(Checkpoint),
    Samples(Samples),
    Finished(Finished),
    Failed { reason: String },
    Stopped { reason: String },
    /// Robustness evaluation of a checkpoint: progress after each attack,
    /// then the report.
    EvalProgress(EvalProgress),
    Eval(EvalReport),
    /// Where a running trainer is, at most about once a second. Readers
    /// keep only the newest: it is a gauge, not a record.
    Progress(Progress),
}

/// What the trainer is busy with.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Training batches of `epoch`.
    Train,
    /// The per-epoch PGD evaluation after `epoch`'s batches.
    Evaluate,
    /// `eval.final_attack` on the final weights.
    Final,
    /// An evaluation job's attacks on a saved checkpoint
    /// (`advmix-trainer eval`); `epoch` is the checkpoint's.
    Attack,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Progress {
    pub stage: Stage,
    /// The epoch being trained or evaluated (1-based); the last one in the
    /// final stage.
    pub epoch: u32,
    /// Batches of the epoch done and in all (train); points of the current
    /// attack done and to do (final); 0 of 1 while evaluating.
    pub done: u64,
    pub total: u64,
    /// Training images per second over the epoch so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images_per_second: Option<f64>,
    /// The trainer's estimate of the seconds left in the whole run, the
    /// per-epoch evaluations and the final stage included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    /// The final stage's attack in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<AttackProgress>,
}

/// A span for people: `45 s`, `2 min`, `1 h 05 min`, `2 d 3 h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AttackProgress {
    /// `pgd`, `apgd-ce`, `apgd-t`, `fab-t` or `square`.
    pub attack: String,
    /// 1-based position in the suite, and the suite's length.
    pub index: u32,
    pub of: u32,
    /// Points still robust, of `n` evaluated.
    pub robust_left: i64,
    pub n: i64,
}

impl Progress {
    /// One line for people: `epoch 3: batch 120 of 391, 850 img/s`, or
    /// `final evaluation: APGD-T (2 of 2), 38 of 355 robust`.
    pub fn describe(&self) -> String {
        match (&self.stage, &self.attack) {
            (Stage::Final, Some(a)) => format!(
                "final evaluation: {} ({} of {}), {} of {} robust",
                a.attack.to_uppercase(),
                a.index,
                a.of,
                a.robust_left,
                a.n
            ),
            (Stage::Final, None) => "final evaluation".to_owned(),
            (Stage::Attack, Some(a)) => format!(
                "{} ({} of {}): {} of {} points, {} of {} robust",
                a.attack.to_uppercase(),
                a.index,
                a.of,
                self.done,
                self.total,
                a.robust_left,
                a.n
            ),
            (Stage::Attack, None) => "evaluating".to_owned(),
            (Stage::Evaluate, _) => format!("evaluating epoch {}", self.epoch),
            (Stage::Train, _) => {
                let speed = self.images_per_second.map(|s| format!(", {s:.0} img/s")).unwrap_or_default();
                format!("epoch {}: batch {} of {}{speed}", self.epoch, self.done, self.total)
            }
        }
    }

    /// `epoch 3: batch 120 of 391, 850 img/s, about 2 min left`, `time`
    /// being the event's and `now` the reader's clock (Unix seconds).
    pub fn describe_at(&self, time: f64, now: f64) -> String {
        match self.eta_seconds {
            Some(eta) => format!("{}, about {} left", self.describe(), duration(eta - (now - time))),
            None => self.describe(),
        }
    }

    /// The fraction of the current stage done, in [0, 1].
    pub fn fraction(&self) -> f64 {
        if self.total == 0 { 0.0 } else { (self.done as f64 / self.total as f64).clamp(0.0, 1.0) }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EvalProgress {
    /// `pgd`, `apgd-ce`, `apgd-t`, `fab-t` or `square`.
    pub attack: String,
    /// 1-based position of the attack in the suite, and the suite's length.
    pub index: u32,
    pub of: u32,
    /// Points still robust after it.
    pub robust_left: i64,
    /// Points evaluated in all.
    #[serde(default)]
    pub n: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EvalAttack {
    pub attack: String,
    /// Points it ran on: those still robust when it started.
    pub points: i64,
    /// Robust accuracy over all points after this attack.
    pub robust_acc: f64,
    pub seconds: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EvalReport {
    pub checkpoint: String,
    /// The epoch the evaluated weights come from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// `pgd`, `aa-fast` or `aa-standard`.
    pub suite: String,
    pub epsilon: f64,
    pub n: i64,
    pub clean_acc: f64,
    pub robust_acc: f64,
    pub attacks: Vec<EvalAttack>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Started {
    pub config: RunConfig,
    /// The torch device string, e.g. `cpu` or `cuda:0`.
    pub device: String,
    pub torch_version: String,
    pub advmix_version: String,
    pub git_commit: Option<String>,
    pub seed: u64,
    pub bf16: bool,
    /// The epoch training starts from: 0, or the checkpoint's when resuming.
    pub start_epoch: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based: the number of epochs completed.
    pub epoch: u32,
    pub lr: f64,
    /// Loss and accuracy on the inputs the method trained on (mixed,
    /// adversarial, ...).
    pub train_loss: f64,
    pub train_acc: f64,
    /// Loss and accuracy on the clean training inputs of the same batches.
    pub train_clean_loss: f64,
    pub train_clean_acc: f64,
    pub test_clean_loss: f64,
    pub test_clean_acc: f64,
    pub test_pgd_loss: f64,
    pub test_pgd_acc: f64,
    pub epoch_seconds: f64,
    pub images_per_second: f64,
}

impl EpochMetrics {
    /// The per-epoch metric names, in column order: the one list that the
    /// epochs table's columns, the API's metric names, the CSV header and the
    /// pages' scripts are derived from. A test below holds it to the struct.
    pub const FIELDS: [&'static str; 11] = [
        "lr", "train_loss", "train_acc", "train_clean_loss", "train_clean_acc", "test_clean_loss", "test_clean_acc",
        "test_pgd_loss", "test_pgd_acc", "epoch_seconds", "images_per_second",
    ];

    /// The values of [`Self::FIELDS`], in the same order.
    pub fn values(&self) -> [f64; 11] {
        [
            self.lr, self.train_loss, self.train_acc, self.train_clean_loss, self.train_clean_acc,
            self.test_clean_loss, self.test_clean_acc, self.test_pgd_loss, self.test_pgd_acc,
            self.epoch_seconds, self.images_per_second,
        ]
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    Last,
    Best,
    Periodic,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub epoch: u32,
    pub kind: CheckpointKind,
    /// Relative to the run directory.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Samples {
    pub epoch: u32,
    /// PNG grid, relative to the run directory.
    pub path: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Finished {
    pub best_robust_acc: f64,
    pub best_epoch: u32,
    pub final_clean_acc: f64,
    pub final_robust_acc: f64,
    pub total_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_flat_and_tagged() {
        let line = EventLine { time: 1.5, event: Event::Failed { reason: "out of memory".into() } };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(text, r#"{"time":1.5,"type":"failed","reason":"out of memory"}"#);
        assert_eq!(serde_json::from_str::<EventLine>(&text).unwrap(), line);
    }

    #[test]
    fn progress_reads_as_one_line_with_the_time_left_now() {
        let train = Progress {
            stage: Stage::Train,
            epoch: 3,
            done: 120,
            total: 391,
            images_per_second: Some(850.4),
            eta_seconds: Some(150.0),
            attack: None,
        };
        // Written 30 s ago: 2 min are left of its 150 s.
        assert_eq!(train.describe_at(1000.0, 1030.0), "epoch 3: batch 120 of 391, 850 img/s, about 2 min left");
        assert!((train.fraction() - 120.0 / 391.0).abs() < 1e-12);
        let attack = AttackProgress { attack: "apgd-t".into(), index: 2, of: 2, robust_left: 38, n: 355 };
        let fin = Progress { stage: Stage::Final, epoch: 10, done: 0, total: 355, images_per_second: None, eta_seconds: None, attack: Some(attack) };
        assert_eq!(fin.describe_at(0.0, 5.0), "final evaluation: APGD-T (2 of 2), 38 of 355 robust");
        let job = Progress { stage: Stage::Attack, done: 100, total: 300, eta_seconds: Some(200.0), ..fin };
        assert_eq!(job.describe_at(0.0, 5.0), "APGD-T (2 of 2): 100 of 300 points, 38 of 355 robust, about 3 min left");
        assert_eq!(duration(3725.0), "1 h 02 min");
        assert_eq!(duration(-3.0), "0 s", "an estimate that ran out reads 0, not negative");
    }

    #[test]
    fn checkpoint_round_trips() {
        let line = EventLine {
            time: 2.0,
            event: Event::Checkpoint(Checkpoint {
                epoch: 3,
                kind: CheckpointKind::Best,
                file: "checkpoints/best.safetensors".into(),
                bytes: 1024,
                sha256: "ab".repeat(32),
            }),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.contains(r#""type":"checkpoint""#) && text.contains(r#""kind":"best""#));
        assert_eq!(serde_json::from_str::<EventLine>(&text).unwrap(), line);
    }
}

#[cfg(test)]
mod metric_fields {
    use super::EpochMetrics;

    #[test]
    fn the_field_list_is_the_struct() {
        let m = EpochMetrics {
            epoch: 3, lr: 1.0, train_loss: 2.0, train_acc: 3.0, train_clean_loss: 4.0, train_clean_acc: 5.0,
            test_clean_loss: 6.0, test_clean_acc: 7.0, test_pgd_loss: 8.0, test_pgd_acc: 9.0,
            epoch_seconds: 10.0, images_per_second: 11.0,
        };
        let json = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).filter(|k| *k != "epoch").collect();
        let mut fields = EpochMetrics::FIELDS.to_vec();
        let mut sorted = keys.clone();
        fields.sort_unstable();
        sorted.sort_unstable();
        assert_eq!(fields, sorted, "FIELDS must name every metric of EpochMetrics");
        for (name, value) in EpochMetrics::FIELDS.iter().zip(m.values()) {
            assert_eq!(json[*name].as_f64(), Some(value), "values() is in FIELDS order at {name}");
        }
    }
}

//! A metric read off a run's epochs: one of [`EpochMetrics::FIELDS`] at an
//! epoch, or (`best_` and a field) its best value up to that epoch. Early
//! termination's rungs and a bayes sweep's objective both name one.

use crate::events::EpochMetrics;

use super::Goal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochMetric {
    /// Index into [`EpochMetrics::FIELDS`].
    field: usize,
    best_so_far: bool,
}

impl EpochMetric {
    /// Robust (PGD) test accuracy at the epoch: the default everywhere.
    pub const ROBUST: EpochMetric = EpochMetric { field: 8, best_so_far: false };

    pub fn parse(name: &str) -> Result<EpochMetric, String> {
        let (best_so_far, field_name) = match name.strip_prefix("best_") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        match EpochMetrics::FIELDS.iter().position(|f| *f == field_name) {
            Some(field) => Ok(EpochMetric { field, best_so_far }),
            None => Err(format!(
                "`{name}` is not a per-epoch metric; use one of {}, or `best_` and one of them for its best value so far (e.g. `best_test_pgd_acc`)",
                EpochMetrics::FIELDS.join(", ")
            )),
        }
    }

    pub fn name(self) -> String {
        let field = EpochMetrics::FIELDS[self.field];
        if self.best_so_far { format!("best_{field}") } else { field.to_owned() }
    }

    /// The per-epoch field it reads.
    pub fn field(self) -> &'static str {
        EpochMetrics::FIELDS[self.field]
    }

    pub fn is_best_so_far(self) -> bool {
        self.best_so_far
    }

    /// Losses are minimized; everything else (accuracies) maximized.
    pub fn default_goal(self) -> Goal {
        if self.field().ends_with("_loss") { Goal::Minimize } else { Goal::Maximize }
    }

    /// Accuracies are fractions, shown as percentages.
    pub fn is_accuracy(self) -> bool {
        self.field().ends_with("_acc")
    }

    /// Its value at `epoch` (1-based) of `epochs` (the run's rows, in epoch
    /// order, possibly with gaps), or None when that epoch is not there.
    /// `goal` says which value is best for a `best_` metric.
    pub fn value_at(self, epochs: &[EpochMetrics], epoch: u32, goal: Goal) -> Option<f64> {
        let at = |m: &EpochMetrics| m.values()[self.field];
        let row = epochs.iter().find(|m| m.epoch == epoch)?;
        if !self.best_so_far {
            return Some(at(row));
        }
        let upto = epochs.iter().filter(|m| m.epoch <= epoch).map(at);
        match goal {
            Goal::Maximize => upto.reduce(f64::max),
            Goal::Minimize => upto.reduce(f64::min),
        }
    }

    /// Its value at the last recorded epoch.
    pub fn last_value(self, epochs: &[EpochMetrics], goal: Goal) -> Option<f64> {
        let last = epochs.iter().map(|m| m.epoch).max()?;
        self.value_at(epochs, last, goal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: u32, pgd: f64) -> EpochMetrics {
        EpochMetrics {
            epoch,
            lr: 0.1,
            train_loss: 1.0,
            train_acc: 0.5,
            train_clean_loss: 1.0,
            train_clean_acc: 0.5,
            test_clean_loss: 1.0,
            test_clean_acc: 0.6,
            test_pgd_loss: 2.0,
            test_pgd_acc: pgd,
            epoch_seconds: 1.0,
            images_per_second: 100.0,
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_say_what_exists() {
        assert_eq!(EpochMetric::parse("test_pgd_acc").unwrap(), EpochMetric::ROBUST);
        assert_eq!(EpochMetric::parse("best_test_pgd_acc").unwrap().name(), "best_test_pgd_acc");
        assert_eq!(EpochMetric::parse("test_pgd_loss").unwrap().default_goal(), Goal::Minimize);
        let message = EpochMetric::parse("robust").unwrap_err();
        assert!(message.contains("test_pgd_acc") && message.contains("best_"), "{message}");
    }

    #[test]
    fn best_so_far_follows_the_goal() {
        let rows = [epoch(1, 0.3), epoch(2, 0.5), epoch(3, 0.4)];
        let best = EpochMetric::parse("best_test_pgd_acc").unwrap();
        assert_eq!(EpochMetric::ROBUST.value_at(&rows, 3, Goal::Maximize), Some(0.4));
        assert_eq!(best.value_at(&rows, 3, Goal::Maximize), Some(0.5));
        assert_eq!(best.value_at(&rows, 3, Goal::Minimize), Some(0.3));
        assert_eq!(best.value_at(&rows, 4, Goal::Maximize), None);
        assert_eq!(best.last_value(&rows, Goal::Maximize), Some(0.5));
    }
}

//! The sweep page's numbers (ranking, progress, grouping with mean ± std over
//! seeds, axis choices) as pure functions of the runs' values, so that they
//! are tested without a database or a browser.

use crate::store::RunStatus;
use serde_json::Value;

pub use crate::service::results::{display, distinct};

/// Whether an axis of these values reads better on a log scale: all
/// positive numbers spanning more than two decades.
pub fn log_scale(values: &[Value]) -> bool {
    let numbers: Option<Vec<f64>> = values.iter().map(Value::as_f64).collect();
    let Some(numbers) = numbers.filter(|n| n.len() > 1) else { return false };
    let (min, max) = numbers.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    min > 0.0 && max / min > 100.0
}

/// Positions for a ranking by best robust accuracy: indices into `best`,
/// best first, runs without a result last, ties in their given (id) order.
pub fn ranking(best: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..best.len()).collect();
    // `sort_by` is stable, so equal accuracies keep id order.
    order.sort_by(|&a, &b| match (best[a], best[b]) {
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    order
}

/// The most frequent of `values` (ties to the larger), None when empty: the
/// epochs a sweep's runs mostly train for, whose rungs the page draws.
pub fn most_common(values: impl IntoIterator<Item = i64>) -> Option<i64> {
    let mut counts = std::collections::BTreeMap::new();
    for v in values {
        *counts.entry(v).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|&(v, n)| (n, v)).map(|(v, _)| v)
}

/// How far a sweep has got. `failed` includes `lost` runs, as the sweeps API
/// counts them; `stopped` runs were ended on purpose and `pruned` ones by
/// early termination, each counted apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub queued: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub stopped: usize,
    pub pruned: usize,
}

impl Progress {
    pub fn count(statuses: impl IntoIterator<Item = RunStatus>) -> Progress {
        let mut p = Progress::default();
        for status in statuses {
            match status {
                RunStatus::Queued => p.queued += 1,
                RunStatus::Running => p.running += 1,
                RunStatus::Succeeded => p.succeeded += 1,
                RunStatus::Stopped => p.stopped += 1,
                RunStatus::Failed | RunStatus::Lost => p.failed += 1,
                RunStatus::Pruned => p.pruned += 1,
            }
        }
        p
    }

    pub fn total(&self) -> usize {
        self.queued + self.running + self.succeeded + self.failed + self.stopped + self.pruned
    }

    /// (CSS and data key, label, count), in the order the bar stacks them.
    pub fn parts(&self) -> [(&'static str, &'static str, usize); 6] {
        [
            (RunStatus::Succeeded.as_str(), "done", self.succeeded),
            (RunStatus::Running.as_str(), "running", self.running),
            (RunStatus::Queued.as_str(), "queued", self.queued),
            (RunStatus::Failed.as_str(), "failed", self.failed),
            (RunStatus::Stopped.as_str(), "stopped", self.stopped),
            (RunStatus::Pruned.as_str(), "pruned", self.pruned),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn log_scale_only_beyond_two_decades_of_positive_numbers() {
        assert!(log_scale(&[json!(0.001), json!(0.01), json!(0.2)]));
        assert!(!log_scale(&[json!(0.001), json!(0.1)]), "exactly two decades stays linear");
        assert!(!log_scale(&[json!(0), json!(1), json!(1000)]));
        assert!(!log_scale(&[json!("a"), json!("b")]));
        assert!(!log_scale(&[json!(1000)]));
    }

    #[test]
    fn ranking_puts_the_best_first_and_missing_results_last() {
        let best = [None, Some(0.3), Some(0.5), None, Some(0.3)];
        assert_eq!(ranking(&best), [2, 1, 4, 0, 3]);
        assert!(ranking(&[]).is_empty());
    }

    #[test]
    fn the_most_common_value_wins_and_ties_go_to_the_larger() {
        assert_eq!(most_common([9, 9, 3]), Some(9));
        assert_eq!(most_common([3, 9]), Some(9));
        assert_eq!(most_common([]), None);
    }

    #[test]
    fn progress_counts_lost_as_failed_and_stopped_and_pruned_apart() {
        use RunStatus::*;
        let p = Progress::count([Queued, Running, Succeeded, Succeeded, Failed, Lost, Stopped, Pruned]);
        assert_eq!(p, Progress { queued: 1, running: 1, succeeded: 2, failed: 2, stopped: 1, pruned: 1 });
        assert_eq!(p.total(), 8);
        assert_eq!(p.parts().iter().map(|(_, _, n)| n).sum::<usize>(), 8);
    }
}

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

/// How far a sweep has got. `failed` includes `lost` runs, as the sweeps API
/// counts them; `stopped` runs were ended on purpose and are counted apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub queued: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub stopped: usize,
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
            }
        }
        p
    }

    pub fn total(&self) -> usize {
        self.queued + self.running + self.succeeded + self.failed + self.stopped
    }

    /// (CSS and data key, label, count), in the order the bar stacks them.
    pub fn parts(&self) -> [(&'static str, &'static str, usize); 5] {
        [
            (RunStatus::Succeeded.as_str(), "done", self.succeeded),
            (RunStatus::Running.as_str(), "running", self.running),
            (RunStatus::Queued.as_str(), "queued", self.queued),
            (RunStatus::Failed.as_str(), "failed", self.failed),
            (RunStatus::Stopped.as_str(), "stopped", self.stopped),
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
    fn progress_counts_lost_as_failed_and_stopped_apart() {
        use RunStatus::*;
        let p = Progress::count([Queued, Running, Succeeded, Succeeded, Failed, Lost, Stopped]);
        assert_eq!(p, Progress { queued: 1, running: 1, succeeded: 2, failed: 2, stopped: 1 });
        assert_eq!(p.total(), 7);
        assert_eq!(p.parts().iter().map(|(_, _, n)| n).sum::<usize>(), 7);
    }
}

//! The sweep page's numbers (ranking, progress, grouping with mean ± std over
//! seeds, axis choices) as pure functions of the runs' values, so that they
//! are tested without a database or a browser.

use crate::store::RunStatus;
use serde_json::{Map, Value};

pub use crate::service::results::{Summary, display, distinct, summarize};

/// A run's results as the sweep page ranks and aggregates them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    pub best_robust: Option<f64>,
    pub final_clean: Option<f64>,
    pub final_robust: Option<f64>,
    pub autoattack: Option<f64>,
}

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

/// One value of the grouping parameter and what its runs reached.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Null collects runs that do not have the parameter (a run added later).
    pub value: Value,
    pub runs: usize,
    pub best_robust: Option<Summary>,
    pub final_clean: Option<Summary>,
    pub final_robust: Option<Summary>,
    pub autoattack: Option<Summary>,
}

/// Groups runs by their value of `param`, in [`distinct`]'s order, each
/// metric summarized over the runs that have it. Callers decide which runs'
/// values count (the page leaves out final accuracies of unfinished runs).
pub fn group_by<'a>(runs: impl IntoIterator<Item = (&'a Map<String, Value>, &'a Results)>, param: &str) -> Vec<Group> {
    let runs: Vec<(&Value, &Results)> =
        runs.into_iter().map(|(params, results)| (params.get(param).unwrap_or(&Value::Null), results)).collect();
    let mut values = distinct(runs.iter().map(|(v, _)| *v).filter(|v| !v.is_null()));
    if runs.iter().any(|(v, _)| v.is_null()) {
        values.push(Value::Null);
    }
    values
        .into_iter()
        .map(|value| {
            let members: Vec<&Results> = runs.iter().filter(|(v, _)| **v == value).map(|(_, r)| *r).collect();
            let over = |metric: fn(&Results) -> Option<f64>| {
                summarize(&members.iter().filter_map(|r| metric(r)).collect::<Vec<_>>())
            };
            Group {
                runs: members.len(),
                best_robust: over(|r| r.best_robust),
                final_clean: over(|r| r.final_clean),
                final_robust: over(|r| r.final_robust),
                autoattack: over(|r| r.autoattack),
                value,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

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

    #[test]
    fn groups_follow_the_parameter_and_summarize_each_metric_over_what_exists() {
        let p = [
            params(json!({"epsilon": 0.03, "seed": 0})),
            params(json!({"epsilon": 0.01, "seed": 0})),
            params(json!({"epsilon": 0.03, "seed": 1})),
            params(json!({"seed": 2})),
        ];
        let r = [
            Results { best_robust: Some(0.30), final_clean: Some(0.80), final_robust: Some(0.28), autoattack: Some(0.25) },
            Results { best_robust: Some(0.50), ..Default::default() },
            Results { best_robust: Some(0.40), final_clean: Some(0.90), final_robust: Some(0.36), autoattack: None },
            Results::default(),
        ];
        let groups = group_by(p.iter().zip(&r), "epsilon");
        let values: Vec<&Value> = groups.iter().map(|g| &g.value).collect();
        assert_eq!(values, [&json!(0.01), &json!(0.03), &Value::Null]);
        let g = &groups[1];
        assert_eq!(g.runs, 2);
        let best = g.best_robust.as_ref().unwrap();
        assert!(close(best.mean, 0.35) && close(best.std.unwrap(), 0.005f64.sqrt()));
        assert_eq!(best.percent(), "35.0 ± 7.1");
        assert_eq!(g.final_clean.as_ref().unwrap().percent(), "85.0 ± 7.1");
        let aa = g.autoattack.as_ref().unwrap();
        assert_eq!((aa.n, aa.std), (1, None), "only one run has AutoAttack");
        assert_eq!(groups[0].final_clean, None);
        assert_eq!((groups[2].runs, &groups[2].best_robust), (1, &None));

        let by_seed = group_by(p.iter().zip(&r), "seed");
        assert_eq!(by_seed.iter().map(|g| g.runs).collect::<Vec<_>>(), [2, 1, 1]);
    }
}

//! `/api/v1/series`: one metric of many runs, for charts that overlay
//! hundreds of runs. Long series are downsampled on the server so that the
//! browser draws at most `max_points` points per run.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::SqlitePool;

use super::ApiQuery;
use crate::store;
use crate::store::epochs::METRICS;
use crate::error::AppError;

pub const MAX_RUNS: usize = 1000;
pub const DEFAULT_MAX_POINTS: usize = 400;
pub const MAX_POINTS: usize = 5000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// Comma-separated run ids, in the order the response keeps.
    runs: Option<String>,
    metric: Option<String>,
    max_points: Option<i64>,
}

#[derive(Serialize)]
pub struct Series {
    pub run_id: i64,
    pub name: String,
    pub params: Value,
    pub points: Vec<(i64, f64)>,
}

#[derive(Serialize)]
pub struct SeriesResponse {
    pub metric: String,
    pub series: Vec<Series>,
}

fn parse_runs(text: &str) -> Result<Vec<i64>, AppError> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id: i64 = part.parse().map_err(|_| AppError::field("runs", format!("`{part}` is not a run id")))?;
        if seen.insert(id) {
            ids.push(id);
        }
    }
    if ids.len() > MAX_RUNS {
        return Err(AppError::field("runs", format!("{} runs asked for; at most {MAX_RUNS} per request", ids.len())));
    }
    Ok(ids)
}

pub async fn get(
    State(db): State<SqlitePool>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> Result<Json<SeriesResponse>, AppError> {
    let runs = q.runs.as_deref().ok_or_else(|| AppError::field("runs", "list the run ids, e.g. runs=1,2,3"))?;
    let ids = parse_runs(runs)?;
    let metric = q.metric.as_deref().unwrap_or("test_pgd_acc");
    if !METRICS.contains(&metric) {
        return Err(AppError::field("metric", format!("unknown metric `{metric}`; use one of {}", METRICS.join(", "))));
    }
    let max_points = q.max_points.unwrap_or(DEFAULT_MAX_POINTS as i64);
    if !(2..=MAX_POINTS as i64).contains(&max_points) {
        return Err(AppError::field("max_points", format!("must be between 2 and {MAX_POINTS}")));
    }

    let mut found = store::epochs::series(&db, &ids, metric).await?;
    let mut series: Vec<Series> = ids
        .iter()
        .filter_map(|id| {
            let (name, params, points) = found.remove(id)?;
            let params = serde_json::from_str(&params).unwrap_or(Value::Null);
            Some(Series { run_id: *id, name, params, points })
        })
        .collect();
    for s in &mut series {
        if s.points.len() > max_points as usize {
            s.points = lttb(&s.points, max_points as usize);
        }
    }
    Ok(Json(SeriesResponse { metric: metric.to_owned(), series }))
}

/// Largest-Triangle-Three-Buckets (Steinarsson, 2013): keeps `threshold`
/// points of a series sorted by x, the first and the last among them, picking
/// from each bucket the point that spans the largest triangle with the point
/// kept before it and the mean of the next bucket, so peaks and dips survive.
/// Returns the input when it is not longer than `threshold`.
pub fn lttb(points: &[(i64, f64)], threshold: usize) -> Vec<(i64, f64)> {
    let n = points.len();
    if threshold >= n || n <= 2 {
        return points.to_vec();
    }
    if threshold <= 2 {
        return vec![points[0], points[n - 1]];
    }
    let xy = |i: usize| (points[i].0 as f64, points[i].1);
    // Buckets cover the points between the fixed first and last ones.
    let every = (n - 2) as f64 / (threshold - 2) as f64;
    let mut out = Vec::with_capacity(threshold);
    out.push(points[0]);
    let mut a = 0;
    for bucket in 0..threshold - 2 {
        let next_start = ((bucket + 1) as f64 * every) as usize + 1;
        let next_end = (((bucket + 2) as f64 * every) as usize + 1).min(n);
        let count = (next_end - next_start) as f64;
        let (mut avg_x, mut avg_y) = (0.0, 0.0);
        for i in next_start..next_end {
            let (x, y) = xy(i);
            avg_x += x;
            avg_y += y;
        }
        (avg_x, avg_y) = (avg_x / count, avg_y / count);

        let start = (bucket as f64 * every) as usize + 1;
        let end = next_start;
        let (ax, ay) = xy(a);
        let mut best = start;
        let mut best_area = -1.0;
        for i in start..end {
            let (x, y) = xy(i);
            let area = ((ax - avg_x) * (y - ay) - (ax - x) * (avg_y - ay)).abs();
            if area > best_area {
                best_area = area;
                best = i;
            }
        }
        out.push(points[best]);
        a = best;
    }
    out.push(points[n - 1]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: i64) -> Vec<(i64, f64)> {
        (1..=n).map(|e| (e, e as f64 / n as f64)).collect()
    }

    #[test]
    fn returns_short_series_unchanged() {
        let points = line(10);
        assert_eq!(lttb(&points, 10), points);
        assert_eq!(lttb(&points, 400), points);
        assert_eq!(lttb(&[], 5), vec![]);
        assert_eq!(lttb(&[(1, 0.5)], 2), vec![(1, 0.5)]);
    }

    #[test]
    fn keeps_the_first_and_last_points_and_the_count() {
        let points = line(1000);
        for threshold in [2, 3, 7, 100, 999] {
            let out = lttb(&points, threshold);
            assert_eq!(out.len(), threshold);
            assert_eq!(out[0], points[0]);
            assert_eq!(out[threshold - 1], points[999]);
            assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "x stays increasing");
        }
    }

    #[test]
    fn keeps_a_spike_and_a_dip() {
        let mut points: Vec<(i64, f64)> = (1..=500).map(|e| (e, 0.5)).collect();
        points[123].1 = 0.95;
        points[321].1 = 0.05;
        let out = lttb(&points, 20);
        assert!(out.contains(&(124, 0.95)), "{out:?}");
        assert!(out.contains(&(322, 0.05)), "{out:?}");
    }

    #[test]
    fn run_lists_are_parsed_in_order_without_repeats() {
        assert_eq!(parse_runs("3, 1,2,,3").unwrap(), vec![3, 1, 2]);
        assert_eq!(parse_runs("").unwrap(), Vec::<i64>::new());
        assert!(parse_runs("1,x").is_err());
        let many = (1..=1001).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert!(parse_runs(&many).is_err());
    }
}

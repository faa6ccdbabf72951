//! The Compare page (`/compare?run=1&run=2`): overlaid curves (drawn by
//! `static/compare.js` from `/api/v1/series`), the settings that differ, a
//! metrics table, and the same as CSV (`/compare.csv`).

pub mod diff;
mod export;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use sqlx::SqlitePool;

use super::results::{self, ResultsView};
use super::{duration, render, value_text};
use crate::service;
use crate::store::RunStatus;
use crate::store::runs::{self, RunSummary};
use crate::error::AppError;
use diff::DiffRow;

/// More runs than this make neither a readable table nor a readable chart.
pub const MAX_RUNS: usize = 100;

/// The runs asked for, as far as the query string says.
#[derive(Debug, Default, PartialEq)]
struct Selection {
    /// Distinct, in the order given.
    ids: Vec<i64>,
    /// Values that are not run ids, and runs over the limit.
    problems: Vec<String>,
    /// Show every config key, not only the differing ones.
    all: bool,
    /// Leave out the runs that early termination pruned.
    without_pruned: bool,
}

impl Selection {
    /// `run` may repeat and may hold several ids (`run=1,2 3`), so the
    /// picker's one text box takes a pasted list; an empty one is ignored.
    fn parse(raw: Option<&str>) -> Selection {
        let pairs: Vec<(String, String)> = raw.and_then(|r| serde_urlencoded::from_str(r).ok()).unwrap_or_default();
        let mut selection = Selection::default();
        for (key, value) in pairs {
            match key.as_str() {
                "run" => {
                    for word in value.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
                        let id = word.strip_prefix('#').unwrap_or(word);
                        match id.parse::<i64>() {
                            Ok(id) if id > 0 => {
                                if !selection.ids.contains(&id) {
                                    selection.ids.push(id);
                                }
                            }
                            _ => selection.problems.push(format!("`{word}` is not a run id.")),
                        }
                    }
                }
                "all" => selection.all = matches!(value.as_str(), "1" | "true" | "on" | "yes"),
                "without" if value == RunStatus::Pruned.as_str() => selection.without_pruned = true,
                _ => {}
            }
        }
        if selection.ids.len() > MAX_RUNS {
            let dropped = selection.ids.split_off(MAX_RUNS);
            selection.problems.push(format!("Compare shows at most {MAX_RUNS} runs; left out {} more.", dropped.len()));
        }
        selection
    }
}

/// A run with what the comparison needs beyond the list's columns.
pub struct Compared {
    pub run: RunSummary,
    pub config: Value,
    /// From start to finish, or to now while it runs.
    pub seconds: Option<f64>,
}

impl Compared {
    fn duration(&self) -> String {
        self.seconds.map_or_else(|| "—".to_owned(), duration)
    }
}

/// Takes the pruned runs out of `runs` when the selection says so, with the
/// notice that says which and how to bring them back.
fn leave_out_pruned(selection: &Selection, runs: &mut Vec<Compared>) -> (Vec<i64>, Option<String>) {
    if !selection.without_pruned {
        return (Vec::new(), None);
    }
    let pruned: Vec<i64> = runs.iter().filter(|c| c.run.status == RunStatus::Pruned).map(|c| c.run.id).collect();
    runs.retain(|c| c.run.status != RunStatus::Pruned);
    let list = pruned.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(", ");
    let notice = (!pruned.is_empty())
        .then(|| format!("Left out {} pruned run{} ({list}); untick “leave out pruned runs” to compare them too.", pruned.len(), if pruned.len() == 1 { "" } else { "s" }));
    (pruned, notice)
}

/// The runs that exist, in the order asked, and the ids that do not.
pub(crate) async fn load(db: &SqlitePool, ids: &[i64]) -> Result<(Vec<Compared>, Vec<i64>), AppError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for &id in ids {
        let run = match runs::fetch(db, id).await {
            Ok(run) => run,
            Err(sqlx::Error::RowNotFound) => {
                missing.push(id);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let (config, seconds) = runs::config_and_seconds(db, id).await?;
        // A key the run's method or model ignores is no setting of it: the
        // diff shows it as absent (—) for that run.
        let (config, _) = advmix_protocol::RunConfig::without_ignored(&serde_json::from_str(&config).unwrap_or(Value::Null));
        found.push(Compared { run, config, seconds });
    }
    Ok((found, missing))
}

fn missing_message(missing: &[i64]) -> Option<String> {
    let list = missing.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(", ");
    match missing.len() {
        0 => None,
        1 => Some(format!("Run {list} does not exist (it may have been deleted).")),
        _ => Some(format!("Runs {list} do not exist (they may have been deleted).")),
    }
}

/// `/compare?run=..` (or `/compare.csv?..`) for these ids.
fn href(path: &str, ids: impl IntoIterator<Item = i64>, all: bool, without_pruned: bool) -> String {
    let mut pairs: Vec<(&str, String)> = ids.into_iter().map(|id| ("run", id.to_string())).collect();
    if all {
        pairs.push(("all", "1".to_owned()));
    }
    if without_pruned {
        pairs.push(("without", RunStatus::Pruned.as_str().to_owned()));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

/// A picked run with the link that drops it from the comparison.
struct Picked {
    id: i64,
    name: String,
    remove_href: String,
}

/// A diff row ready to show: each value as text, None where unset.
struct Line {
    key: String,
    values: Vec<Option<String>>,
    differs: bool,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct Compare {
    runs: Vec<Compared>,
    picked: Vec<Picked>,
    notices: Vec<String>,
    lines: Vec<Line>,
    /// Keys in all the configs, and how many differ.
    keys: usize,
    differing: usize,
    all: bool,
    /// `1,2,3` for compare.js.
    ids: String,
    toggle_href: String,
    /// Pruned runs are left out, and which were.
    without_pruned: bool,
    left_out: Vec<i64>,
    csv_href: String,
    /// The results table of the picked runs, when there are any.
    results: Option<ResultsView>,
    by: Vec<String>,
    by_label: String,
    /// Differing keys the table can group by.
    groupable: Vec<String>,
    /// The chart's published reference lines, as JSON for compare.js.
    references: String,
}

impl Compare {
    fn grouped_by(&self, key: &str) -> bool {
        self.by.iter().any(|b| b == key)
    }
    fn published_checked(&self) -> bool {
        self.results.as_ref().is_none_or(|r| r.published || !r.any_published)
    }
}

pub async fn show(State(db): State<SqlitePool>, RawQuery(raw): RawQuery) -> Result<Html<String>, AppError> {
    let selection = Selection::parse(raw.as_deref());
    let (mut runs, missing) = load(&db, &selection.ids).await?;
    let (left_out, left_out_notice) = leave_out_pruned(&selection, &mut runs);
    let mut notices = selection.problems;
    notices.extend(missing_message(&missing));
    notices.extend(left_out_notice);

    let ids: Vec<i64> = runs.iter().map(|c| c.run.id).collect();
    let picked = runs
        .iter()
        .map(|c| Picked {
            id: c.run.id,
            name: c.run.name.clone(),
            remove_href: href(
                "/compare",
                ids.iter().chain(&left_out).copied().filter(|&id| id != c.run.id),
                selection.all,
                selection.without_pruned,
            ),
        })
        .collect();
    let configs: Vec<Value> = runs.iter().map(|c| c.config.clone()).collect();
    let rows = diff::diff(&configs);
    let differing = rows.iter().filter(|r| r.differs).count();
    let keys = rows.len();
    let groupable: Vec<String> = rows.iter().filter(|r| r.differs && r.key != "seed").map(|r| r.key.clone()).collect();
    let lines = rows
        .into_iter()
        .filter(|r| selection.all || r.differs)
        .map(|r| Line { values: r.values.iter().map(|v| v.as_ref().map(value_text)).collect(), key: r.key, differs: r.differs })
        .collect::<Vec<_>>();
    let query: Vec<(String, String)> = raw.as_deref().and_then(|r| serde_urlencoded::from_str(r).ok()).unwrap_or_default();
    let with_published = results::published_from_query(&query);
    let mut table = None;
    if !ids.is_empty() {
        let asked = results::by_from_query(&query).map(|b| b.join(","));
        let mut built = match service::results::of_runs(&db, &ids, asked.as_deref(), true).await {
            Err(AppError::Invalid(errors)) => {
                notices.extend(errors.into_iter().map(|e| format!("The results table: {}", e.message)));
                service::results::of_runs(&db, &ids, None, true).await?
            }
            other => other?,
        };
        let any_published = built.sections.iter().any(|s| !s.published.is_empty());
        if !with_published {
            built.sections.iter_mut().for_each(|s| s.published.clear());
        }
        table = Some((built, any_published));
    }
    let references = table.as_ref().map(|(t, _)| results::references(t)).unwrap_or_default();
    let by = table.as_ref().map(|(t, _)| t.by.clone()).unwrap_or_default();
    let view = table.as_ref().map(|(t, any)| {
        let ids_text = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let query = [("runs", ids_text), ("by", t.by.join(",")), ("published", with_published.to_string())];
        ResultsView::new(t, "/api/v1/table", &query, *any)
    });
    render(&Compare {
        results: view,
        by_label: results::by_label(&by),
        by,
        groupable,
        references: serde_json::to_string(&references).expect("references serialize"),
        keys,
        differing,
        all: selection.all,
        ids: ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","),
        toggle_href: href("/compare", ids.iter().chain(&left_out).copied(), !selection.all, selection.without_pruned),
        csv_href: href("/compare.csv", ids.iter().copied(), selection.all, false),
        without_pruned: selection.without_pruned,
        left_out,
        picked,
        lines,
        notices,
        runs,
    })
}

fn plain(status: StatusCode, message: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message + "\n").into_response()
}

pub async fn csv(State(db): State<SqlitePool>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let selection = Selection::parse(raw.as_deref());
    if let Some(problem) = selection.problems.first() {
        return Ok(plain(StatusCode::UNPROCESSABLE_ENTITY, problem.clone()));
    }
    if selection.ids.is_empty() {
        return Ok(plain(StatusCode::UNPROCESSABLE_ENTITY, "Name the runs to export: /compare.csv?run=1&run=2".into()));
    }
    let (mut runs, missing) = load(&db, &selection.ids).await?;
    if let Some(message) = missing_message(&missing) {
        return Ok(plain(StatusCode::NOT_FOUND, message));
    }
    leave_out_pruned(&selection, &mut runs);
    let name = if runs.len() <= 8 {
        format!("advmix-compare-{}.csv", runs.iter().map(|c| c.run.id.to_string()).collect::<Vec<_>>().join("-"))
    } else {
        format!("advmix-compare-{}-runs.csv", runs.len())
    };
    Ok(csv_download(&runs, selection.all, &name))
}

/// Runs as a CSV download: one row each, the config keys that differ
/// between them (every key with `all`) and every accuracy, AutoAttack
/// included. The compare page, the runs list and the sweep page export
/// through here.
pub(crate) fn csv_download(runs: &[Compared], all: bool, file_name: &str) -> Response {
    let configs: Vec<Value> = runs.iter().map(|c| c.config.clone()).collect();
    let rows = diff::diff(&configs);
    let exported: Vec<&DiffRow> = rows.iter().filter(|r| all || r.differs).collect();
    let body = export::csv(runs, &exported);
    let disposition = format!("attachment; filename=\"{file_name}\"");
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_come_from_repeats_and_lists() {
        let s = Selection::parse(Some("run=3&run=1%2C2+%234&run=&run=3&all=1&other=x"));
        assert_eq!(s.ids, [3, 1, 2, 4], "distinct, in order, `#4` accepted");
        assert!(s.problems.is_empty());
        assert!(s.all);
    }

    #[test]
    fn bad_ids_are_reported() {
        let s = Selection::parse(Some("run=abc&run=-1&run=0&run=5"));
        assert_eq!(s.ids, [5]);
        assert_eq!(s.problems.len(), 3);
        assert!(s.problems[0].contains("`abc`"));
    }

    #[test]
    fn too_many_runs_are_cut_with_a_notice() {
        let query = (1..=MAX_RUNS as i64 + 3).map(|i| format!("run={i}")).collect::<Vec<_>>().join("&");
        let s = Selection::parse(Some(&query));
        assert_eq!(s.ids.len(), MAX_RUNS);
        assert!(s.problems[0].contains("3 more"));
    }

    #[test]
    fn links_name_each_run() {
        assert_eq!(href("/compare", [1, 2], false, false), "/compare?run=1&run=2");
        assert_eq!(href("/compare.csv", [7], true, false), "/compare.csv?run=7&all=1");
        assert_eq!(href("/compare", [7], false, true), "/compare?run=7&without=pruned");
        assert_eq!(href("/compare", [], false, false), "/compare");
    }
}

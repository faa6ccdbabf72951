//! The sweep page (`/sweeps/{id}`): what varies, progress, the runs ranked by
//! robust accuracy and grouped by a swept parameter, and the data its charts
//! draw; for adaptive sweeps also early termination (its rungs and a replay
//! of the recorded epochs through any rule), a bayes sweep's proposals, the
//! sweep's history, and the forms that pause, resume and grow it. Tables
//! are rendered here; `static/sweep.js` draws the charts and keeps progress
//! and charts current from the live event stream.

pub mod actions;
mod adaptive;
mod stats;

/// The sweep's runs as CSV: every swept setting that differs, and every
/// accuracy, AutoAttack included; in the ranking's order.
pub async fn csv(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Response, AppError> {
    store::sweeps::head(&db, id).await?.ok_or(AppError::NotFound)?;
    let runs = store::runs::of_sweep(&db, id).await?;
    let best: Vec<Option<f64>> = runs.iter().map(|r| r.best_robust_acc).collect();
    let ids: Vec<i64> = stats::ranking(&best).into_iter().map(|i| runs[i].id).collect();
    let (loaded, _) = super::compare::load(&db, &ids).await?;
    Ok(super::compare::csv_download(&loaded, false, &format!("advmix-sweep-{id}-runs.csv")))
}

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::SqlitePool;

use advmix_protocol::sweep::{SweepMethod, SweepSpec};
use adaptive::{Proposals, ReplayForm, ReplayView};
use stats::Progress;

use super::results::{self, Reference, ResultsView};
use super::{not_found, percent, render};
use crate::csrf::CsrfToken;
use crate::service;
use crate::store::sweeps::ChangeRow;
use crate::store::runs::RunSummary;
use crate::store::{self, RunStatus};
use crate::error::AppError;

/// Above this many values a parameter's values are summarized as a range.
const LISTED_VALUES: usize = 8;


/// A swept parameter, for the header, the forms and the charts.
#[derive(Serialize)]
struct Swept {
    name: String,
    /// Distinct values as they read in run names, in [`stats::distinct`]'s order.
    values: Vec<String>,
    numeric: bool,
    /// The parameter chart puts it on a log axis.
    log: bool,
}

impl Swept {
    fn values_text(&self) -> String {
        match self.values.as_slice() {
            [first, .., last] if self.values.len() > LISTED_VALUES && self.numeric => {
                format!("{first} … {last} ({} values)", self.values.len())
            }
            many if many.len() > LISTED_VALUES => {
                format!("{}, … ({} values)", many[..LISTED_VALUES].join(", "), many.len())
            }
            few => few.join(", "),
        }
    }
}

struct Row {
    rank: Option<usize>,
    id: i64,
    name: String,
    status: RunStatus,
    values: Vec<String>,
    epochs: i64,
    epochs_done: i64,
    best_robust: String,
    best_epoch: Option<i64>,
    final_clean: String,
    final_robust: String,
    autoattack: String,
    /// Why early termination stopped it (also while it is being stopped).
    pruned: Option<String>,
}

/// One run as `static/sweep.js` sees it; the same fields it reads from
/// `/api/v1/runs?sweep=ID` when it refreshes.
#[derive(Serialize)]
struct ChartRun<'a> {
    id: i64,
    name: &'a str,
    status: RunStatus,
    params: &'a Map<String, Value>,
    epochs: i64,
    epochs_done: i64,
    best_robust_acc: Option<f64>,
    final_clean_acc: Option<f64>,
    final_robust_acc: Option<f64>,
    autoattack_acc: Option<f64>,
    autoattack_epoch: Option<i64>,
}

#[derive(Serialize)]
struct ChartData<'a> {
    sweep: i64,
    params: &'a [Swept],
    color: Option<&'a str>,
    chosen: Option<&'a str>,
    /// The results table's keys; the parameter chart follows the first.
    by: &'a [String],
    runs: Vec<ChartRun<'a>>,
    /// Published results for the robust-accuracy chart's dashed lines.
    references: Vec<Reference>,
    /// Early termination's rungs (the sweep's own, or the replayed rule's),
    /// drawn as vertical lines on the robust-accuracy chart.
    rungs: &'a [u32],
    /// A bayes sweep's proposals so far.
    proposals: Option<&'a Proposals>,
}

/// The runs of one threat model (dataset and ε), ranked among themselves:
/// robust accuracy under one ε says nothing about another's.
struct RunSection {
    /// `digits, ε = 8/255`; empty when the sweep has one threat model.
    label: String,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "sweep.html")]
struct SweepPage {
    id: i64,
    name: String,
    created_at: String,
    method: String,
    spec: String,
    swept: Vec<Swept>,
    progress: Progress,
    sections: Vec<RunSection>,
    /// Rows across the sections.
    row_count: usize,
    color: Option<String>,
    /// What the results table groups by.
    by: Vec<String>,
    by_label: String,
    results: ResultsView,
    /// Why a requested `group` or `color` was not used.
    notices: Vec<String>,
    show_autoattack: bool,
    any_epochs: bool,
    /// [`ChartData`] as JSON, for a data attribute (askama escapes it).
    data: String,
    csrf: String,
    paused: bool,
    priority: i64,
    /// The sweep's early termination in a sentence.
    early_terminate: Option<String>,
    /// Runs the table shows: one status, or all.
    status_filter: Option<RunStatus>,
    statuses: [RunStatus; 7],
    replay_form: ReplayForm,
    replay: Option<ReplayView>,
    /// The replay form's field at fault, and why.
    replay_error: Option<(String, String)>,
    proposals: Option<Proposals>,
    changes: Vec<ChangeRow>,
    /// A notice after a form (pause, resume, grow), and the grow field it is about.
    notice: Option<String>,
    notice_field: Option<String>,
    /// What the grow form offers: seeds always; values for a grid's
    /// `values` parameters; more configs for random and bayes sweeps.
    grid_params: Vec<String>,
    can_add_configs: bool,
}

impl SweepPage {
    fn grouped_by(&self, name: &str) -> bool {
        self.by.iter().any(|b| b == name)
    }
    fn coloured_by(&self, name: &str) -> bool {
        self.color.as_deref() == Some(name)
    }
    /// The parameter chart's x: the first grouping key, else the colour one.
    fn chosen(&self) -> Option<&str> {
        self.by.first().map(String::as_str).or(self.color.as_deref())
    }
    fn filtered_to(&self, status: &RunStatus) -> bool {
        self.status_filter == Some(*status)
    }
    fn error_at(&self, field: &str) -> Option<&str> {
        match (&self.notice, &self.notice_field) {
            (Some(notice), Some(f)) if f == field => Some(notice),
            _ => None,
        }
    }
    fn replay_error_at(&self, field: &str) -> Option<&str> {
        self.replay_error.as_ref().filter(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

/// The parameter a query asks for, if it is swept; otherwise the default,
/// with a notice when the request named something else. An empty value
/// (the form's "none") means none.
fn choose(
    requested: Option<&str>,
    names: &[String],
    default: Option<&String>,
    what: &str,
    notices: &mut Vec<String>,
) -> Option<String> {
    match requested {
        Some("") => None,
        Some(name) if names.iter().any(|n| n == name) => Some(name.to_owned()),
        Some(name) => {
            let fallback = default.map_or_else(|| "nothing".to_owned(), |d| format!("`{d}`"));
            notices.push(format!("`{name}` is not a swept parameter of this sweep; {what} {fallback} instead."));
            default.cloned()
        }
        None => default.cloned(),
    }
}

pub async fn show(
    State(db): State<SqlitePool>,
    Extension(csrf): Extension<CsrfToken>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Ok(id) = id.parse::<i64>() else { return Ok(not_found().await) };
    let head = store::sweeps::head(&db, id).await?;
    let Some(head) = head else { return Ok(not_found().await) };
    let runs = store::runs::of_sweep(&db, id).await?;
    let params: Vec<Map<String, Value>> = runs.iter().map(|r| serde_json::from_str(&r.params).unwrap_or_default()).collect();

    let spec = SweepSpec::from_json(&head.spec).ok();
    let method = match &spec {
        Some(s) if s.method == SweepMethod::Random => format!("random, {} configs", s.count.unwrap_or(0)),
        Some(s) if s.method == SweepMethod::Bayes => {
            let (metric, goal) = s.objective();
            let goal = serde_json::to_value(goal).ok().and_then(|g| g.as_str().map(str::to_owned)).unwrap_or_default();
            format!("bayes (TPE), {} configs, {goal} {}", s.count.unwrap_or(0), metric.name())
        }
        Some(_) => "grid".to_owned(),
        None => "—".to_owned(),
    };
    let own_rule = spec.as_ref().and_then(|s| s.early_terminate.as_ref());
    let common_epochs = stats::most_common(runs.iter().map(|r| r.epochs)).unwrap_or(0);
    let described = own_rule.map(|rule| adaptive::describe(rule, u32::try_from(common_epochs).unwrap_or(0)));
    let swept = swept(spec.as_ref(), &params);
    let names: Vec<String> = swept.iter().map(|p| p.name.clone()).collect();

    let asked = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
    let status_filter = asked("status").and_then(|s| RunStatus::ALL.into_iter().find(|status| status.as_str() == s));
    let (replay_form, replay_asked) = ReplayForm::from_query(&query, own_rule);
    let own = own_rule.filter(|_| ReplayForm::own(&query));
    let (replay, replay_error) = if replay_asked {
        match adaptive::replay(&db, id, &replay_form, own, &runs).await? {
            Ok(view) => (Some(view), None),
            Err(fault) => (None, Some(fault)),
        }
    } else {
        (None, None)
    };
    let rungs: Vec<u32> = match (&replay, &described) {
        (Some(view), _) => view.rungs.clone(),
        (None, Some((_, rungs))) => rungs.clone(),
        (None, None) => Vec::new(),
    };
    let proposals = match &spec {
        Some(s) if s.method == SweepMethod::Bayes => Some(adaptive::proposals(&db, id, s).await?),
        _ => None,
    };
    let mut notices = Vec::new();
    let color = choose(asked("color"), &names, names.first(), "coloured by", &mut notices);
    // `group=` is the single-key form of older links.
    let asked_by = results::by_from_query(&query).or_else(|| asked("group").map(service::results::parse_by));
    let with_published = results::published_from_query(&query);
    let defaults = service::results::default_by(&names);
    let mut table = match service::results::of_sweep(&db, id, asked_by.as_ref().map(|b| b.join(",")).as_deref(), true).await {
        Err(AppError::Invalid(errors)) => {
            let by = results::by_label(&defaults);
            notices.extend(errors.into_iter().map(|e| format!("{} The table is grouped by {by} instead.", capitalize(&e.message))));
            service::results::of_sweep(&db, id, Some(&defaults.join(",")), true).await?
        }
        other => other?,
    };
    let any_published = table.sections.iter().any(|s| !s.published.is_empty());
    if !with_published {
        table.sections.iter_mut().for_each(|s| s.published.clear());
    }
    let query_pairs: Vec<(&str, String)> =
        [("by", table.by.join(",")), ("published", with_published.to_string())].into_iter().collect();
    let view = ResultsView::new(&table, &format!("/api/v1/sweeps/{id}/table"), &query_pairs, any_published);

    // Ranked within each (dataset, ε), the results table's sections too.
    let epsilons: std::collections::HashMap<i64, f64> = store::runs::configs_of_sweep(&db, id)
        .await?
        .into_iter()
        .filter_map(|(run, config)| Some((run, serde_json::from_str::<Value>(&config).ok()?["epsilon"].as_f64()?)))
        .collect();
    let mut threats: Vec<(String, f64)> = Vec::new();
    for run in &runs {
        let threat = (run.dataset.clone(), epsilons.get(&run.id).copied().unwrap_or(f64::NAN));
        if !threats.iter().any(|t| t.0 == threat.0 && t.1.total_cmp(&threat.1).is_eq()) {
            threats.push(threat);
        }
    }
    threats.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let sections: Vec<RunSection> = threats
        .iter()
        .map(|(dataset, epsilon)| {
            let members: Vec<usize> = (0..runs.len())
                .filter(|&i| &runs[i].dataset == dataset && epsilons.get(&runs[i].id).copied().unwrap_or(f64::NAN).total_cmp(epsilon).is_eq())
                .collect();
            let best: Vec<Option<f64>> = members.iter().map(|&i| runs[i].best_robust_acc).collect();
            let rows = stats::ranking(&best)
                .iter()
                .enumerate()
                .map(|(position, &k)| {
                    let i = members[k];
                    row(&runs[i], &params[i], &names, best[k].map(|_| position + 1))
                })
                .filter(|row| status_filter.is_none_or(|s| row.status == s))
                .collect();
            let label = if threats.len() > 1 {
                let eps = if epsilon.is_nan() { "ε unknown".to_owned() } else { format!("ε = {}", service::results::epsilon_text(*epsilon)) };
                format!("{dataset}, {eps}")
            } else {
                String::new()
            };
            RunSection { label, rows }
        })
        .collect();
    let row_count = sections.iter().map(|s| s.rows.len()).sum();

    let data = ChartData {
        sweep: id,
        params: &swept,
        color: color.as_deref(),
        chosen: table.by.first().map(String::as_str).or(color.as_deref()),
        by: &table.by,
        runs: runs.iter().zip(&params).map(|(run, params)| chart_run(run, params)).collect(),
        references: results::references(&table),
        rungs: &rungs,
        proposals: proposals.as_ref(),
    };
    let data = serde_json::to_string(&data).expect("chart data serializes");
    let spec_text = serde_json::from_str::<Value>(&head.spec)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(head.spec);

    let grid_params = match &spec {
        Some(s) if s.method == SweepMethod::Grid => {
            s.parameters.iter().filter(|(_, p)| p.values.is_some()).map(|(name, _)| name.clone()).collect()
        }
        _ => Vec::new(),
    };
    let can_add_configs = spec.as_ref().is_some_and(|s| s.method != SweepMethod::Grid);
    let notice = asked("notice").filter(|n| !n.is_empty()).map(str::to_owned);
    let notice_field = asked("field").filter(|_| asked("kind") == Some("error")).map(str::to_owned);
    let page = SweepPage {
        id,
        csrf: csrf.0,
        paused: head.paused,
        priority: head.priority,
        early_terminate: described.map(|(text, _)| text),
        status_filter,
        statuses: RunStatus::ALL,
        replay_form,
        replay,
        replay_error,
        proposals,
        changes: store::sweeps::changes(&db, id).await?,
        notice,
        notice_field,
        grid_params,
        can_add_configs,
        name: head.name,
        created_at: head.created_at,
        method,
        spec: spec_text,
        progress: Progress::count(runs.iter().map(|r| r.status)),
        show_autoattack: runs.iter().any(|r| r.autoattack_acc.is_some()),
        any_epochs: runs.iter().any(|r| r.epochs_done > 0),
        swept,
        sections,
        row_count,
        color,
        by_label: results::by_label(&table.by),
        by: table.by.clone(),
        results: view,
        notices,
        data,
    };
    Ok(render(&page)?.into_response())
}

/// The spec's varying parameters in its order, then any keys only runs
/// carry (a rerun of an edited sweep, or a spec that no longer parses).
fn swept(spec: Option<&SweepSpec>, params: &[Map<String, Value>]) -> Vec<Swept> {
    let mut names: Vec<String> = spec.map(SweepSpec::varying).unwrap_or_default();
    for key in params.iter().flat_map(Map::keys) {
        if !names.contains(key) {
            names.push(key.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let values = stats::distinct(params.iter().filter_map(|p| p.get(&name)));
            Swept {
                numeric: !values.is_empty() && values.iter().all(Value::is_number),
                log: stats::log_scale(&values),
                values: values.iter().map(stats::display).collect(),
                name,
            }
        })
        .collect()
}

fn row(run: &RunSummary, params: &Map<String, Value>, names: &[String], rank: Option<usize>) -> Row {
    Row {
        rank,
        id: run.id,
        name: run.name.clone(),
        status: run.status,
        values: names.iter().map(|n| stats::display(params.get(n).unwrap_or(&Value::Null))).collect(),
        epochs: run.epochs,
        epochs_done: run.epochs_done,
        best_robust: percent(run.best_robust_acc),
        best_epoch: run.best_epoch,
        final_clean: percent(run.final_clean_acc),
        final_robust: percent(run.final_robust_acc),
        autoattack: percent(run.autoattack_acc),
        pruned: pruned_reason(run),
    }
}

/// A pruned run's reason; while early termination is stopping it, the cut
/// it made.
fn pruned_reason(run: &RunSummary) -> Option<String> {
    if run.status == RunStatus::Pruned {
        return run.error.clone();
    }
    let cut = run.pruned.as_deref().filter(|_| run.status == RunStatus::Running && !run.continued)?;
    let cut: advmix_protocol::sweep::early_terminate::Cut = serde_json::from_str(cut).ok()?;
    Some(format!("being stopped: {}", cut.reason()))
}

fn chart_run<'a>(run: &'a RunSummary, params: &'a Map<String, Value>) -> ChartRun<'a> {
    ChartRun {
        id: run.id,
        name: &run.name,
        status: run.status,
        params,
        epochs: run.epochs,
        epochs_done: run.epochs_done,
        best_robust_acc: run.best_robust_acc,
        final_clean_acc: run.final_clean_acc,
        final_robust_acc: run.final_robust_acc,
        autoattack_acc: run.autoattack_acc,
        autoattack_epoch: run.autoattack_epoch,
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

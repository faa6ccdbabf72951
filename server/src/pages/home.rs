//! The Runs page (home): every run in a table that filters, sorts and pages
//! on the server through the API's own list query, live updates from
//! `static/runs.js`, and what this machine can train on.

use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{Html, Response};
use serde_json::Value;
use sqlx::SqlitePool;

use super::{compare, duration, render, thousands};
use advmix_protocol::Method;

use crate::compute::Compute;
use crate::error::AppError;
use crate::runner::Runner;
use crate::service::runs as actions;
use crate::store::runs::{ListQuery, RunSummary};
use crate::store::{self, RunStatus};

/// Page numbers shown on either side of the current one.
const PAGE_WINDOW: i64 = 2;

/// The table's columns: header label, the API sort key (None: no sensible
/// order), a CSS class, and whether a first click sorts descending (numbers
/// read best from the top; names from A).
const COLUMNS: &[(&str, Option<&str>, &str, bool)] = &[
    ("Status", Some("status"), "", false),
    // The name, its sweep, and any swept value the name does not already say.
    ("Run", Some("name"), "", false),
    ("Method · data", Some("method"), "", false),
    ("Progress", Some("epochs_done"), "", true),
    ("Best robust %", Some("best_robust_acc"), "num", true),
    ("Final clean %", Some("final_clean_acc"), "num", true),
    ("Final robust %", Some("final_robust_acc"), "num", true),
    ("AutoAttack %", Some("autoattack_acc"), "num", true),
    ("Created", Some("created_at"), "", true),
];

/// The form's values as the browser sent them. They stay text so that a bad
/// value is explained and dropped instead of failing the whole page.
#[derive(Default, Clone)]
struct Form {
    status: String,
    method: String,
    sweep: String,
    tag: String,
    q: String,
    sort: String,
    order: String,
    page: String,
}

impl Form {
    /// The last value of each known parameter; unknown ones are ignored, as a
    /// bookmarked URL from an older version should still open.
    fn parse(raw: Option<&str>) -> Form {
        let pairs: Vec<(String, String)> = raw.and_then(|r| serde_urlencoded::from_str(r).ok()).unwrap_or_default();
        let mut form = Form::default();
        for (key, value) in pairs {
            let value = value.trim().to_owned();
            match key.as_str() {
                "status" => form.status = value,
                "method" => form.method = value,
                "sweep" => form.sweep = value,
                "tag" => form.tag = value,
                "q" => form.q = value,
                "sort" => form.sort = value,
                "order" => form.order = value,
                "page" => form.page = value,
                _ => {}
            }
        }
        form
    }

    fn filtered(&self) -> bool {
        [&self.status, &self.method, &self.sweep, &self.tag, &self.q].iter().any(|v| !v.is_empty())
    }

    fn clear(&mut self, field: &str) {
        match field {
            "status" => self.status.clear(),
            "method" => self.method.clear(),
            "sweep" => self.sweep.clear(),
            "tag" => self.tag.clear(),
            "q" => self.q.clear(),
            "sort" => self.sort.clear(),
            "order" => self.order.clear(),
            _ => self.page.clear(),
        }
    }

    /// The list query, and a message for each value that cannot be used.
    fn list_query(&mut self) -> (ListQuery, Vec<String>) {
        let mut notices = Vec::new();
        let mut number = |text: &str, what: &str| -> Option<i64> {
            let parsed = text.parse().ok();
            if parsed.is_none() && !text.is_empty() {
                notices.push(format!("`{text}` is not a {what}; ignored it."));
            }
            parsed
        };
        let sweep = number(&self.sweep, "sweep id");
        let page = number(&self.page, "page number");
        if sweep.is_none() {
            self.sweep.clear();
        }
        if page.is_none() {
            self.page.clear();
        }
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let query = ListQuery {
            status: text(&self.status),
            sweep,
            method: text(&self.method),
            tag: text(&self.tag),
            q: text(&self.q),
            sort: text(&self.sort),
            order: text(&self.order),
            page,
            per_page: None,
        };
        (query, notices)
    }

    /// This view with another sort or page; filters are kept.
    fn href(&self, sort: Option<(&str, &str)>, page: i64) -> String {
        let (sort, order) = sort.unwrap_or((&self.sort, &self.order));
        let page = if page > 1 { page.to_string() } else { String::new() };
        let pairs = [
            ("status", self.status.as_str()),
            ("method", &self.method),
            ("sweep", &self.sweep),
            ("tag", &self.tag),
            ("q", &self.q),
            ("sort", sort),
            ("order", order),
            ("page", &page),
        ];
        let kept: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let query = serde_urlencoded::to_string(kept).unwrap_or_default();
        if query.is_empty() { "/".to_owned() } else { format!("/?{query}") }
    }

    /// The same query for `GET /api/v1/runs`, which runs.js reloads after
    /// reconnecting. Only called once every value has been validated.
    fn api_href(&self, list: &ListQuery) -> String {
        let page = list.page().to_string();
        let sweep = list.sweep.map(|s| s.to_string()).unwrap_or_default();
        let pairs = [
            ("status", self.status.as_str()),
            ("method", &self.method),
            ("sweep", &sweep),
            ("tag", &self.tag),
            ("q", &self.q),
            ("sort", list.sort()),
            ("order", if list.descending() { "desc" } else { "asc" }),
            ("page", &page),
        ];
        let kept: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        format!("/api/v1/runs?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
    }
}

struct Choice {
    value: &'static str,
    selected: bool,
}

fn choices(values: &[&'static str], current: &str) -> Vec<Choice> {
    values.iter().map(|&value| Choice { value, selected: value == current }).collect()
}

struct Header {
    label: &'static str,
    class: &'static str,
    href: Option<String>,
    /// `ascending` or `descending` on the column the table is sorted by.
    aria_sort: Option<&'static str>,
}

impl Header {
    fn arrow(&self) -> &'static str {
        match self.aria_sort {
            Some("ascending") => "▲",
            Some(_) => "▼",
            None => "",
        }
    }
}

fn headers(form: &Form, list: &ListQuery) -> Vec<Header> {
    // Ids are handed out in creation order, so the default sort by id is
    // shown on the Created column.
    let current = match list.sort() {
        "id" => "created_at",
        other => other,
    };
    COLUMNS
        .iter()
        .map(|&(label, key, class, desc_first)| {
            let sorted = key == Some(current);
            let aria_sort = sorted.then_some(if list.descending() { "descending" } else { "ascending" });
            let href = key.map(|key| {
                let descending = if sorted { !list.descending() } else { desc_first };
                form.href(Some((key, if descending { "desc" } else { "asc" })), 1)
            });
            Header { label, class, href, aria_sort }
        })
        .collect()
}

struct PageLink {
    /// None for a gap (…).
    number: Option<i64>,
    href: String,
    current: bool,
}

fn page_links(form: &Form, page: i64, last: i64) -> Vec<PageLink> {
    let mut links = Vec::new();
    let mut previous = 0;
    for n in 1..=last {
        let shown = n == 1 || n == last || (n - page).abs() <= PAGE_WINDOW;
        if !shown {
            continue;
        }
        if n > previous + 1 {
            links.push(PageLink { number: None, href: String::new(), current: false });
        }
        links.push(PageLink { number: Some(n), href: form.href(None, n), current: n == page });
        previous = n;
    }
    links
}

struct Row {
    run: RunSummary,
    /// The swept values as `k=v` pairs.
    params: Vec<String>,
    sweep_name: Option<String>,
    /// Mean training seconds per epoch, and over how many epochs.
    epoch_seconds: Option<f64>,
    timed_epochs: i64,
    /// On a cluster: where the job is and why it waits (`PENDING (Priority)`).
    placement: Option<String>,
    /// The trainer's newest progress while it runs.
    progress: Option<super::LiveProgress>,
}

impl Row {
    /// Time left for a running run: the trainer's estimate, else from its
    /// mean epoch so far.
    fn eta(&self) -> Option<String> {
        if let Some(eta) = self.progress.as_ref().and_then(super::LiveProgress::eta) {
            return Some(eta);
        }
        let left = self.run.epochs - self.run.epochs_done;
        (self.run.status == RunStatus::Running && left > 0).then_some(())?;
        self.epoch_seconds.map(|s| duration(s * left as f64))
    }
    /// A sweep's run names are long lists of `k=v,`: they may wrap after
    /// each comma rather than anywhere.
    fn name_parts(&self) -> Vec<&str> {
        self.run.name.split_inclusive(',').collect()
    }
    /// The swept values the name does not already spell out: a sweep names
    /// its runs by them, so they are shown only under a name of one's own.
    fn params_not_in_name(&self) -> Vec<&str> {
        self.params.iter().map(String::as_str).filter(|p| !self.run.name.contains(p)).collect()
    }
    fn best_value_attr(&self) -> String {
        self.run.best_robust_acc.map(|v| v.to_string()).unwrap_or_default()
    }
    /// The epochs bar's value: with the current epoch's fraction while it trains.
    fn epochs_value(&self) -> String {
        self.progress.as_ref().map_or_else(|| self.run.epochs_done.to_string(), |p| format!("{:.3}", p.epochs))
    }
    fn ends_at_attr(&self) -> String {
        self.progress.as_ref().map(super::LiveProgress::ends_at_ms).unwrap_or_default()
    }
    fn epoch_seconds_attr(&self) -> String {
        self.epoch_seconds.map(|s| format!("{s:.3}")).unwrap_or_default()
    }
    /// `2026-11-24 21:04` from the stored ISO timestamp.
    fn created(&self) -> String {
        self.run.created_at.get(..16).unwrap_or(&self.run.created_at).replace('T', " ")
    }
}

/// `{"method":"aom","seed":1}` as `method=aom`, `seed=1`.
fn compact_params(params: &str) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(params) else { return Vec::new() };
    map.iter()
        .map(|(k, v)| format!("{k}={}", super::value_text(v)))
        .collect()
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    rows: Vec<Row>,
    form: Form,
    notices: Vec<String>,
    headers: Vec<Header>,
    statuses: Vec<Choice>,
    methods: Vec<Choice>,
    total: i64,
    /// Whether the store has any run at all, to tell "none yet" from "none match".
    any_runs: bool,
    page: i64,
    last_page: i64,
    pages: Vec<PageLink>,
    /// "51–100 of 1,234", or empty when nothing is on this page.
    showing: String,
    /// Runs with a higher id were created after this page was rendered.
    max_id: i64,
    self_href: String,
    api_href: String,
    /// The runs these filters select, every page, as CSV.
    csv_href: String,
    clear_href: String,
    prev_href: Option<String>,
    next_href: Option<String>,
    compute: Arc<Compute>,
    /// The scheduler's slots, e.g. `cpu/0, cpu/1`.
    slots: String,
    /// Why queued work does not start (a nearly full disk).
    held: Option<String>,
}

/// Runs the list query, dropping any parameter it refuses (with a notice)
/// and trying again, so a bad link still shows runs.
async fn list(db: &SqlitePool, form: &mut Form) -> Result<(ListQuery, i64, Vec<RunSummary>, Vec<String>), AppError> {
    let (mut query, mut notices) = form.list_query();
    match actions::list(db, &query).await {
        Ok((total, rows)) => Ok((query, total, rows, notices)),
        Err(AppError::Invalid(problems)) => {
            for problem in problems {
                notices.push(format!("Ignored {}: {}.", problem.field, problem.message));
                form.clear(&problem.field);
            }
            query = form.list_query().0;
            let (total, rows) = actions::list(db, &query).await?;
            Ok((query, total, rows, notices))
        }
        Err(other) => Err(other),
    }
}

/// Every run the list's filters select (all pages, in its order), as CSV:
/// the config keys that differ between them (every key with `all=1`) and
/// every accuracy, AutoAttack included.
pub async fn csv(State(db): State<SqlitePool>, RawQuery(raw): RawQuery) -> Result<Response, AppError> {
    let mut form = Form::parse(raw.as_deref());
    let (mut query, ..) = list(&db, &mut form).await?;
    query.per_page = Some(store::runs::MAX_PER_PAGE);
    let mut ids = Vec::new();
    for page in 1.. {
        query.page = Some(page);
        let (total, rows) = actions::list(&db, &query).await?;
        ids.extend(rows.iter().map(|r| r.id));
        if rows.is_empty() || ids.len() as i64 >= total {
            break;
        }
    }
    let (runs, _) = compare::load(&db, &ids).await?;
    let all = raw.as_deref().is_some_and(|r| r.split('&').any(|pair| pair == "all=1"));
    Ok(compare::csv_download(&runs, all, "advmix-runs.csv"))
}

pub async fn show(
    State(db): State<SqlitePool>,
    State(compute): State<Arc<Compute>>,
    State(runner): State<Runner>,
    RawQuery(raw): RawQuery,
) -> Result<Html<String>, AppError> {
    let mut form = Form::parse(raw.as_deref());
    let (query, total, runs, notices) = list(&db, &mut form).await?;

    let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    let times = store::epochs::mean_seconds(&db, &ids).await?;
    let mut sweep_ids: Vec<i64> = runs.iter().filter_map(|r| r.sweep_id).collect();
    sweep_ids.sort_unstable();
    sweep_ids.dedup();
    let sweeps = store::sweeps::names(&db, &sweep_ids).await?;
    let cluster = runner.executor_summary().await.is_some();
    let mut rows: Vec<Row> = Vec::with_capacity(runs.len());
    for run in runs {
        let (epoch_seconds, timed_epochs) = times.get(&run.id).map_or((None, 0), |&(m, n)| (Some(m), n));
        let placement = match &run.handle {
            Some(handle) if cluster && run.status.is_live() => Some(runner.describe(handle).await.line()),
            _ => None,
        };
        rows.push(Row {
            params: compact_params(&run.params),
            sweep_name: run.sweep_id.and_then(|s| sweeps.get(&s).cloned()),
            epoch_seconds,
            timed_epochs,
            placement,
            progress: super::LiveProgress::of(&run),
            run,
        });
    }

    let max_id = store::runs::max_id(&db).await?;
    let any_runs = max_id > 0;
    let per_page = query.per_page();
    let page = query.page();
    let last_page = ((total + per_page - 1) / per_page).max(1);
    // A hand-typed huge page number must not overflow; such a page is empty.
    let first = (page - 1).saturating_mul(per_page).saturating_add(1);
    let showing = if rows.is_empty() {
        String::new()
    } else {
        format!("{}–{} of {}", thousands(first), thousands(first + rows.len() as i64 - 1), thousands(total))
    };
    let slots = match runner.executor_summary().await {
        Some(summary) => summary,
        None => runner.slots().iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
    };
    let clear = Form { sort: form.sort.clone(), order: form.order.clone(), ..Form::default() };
    render(&Home {
        headers: headers(&form, &query),
        statuses: choices(&RunStatus::ALL.map(RunStatus::as_str), &form.status),
        methods: choices(&Method::NAMES, &form.method),
        pages: page_links(&form, page, last_page),
        prev_href: (page > 1).then(|| form.href(None, (page - 1).min(last_page))),
        next_href: (page < last_page).then(|| form.href(None, page + 1)),
        self_href: form.href(None, page),
        csv_href: format!("/runs.csv{}", form.href(None, 1).trim_start_matches('/')),
        api_href: form.api_href(&query),
        clear_href: clear.href(None, 1),
        rows,
        notices,
        total,
        any_runs,
        page,
        last_page,
        showing,
        max_id,
        compute,
        slots,
        held: runner.held(),
        form,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_as_key_value_pairs() {
        assert_eq!(compact_params(r#"{"method":"aom","lr_max":0.05,"seed":1}"#), ["method=aom", "lr_max=0.05", "seed=1"]);
        assert!(compact_params("{}").is_empty());
        assert!(compact_params("not json").is_empty());
    }

    #[test]
    fn page_links_keep_the_ends_and_a_window() {
        let form = Form::default();
        let numbers = |page, last| -> Vec<Option<i64>> { page_links(&form, page, last).iter().map(|l| l.number).collect() };
        assert_eq!(numbers(1, 1), [Some(1)]);
        assert_eq!(numbers(6, 20), [Some(1), None, Some(4), Some(5), Some(6), Some(7), Some(8), None, Some(20)]);
        assert_eq!(numbers(2, 4), [Some(1), Some(2), Some(3), Some(4)]);
    }

    #[test]
    fn links_keep_filters_and_encode_them() {
        let form = Form::parse(Some("status=running&q=a%26b+c&sort=name&order=asc&page=3&bogus=1"));
        assert_eq!(form.href(None, 2), "/?status=running&q=a%26b+c&sort=name&order=asc&page=2");
        assert_eq!(form.href(Some(("best_robust_acc", "desc")), 1), "/?status=running&q=a%26b+c&sort=best_robust_acc&order=desc");
        assert_eq!(Form::default().href(None, 1), "/");
    }

    #[test]
    fn bad_numbers_are_dropped_with_a_notice() {
        let mut form = Form::parse(Some("sweep=abc&page=2"));
        let (query, notices) = form.list_query();
        assert_eq!((query.sweep, query.page), (None, Some(2)));
        assert_eq!(notices.len(), 1);
        assert!(form.sweep.is_empty());
    }

    #[test]
    fn durations_and_counts_read_easily() {
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(725.0), "12 min");
        assert_eq!(duration(3.0 * 3600.0 + 300.0), "3 h 05 min");
        assert_eq!(duration(2.0 * 86400.0 + 4.0 * 3600.0), "2 d 4 h");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }
}

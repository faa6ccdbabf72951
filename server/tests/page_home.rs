//! The Runs page (`/`): the table, its server-side sort, filters and pages,
//! empty states, escaping, and friendly handling of bad query strings.

mod common;

use advmix_server::compute::Compute;
use axum::http::StatusCode;
use common::{get, ready, state};
use sqlx::SqlitePool;

/// A run row with the columns the page shows; returns its id.
struct Run<'a> {
    name: &'a str,
    status: &'a str,
    method: &'a str,
    sweep: Option<i64>,
    params: &'a str,
    epochs_done: i64,
    best: Option<f64>,
    best_epoch: Option<i64>,
    note: &'a str,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            name: "run",
            status: "succeeded",
            method: "aom",
            sweep: None,
            params: "{}",
            epochs_done: 10,
            best: None,
            best_epoch: None,
            note: "",
        }
    }
}

impl Run<'_> {
    async fn insert(&self, db: &SqlitePool) -> i64 {
        sqlx::query_scalar(
            "INSERT INTO runs (name, config, params, method, dataset, model, epochs, status, epochs_done, sweep_id,
                               best_robust_acc, best_epoch, final_clean_acc, final_robust_acc, note)
             VALUES (?, '{}', ?, ?, 'digits', 'small_cnn', 10, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(self.name)
        .bind(self.params)
        .bind(self.method)
        .bind(self.status)
        .bind(self.epochs_done)
        .bind(self.sweep)
        .bind(self.best)
        .bind(self.best_epoch)
        .bind(self.best.map(|b| b + 0.2))
        .bind(self.best.map(|b| b - 0.01))
        .bind(self.note)
        .fetch_one(db)
        .await
        .unwrap()
    }
}

async fn named(db: &SqlitePool, name: &str) -> i64 {
    Run { name, ..Run::default() }.insert(db).await
}

/// `n` runs named `run 1`, `run 2`, ... in one statement.
async fn many(db: &SqlitePool, n: i64) {
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO runs (name, config, method, dataset, model, epochs, status)
         SELECT 'run ' || i, '{}', 'aom', 'digits', 'small_cnn', 10, 'queued' FROM n",
    )
    .bind(n)
    .execute(db)
    .await
    .unwrap();
}

/// The run ids of the table's rows, top to bottom.
fn row_ids(body: &str) -> Vec<i64> {
    body.split("<tr data-run-id=\"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap()).collect()
}

/// Attribute values as the browser reads them.
fn unescape(body: &str) -> String {
    body.replace("&#38;", "&").replace("&amp;", "&")
}

async fn page(db: &SqlitePool, uri: &str) -> String {
    let (status, content_type, body) = get(ready(db.clone()), uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    body
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_runs_with_every_column(db: SqlitePool) {
    sqlx::query("INSERT INTO sweeps (id, name, spec) VALUES (1, 'aom-vs-pgd', '{}')").execute(&db).await.unwrap();
    let running = Run {
        name: "method=aom,seed=1",
        status: "running",
        sweep: Some(1),
        params: r#"{"method":"aom","seed":1}"#,
        epochs_done: 4,
        best: Some(0.4567),
        best_epoch: Some(3),
        ..Run::default()
    }
    .insert(&db)
    .await;
    let alone = named(&db, "baseline").await;
    // Four epochs of 30 s each: 6 left, so 3 minutes to go.
    for epoch in 1..=4 {
        sqlx::query(
            "INSERT INTO epochs VALUES (?, ?, 0.1, 1.0, 0.5, 1.0, 0.5, 1.0, 0.5, 1.2, 0.4, 30.0, 100.0, NULL)",
        )
        .bind(running)
        .bind(epoch)
        .execute(&db)
        .await
        .unwrap();
    }
    let body = page(&db, "/").await;
    assert_eq!(row_ids(&body), [alone, running], "newest first");
    assert!(body.contains(r#"<table id="runs">"#));
    assert!(body.contains(&format!(r#"<a href="/runs/{running}">method=aom,<wbr>seed=1</a>"#)), "{body}");
    assert!(body.contains(r#"in <a href="/sweeps/1" title="sweep 1">aom-vs-pgd</a>"#), "{body}");
    assert!(!body.contains(r#"<code class="params">"#), "a sweep's run name already says its swept values");
    assert!(body.contains(r#"<progress max="10" value="4"></progress>"#));
    assert!(body.contains(r#"<span class="progress-text">4/10</span>"#));
    assert!(body.contains("ETA 3 min"), "{body}");
    assert!(body.contains("45.7") && body.contains("ep 3"), "best robust with its epoch");
    assert!(body.contains("65.7"), "final clean");
    assert!(body.contains(r#"<td class="num autoattack">—</td>"#), "no AutoAttack yet");
    assert!(body.contains(r#"<span class="status status-running">running</span>"#));
    assert!(body.contains(&format!(r#"data-run-id="{running}" data-status="running""#)));
    // Compare from the table's checkboxes, without JavaScript.
    assert!(body.contains(r#"<form id="compare-form" action="/compare" method="get">"#));
    assert!(body.contains(&format!(r#"<input type="checkbox" name="run" value="{running}""#)));
    assert!(body.contains(r#"id="compare-selected""#));
    assert!(body.contains("Showing 1–2 of 2"));
    assert!(body.contains(r#"data-max-id="2""#));
    assert!(body.contains(r#"<script src="/static/runs.js"></script>"#));
    assert!(body.contains(r#"<script src="/static/live.js"></script>"#));
    // The compute panel stays.
    assert!(body.contains("2.11.0+cu130") && body.contains("NVIDIA H100 80GB HBM3"));
    assert!(body.contains("cpu/0"), "the scheduler's slots are listed");
}

#[sqlx::test(migrations = "../migrations")]
async fn sorting_by_a_column_orders_the_rows_and_marks_the_header(db: SqlitePool) {
    let low = Run { name: "low", best: Some(0.1), ..Run::default() }.insert(&db).await;
    let none = Run { name: "none", best: None, ..Run::default() }.insert(&db).await;
    let high = Run { name: "high", best: Some(0.9), ..Run::default() }.insert(&db).await;

    let body = page(&db, "/?sort=best_robust_acc&order=desc").await;
    assert_eq!(row_ids(&body), [high, low, none], "nulls last");
    assert!(body.contains(r#"aria-sort="descending""#));
    let links = unescape(&body);
    assert!(links.contains(r#"href="/?sort=best_robust_acc&order=asc">Best robust %"#), "the header flips the order");
    assert!(links.contains(r#"href="/?sort=name&order=asc">Run"#), "other headers start ascending");

    let body = page(&db, "/?sort=best_robust_acc&order=asc").await;
    assert_eq!(row_ids(&body), [low, high, none], "nulls last either way");
    assert!(body.contains(r#"aria-sort="ascending""#));

    assert_eq!(row_ids(&page(&db, "/?sort=name&order=asc").await), [high, low, none]);
    assert_eq!(row_ids(&page(&db, "/").await), [high, none, low], "by creation, newest first");
    let body = page(&db, "/").await;
    assert_eq!(body.matches("aria-sort=").count(), 1, "only the current column is marked");
    assert!(unescape(&body).contains(r#"href="/?sort=created_at&order=asc">Created"#));
}

#[sqlx::test(migrations = "../migrations")]
async fn filters_by_status_method_sweep_tag_and_text(db: SqlitePool) {
    sqlx::query("INSERT INTO sweeps (id, name, spec) VALUES (7, 's', '{}')").execute(&db).await.unwrap();
    let failed = Run { name: "alpha", status: "failed", ..Run::default() }.insert(&db).await;
    let erm = Run { name: "bravo", method: "erm", sweep: Some(7), ..Run::default() }.insert(&db).await;
    let noted = Run { name: "charlie", note: "uses 50% mixup", ..Run::default() }.insert(&db).await;
    sqlx::query("INSERT INTO run_tags VALUES (?, 'paper')").bind(noted).execute(&db).await.unwrap();

    let body = page(&db, "/?status=failed").await;
    assert_eq!(row_ids(&body), [failed]);
    assert!(body.contains(r#"<option value="failed" selected>failed</option>"#), "the form shows the filter");
    assert!(body.contains("Clear filters"));
    assert_eq!(row_ids(&page(&db, "/?method=erm").await), [erm]);
    assert_eq!(row_ids(&page(&db, "/?sweep=7").await), [erm]);
    assert_eq!(row_ids(&page(&db, "/?tag=paper").await), [noted]);
    let body = page(&db, "/?q=RAV").await;
    assert_eq!(row_ids(&body), [erm], "name, ignoring case");
    assert!(body.contains(r#"value="RAV""#));
    assert_eq!(row_ids(&page(&db, "/?q=50%25").await), [noted], "the note, % literal");
    // An untouched form sends every field empty: that filters nothing.
    let body = page(&db, "/?status=&method=&sweep=&tag=&q=").await;
    assert_eq!(row_ids(&body), [noted, erm, failed]);
    assert!(!body.contains("Clear filters"));
    // Filters keep the sort, and sorting keeps the filters.
    let body = unescape(&page(&db, "/?method=aom&sort=name&order=desc").await);
    assert_eq!(row_ids(&body), [noted, failed]);
    assert!(body.contains(r#"<input type="hidden" name="sort" value="name">"#));
    assert!(body.contains(r#"href="/?method=aom&sort=status&order=asc""#));
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_hold_fifty_runs_and_say_which(db: SqlitePool) {
    many(&db, 1234).await;
    let body = page(&db, "/?page=2").await;
    let ids = row_ids(&body);
    assert_eq!(ids.len(), 50);
    assert_eq!((ids[0], ids[49]), (1184, 1135), "newest first, the second fifty");
    assert!(body.contains("Showing 51–100 of 1,234"), "{body}");
    let links = unescape(&body);
    assert!(links.contains(r#"<a href="/" rel="prev">"#), "page 1 needs no parameter");
    assert!(links.contains(r#"<a href="/?page=3" rel="next">"#));
    assert!(links.contains(r#"<span class="current" aria-current="page">2</span>"#));
    assert!(links.contains(r#"<a href="/?page=25">25</a>"#), "the last page");
    assert!(!links.contains(r#"href="/?page=10""#), "not every page is listed");

    let body = page(&db, "/?page=25&sort=name&order=asc").await;
    assert_eq!(row_ids(&body).len(), 34);
    assert!(body.contains("Showing 1,201–1,234 of 1,234"));
    assert!(body.contains(r#"<span class="muted">Next ›</span>"#), "no next page");

    let body = page(&db, "/?page=26").await;
    assert!(row_ids(&body).is_empty());
    assert!(body.contains("past the end"), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn empty_states_tell_none_yet_from_none_matching(db: SqlitePool) {
    let body = page(&db, "/").await;
    assert!(body.contains("No runs yet."), "{body}");
    assert!(body.contains(r#"<a href="/launch">Launch one</a>"#));
    assert!(!body.contains("<table"));
    assert!(body.contains("2.11.0+cu130"), "the compute panel still shows");

    named(&db, "alpha").await;
    let body = unescape(&page(&db, "/?status=lost&q=zzz&sort=name").await);
    assert!(body.contains("No runs match these filters"));
    assert!(body.contains(r#"<a href="/?sort=name">Clear the filters</a>"#), "clearing keeps the sort");
    assert!(!body.contains("<table"));
    assert!(!body.contains("No runs yet"));
}

#[sqlx::test(migrations = "../migrations")]
async fn user_text_is_escaped(db: SqlitePool) {
    let id = Run { name: "<script>alert(1)</script>", params: r#"{"x":"<b>"}"#, ..Run::default() }.insert(&db).await;
    sqlx::query("INSERT INTO sweeps (id, name, spec) VALUES (1, '<img src=x onerror=alert(2)>', '{}')")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE runs SET sweep_id = 1 WHERE id = ?").bind(id).execute(&db).await.unwrap();
    let body = page(&db, "/?q=%3Cscript%3E").await;
    assert_eq!(row_ids(&body), [id], "the search matched");
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(!body.contains("<img src=x"));
    assert!(!body.contains("<b>"));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || body.contains("&lt;script&gt;alert(1)"));
    let body = page(&db, "/?tag=%22%3E%3Cb%3E").await;
    assert!(body.contains("No runs match these filters"));
    assert!(!body.contains(r#""><b>"#), "the tag filter's value stays inside its attribute");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_query_values_are_explained_not_fatal(db: SqlitePool) {
    let a = named(&db, "alpha").await;
    let b = named(&db, "bravo").await;
    for (uri, needle) in [
        ("/?sort=bogus", "cannot sort by `bogus`"),
        ("/?sort=id%3BDROP%20TABLE%20runs", "cannot sort by"),
        ("/?status=done", "unknown status `done`"),
        ("/?order=sideways", "`sideways` is not asc or desc"),
        ("/?page=0", "pages count from 1"),
        ("/?page=two", "`two` is not a page number"),
        ("/?sweep=abc", "`abc` is not a sweep id"),
    ] {
        let body = page(&db, uri).await;
        assert!(body.contains(needle), "{uri}: {body}");
        assert!(body.contains(r#"class="notice""#), "{uri}");
        assert_eq!(row_ids(&body), [b, a], "{uri}: the bad value is dropped and runs still show");
    }
    // Several at once, and the good ones are kept.
    let body = unescape(&page(&db, "/?status=done&sort=bogus&q=alp").await);
    assert_eq!(row_ids(&body), [a]);
    assert!(body.contains("unknown status") && body.contains("cannot sort by"));
    assert!(!body.contains("bogus&"), "links do not carry the bad sort on");
    assert_eq!(row_ids(&page(&db, "/").await).len(), 2, "nothing was dropped");
}

#[sqlx::test(migrations = "../migrations")]
async fn says_why_the_trainer_is_unavailable(db: SqlitePool) {
    let compute = Compute::Unavailable {
        trainer: "/nowhere/advmix-trainer".into(),
        reason: "cannot run it (No such file or directory); build it with `make build`".into(),
    };
    let (status, _, body) = get(state(db, compute), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("/nowhere/advmix-trainer"));
    assert!(body.contains("make build"));
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_the_runs_script(db: SqlitePool) {
    let (status, content_type, body) = get(ready(db), "/static/runs.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert!(body.contains("/api/v1/events"));
}

/// A page number far past the end (typed by hand) is an empty page, not an
/// overflow; the fuzz test once found the panic.
#[sqlx::test(migrations = "../migrations")]
async fn a_huge_page_number_is_an_empty_page(db: SqlitePool) {
    many(&db, 3).await;
    for uri in ["/?page=9223372036854775807", "/?page=9223372036854775807&per_page=500"] {
        let body = page(&db, uri).await;
        assert!(row_ids(&body).is_empty(), "{uri}: no rows");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn swept_values_show_under_a_name_that_does_not_say_them(db: SqlitePool) {
    let renamed = Run { name: "my favourite", params: r#"{"method":"aom","seed":1}"#, ..Run::default() }.insert(&db).await;
    let body = page(&db, "/").await;
    assert!(body.contains(&format!(r#"<a href="/runs/{renamed}">my favourite</a>"#)), "{body}");
    assert!(body.contains(r#"<code class="params"><span>method=aom</span> <span>seed=1</span> </code>"#), "{body}");
    // One column for the name, its sweep and values; one for method and data.
    assert!(body.contains(">Run<") && body.contains("Method · data") && !body.contains(">Parameters<"), "{body}");
}

/// A running run's bar is filled within its epoch, and its ETA is the
/// trainer's (which counts the evaluations and the final attack), counted
/// down from when the trainer wrote it.
#[sqlx::test(migrations = "../migrations")]
async fn a_running_runs_bar_and_eta_follow_the_trainers_progress(db: SqlitePool) {
    let id = Run { name: "training", status: "running", epochs_done: 2, ..Run::default() }.insert(&db).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let line = serde_json::json!({"time": now - 60.0, "type": "progress", "stage": "train", "epoch": 3, "done": 50,
                                  "total": 100, "images_per_second": 900.0, "eta_seconds": 660.0});
    sqlx::query("UPDATE runs SET progress = ? WHERE id = ?").bind(line.to_string()).bind(id).execute(&db).await.unwrap();
    let (status, _, body) = get(ready(db.clone()), "/").await;
    assert_eq!(status, StatusCode::OK);
    let row = &body[body.find(&format!("data-run-id=\"{id}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(r#"<progress max="10" value="2.500""#), "{row}");
    assert!(row.contains("title=\"epoch 3: batch 50 of 100, 900 img/s\""), "{row}");
    // Written a minute ago with 11 minutes to go: 10 are left.
    assert!(row.contains("ETA 10 min"), "{row}");
    assert!(row.contains(&format!("data-ends-at=\"{:.0}\"", ((now - 60.0) + 660.0) * 1000.0)), "{row}");
}

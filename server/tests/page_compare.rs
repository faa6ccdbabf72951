//! The Compare page (`/compare?run=..`) and its CSV (`/compare.csv?run=..`).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{get, ready};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tower::ServiceExt;

async fn insert(db: &SqlitePool, name: &str, config: Value, best: Option<f64>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO runs (name, config, method, dataset, model, epochs, status, epochs_done, best_robust_acc, best_epoch,
                           final_clean_acc, final_robust_acc, started_at, finished_at)
         VALUES (?, ?, 'aom', 'digits', 'small_cnn', 10, 'succeeded', 10, ?, 7, 0.8, 0.3,
                 '2026-01-01T10:00:00.000Z', '2026-01-01T10:12:30.000Z')
         RETURNING id",
    )
    .bind(name)
    .bind(config.to_string())
    .bind(best)
    .fetch_one(db)
    .await
    .unwrap()
}

fn aom() -> Value {
    json!({"method": "aom", "epochs": 10, "lr_max": 0.1, "aom": {"labels": "ratio", "steps": 3}, "eval": {"n": 100}})
}

fn pgd() -> Value {
    json!({"method": "pgd_at", "epochs": 10, "aom": {"labels": "geometric", "steps": 3}, "eval": {"n": 100}})
}

async fn page(db: &SqlitePool, uri: &str) -> String {
    let (status, content_type, body) = get(ready(db.clone()), uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    body
}

/// The config diff table's HTML.
fn diff_table(body: &str) -> &str {
    let start = body.find(r#"<table id="config-diff">"#).expect("a config diff");
    &body[start..start + body[start..].find("</table>").unwrap()]
}

/// Status, headers and body of a GET.
async fn fetch(db: &SqlitePool, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = advmix_server::app(ready(db.clone()))
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn the_diff_shows_only_the_keys_that_differ(db: SqlitePool) {
    let a = insert(&db, "aom run", aom(), Some(0.42)).await;
    let b = insert(&db, "pgd run", pgd(), None).await;
    let body = page(&db, &format!("/compare?run={a}&run={b}")).await;
    let table = diff_table(&body);
    // pgd_at never reads aom.*: for it those keys are absent, not settings.
    for key in ["method", "aom.labels", "aom.steps", "lr_max"] {
        assert!(table.contains(&format!("<code>{key}</code>")), "{key} differs: {table}");
    }
    for key in ["epochs", "eval.n"] {
        assert!(!table.contains(&format!("<code>{key}</code>")), "{key} is the same: {table}");
    }
    assert!(table.contains(r#"<span class="missing" title="not set in this run">—</span>"#), "lr_max is missing in one");
    assert!(table.contains("<code>ratio</code>") && !table.contains("<code>geometric</code>"), "the ignored value is hidden");
    assert!(table.find("aom run").unwrap() < table.find("pgd run").unwrap(), "one column per run, in order");
    assert!(body.contains("4 of 6 keys differ"), "{body}");
    assert!(body.contains(&format!(r#"<a id="diff-toggle" href="/compare?run={a}&#38;run={b}&#38;all=1">Show all keys</a>"#))
        || body.contains(&format!(r#"<a id="diff-toggle" href="/compare?run={a}&amp;run={b}&amp;all=1">Show all keys</a>"#)));

    let body = page(&db, &format!("/compare?run={a}&run={b}&all=1")).await;
    let table = diff_table(&body);
    for key in ["method", "aom.labels", "lr_max", "epochs", "aom.steps", "eval.n"] {
        assert!(table.contains(&format!("<code>{key}</code>")), "{key}: {table}");
    }
    assert_eq!(table.matches(r#"<tr class="differs">"#).count(), 4, "the differing keys stand out");
    assert!(body.contains("Show only the differing keys"));
}

#[sqlx::test(migrations = "../migrations")]
async fn shows_metrics_and_chart_containers(db: SqlitePool) {
    let a = insert(&db, "aom run", aom(), Some(0.42)).await;
    let b = insert(&db, "pgd run", pgd(), None).await;
    let body = page(&db, &format!("/compare?run={b}&run={a}")).await;
    assert!(body.contains("Compare 2 runs"));
    assert!(body.contains(r#"<table id="compare-metrics">"#));
    assert!(body.contains("42.0") && body.contains("ep 7"), "best robust with its epoch");
    assert!(body.contains("80.0") && body.contains("30.0"), "final clean and robust");
    assert!(body.contains("10/10"));
    assert!(body.contains("12 min"), "the duration");
    assert!(body.contains(&format!(r#"data-runs="{b},{a}""#)), "compare.js asks for these, in this order");
    assert!(body.contains(r#"id="compare-acc""#) && body.contains(r#"id="compare-loss""#));
    assert!(body.contains(r#"<script src="/static/compare.js"></script>"#));
    assert!(body.contains(r#"<script src="/static/uPlot.iife.min.js"></script>"#));
    assert!(body.contains(&format!(r#"id="compare-csv" href="/compare.csv?run={b}&#38;run={a}""#))
        || body.contains(&format!(r#"id="compare-csv" href="/compare.csv?run={b}&amp;run={a}""#)));
    // The picker keeps the runs and can drop each one.
    assert!(body.contains(&format!(r#"<input type="hidden" name="run" value="{a}">"#)));
    assert!(body.contains(&format!(r#"<a class="remove" href="/compare?run={a}""#)), "removing b leaves a");
}

#[sqlx::test(migrations = "../migrations")]
async fn fewer_than_two_runs_show_the_picker(db: SqlitePool) {
    let body = page(&db, "/compare").await;
    assert!(body.contains("Pick two or more runs to compare"), "{body}");
    assert!(body.contains(r#"<input id="add-run" name="run""#));
    assert!(!body.contains("config-diff") && !body.contains("compare-acc"));

    let a = insert(&db, "only one", aom(), None).await;
    let body = page(&db, &format!("/compare?run={a}")).await;
    assert!(body.contains("Pick two or more runs to compare"));
    assert!(body.contains(&format!(r#"<a href="/runs/{a}">only one</a>"#)), "the one picked is listed");
    assert!(!body.contains("config-diff"));

    // The add box takes a list, and an empty box is ignored.
    let b = insert(&db, "two", pgd(), None).await;
    let body = page(&db, &format!("/compare?run={a}&run=&run=%23{b}%2C+{a}")).await;
    assert!(body.contains("Compare 2 runs"), "{body}");
    assert!(!body.contains(r#"class="notice""#));
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_and_malformed_ids_are_reported(db: SqlitePool) {
    let a = insert(&db, "aom run", aom(), None).await;
    let b = insert(&db, "pgd run", pgd(), None).await;
    let body = page(&db, &format!("/compare?run={a}&run=999&run={b}&run=abc")).await;
    assert!(body.contains("Run #999 does not exist"), "{body}");
    assert!(body.contains("`abc` is not a run id"));
    assert!(body.contains("Compare 2 runs"), "the runs that exist are compared");
    assert!(!body.contains(r#"value="999""#), "the picker drops the unknown id");

    let body = page(&db, "/compare?run=998&run=999").await;
    assert!(body.contains("Runs #998, #999 do not exist"));
    assert!(body.contains("Pick two or more runs"));
}

#[sqlx::test(migrations = "../migrations")]
async fn user_text_is_escaped(db: SqlitePool) {
    let mut config = aom();
    config["note"] = json!("<img src=x onerror=alert(2)>");
    let a = insert(&db, "<script>alert(1)</script>", config, None).await;
    let b = insert(&db, "plain", pgd(), None).await;
    let body = page(&db, &format!("/compare?run={a}&run={b}&run=%3Cscript%3E")).await;
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(!body.contains("<img src=x"));
    assert!(!body.contains("`<script>`"), "the bad id is escaped too");
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || body.contains("&lt;script&gt;alert(1)"));
    assert!(diff_table(&body).contains("<code>note</code>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn csv_has_a_row_per_run_with_the_differing_keys_and_results(db: SqlitePool) {
    let mut config = aom();
    config["aom"]["labels"] = json!("a,b");
    let a = insert(&db, "with, comma and \"quotes\"", config, Some(0.42)).await;
    let b = insert(&db, "two\nlines", pgd(), None).await;
    let (status, headers, body) = fetch(&db, &format!("/compare.csv?run={a}&run={b}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(headers[header::CONTENT_DISPOSITION], format!("attachment; filename=\"advmix-compare-{a}-{b}.csv\""));
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,name,aom.labels,aom.steps,lr_max,method,best_robust_acc,best_epoch,final_clean_acc,final_robust_acc,autoattack_acc,epochs_done,epochs,duration_seconds"
    );
    assert_eq!(lines[1], format!(r#"{a},"with, comma and ""quotes""","a,b",3,0.1,aom,0.42,7,0.8,0.3,,10,10,750"#));
    assert_eq!(lines[2], format!("{b},\"two\nlines\",,,,pgd_at,,7,0.8,0.3,,10,10,750"));
    assert_eq!(lines[3], "", "the last row ends with a line break");
    assert_eq!(lines.len(), 4);

    let (_, _, all) = fetch(&db, &format!("/compare.csv?run={a}&run={b}&all=1")).await;
    assert!(all.starts_with("id,name,aom.labels,aom.steps,epochs,eval.n,lr_max,method,best_robust_acc"), "{all}");
}

#[sqlx::test(migrations = "../migrations")]
async fn csv_refuses_unknown_or_missing_runs(db: SqlitePool) {
    let a = insert(&db, "a", aom(), None).await;
    let (status, _, body) = fetch(&db, &format!("/compare.csv?run={a}&run=999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("#999"), "{body}");
    let (status, _, body) = fetch(&db, "/compare.csv").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("run="));
    let (status, _, body) = fetch(&db, "/compare.csv?run=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("`x`"));
    let (status, _, body) = fetch(&db, &format!("/compare.csv?run={a}")).await;
    assert_eq!(status, StatusCode::OK, "one run exports, with no differing keys");
    assert!(body.starts_with("id,name,best_robust_acc"), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_the_compare_script(db: SqlitePool) {
    let (status, content_type, body) = get(ready(db), "/static/compare.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/javascript; charset=utf-8");
    assert!(body.contains("/api/v1/series"));
}

/// Hand-picked runs get the results table too, grouped by a differing key,
/// with its exports pointing at the same runs.
#[sqlx::test(migrations = "../migrations")]
async fn picked_runs_get_a_results_table_by_a_differing_key(db: SqlitePool) {
    let with_seed = |mut config: Value, seed: u64| {
        config["seed"] = json!(seed);
        config
    };
    let a = insert(&db, "aom s0", with_seed(aom(), 0), Some(0.40)).await;
    let b = insert(&db, "aom s1", with_seed(aom(), 1), Some(0.50)).await;
    let c = insert(&db, "pgd s0", with_seed(pgd(), 0), Some(0.30)).await;
    let body = page(&db, &format!("/compare?run={a}&run={b}&run={c}&by=method")).await;
    assert!(body.contains("<h2 id=\"results-heading\">Results by method</h2>"), "{body}");
    let start = body.find("<table id=\"results-table\"").expect("a results table");
    let table = &body[start..start + body[start..].find("</table>").unwrap()];
    let aom_row = &table[table.find("<td>aom</td>").expect("an aom group")..];
    // Best 0.40 and 0.50: 45.0 ± 7.1 over 2 seeds, the better group so bold.
    assert!(aom_row.contains("<td class=\"num\">2</td>") && aom_row.contains("<strong>45.0</strong><small class=\"pm\"> ± 7.1"), "{aom_row}");
    assert!(table.contains("<td>pgd_at</td>"), "{table}");
    assert!(body.contains("<input type=\"checkbox\" name=\"by\" value=\"aom.labels\">"), "differing keys are offered: {body}");
    assert!(!body.contains("name=\"by\" value=\"seed\""), "the seed is what a table averages over");
    let csv = format!("/api/v1/table?runs={a}%2C{b}%2C{c}&#38;by=method&#38;published=true&#38;format=csv");
    assert!(body.contains(&csv), "no CSV link {csv} in {body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn pruned_runs_can_be_left_out_and_brought_back(db: SqlitePool) {
    let a = insert(&db, "a", aom(), Some(0.4)).await;
    let b = insert(&db, "b", pgd(), Some(0.3)).await;
    let c = insert(&db, "c", pgd(), Some(0.1)).await;
    sqlx::query("UPDATE runs SET status = 'pruned' WHERE id = ?").bind(c).execute(&db).await.unwrap();

    let all = page(&db, &format!("/compare?run={a}&run={b}&run={c}")).await;
    assert!(all.contains("Compare 3 runs") && all.contains("status-pruned"), "the status is shown");
    let without = page(&db, &format!("/compare?run={a}&run={b}&run={c}&without=pruned")).await;
    assert!(without.contains("Compare 2 runs"), "{without}");
    assert!(without.contains(&format!("Left out 1 pruned run (#{c})")), "{without}");
    // The picker keeps the left-out run, so unticking the box brings it back.
    assert!(without.contains(&format!(r#"<input type="hidden" name="run" value="{c}">"#)));
    assert!(without.contains(r#"id="without-pruned" checked"#));
    let (_, _, csv) = fetch(&db, &format!("/compare.csv?run={a}&run={b}&run={c}&without=pruned")).await;
    assert_eq!(csv.lines().count(), 3, "a header and two runs: {csv}");
}

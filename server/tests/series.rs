//! `/api/v1/series`, the embedded chart scripts, and the charts' JavaScript
//! unit tests (web/tests, run with node).

mod common;

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use common::{get, ready};
use serde_json::Value;
use sqlx::SqlitePool;

async fn insert_run(db: &SqlitePool, name: &str, params: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO runs (name, config, params, method, dataset, model, epochs)
         VALUES (?, '{}', ?, 'aom', 'digits', 'small_cnn', 10) RETURNING id",
    )
    .bind(name)
    .bind(params)
    .fetch_one(db)
    .await
    .unwrap()
}

/// Epochs 1..=n whose test_pgd_acc is `acc(epoch)`; every other metric 0.
async fn insert_epochs(db: &SqlitePool, run: i64, n: i64, acc: impl Fn(i64) -> f64) {
    for epoch in 1..=n {
        sqlx::query(
            "INSERT INTO epochs (run_id, epoch, lr, train_loss, train_acc, train_clean_loss, train_clean_acc,
                test_clean_loss, test_clean_acc, test_pgd_loss, test_pgd_acc, epoch_seconds, images_per_second)
             VALUES (?, ?, 0.1, 0, 0, 0, 0, 0, ?, 0, ?, 1, 100)",
        )
        .bind(run)
        .bind(epoch)
        .bind(acc(epoch) + 0.25)
        .bind(acc(epoch))
        .execute(db)
        .await
        .unwrap();
    }
}

async fn get_json(db: &SqlitePool, uri: &str) -> (StatusCode, Value) {
    let (status, content_type, body) = get(ready(db.clone()), uri).await;
    assert!(content_type.starts_with("application/json"), "{uri}: {content_type}");
    (status, serde_json::from_str(&body).unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn series_come_in_the_order_asked_with_names_and_params(db: SqlitePool) {
    let a = insert_run(&db, "method=aom,seed=0", r#"{"method":"aom","seed":0}"#).await;
    let b = insert_run(&db, "method=pgd_at,seed=0", r#"{"method":"pgd_at","seed":0}"#).await;
    let c = insert_run(&db, "queued", "{}").await;
    insert_epochs(&db, a, 3, |e| e as f64 / 10.0).await;
    insert_epochs(&db, b, 2, |e| e as f64 / 20.0).await;

    let (status, body) = get_json(&db, &format!("/api/v1/series?runs={c},{b},999,{a}&metric=test_pgd_acc")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["metric"], "test_pgd_acc");
    let series = body["series"].as_array().unwrap();
    let ids: Vec<i64> = series.iter().map(|s| s["run_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![c, b, a], "asked order; the unknown run 999 is left out");
    assert_eq!(series[0]["points"], serde_json::json!([]), "a run without epochs has no points");
    assert_eq!(series[1]["name"], "method=pgd_at,seed=0");
    assert_eq!(series[1]["params"], serde_json::json!({"method": "pgd_at", "seed": 0}));
    assert_eq!(series[1]["points"], serde_json::json!([[1, 0.05], [2, 0.1]]));
    assert_eq!(series[2]["points"], serde_json::json!([[1, 0.1], [2, 0.2], [3, 0.3]]));

    let (_, body) = get_json(&db, &format!("/api/v1/series?runs={a}&metric=test_clean_acc")).await;
    assert_eq!(body["series"][0]["points"][2], serde_json::json!([3, 0.55]), "another metric column");
    let (_, body) = get_json(&db, &format!("/api/v1/series?runs={a}")).await;
    assert_eq!(body["metric"], "test_pgd_acc", "the default metric");
    let (status, body) = get_json(&db, "/api/v1/series?runs=").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["series"], serde_json::json!([]));
}

#[sqlx::test(migrations = "../migrations")]
async fn long_series_are_downsampled_to_max_points(db: SqlitePool) {
    let long = insert_run(&db, "long", "{}").await;
    let short = insert_run(&db, "short", "{}").await;
    // A flat curve with one spike, which downsampling must keep.
    insert_epochs(&db, long, 600, |e| if e == 333 { 0.9 } else { 0.4 }).await;
    insert_epochs(&db, short, 30, |_| 0.5).await;

    let (status, body) =
        get_json(&db, &format!("/api/v1/series?runs={long},{short}&metric=test_pgd_acc&max_points=50")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = body["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 50);
    assert_eq!(points[0], serde_json::json!([1, 0.4]));
    assert_eq!(points[49], serde_json::json!([600, 0.4]));
    assert!(points.contains(&serde_json::json!([333, 0.9])), "the spike survives");
    assert_eq!(body["series"][1]["points"].as_array().unwrap().len(), 30, "short series are whole");

    let (_, body) = get_json(&db, &format!("/api/v1/series?runs={long}")).await;
    assert_eq!(body["series"][0]["points"].as_array().unwrap().len(), 400, "default max_points");
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_queries_name_the_field(db: SqlitePool) {
    let too_many = (1..=1001).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let cases = [
        ("/api/v1/series?runs=1&metric=accuracy".to_owned(), "metric", "test_pgd_acc"),
        ("/api/v1/series?runs=1&metric=epoch".to_owned(), "metric", "unknown metric"),
        (format!("/api/v1/series?runs={too_many}"), "runs", "at most 1000"),
        ("/api/v1/series?runs=1,two".to_owned(), "runs", "`two`"),
        ("/api/v1/series?metric=test_pgd_acc".to_owned(), "runs", "runs=1,2,3"),
        ("/api/v1/series?runs=1&max_points=1".to_owned(), "max_points", "between 2 and 5000"),
        ("/api/v1/series?runs=1&max_points=5001".to_owned(), "max_points", "between 2 and 5000"),
        ("/api/v1/series?runs=1&metrc=lr".to_owned(), "query", "metrc"),
    ];
    for (uri, field, message) in cases {
        let (status, body) = get_json(&db, &uri).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {body}");
        assert_eq!(body["field"], field, "{uri}: {body}");
        assert!(body["error"].as_str().unwrap().contains(message), "{uri}: {body}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_the_chart_scripts_as_javascript(db: SqlitePool) {
    for (file, needle) in
        [("uPlot.iife.min.js", "uPlot"), ("charts.js", "advmix.lineChart"), ("live.js", "advmix.live")]
    {
        let (status, content_type, body) = get(ready(db.clone()), &format!("/static/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(content_type, "text/javascript; charset=utf-8", "{file}");
        assert!(body.contains(needle), "{file}");
    }
    let (status, content_type, body) = get(ready(db), "/static/uPlot.min.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/css; charset=utf-8");
    assert!(body.contains(".u-legend"));
}

/// The charts' pure functions (smoothing, reconnecting) are tested in
/// JavaScript with node's own test runner.
#[test]
fn javascript_unit_tests_pass() {
    if Command::new("node").arg("--version").output().is_err() {
        println!("skipped: `node` is not installed, so web/tests cannot run");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Files, not the folder: node 20 and node 22 read folder arguments differently.
    let mut files: Vec<_> = std::fs::read_dir(root.join("web/tests"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no web/tests/*.test.mjs");
    let output = Command::new("node").arg("--test").args(&files).current_dir(&root).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "node --test failed:\n{report}");
}

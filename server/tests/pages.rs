mod common;

use advmix_server::compute::Compute;
use axum::http::StatusCode;
use common::{get, ready, state};
use sqlx::SqlitePool;

async fn insert_run(db: &SqlitePool, name: &str, status: &str, best: Option<f64>) {
    sqlx::query(
        "INSERT INTO runs (name, config, method, dataset, model, epochs, status, epochs_done, best_robust_acc)
         VALUES (?, '{}', 'aom', 'digits', 'small_cnn', 10, ?, 4, ?)",
    )
    .bind(name)
    .bind(status)
    .bind(best)
    .execute(db)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn home_shows_an_empty_state_and_the_compute(db: SqlitePool) {
    let (status, content_type, body) = get(ready(db), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("No runs yet."), "{body}");
    assert!(body.contains("2.11.0+cu130"));
    assert!(body.contains("NVIDIA H100 80GB HBM3"));
    assert!(body.contains("cpu/0"), "the scheduler's slots are listed");
    assert!(!body.contains("<table>"));
}

#[sqlx::test(migrations = "../migrations")]
async fn home_lists_runs_and_escapes_their_names(db: SqlitePool) {
    insert_run(&db, "<script>alert(1)</script>", "running", Some(0.4567)).await;
    insert_run(&db, "baseline", "succeeded", None).await;
    let (status, _, body) = get(ready(db), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || body.contains("&lt;script&gt;"), "{body}");
    assert!(!body.contains("<script>alert(1)"));
    assert!(body.contains("45.7"), "accuracy shown as a percentage");
    assert!(body.contains("2 in all"));
    assert!(body.find("baseline").unwrap() < body.find("alert(1)").unwrap(), "newest first");
}

#[sqlx::test(migrations = "../migrations")]
async fn home_says_why_the_trainer_is_unavailable(db: SqlitePool) {
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
async fn unknown_paths_get_a_404_page(db: SqlitePool) {
    let (status, content_type, body) = get(ready(db), "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("text/html"));
    assert!(body.contains("Page not found"));
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_the_stylesheet_and_nothing_else(db: SqlitePool) {
    let (status, content_type, body) = get(ready(db.clone()), "/static/app.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/css; charset=utf-8");
    assert!(body.contains("prefers-color-scheme: dark"));
    let (status, ..) = get(ready(db), "/static/..%2FCargo.toml").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

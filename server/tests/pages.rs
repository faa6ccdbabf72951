//! What every page shares: the not-found page and the static assets. Each
//! page has its own file (`page_home.rs`, `page_compare.rs`, ...).

mod common;

use axum::http::StatusCode;
use common::{get, ready};
use sqlx::SqlitePool;

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

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{get, ready};
use sqlx::SqlitePool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[sqlx::test(migrations = "../migrations")]
async fn healthz_checks_the_database(db: SqlitePool) {
    let (status, content_type, body) = get(ready(db.clone()), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");

    db.close().await;
    let (status, _, body) = get(ready(db), "/healthz").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!body.contains("closed"), "details stay in the log: {body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_on_a_real_socket_and_stops_on_shutdown(db: SqlitePool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(advmix_server::serve(listener, ready(db), async {
        let _ = stopped.await;
    }));

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains(r#""status":"ok""#));

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn open_creates_a_wal_database_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = advmix_server::store::open(dir.path()).await.unwrap();
    assert!(dir.path().join("advmix.db").exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&db).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&db).await.unwrap();
    assert_eq!(fk, 1);
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('sweeps', 'runs', 'epochs', 'checkpoints')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(tables, 4);
    db.close().await;
    // A second start finds the schema in place and applies nothing twice.
    advmix_server::store::open(dir.path()).await.unwrap().close().await;
}

#[test]
fn refuses_to_listen_beyond_loopback() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: advmix_server::settings::ServeArgs,
    }
    let cli = Cli::parse_from(["advmix", "--host", "0.0.0.0"]);
    let err = cli.serve.addr().unwrap_err().to_string();
    assert!(err.contains("127.0.0.1"), "{err}");
    let cli = Cli::parse_from(["advmix", "--port", "9000"]);
    assert_eq!(cli.serve.addr().unwrap().to_string(), "127.0.0.1:9000");
}

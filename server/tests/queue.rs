//! The queue's order and device preferences, as the scheduler reads it.

use advmix_server::store;
use sqlx::SqlitePool;

async fn queue(db: &SqlitePool, device: &str, priority: i64) -> i64 {
    let config = format!(r#"{{"device": "{device}"}}"#);
    sqlx::query_scalar(
        "INSERT INTO runs (name, config, method, dataset, model, epochs, priority)
         VALUES ('r', ?, 'erm', 'digits', 'small_cnn', 1, ?) RETURNING id",
    )
    .bind(config)
    .bind(priority)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn next(db: &SqlitePool, device: &str) -> Option<i64> {
    store::runs::next_queued(db, device).await.unwrap().map(|r| r.id)
}

#[sqlx::test(migrations = "../migrations")]
async fn slots_take_only_runs_that_accept_their_device(db: SqlitePool) {
    let cuda_only = queue(&db, "cuda", 5).await;
    let cpu_only = queue(&db, "cpu", 1).await;
    let anywhere = queue(&db, "auto", 0).await;
    assert_eq!(next(&db, "cuda:1").await, Some(cuda_only), "priority first");
    assert_eq!(next(&db, "cpu").await, Some(cpu_only), "a CPU slot skips the CUDA-only run");
    sqlx::query("UPDATE runs SET status = 'running' WHERE id IN (?, ?)").bind(cuda_only).bind(cpu_only).execute(&db).await.unwrap();
    assert_eq!(next(&db, "cuda:0").await, Some(anywhere));
    assert_eq!(next(&db, "cpu").await, Some(anywhere));
    sqlx::query("UPDATE runs SET status = 'running'").execute(&db).await.unwrap();
    let _ = queue(&db, "cuda", 0).await;
    assert_eq!(next(&db, "cpu").await, None, "nothing a CPU slot may take");
}

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

/// Every attempt is kept with its span, so a resumed or requeued run's
/// duration counts all of them, however its attempts began and ended.
#[sqlx::test(migrations = "../migrations")]
async fn a_runs_duration_counts_every_attempt(db: SqlitePool) {
    use store::RunStatus;
    let id = queue(&db, "auto", 0).await;
    assert!(store::runs::claim(&db, id, "cpu-0", "cpu").await.unwrap());
    // Pretend the first attempt ran 100 s and was stopped.
    sqlx::query("UPDATE runs SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-300 seconds') WHERE id = ?")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE runs SET status = ?, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-200 seconds') WHERE id = ?")
        .bind(RunStatus::Stopped)
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    assert!(store::runs::requeue(&db, id, true).await.unwrap());
    assert!(store::runs::claim(&db, id, "cpu-0", "cpu").await.unwrap());
    // The cluster started the job again by itself after 50 s.
    sqlx::query("UPDATE runs SET started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-50 seconds') WHERE id = ?")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    store::runs::set_handle(&db, id, "local:1", false).await.unwrap();
    store::runs::new_attempt(&db, id, "requeued after node failure").await.unwrap();
    assert!(store::runs::mark_ended(&db, id, RunStatus::Succeeded, Some(0), None).await.unwrap());

    let attempts = store::runs::attempts(&db, id).await.unwrap();
    let summary: Vec<(i64, Option<&str>)> = attempts.iter().map(|a| (a.attempt, a.status.as_deref())).collect();
    assert_eq!(summary, [(1, Some("stopped")), (2, Some("restarted")), (3, Some("succeeded"))]);
    assert_eq!(attempts[1].error.as_deref(), Some("requeued after node failure"));
    let spans: Vec<f64> = attempts.iter().map(|a| a.seconds.unwrap()).collect();
    assert!((spans[0] - 100.0).abs() < 2.0 && (spans[1] - 50.0).abs() < 2.0 && spans[2] < 2.0, "{spans:?}");
    let detail = store::runs::detail(&db, id).await.unwrap();
    assert!((detail.seconds.unwrap() - 150.0).abs() < 3.0, "{:?}", detail.seconds);
    assert!((detail.seconds_before - 150.0).abs() < 3.0, "{}", detail.seconds_before);
}

//! A trainer killed mid-run, and a server restarted mid-run, with the real
//! trainer on CPU.

mod common;

use std::time::Duration;

use advmix_protocol::RunConfig;
use advmix_server::compute::Compute;
use advmix_server::runner::executor::local::LocalExecutor;
use advmix_server::runner::executor::{Executor, Handle, JobState};
use sqlx::SqlitePool;

fn config(epochs: u32) -> RunConfig {
    let mut c: RunConfig = serde_json::from_value(serde_json::json!({
        "method": "erm", "model": "small_cnn", "dataset": "digits", "epochs": epochs,
        "batch_size": 128, "samples_every": 0, "eval": {"n": 100, "pgd_steps": 2, "final_attack": "none"}
    }))
    .unwrap();
    c.seed = 7;
    c
}

async fn queue(db: &SqlitePool, config: &RunConfig) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = advmix_server::store::runs::insert(&mut tx, None, "lifecycle", config, &Default::default(), 0, None).await.unwrap();
    tx.commit().await.unwrap();
    id
}

type Row = (String, i64, Option<String>, Option<String>);

/// Status, epochs done, executor handle and error.
async fn row(db: &SqlitePool, id: i64) -> Row {
    sqlx::query_as("SELECT status, epochs_done, handle, error FROM runs WHERE id = ?").bind(id).fetch_one(db).await.unwrap()
}

/// Polls until `done` holds for the run's row, or fails after `limit`.
async fn wait_for(db: &SqlitePool, id: i64, limit: Duration, done: impl Fn(&Row) -> bool) -> Row {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let r = row(db, id).await;
        if done(&r) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "run {id} stuck at {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn unavailable() -> Compute {
    Compute::Unavailable { trainer: "".into(), reason: "".into() }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_killed_trainer_leaves_a_failed_run_with_its_metrics(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let (state, stop) = common::harness(db.clone(), unavailable(), common::trainer_bin(), data.path(), 1);
    let scheduling = tokio::spawn(state.runner.clone().run());
    let id = queue(&db, &config(200)).await;
    state.runner.wake();

    let (_, _, handle, _) = wait_for(&db, id, Duration::from_secs(120), |r| r.1 >= 1).await;
    let handle = handle.expect("a running run has an executor handle");
    // As the kernel's OOM killer would: no chance to save or say goodbye.
    let process = handle.strip_prefix("local:").expect("a local job");
    assert!(std::process::Command::new("kill").args(["-s", "KILL", process]).status().unwrap().success());

    let (status, epochs_done, _, error) = wait_for(&db, id, Duration::from_secs(30), |r| r.0 != "running").await;
    assert_eq!(status, "failed");
    let error = error.unwrap();
    assert!(error.contains("SIGKILL"), "{error}");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM epochs WHERE run_id = ?").bind(id).fetch_one(&db).await.unwrap();
    assert!(stored >= 1 && stored == epochs_done, "the metrics it reported are kept: {stored}");
    assert_eq!(common::epochs_in_file(&data.path().join("runs").join(id.to_string())).len() as i64, stored);

    stop.send(true).unwrap();
    scheduling.await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_restarted_server_follows_the_run_to_the_end(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let (first, stop_first) = common::harness(db.clone(), unavailable(), common::trainer_bin(), data.path(), 1);
    let scheduling = tokio::spawn(first.runner.clone().run());
    let epochs = 6;
    let id = queue(&db, &config(epochs)).await;
    first.runner.wake();
    wait_for(&db, id, Duration::from_secs(120), |r| r.1 >= 1).await;

    // The server stops; by default its trainers keep going.
    stop_first.send(true).unwrap();
    scheduling.await.unwrap();
    first.runner.drain(Duration::from_secs(10)).await;
    let (status, done_at_stop, handle, _) = row(&db, id).await;
    assert_eq!(status, "running");
    assert!(done_at_stop < i64::from(epochs), "the restart must happen mid-run");
    let executor = LocalExecutor::new(common::trainer_bin());
    assert_eq!(executor.state(&Handle(handle.unwrap())).await, JobState::Running, "the trainer outlived its server");

    let (second, stop_second) = common::harness(db.clone(), unavailable(), common::trainer_bin(), data.path(), 1);
    let scheduling = tokio::spawn(second.runner.clone().run());
    let (status, epochs_done, _, error) = wait_for(&db, id, Duration::from_secs(180), |r| r.0 != "running").await;
    assert_eq!(status, "succeeded", "{error:?}");
    assert_eq!(epochs_done, i64::from(epochs));

    let stored: Vec<i64> = sqlx::query_scalar("SELECT epoch FROM epochs WHERE run_id = ? ORDER BY epoch").bind(id).fetch_all(&db).await.unwrap();
    assert_eq!(stored, (1..=i64::from(epochs)).collect::<Vec<_>>(), "no epoch missing or duplicated");
    let in_file = common::epochs_in_file(&data.path().join("runs").join(id.to_string()));
    assert_eq!(in_file, (1..=epochs).collect::<Vec<_>>());

    stop_second.send(true).unwrap();
    scheduling.await.unwrap();
}

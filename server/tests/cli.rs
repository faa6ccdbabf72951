//! `advmix tail` against a live server, following a run from queued to done.

mod common;

use std::time::Duration;

use advmix_protocol::RunConfig;
use advmix_server::compute::Compute;
use sqlx::SqlitePool;

#[sqlx::test(migrations = "../migrations")]
async fn tail_prints_a_run_live_until_it_ends(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let compute = Compute::Unavailable { trainer: "".into(), reason: "".into() };
    let (state, stop) = common::harness(db.clone(), compute, common::trainer_bin(), data.path(), 1);
    let config: RunConfig = serde_json::from_value(serde_json::json!({
        "method": "erm", "model": "small_cnn", "dataset": "digits", "epochs": 2,
        "batch_size": 128, "samples_every": 0, "eval": {"n": 100, "pgd_steps": 2, "final_attack": "none"}
    }))
    .unwrap();
    let mut tx = db.begin().await.unwrap();
    let id = advmix_server::store::runs::insert(&mut tx, None, "tailed", &config, &Default::default(), 0, None).await.unwrap();
    tx.commit().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_addr = listener.local_addr().unwrap();
    let url = format!("http://{http_addr}");
    let http = tokio::spawn(advmix_server::serve(listener, state.clone(), {
        let mut shutdown = state.shutdown.clone();
        async move { advmix_server::runner::context::until_shutdown(&mut shutdown).await }
    }));
    // Tail connects while the run is still queued; the scheduler starts after.
    let tail = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_advmix"))
            .args(["tail", &id.to_string(), "--url", &url])
            .output()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let scheduling = tokio::spawn(state.runner.clone().run());

    let out = tokio::time::timeout(Duration::from_secs(180), tail).await.expect("tail ends with the run").unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("is queued"), "{text}");
    assert!(text.contains("started on cpu"), "{text}");
    assert!(text.contains("epoch    1") && text.contains("epoch    2"), "{text}");
    assert!(text.trim_end().lines().last().unwrap().starts_with("finished: best robust"), "{text}");

    // A run that is not there is named, not "not found".
    for verb in ["tail", "download"] {
        let url = format!("http://{}", http_addr);
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_advmix")).args([verb, "999", "--url", &url]).output().unwrap()
        })
        .await
        .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("no run 999"), "{verb}: {err}");
    }

    stop.send(true).unwrap();
    scheduling.await.unwrap();
    http.await.unwrap().unwrap();
}

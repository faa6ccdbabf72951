//! The whole path with the real trainer on CPU: a sweep through the API,
//! the scheduler, the supervisor, the ingest, and the results back out.

mod common;

use advmix_server::runner::bus::BusEvent;
use std::time::Duration;

use advmix_protocol::{Event, EventLine};
use advmix_server::compute::Compute;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sqlx::SqlitePool;
use tower::ServiceExt;

async fn call(state: &advmix_server::AppState, method: &str, uri: &str, body: &str, content_type: &str) -> (StatusCode, Vec<u8>) {
    let request = Request::builder().method(method).uri(uri).header("content-type", content_type).body(Body::from(body.to_owned())).unwrap();
    let response = advmix_server::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn json(state: &advmix_server::AppState, uri: &str) -> serde_json::Value {
    let (status, body) = call(state, "GET", uri, "", "application/json").await;
    assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

const SWEEP: &str = "
name: e2e
method: grid
base: {model: small_cnn, dataset: digits, epochs: 2, batch_size: 128, samples_every: 0,
       eval: {n: 100, pgd_steps: 2, final_attack: aa-fast, final_n: 30}}
parameters:
  method: {values: [erm, aom]}
  aom.steps: {value: 2}
";

#[sqlx::test(migrations = "../migrations")]
async fn a_two_run_sweep_trains_and_its_results_match_the_event_files(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let (state, stop) = common::harness(db.clone(), Compute::Unavailable { trainer: "".into(), reason: "".into() }, common::trainer_bin(), data.path(), 2);
    let scheduling = tokio::spawn(state.runner.clone().run());

    let (status, body) = call(&state, "POST", "/api/v1/sweeps/preview", SWEEP, "application/yaml").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, body) = call(&state, "POST", "/api/v1/sweeps", SWEEP, "application/yaml").await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let sweep: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sweep["runs"], 2);

    // Both runs finish (2 CPU slots, a few seconds each).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let runs = loop {
        let list = json(&state, &format!("/api/v1/runs?sweep={}", sweep["id"])).await;
        let runs = list["runs"].as_array().unwrap().clone();
        if runs.iter().all(|r| r["status"] == "succeeded") {
            break runs;
        }
        assert!(runs.iter().all(|r| r["status"] != "failed"), "{runs:?}");
        assert!(tokio::time::Instant::now() < deadline, "runs did not finish: {runs:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    for run in &runs {
        let id = run["id"].as_i64().unwrap();
        let run_dir = data.path().join("runs").join(id.to_string());
        let lines: Vec<EventLine> = std::fs::read_to_string(run_dir.join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let epochs: Vec<_> = lines
            .iter()
            .filter_map(|l| match &l.event {
                Event::Epoch(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        let from_file: Vec<(u32, f64)> = epochs.iter().map(|m| (m.epoch, m.test_pgd_acc)).collect();
        let stored = json(&state, &format!("/api/v1/runs/{id}/metrics")).await;
        let from_db: Vec<(u32, f64)> = stored
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["epoch"].as_u64().unwrap() as u32, e["test_pgd_acc"].as_f64().unwrap()))
            .collect();
        assert_eq!(from_db, from_file, "run {id}: stored epochs equal the events file");
        let detail = json(&state, &format!("/api/v1/runs/{id}")).await;
        assert_eq!(detail["epochs_done"], 2);
        // The summary columns agree with the events.
        let last = epochs.last().unwrap();
        assert_eq!(detail["final_clean_acc"].as_f64(), Some(last.test_clean_acc));
        assert_eq!(detail["final_robust_acc"].as_f64(), Some(last.test_pgd_acc));
        let best = epochs.iter().map(|m| m.test_pgd_acc).fold(f64::MIN, f64::max);
        assert_eq!(detail["best_robust_acc"].as_f64(), Some(best));

        // A checkpoint downloads whole and by range, matching its sha256.
        let checkpoints = json(&state, &format!("/api/v1/runs/{id}/checkpoints")).await;
        let best = checkpoints.as_array().unwrap().iter().find(|c| c["kind"] == "best").expect("a best checkpoint");
        let (status, bytes) = call(&state, "GET", &format!("/api/v1/checkpoints/{}/download", best["id"]), "", "").await;
        assert_eq!(status, StatusCode::OK);
        use sha2::Digest;
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), best["sha256"].as_str().unwrap());
        let request = Request::get(format!("/api/v1/checkpoints/{}/download", best["id"]))
            .header("range", "bytes=10-19")
            .body(Body::empty())
            .unwrap();
        let response = advmix_server::app(state.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        let part = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&part[..], &bytes[10..20]);

        let (status, csv) = call(&state, "GET", &format!("/api/v1/runs/{id}/metrics.csv"), "", "").await;
        assert_eq!(status, StatusCode::OK);
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with("epoch,lr,"));
        assert_eq!(csv.lines().count(), 3, "a header and two epochs: {csv}");
    }

    let detail = json(&state, &format!("/api/v1/sweeps/{}", sweep["id"])).await;
    assert_eq!((detail["status"].as_str(), detail["succeeded"].as_i64()), (Some("done"), Some(2)));

    // The final stage (aa-fast by default) ran on the last weights of each run.
    for run in &runs {
        let id = run["id"].as_i64().unwrap();
        let evals = json(&state, &format!("/api/v1/runs/{id}/evals")).await;
        let evals = evals.as_array().unwrap();
        assert_eq!(evals.len(), 1, "{evals:?}");
        let e = &evals[0];
        assert_eq!((e["source"].as_str(), e["suite"].as_str(), e["status"].as_str(), e["epoch"].as_i64()), (Some("final"), Some("aa-fast"), Some("succeeded"), Some(2)));
        assert_eq!(e["attacks"].as_array().unwrap().len(), 2);
        let detail = json(&state, &format!("/api/v1/runs/{id}")).await;
        assert_eq!(detail["autoattack_acc"], e["robust_acc"]);
        assert!(e["robust_acc"].as_f64().unwrap() <= detail["final_robust_acc"].as_f64().unwrap() + 0.05);
    }

    // An evaluation job on a checkpoint runs in a scheduler slot and reports
    // its progress as it goes.
    let id = runs[1]["id"].as_i64().unwrap();
    let mut live = state.bus.subscribe();
    let checkpoints = json(&state, &format!("/api/v1/runs/{id}/checkpoints")).await;
    let best = checkpoints.as_array().unwrap().iter().find(|c| c["kind"] == "best").unwrap()["id"].clone();
    let body = r#"{"attack": "aa-fast", "n": 40}"#;
    let (status, body) = call(&state, "POST", &format!("/api/v1/checkpoints/{best}/evaluate"), body, "application/json").await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let queued: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((queued["status"].as_str(), queued["source"].as_str()), (Some("queued"), Some("job")));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let job = loop {
        let job = json(&state, &format!("/api/v1/evals/{}", queued["id"])).await;
        if job["status"] == "succeeded" {
            break job;
        }
        assert_ne!(job["status"], "failed", "{job}");
        assert!(tokio::time::Instant::now() < deadline, "the evaluation did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!((job["n"].as_i64(), job["suite"].as_str()), (Some(40), Some("aa-fast")));
    assert!(job["slot"].as_str().unwrap().starts_with("cpu/"));
    let mut seen = Vec::new();
    while let Ok(event) = live.try_recv() {
        if let BusEvent::Event(event) = event
            && event.run_id == id
        {
            seen.push(match event.line.event {
                Event::EvalProgress(p) => format!("{} {}/{}", p.attack, p.index, p.of),
                Event::Eval(r) => format!("eval {}", r.suite),
                _ => continue,
            });
        }
    }
    assert_eq!(seen, ["apgd-ce 1/2", "apgd-t 2/2", "eval aa-fast"]);
    // Inside each attack the job reports where it is, as a gauge of its own.
    let file = std::fs::read_to_string(data.path().join("evals").join(queued["id"].to_string()).join("events.jsonl")).unwrap();
    let attacks: Vec<String> = file
        .lines()
        .filter_map(|l| match serde_json::from_str::<EventLine>(l).unwrap().event {
            Event::Progress(p) if p.stage == advmix_protocol::events::Stage::Attack => Some(p.attack.unwrap().attack),
            _ => None,
        })
        .collect();
    assert_eq!(attacks.first().map(String::as_str), Some("apgd-ce"), "{file}");
    assert!(job["progress"].is_null(), "a finished job shows no bar: {job}");

    // The artifacts as one archive.
    let id = runs[0]["id"].as_i64().unwrap();
    let (status, tar_bytes) = call(&state, "GET", &format!("/api/v1/runs/{id}/archive"), "", "").await;
    assert_eq!(status, StatusCode::OK);
    let mut names: Vec<String> = tar::Archive::new(&tar_bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    for expected in ["events.jsonl", "checkpoints/best.safetensors", "checkpoints/last.safetensors", "stderr.log", "config.json"] {
        assert!(names.contains(&format!("run-{id}/{expected}")), "{expected} in {names:?}");
    }

    // The CLI against the same server on a real socket.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(advmix_server::serve(listener, state.clone(), async {
        let _ = http_stopped.await;
    }));
    let cli = |args: Vec<String>, dir: std::path::PathBuf| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_advmix")).args(&args).arg("--url").arg(&url).current_dir(dir).output().unwrap()
        })
    };
    let out = cli(vec!["runs".into(), "--sweep".into(), sweep["id"].to_string()], data.path().to_owned()).await.unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(table.matches("succeeded").count(), 2, "{table}");
    let out = cli(vec!["download".into(), id.to_string(), "--kind".into(), "last".into()], data.path().to_owned()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let downloaded = std::fs::read(data.path().join(format!("run-{id}-last.safetensors"))).unwrap();
    let on_disk = std::fs::read(data.path().join("runs").join(id.to_string()).join("checkpoints/last.safetensors")).unwrap();
    assert_eq!(downloaded, on_disk);
    let out = cli(vec!["download".into(), id.to_string(), "--kind".into(), "epoch".into()], data.path().to_owned()).await.unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--epoch N"));
    stop_http.send(()).unwrap();
    http.await.unwrap().unwrap();

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), scheduling).await.unwrap().unwrap();
}

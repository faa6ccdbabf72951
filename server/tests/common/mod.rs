#![allow(dead_code)]

pub mod fake;

use std::path::PathBuf;
use std::sync::Arc;

use advmix_protocol::{CudaDevice, DoctorReport};
use advmix_server::AppState;
use advmix_server::compute::Compute;
use advmix_server::paths::Paths;
use advmix_server::runner::bus::Bus;
use advmix_server::runner::executor::Executor;
use advmix_server::runner::executor::local::LocalExecutor;
use advmix_server::runner::slots::plan_slots;
use advmix_server::runner::{Runner, RunnerConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sqlx::SqlitePool;
use tower::ServiceExt;

pub fn gpu_report() -> DoctorReport {
    DoctorReport {
        torch_version: "2.11.0+cu130".into(),
        libtorch_dir: Some("/opt/torch/lib".into()),
        built_against: "2.11.0".into(),
        cuda_available: true,
        cudnn_available: true,
        cuda_devices: vec![CudaDevice {
            index: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            total_memory_bytes: Some(85 << 30),
        }],
        cpu_threads: 16,
        trainer_version: "0.1.0".into(),
    }
}

/// The trainer binary cargo built for this workspace.
pub fn trainer_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/advmix-trainer");
    assert!(bin.exists(), "{} is missing: build the workspace (`make test` does)", bin.display());
    bin
}

/// An app state whose runner would launch `trainer` on CPU slots in
/// `data_dir`; the scheduler loop is not started unless a test spawns it.
/// Sending `true` on the returned sender begins shutdown.
pub fn harness(
    db: SqlitePool,
    compute: Compute,
    trainer: PathBuf,
    data_dir: &std::path::Path,
    cpu_slots: usize,
) -> (AppState, tokio::sync::watch::Sender<bool>) {
    with_executor(db, compute, Arc::new(LocalExecutor::new(trainer).sharing_cores(cpu_slots)), data_dir, cpu_slots)
}

/// [`harness`] with any executor, such as a test's fake one.
pub fn with_executor(
    db: SqlitePool,
    compute: Compute,
    executor: Arc<dyn Executor>,
    data_dir: &std::path::Path,
    cpu_slots: usize,
) -> (AppState, tokio::sync::watch::Sender<bool>) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let bus = Bus::new(1024);
    let paths = Paths::new(data_dir);
    let runner = Runner::new(
        db.clone(),
        executor,
        bus.clone(),
        shutdown.clone(),
        RunnerConfig {
            slots: plan_slots(None, Some(0), 1, cpu_slots),
            paths: paths.clone(),
            stop_runs_on_exit: false,
            stop_grace: std::time::Duration::from_secs(10),
            poll: std::time::Duration::from_millis(100),
            min_free_bytes: 0,
        },
    );
    let state = AppState {
        db,
        compute: Arc::new(compute),
        paths: Arc::new(paths),
        runner,
        bus,
        max_sweep_runs: 1000,
        shutdown,
        auth: advmix_server::auth::Auth::default(),
        hosts: advmix_server::auth::hosts::AllowedHosts::new(std::net::Ipv4Addr::LOCALHOST.into(), &[]).into(),
    };
    (state, stop)
}

/// Puts (empty) files where CIFAR-10 and CIFAR-100 belong under
/// `data_dir`, so that the server, which checks only that they are there,
/// accepts runs on them; nothing here trains on them.
pub fn with_cifar(data_dir: &std::path::Path) {
    for dataset in [advmix_protocol::Dataset::Cifar10, advmix_protocol::Dataset::Cifar100] {
        let (dir, files, _) = advmix_protocol::layout::dataset_files(dataset).unwrap();
        let dir = data_dir.join("datasets").join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for file in files {
            std::fs::write(dir.join(file), b"").unwrap();
        }
    }
}

/// A state for router tests that launch nothing, on a machine that has CIFAR.
pub fn state(db: SqlitePool, compute: Compute) -> AppState {
    let data = tempfile::tempdir().unwrap().keep();
    with_cifar(&data);
    let (state, stop) = harness(db, compute, "/nonexistent/advmix-trainer".into(), &data, 1);
    // Kept for the life of the test process: a dropped sender reads as shutdown.
    std::mem::forget(stop);
    state
}

pub fn ready(db: SqlitePool) -> AppState {
    state(db, Compute::Ready { trainer: "/opt/advmix/advmix-trainer".into(), report: gpu_report() })
}

/// The epochs a run's events.jsonl records, in file order.
pub fn epochs_in_file(run_dir: &std::path::Path) -> Vec<u32> {
    std::fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| match serde_json::from_str::<advmix_protocol::EventLine>(l).unwrap().event {
            advmix_protocol::Event::Epoch(m) => Some(m.epoch),
            _ => None,
        })
        .collect()
}

/// Sends one GET through the router, as axum's own tests do.
pub async fn get(state: AppState, uri: &str) -> (StatusCode, String, String) {
    let response = advmix_server::app(state).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, String::from_utf8(body.to_vec()).unwrap())
}

/// Creates a sweep through the API, as the launch form and the CLI do.
pub async fn create_sweep(db: &SqlitePool, spec: serde_json::Value) -> i64 {
    let response = advmix_server::app(ready(db.clone()))
        .oneshot(
            Request::post("/api/v1/sweeps")
                .header("content-type", "application/json")
                .body(Body::from(spec.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    body["id"].as_i64().unwrap()
}


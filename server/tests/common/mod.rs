#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use advmix_protocol::{CudaDevice, DoctorReport};
use advmix_server::AppState;
use advmix_server::compute::Compute;
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
        cuda_devices: vec![CudaDevice { index: 0, name: "NVIDIA H100 80GB HBM3".into(), total_memory_bytes: Some(85 << 30) }],
        cpu_threads: 16,
        trainer_version: "0.1.0".into(),
    }
}

pub fn state(db: SqlitePool, compute: Compute) -> AppState {
    AppState { db, compute: Arc::new(compute), data_dir: Arc::new(PathBuf::from("var")) }
}

pub fn ready(db: SqlitePool) -> AppState {
    state(db, Compute::Ready { trainer: "/opt/advmix/advmix-trainer".into(), report: gpu_report() })
}

/// Sends one GET through the router, as axum's own tests do.
pub async fn get(state: AppState, uri: &str) -> (StatusCode, String, String) {
    let response = advmix_server::app(state)
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, String::from_utf8(body.to_vec()).unwrap())
}

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::SqlitePool;

use crate::compute::Compute;
use crate::ingest::Broadcast;
use crate::scheduler::Scheduler;

#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub compute: Arc<Compute>,
    pub data_dir: Arc<PathBuf>,
    pub scheduler: Arc<Scheduler>,
    /// Every ingested event, for the SSE streams.
    pub events: Broadcast,
    pub max_sweep_runs: usize,
    /// Resolves when the server begins to shut down; SSE streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub auth: crate::auth::Auth,
}

impl FromRef<AppState> for SqlitePool {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for Arc<Compute> {
    fn from_ref(state: &AppState) -> Self {
        state.compute.clone()
    }
}

impl FromRef<AppState> for Arc<Scheduler> {
    fn from_ref(state: &AppState) -> Self {
        state.scheduler.clone()
    }
}

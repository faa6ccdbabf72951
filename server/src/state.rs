use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::SqlitePool;

use crate::compute::Compute;

#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub compute: Arc<Compute>,
    pub data_dir: Arc<PathBuf>,
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

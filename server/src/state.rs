use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::SqlitePool;

use crate::auth::hosts::AllowedHosts;
use crate::auth::token::Auth;
use crate::compute::Compute;
use crate::paths::Paths;
use crate::runner::Runner;
use crate::runner::bus::Bus;

#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub compute: Arc<Compute>,
    pub paths: Arc<Paths>,
    pub runner: Runner,
    /// Every ingested event and status change, for the SSE streams.
    pub bus: Bus,
    pub max_sweep_runs: usize,
    /// Resolves when the server begins to shut down; SSE streams end then.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub auth: Auth,
    /// The Host names requests may carry.
    pub hosts: Arc<AllowedHosts>,
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

impl FromRef<AppState> for Runner {
    fn from_ref(state: &AppState) -> Self {
        state.runner.clone()
    }
}

impl FromRef<AppState> for Arc<Paths> {
    fn from_ref(state: &AppState) -> Self {
        state.paths.clone()
    }
}

impl FromRef<AppState> for Arc<AllowedHosts> {
    fn from_ref(state: &AppState) -> Self {
        state.hosts.clone()
    }
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

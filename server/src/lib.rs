//! The advmix server: experiment store, trainer supervision and web pages.
//!
//! Layout: `app` builds the router; `pages/` holds one module per HTML page,
//! `api/` the JSON endpoints; `db` opens and migrates the store, `store` has
//! the shared run queries; `compute` asks the trainer what devices this
//! machine has; `scheduler` starts queued runs in free slots through an
//! `executor`, and a `supervisor` task per run follows it, feeding
//! `ingest` (events.jsonl into SQLite and out to live subscribers).

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod compute;
pub mod csrf;
pub mod db;
pub mod error;
pub mod evals;
pub mod executor;
pub mod ingest;
pub mod pages;
pub mod scheduler;
pub mod settings;
pub mod state;
pub mod static_files;
pub mod store;
pub mod supervisor;

use std::future::Future;

use tokio::net::TcpListener;

pub use app::app;
pub use state::AppState;

/// Serves the app on `listener` until `shutdown` resolves, then finishes the
/// requests in flight. Tests pass a listener bound to port 0.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

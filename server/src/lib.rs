//! The advmix server: experiment store, trainer supervision and web pages.
//!
//! Layout: `app` builds the router; `pages/` holds one module per HTML page,
//! `api/` the JSON endpoints; `db` opens and migrates the store; `compute`
//! asks the trainer what devices this machine has.

pub mod api;
pub mod app;
pub mod compute;
pub mod db;
pub mod error;
pub mod pages;
pub mod settings;
pub mod state;
pub mod static_files;

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

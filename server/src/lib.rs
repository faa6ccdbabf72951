//! The advmix server: experiment store, job runner and web pages.
//!
//! Layers, each calling only the ones below it:
//! - `pages/` (HTML) and `api/` (JSON), wired by `app`, behind `auth` and `csrf`;
//! - `service/`: the actions both of them take (stop, resume, submit a sweep…);
//! - `runner/`: slots, the scheduler loop, one task per job, the executors,
//!   the event ingest and the bus; and `store/`: all SQL;
//! - `advmix_protocol`: the types shared with the trainer.
//!
//! `paths` names the files under the data directory, `compute` asks the
//! trainer what devices this machine has, `listen` is the accept loop and
//! its connection limits.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod compute;
pub mod csrf;
pub mod error;
pub mod listen;
pub mod pages;
pub mod paths;
pub mod render;
pub mod runner;
pub mod service;
pub mod settings;
pub mod state;
pub mod static_files;
pub mod store;

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
    serve_with(listener, state, listen::Limits::default(), shutdown).await
}

/// [`serve`] with the connection limits of `advmix serve`'s flags.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    limits: listen::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve(listener, app(state), limits, shutdown).await
}

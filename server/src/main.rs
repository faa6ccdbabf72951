use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use advmix_server::settings::ServeArgs;
use advmix_server::{AppState, compute, db, serve};

#[derive(Parser)]
#[command(name = "advmix", version, about = "Adversarial-robustness experiments: server and CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and API.
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("advmix=info,advmix_server=info,tower_http=warn")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => run_server(args).await,
    }
}

async fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.addr()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
    let data_dir = std::path::absolute(&args.data_dir)?;
    let pool = db::open(&data_dir).await?;
    tracing::info!(db = %data_dir.join(db::DB_FILE).display(), "database ready");

    let trainer = args.trainer.clone().unwrap_or_else(compute::default_trainer_path);
    let compute = compute::probe(&trainer).await;
    match &compute {
        compute::Compute::Ready { report, .. } => tracing::info!(
            torch = %report.torch_version,
            cuda_devices = report.cuda_devices.len(),
            "trainer ready"
        ),
        compute::Compute::Unavailable { reason, .. } => {
            tracing::warn!(trainer = %trainer.display(), %reason, "trainer unavailable")
        }
    }

    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}: is another advmix already running? Pick another --port"))?;
    tracing::info!("advmix listening on http://{addr}");
    let state = AppState { db: pool.clone(), compute: compute.into(), data_dir: data_dir.into() };
    serve(listener, state, shutdown_signal()).await?;
    pool.close().await;
    tracing::info!("advmix stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

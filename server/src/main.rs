use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use std::sync::Arc;
use std::time::Duration;

use advmix_server::paths::Paths;
use advmix_server::runner::bus::Bus;
use advmix_server::runner::executor::Executor;
use advmix_server::runner::executor::local::LocalExecutor;
use advmix_server::runner::executor::slurm::{self, SlurmExecutor};
use advmix_server::runner::slots::{cluster_slots, plan_slots};
use advmix_server::runner::{Runner, RunnerConfig};
use advmix_server::settings::{ExecutorKind, ServeArgs};
use advmix_server::{AppState, cli, compute, serve_with, store};

#[derive(Parser)]
#[command(name = "advmix", version, about = "Adversarial-robustness experiments: server and CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The server the other subcommands talk to.
    #[arg(long, global = true, env = "ADVMIX_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and API.
    Serve(ServeArgs),
    /// Sweeps: `advmix sweep submit sweep.yaml`.
    #[command(subcommand)]
    Sweep(SweepCommand),
    /// List runs as a table.
    Runs {
        #[arg(long)]
        sweep: Option<i64>,
        /// queued, running, succeeded, failed, stopped or lost.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Print a run's events as they happen, until it ends.
    Tail { run: i64 },
    /// Download a run's checkpoint, with a progress bar; an interrupted
    /// download continues where it stopped.
    Download {
        run: i64,
        /// best, last, or epoch (with --epoch N).
        #[arg(long, default_value = "best")]
        kind: String,
        #[arg(long)]
        epoch: Option<i64>,
        /// Output file; by default run-ID-NAME.safetensors here.
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
    /// A results table (mean ± std over seeds) of a sweep or of chosen runs:
    /// `advmix table 3 --by method,aom.labels --format latex`.
    Table {
        /// The sweep; or leave it out and pass --runs.
        sweep: Option<i64>,
        /// Hand-picked runs instead of a sweep: --runs 4,7,9.
        #[arg(long, conflicts_with = "sweep")]
        runs: Option<String>,
        /// Keys to group by, comma-separated; by default the swept ones.
        #[arg(long)]
        by: Option<String>,
        /// markdown, latex or csv.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// Add the published results that compare with the runs.
        #[arg(long)]
        published: bool,
        /// Write the table here instead of printing it.
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum SweepCommand {
    /// Create a sweep from a YAML or JSON spec; prints its id and run count.
    Submit { file: std::path::PathBuf },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let client = cli::Client::new(&cli.url);
    let result = match cli.command {
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| EnvFilter::new("advmix=info,advmix_server=info,tower_http=warn")),
                )
                .init();
            tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(run_server(args)))
        }
        Command::Sweep(SweepCommand::Submit { file }) => cli::submit_sweep(&client, &file),
        Command::Runs { sweep, status, limit } => cli::runs(&client, sweep, status.as_deref(), limit),
        Command::Tail { run } => cli::tail(&client, run),
        Command::Table { sweep, runs, by, format, published, output } => {
            let of = match (sweep, runs) {
                (Some(id), _) => Ok(cli::TableOf::Sweep(id)),
                (None, Some(ids)) => Ok(cli::TableOf::Runs(ids)),
                (None, None) => Err(anyhow::anyhow!("name a sweep (`advmix table 3`) or runs (`advmix table --runs 4,7`)")),
            };
            of.and_then(|of| cli::table(&client, &of, by.as_deref(), &format, published, output.as_deref()))
        }
        Command::Download { run, kind, epoch, output } => match (kind.as_str(), epoch) {
            ("best", None) => cli::download(&client, run, cli::Kind::Best, output),
            ("last", None) => cli::download(&client, run, cli::Kind::Last, output),
            ("epoch", Some(n)) => cli::download(&client, run, cli::Kind::Epoch(n), output),
            _ => Err(anyhow::anyhow!("use --kind best, --kind last, or --kind epoch --epoch N")),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    let addr = args.addr()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create the data directory {}", args.data_dir.display()))?;
    let data_dir = std::path::absolute(&args.data_dir)?;
    let pool = store::open(&data_dir).await?;
    tracing::info!(db = %data_dir.join(store::DB_FILE).display(), "database ready");

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
    let (executor, slots): (Arc<dyn Executor>, _) = match args.executor {
        ExecutorKind::Local => {
            let slots = plan_slots(compute.report(), args.gpus, args.runs_per_gpu, args.cpu_slots);
            (Arc::new(LocalExecutor::new(trainer).sharing_cores(slots.len())), slots)
        }
        ExecutorKind::Slurm => {
            // Compute nodes run the same path, so it must not be relative.
            let trainer = std::path::absolute(&trainer)?;
            let config = args.slurm.config();
            let slots = cluster_slots(slurm::NAME, config.max_jobs, config.device());
            let slurm = SlurmExecutor::new(trainer, config, Duration::from_secs(2));
            if args.slurm.slurm_skip_probe {
                tracing::warn!("not checking that the compute nodes see the data directory (--slurm-skip-probe)");
            } else {
                tracing::info!(data_dir = %data_dir.display(), "checking with a probe job that the compute nodes see the data directory");
                slurm.probe(&data_dir, Duration::from_secs(args.slurm.slurm_probe_timeout)).await?;
                tracing::info!("the probe job wrote its file: the data directory is shared");
            }
            (Arc::new(slurm), slots)
        }
    };
    tracing::info!(slots = ?slots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), "run slots");

    let listener = TcpListener::bind(addr).await.map_err(|e| bind_error(addr, e))?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let bus = Bus::new(4096);
    let paths = Paths::new(data_dir.clone());
    let runner = Runner::new(
        pool.clone(),
        executor,
        bus.clone(),
        shutdown.clone(),
        RunnerConfig {
            slots,
            paths: paths.clone(),
            stop_runs_on_exit: args.stop_runs_on_exit,
            stop_grace: Duration::from_secs(args.stop_grace),
            poll: Duration::from_millis(250),
            min_free_bytes: args.min_free_mb.saturating_mul(1 << 20),
        },
    );
    let scheduling = tokio::spawn(runner.clone().run());
    tracing::info!("advmix listening on http://{addr}");
    let state = AppState {
        db: pool.clone(),
        compute: compute.into(),
        paths: paths.into(),
        runner: runner.clone(),
        bus,
        max_sweep_runs: args.max_sweep_runs,
        shutdown,
        auth: advmix_server::auth::Auth::new(args.access_token()?)
            .session_ttl(Duration::from_secs(args.session_hours.max(1) * 3600))
            .secure_cookies(args.secure_cookies),
        hosts: advmix_server::auth::hosts::AllowedHosts::new(args.host, &args.allowed_hosts).into(),
    };
    serve_with(listener, state, args.limits.limits(), async move {
        shutdown_signal().await;
        // Tells the runner, the jobs' tasks and the SSE streams at once.
        let _ = stop.send(true);
    })
    .await?;
    let _ = scheduling.await;
    runner.drain(Duration::from_secs(args.stop_grace + 10)).await;
    pool.close().await;
    tracing::info!("advmix stopped");
    Ok(())
}

/// Why the address cannot be listened on, in terms of what to do.
fn bind_error(addr: std::net::SocketAddr, e: std::io::Error) -> anyhow::Error {
    let advice = match e.kind() {
        std::io::ErrorKind::AddrInUse => "something else (another advmix?) listens there: stop it or pick another --port",
        std::io::ErrorKind::AddrNotAvailable => "no network interface of this machine has that address: check --host",
        std::io::ErrorKind::PermissionDenied => "ports below 1024 need root: pick a --port of 1024 or more",
        _ => "check --host and --port",
    };
    anyhow::anyhow!("cannot listen on {addr} ({e}): {advice}")
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

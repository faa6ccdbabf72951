//! API latency at scale: a store of many finished runs, the real server on a
//! loopback port, and a plain blocking HTTP client timing sequential
//! requests to the run list and the per-run metrics.
//!
//!     cargo run --release -p advmix-server --example bench_api -- [RUNS] [EPOCHS] [REQUESTS]
//!
//! Defaults: 10,000 runs × 200 epochs (2,000,000 epoch rows of 11 metrics),
//! 200 timed requests per endpoint. The data is synthetic but shaped like a
//! real store: 80% of runs in sweeps of 100, six methods, mostly succeeded,
//! a spread of robust accuracies, a few tags. The server runs with a real
//! AppState on the database `store::open` configures; its scheduler is not
//! started, so nothing else touches the database.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use advmix_protocol::RunConfig;
use advmix_server::auth::Auth;
use advmix_server::compute::Compute;
use advmix_server::paths::Paths;
use advmix_server::runner::bus::Bus;
use advmix_server::runner::executor::local::LocalExecutor;
use advmix_server::runner::slots::plan_slots;
use advmix_server::runner::{Runner, RunnerConfig};
use advmix_server::{AppState, serve, store};
use anyhow::{anyhow, ensure};
use serde_json::Value;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Consecutive runs per sweep, as a sweep's runs are created together.
const SWEEP_SIZE: i64 = 100;
/// Untimed requests per endpoint first: connection set-up and cold caches
/// are not what a user browsing the list sees.
const WARMUP: usize = 5;

struct Args {
    runs: i64,
    epochs: i64,
    requests: usize,
}

/// One endpoint to time: how to pick the next request's path, and how to
/// tell that a response is the full, right answer.
struct Endpoint {
    name: &'static str,
    path: Box<dyn FnMut() -> String + Send>,
    check: Check,
}

type Check = Box<dyn Fn(&str) -> anyhow::Result<()> + Send>;
type Server = tokio::task::JoinHandle<std::io::Result<()>>;

struct Timings {
    name: &'static str,
    /// Sorted, fastest first.
    millis: Vec<f64>,
    bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let data_dir = tempfile::tempdir()?;
    let db = store::open(data_dir.path()).await?;

    let start = Instant::now();
    generate(&db, args.runs, args.epochs).await?;
    println!(
        "api: generated {} runs x {} epochs ({} epoch rows) in {:.1} s",
        args.runs,
        args.epochs,
        args.runs * args.epochs,
        start.elapsed().as_secs_f64()
    );

    let (addr, stop, server) = start_server(db, data_dir.path()).await?;
    let endpoints = endpoints(&args);
    let requests = args.requests;
    let timings = tokio::task::spawn_blocking(move || measure(addr, endpoints, requests)).await??;
    let _ = stop.send(true);
    server.await??;
    report(requests, &timings);
    Ok(())
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let args = Args {
        runs: arg(args.next(), "RUNS", 10_000)?,
        epochs: arg(args.next(), "EPOCHS", 200)?,
        requests: arg(args.next(), "REQUESTS", 200)?,
    };
    // The filtered list asks for page 37 of the succeeded runs.
    ensure!(args.runs >= 5_000 && args.epochs > 0 && args.requests > 0, "need RUNS >= 5000, EPOCHS and REQUESTS > 0");
    Ok(args)
}

/// A positional argument, or `default` when it is not given.
fn arg<T: FromStr>(value: Option<String>, name: &str, default: T) -> anyhow::Result<T> {
    value.map_or(Ok(default), |v| v.parse().map_err(|_| anyhow!("{name} must be a number, not `{v}`")))
}

/// Fills the store in one transaction with set-based INSERT ... SELECT over
/// a counter, so SQLite generates the rows itself: millions of rows bound
/// one by one from Rust would take minutes. Every value is a function of the
/// run id (and epoch), so each run is reproducible.
async fn generate(db: &SqlitePool, runs: i64, epochs: i64) -> anyhow::Result<()> {
    // The first 80% of runs belong to sweeps, the rest were started alone.
    let swept = runs * 8 / 10;
    let mut tx = db.begin().await?;
    insert_sweeps(&mut tx, (swept + SWEEP_SIZE - 1) / SWEEP_SIZE).await?;
    insert_runs(&mut tx, runs, swept, epochs).await?;
    insert_epochs(&mut tx, epochs).await?;
    insert_tags(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_sweeps(conn: &mut SqliteConnection, sweeps: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sweeps (id, name, spec)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         SELECT i, 'sweep-' || i, '{\"grid\":{\"lr_max\":[0.05,0.1],\"seed\":[0,1,2,3,4]}}' FROM n",
    )
    .bind(sweeps)
    .execute(conn)
    .await?;
    Ok(())
}

/// Finished-looking runs with their summary columns filled in. `h` spreads
/// ids over 0..100 for the status mix: 60% succeeded, 15% failed, 10%
/// stopped, 5% lost, 10% running.
async fn insert_runs(conn: &mut SqliteConnection, runs: i64, swept: i64, epochs: i64) -> anyhow::Result<()> {
    let config = serde_json::to_string(&RunConfig::default())?;
    sqlx::query(
        "INSERT INTO runs (id, sweep_id, name, config, params, method, dataset, model, epochs, status, attempt,
                           created_at, started_at, finished_at, exit_code, error, epochs_done,
                           best_robust_acc, best_epoch, final_clean_acc, final_robust_acc)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1),
         r AS (SELECT i, (i * 2654435761) % 100 AS h,
                      (i * 7919) % 10007 / 10007.0 AS u,
                      CASE i % 6 WHEN 0 THEN 'erm' WHEN 1 THEN 'mixup' WHEN 2 THEN 'pgd_at'
                                 WHEN 3 THEN 'trades' WHEN 4 THEN 'mixup_pgd' ELSE 'aom' END AS method
               FROM n)
         SELECT i,
                CASE WHEN i <= ?2 THEN 1 + (i - 1) / ?3 END,
                CASE WHEN i <= ?2 THEN 'sweep-' || (1 + (i - 1) / ?3) || '/' || i ELSE 'run-' || i END,
                json_set(?4, '$.method', method),
                CASE WHEN i <= ?2 THEN json_object('lr_max', 0.05 * (1 + i % 2), 'seed', i % 5) ELSE '{}' END,
                method, 'cifar10', 'preact_resnet18', ?5,
                CASE WHEN h < 60 THEN 'succeeded' WHEN h < 75 THEN 'failed' WHEN h < 85 THEN 'stopped'
                     WHEN h < 90 THEN 'lost' ELSE 'running' END,
                1,
                strftime('%Y-%m-%dT%H:%M:%fZ', 1790000000 + i * 600, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%fZ', 1790000000 + i * 600 + 30, 'unixepoch'),
                CASE WHEN h < 90 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 1790000000 + i * 600 + 86400, 'unixepoch') END,
                CASE WHEN h < 60 THEN 0 WHEN h < 75 THEN 1 END,
                CASE WHEN h >= 60 AND h < 75 THEN 'exit code 1' END,
                ?5,
                0.30 + 0.25 * u, 1 + i % ?5, 0.75 + 0.1 * u, 0.29 + 0.25 * u
         FROM r",
    )
    .bind(runs)
    .bind(swept)
    .bind(SWEEP_SIZE)
    .bind(&config)
    .bind(epochs)
    .execute(conn)
    .await?;
    Ok(())
}

/// `epochs` rows for every run. CROSS JOIN keeps `runs` as the outer loop,
/// so rows arrive in primary key order and each insert appends to the
/// WITHOUT ROWID b-tree.
async fn insert_epochs(conn: &mut SqliteConnection, epochs: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO epochs (run_id, epoch, lr, train_loss, train_acc, train_clean_loss, train_clean_acc,
                             test_clean_loss, test_clean_acc, test_pgd_loss, test_pgd_acc,
                             epoch_seconds, images_per_second)
         WITH RECURSIVE e(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM e WHERE n < ?1)
         SELECT run_id, n,
                CASE WHEN p <= 0.5 THEN 0.1 WHEN p <= 0.75 THEN 0.01 ELSE 0.001 END,
                2.3 / (1 + 4 * p) + j, 0.3 + 0.5 * p + j, 2.0 / (1 + 6 * p) + j, 0.4 + 0.5 * p + j,
                1.8 / (1 + 3 * p) + j, 0.45 + 0.4 * p + j, 2.2 / (1 + 1.5 * p) + j, best * (0.6 + 0.4 * p) + j,
                95 + 1000 * j, 520 + 4000 * j
         FROM (SELECT r.id AS run_id, e.n AS n, e.n * 1.0 / ?1 AS p, r.best_robust_acc AS best,
                      ((r.id * 31 + e.n * 17) % 101) / 10100.0 AS j
               FROM runs r CROSS JOIN e)",
    )
    .bind(epochs)
    .execute(conn)
    .await?;
    Ok(())
}

/// A tag on every tenth run and another on every 25th, for the list's
/// per-run tag subquery to find.
async fn insert_tags(conn: &mut SqliteConnection) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO run_tags (run_id, tag)
         SELECT id, 'baseline' FROM runs WHERE id % 10 = 0
         UNION ALL SELECT id, 'paper' FROM runs WHERE id % 25 = 0",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The real router on 127.0.0.1:0, with the state `main` builds except that
/// the scheduler loop is not started and the trainer does not exist: these
/// endpoints only read the store. Sending `true` stops it.
async fn start_server(db: SqlitePool, data_dir: &Path) -> anyhow::Result<(SocketAddr, watch::Sender<bool>, Server)> {
    let (stop, shutdown) = watch::channel(false);
    let bus = Bus::new(4096);
    let trainer = PathBuf::from("/nonexistent/advmix-trainer");
    let paths = Paths::new(data_dir);
    let runner = Runner::new(
        db.clone(),
        Arc::new(LocalExecutor::new(trainer.clone())),
        bus.clone(),
        shutdown.clone(),
        RunnerConfig {
            slots: plan_slots(None, Some(0), 1, 1),
            paths: paths.clone(),
            stop_runs_on_exit: false,
            stop_grace: Duration::from_secs(10),
            poll: Duration::from_millis(250),
            min_free_bytes: 0,
        },
    );
    let state = AppState {
        db,
        compute: Arc::new(Compute::Unavailable { trainer, reason: "benchmark: no trainer".into() }),
        paths: Arc::new(paths),
        runner,
        bus,
        max_sweep_runs: 1000,
        shutdown: shutdown.clone(),
        auth: Auth::default(),
        hosts: advmix_server::auth::hosts::AllowedHosts::new(std::net::Ipv4Addr::LOCALHOST.into(), &[]).into(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut until_stopped = shutdown;
    let server = tokio::spawn(serve(listener, state, async move {
        let _ = until_stopped.wait_for(|&stopping| stopping).await;
    }));
    Ok((addr, stop, server))
}

fn endpoints(args: &Args) -> Vec<Endpoint> {
    let (runs, epochs) = (args.runs, args.epochs);
    let mut ids = RandomIds::new(runs, 1);
    let mut csv_ids = RandomIds::new(runs, 2);
    vec![
        Endpoint {
            name: "GET /api/v1/runs?per_page=50",
            path: Box::new(|| "/api/v1/runs?per_page=50".into()),
            check: Box::new(move |body| check_list(body, Some(runs), None)),
        },
        Endpoint {
            name: "GET /api/v1/runs?sort=best_robust_acc&order=desc&status=succeeded&per_page=50&page=37",
            path: Box::new(|| {
                "/api/v1/runs?sort=best_robust_acc&order=desc&status=succeeded&per_page=50&page=37".into()
            }),
            check: Box::new(|body| check_list(body, None, Some("succeeded"))),
        },
        Endpoint {
            name: "GET /api/v1/runs/{id}/metrics",
            path: Box::new(move || format!("/api/v1/runs/{}/metrics", ids.next())),
            check: Box::new(move |body| {
                let rows = serde_json::from_str::<Value>(body)?.as_array().map_or(0, Vec::len);
                ensure!(rows as i64 == epochs, "{rows} metric rows, expected {epochs}");
                Ok(())
            }),
        },
        Endpoint {
            name: "GET /api/v1/runs/{id}/metrics.csv",
            path: Box::new(move || format!("/api/v1/runs/{}/metrics.csv", csv_ids.next())),
            check: Box::new(move |body| {
                let lines = body.lines().count();
                ensure!(lines as i64 == epochs + 1, "{lines} CSV lines, expected a header and {epochs} rows");
                Ok(())
            }),
        },
    ]
}

/// A full page of runs, with the expected total and, for a status filter,
/// only that status, best robust accuracy first.
fn check_list(body: &str, total: Option<i64>, status: Option<&str>) -> anyhow::Result<()> {
    let page: Value = serde_json::from_str(body)?;
    let runs = page["runs"].as_array().ok_or_else(|| anyhow!("no `runs` in the list"))?;
    ensure!(runs.len() == 50, "{} runs on the page, expected 50", runs.len());
    if let Some(total) = total {
        ensure!(page["total"] == total, "total {}, expected {total}", page["total"]);
    }
    if let Some(status) = status {
        ensure!(runs.iter().all(|r| r["status"] == status), "a run on the page is not {status}");
        let best: Vec<f64> = runs.iter().filter_map(|r| r["best_robust_acc"].as_f64()).collect();
        ensure!(best.windows(2).all(|w| w[0] >= w[1]), "the page is not sorted by best_robust_acc");
    }
    Ok(())
}

/// Times each endpoint in turn over one keep-alive connection, as a browser
/// would use it. A request's time runs until its whole body is read; the
/// check runs after the clock stops.
fn measure(addr: SocketAddr, endpoints: Vec<Endpoint>, requests: usize) -> anyhow::Result<Vec<Timings>> {
    let agent = ureq::Agent::new_with_defaults();
    let mut all = Vec::new();
    for mut endpoint in endpoints {
        let mut millis = Vec::with_capacity(requests);
        let mut bytes = 0;
        for k in 0..WARMUP + requests {
            let url = format!("http://{addr}{}", (endpoint.path)());
            let start = Instant::now();
            let body = agent.get(&url).call()?.body_mut().read_to_string()?;
            let elapsed = start.elapsed();
            (endpoint.check)(&body).map_err(|e| anyhow!("{url}: {e}"))?;
            if k >= WARMUP {
                millis.push(elapsed.as_secs_f64() * 1e3);
                bytes = bytes.max(body.len());
            }
        }
        millis.sort_by(f64::total_cmp);
        all.push(Timings { name: endpoint.name, millis, bytes });
    }
    Ok(all)
}

/// Run ids in 1..=runs from SplitMix64 with a fixed seed: the same ids on
/// every machine, without a dependency.
struct RandomIds {
    state: u64,
    runs: u64,
}

impl RandomIds {
    fn new(runs: i64, seed: u64) -> Self {
        RandomIds { state: seed, runs: runs.unsigned_abs() }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        1 + (z ^ (z >> 31)) % self.runs
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(requests: usize, timings: &[Timings]) {
    println!("{requests} sequential requests per endpoint after {WARMUP} untimed, one keep-alive connection");
    println!("| endpoint | p50 ms | p99 ms | max ms | response bytes (largest) |");
    println!("|---|---|---|---|---|");
    for t in timings {
        println!(
            "| `{}` | {:.2} | {:.2} | {:.2} | {} |",
            t.name,
            percentile(&t.millis, 0.5),
            percentile(&t.millis, 0.99),
            t.millis.last().copied().unwrap_or(0.0),
            t.bytes
        );
    }
}

//! Ingest rate through the real path: trainers append epoch events to their
//! `events.jsonl`, and per-run ingest loops move them into SQLite, all at
//! once against one database opened by `store::open` (WAL, busy timeout).
//!
//!     cargo run --release -p advmix-server --example bench_ingest -- [RUNS] [EPOCHS] [WRITE_SECONDS] [POLL_MS]
//!
//! Defaults: 16 runs × 5,000 epoch lines, each writer spreading its lines
//! evenly over 3 s, polled every 250 ms (the server's follower tick). Each
//! writer is a thread writing one `write` per line, as the trainer does.
//! To find the ingest's ceiling, offer more than it can take (e.g. 16 runs ×
//! 40,000 lines over 3 s): it falls behind the writers, and the rate is what
//! it sustains. WRITE_SECONDS 0 leaves the writers unpaced; on a small
//! machine they then starve the ingest until they finish. At the end every
//! run's rows are checked against what its writer wrote.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use advmix_protocol::events::EpochMetrics;
use advmix_protocol::{Event, EventLine, RunConfig};
use advmix_server::runner::bus::Bus;
use advmix_server::runner::ingest;
use advmix_server::store;
use anyhow::{anyhow, bail, ensure};
use sqlx::SqlitePool;

/// The columns of `epochs` besides the key: what one epoch event carries.
const METRICS_PER_EPOCH: usize = 11;

struct Args {
    runs: usize,
    epochs: u32,
    /// How long each writer takes over its lines; zero: no pacing.
    write_for: Duration,
    poll: Duration,
}

/// What one ingest loop did: events applied, and the transactions that
/// applied them (polls that found nothing new commit nothing).
#[derive(Default)]
struct Followed {
    events: usize,
    commits: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let data_dir = tempfile::tempdir()?;
    let db = store::open(data_dir.path()).await?;
    let runs = insert_runs(&db, data_dir.path(), args.runs).await?;
    // No subscriber, as when nobody has a dashboard open; the ingest still
    // hands each applied event to the channel, as the runner's does.
    let events = Bus::new(1024);

    let start = Instant::now();
    let mut writers = Vec::new();
    let mut followers = tokio::task::JoinSet::new();
    for (run_id, path) in &runs {
        let done = Arc::new(AtomicBool::new(false));
        writers.push(spawn_writer(path.clone(), args.epochs, args.write_for, done.clone()));
        followers.spawn(follow(db.clone(), *run_id, path.clone(), done, args.poll, events.clone()));
    }
    // Joining blocks the main thread, which is not a runtime worker: the
    // ingest loops keep running meanwhile.
    let mut writing = Duration::ZERO;
    for writer in writers {
        let elapsed = writer.join().map_err(|_| anyhow!("a writer panicked"))??;
        writing = writing.max(elapsed);
    }
    let mut total = Followed::default();
    while let Some(followed) = followers.join_next().await {
        let followed = followed??;
        total.events += followed.events;
        total.commits += followed.commits;
    }
    let wall = start.elapsed();

    verify(&db, &runs, args.epochs, total.events).await?;
    report(&args, &total, writing, wall);
    Ok(())
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let args = Args {
        runs: arg(args.next(), "RUNS", 16)?,
        epochs: arg(args.next(), "EPOCHS", 5_000)?,
        write_for: Duration::try_from_secs_f64(arg(args.next(), "WRITE_SECONDS", 3.0)?)?,
        poll: Duration::from_millis(arg(args.next(), "POLL_MS", 250)?),
    };
    ensure!(args.runs > 0 && args.epochs > 0, "RUNS and EPOCHS must be positive");
    Ok(args)
}

/// A positional argument, or `default` when it is not given.
fn arg<T: FromStr>(value: Option<String>, name: &str, default: T) -> anyhow::Result<T> {
    value.map_or(Ok(default), |v| v.parse().map_err(|_| anyhow!("{name} must be a number, not `{v}`")))
}

/// Queued runs as the API creates them, each with its run directory.
async fn insert_runs(db: &SqlitePool, data_dir: &Path, count: usize) -> anyhow::Result<Vec<(i64, PathBuf)>> {
    let mut runs = Vec::with_capacity(count);
    let mut tx = db.begin().await?;
    for k in 0..count {
        let id = store::runs::insert(&mut tx, None, &format!("bench-{k}"), &RunConfig::default(), &Default::default(), 0, None)
            .await?;
        let dir = data_dir.join("runs").join(id.to_string());
        std::fs::create_dir_all(&dir)?;
        runs.push((id, dir.join("events.jsonl")));
    }
    tx.commit().await?;
    Ok(runs)
}

/// A trainer: appends `epochs` epoch events, one `write` per line, line k
/// due at k/epochs of `write_for` (on an absolute schedule, so oversleeping
/// one line does not slow the rest), then raises `done`. Returns how long
/// the writing took.
fn spawn_writer(
    path: PathBuf,
    epochs: u32,
    write_for: Duration,
    done: Arc<AtomicBool>,
) -> thread::JoinHandle<anyhow::Result<Duration>> {
    thread::spawn(move || {
        let start = Instant::now();
        let pace = write_for / epochs;
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        for epoch in 1..=epochs {
            if let Some(wait) = (start + pace * epoch).checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let event = EventLine { time: now(), event: Event::Epoch(metrics(epoch, epochs)) };
            let mut line = serde_json::to_string(&event)?;
            line.push('\n');
            file.write_all(line.as_bytes())?;
        }
        done.store(true, Ordering::Release);
        Ok(start.elapsed())
    })
}

/// The follower's loop: ingest on every tick until the writer is done.
async fn follow(
    db: SqlitePool,
    run_id: i64,
    path: PathBuf,
    done: Arc<AtomicBool>,
    poll: Duration,
    events: Bus,
) -> anyhow::Result<Followed> {
    let mut followed = Followed::default();
    let mut tick = tokio::time::interval(poll);
    loop {
        tick.tick().await;
        // Read before ingesting: once the writer is done, this pass reads
        // its last line, so it can be the final one.
        let finished = done.load(Ordering::Acquire);
        let applied = ingest::ingest_file(&db, run_id, &path, Some(&events)).await?;
        followed.events += applied;
        followed.commits += usize::from(applied > 0);
        if finished {
            return Ok(followed);
        }
    }
}

/// Plausible metrics of a long run: losses fall, accuracies rise, the
/// learning rate steps down, and every value has full-precision digits as a
/// trainer's would.
fn metrics(epoch: u32, epochs: u32) -> EpochMetrics {
    let progress = f64::from(epoch) / f64::from(epochs);
    let jitter = |salt: u64| 0.01 * unit_noise(u64::from(epoch) * 16 + salt);
    let lr = match progress {
        p if p <= 0.5 => 0.1,
        p if p <= 0.75 => 0.01,
        _ => 0.001,
    };
    EpochMetrics {
        epoch,
        lr,
        train_loss: 2.3 / (1.0 + 4.0 * progress) + jitter(0),
        train_acc: 0.3 + 0.5 * progress + jitter(1),
        train_clean_loss: 2.0 / (1.0 + 6.0 * progress) + jitter(2),
        train_clean_acc: 0.4 + 0.5 * progress + jitter(3),
        test_clean_loss: 1.8 / (1.0 + 3.0 * progress) + jitter(4),
        test_clean_acc: 0.45 + 0.4 * progress + jitter(5),
        test_pgd_loss: 2.2 / (1.0 + 1.5 * progress) + jitter(6),
        test_pgd_acc: 0.25 + 0.3 * progress + jitter(7),
        epoch_seconds: 95.0 + 10.0 * unit_noise(u64::from(epoch) * 16 + 8),
        images_per_second: 520.0 + 40.0 * unit_noise(u64::from(epoch) * 16 + 9),
    }
}

/// SplitMix64 mapped to [0, 1): deterministic noise without a dependency.
fn unit_noise(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as f64 / 2f64.powi(64)
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Every line applied exactly once: the loops' counts add up to the lines
/// written, and each run holds epochs 1..=EPOCHS, its summary says so, and
/// its stored offset is the whole file.
async fn verify(db: &SqlitePool, runs: &[(i64, PathBuf)], epochs: u32, applied: usize) -> anyhow::Result<()> {
    let written = runs.len() * epochs as usize;
    ensure!(applied == written, "the ingest loops applied {applied} events, but {written} were written");
    for (run_id, path) in runs {
        let (rows, first, last): (i64, i64, i64) =
            sqlx::query_as("SELECT count(*), min(epoch), max(epoch) FROM epochs WHERE run_id = ?")
                .bind(run_id)
                .fetch_one(db)
                .await?;
        let (epochs_done, offset): (i64, i64) =
            sqlx::query_as("SELECT epochs_done, events_offset FROM runs WHERE id = ?")
                .bind(run_id)
                .fetch_one(db)
                .await?;
        let file_len = i64::try_from(std::fs::metadata(path)?.len())?;
        let expected = i64::from(epochs);
        if (rows, first, last, epochs_done, offset) != (expected, 1, expected, expected, file_len) {
            bail!(
                "run {run_id}: {rows} rows for epochs {first}..={last}, epochs_done {epochs_done}, offset \
                 {offset} of {file_len} bytes; expected {expected} rows for 1..={expected}"
            );
        }
    }
    Ok(())
}

fn report(args: &Args, total: &Followed, writing: Duration, wall: Duration) {
    let seconds = wall.as_secs_f64();
    let events = total.events as f64;
    println!(
        "ingest: {} runs x {} epoch events, written over {:.1} s, poll {} ms, {} cores",
        args.runs,
        args.epochs,
        args.write_for.as_secs_f64(),
        args.poll.as_millis(),
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Wall runs from the first write to the last commit, so wall minus the
    // writers' time is how far the ingest lagged behind them at the end.
    println!("| events | metric points | commits | writers done (s) | wall (s) | events/s | metric points/s |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.0} |",
        total.events,
        total.events * METRICS_PER_EPOCH,
        total.commits,
        writing.as_secs_f64(),
        seconds,
        events / seconds,
        events * METRICS_PER_EPOCH as f64 / seconds
    );
    println!("verified: every run has exactly epochs 1..={}, each line applied once", args.epochs);
}

//! The runner against a fake executor: placement by priority, the
//! executor's capacity, cancel, a handle that vanishes, and an evaluation
//! job that outlives its server. No trainer runs here.

mod common;

use std::sync::Arc;
use std::time::Duration;

use advmix_protocol::events::{Checkpoint, CheckpointKind, EvalAttack, EvalProgress, EvalReport};
use advmix_protocol::{Event, RunConfig};
use advmix_server::AppState;
use advmix_server::runner::bus::BusEvent;
use advmix_server::runner::executor::Exit;
use advmix_server::service;
use advmix_server::store::{self, EvalStatus, RunStatus};
use common::fake::FakeExecutor;
use sqlx::SqlitePool;
use tokio::sync::watch;

fn ready() -> advmix_server::compute::Compute {
    advmix_server::compute::Compute::Unavailable { trainer: "".into(), reason: "".into() }
}

struct Env {
    state: AppState,
    stop: watch::Sender<bool>,
    scheduling: tokio::task::JoinHandle<()>,
}

fn start(db: &SqlitePool, fake: &Arc<FakeExecutor>, data: &std::path::Path, slots: usize) -> Env {
    let (state, stop) = common::with_executor(db.clone(), ready(), fake.clone(), data, slots);
    let scheduling = tokio::spawn(state.runner.clone().run());
    Env { state, stop, scheduling }
}

impl Env {
    async fn shut_down(self) {
        self.stop.send(true).unwrap();
        self.scheduling.await.unwrap();
        self.state.runner.drain(Duration::from_secs(5)).await;
    }
}

async fn queue(db: &SqlitePool, name: &str, priority: i64) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = store::runs::insert(&mut tx, None, name, &RunConfig::default(), &Default::default(), priority, None).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Polls `check` every 20 ms for up to 5 s.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn status(db: &SqlitePool, id: i64) -> RunStatus {
    store::runs::fetch(db, id).await.unwrap().status
}

async fn wait_status(db: &SqlitePool, id: i64, want: RunStatus) -> store::runs::RunSummary {
    eventually(&format!("run {id} to be {want}"), async || {
        let run = store::runs::fetch(db, id).await.unwrap();
        (run.status == want).then_some(run)
    })
    .await
}

/// Running with its job's handle: claimed, then submitted.
async fn wait_started(db: &SqlitePool, id: i64) -> store::runs::RunSummary {
    eventually(&format!("run {id} to start"), async || {
        let run = store::runs::fetch(db, id).await.unwrap();
        (run.status == RunStatus::Running && run.handle.is_some()).then_some(run)
    })
    .await
}

async fn wait_submitted(fake: &FakeExecutor, n: usize) -> Vec<String> {
    eventually(&format!("{n} submitted jobs"), async || {
        let s = fake.submitted();
        (s.len() >= n).then_some(s)
    })
    .await
}

#[sqlx::test(migrations = "../migrations")]
async fn runs_start_by_priority_then_first_come(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::new(None));
    let data = tempfile::tempdir().unwrap();
    let low = queue(&db, "low", 0).await;
    let high = queue(&db, "high", 5).await;
    let mid = queue(&db, "mid", 1).await;
    let also_mid = queue(&db, "also-mid", 1).await;
    let env = start(&db, &fake, data.path(), 1);

    let order = [high, mid, also_mid, low];
    for (k, id) in order.iter().enumerate() {
        let submitted = wait_submitted(&fake, k + 1).await;
        assert_eq!(submitted[k], format!("run-{id}"), "job {k} of {order:?}");
        assert_eq!(fake.running().len(), 1, "one slot: one job at a time");
        let run = wait_started(&db, *id).await;
        assert_eq!((run.slot.as_deref(), run.handle.is_some()), (Some("cpu/0"), true));
        fake.emit(&format!("run-{id}"), Event::Finished(serde_json::from_value(serde_json::json!({
            "best_robust_acc": 0.4, "best_epoch": 1, "final_clean_acc": 0.8, "final_robust_acc": 0.4, "total_seconds": 1.0
        })).unwrap()));
        fake.end(&format!("run-{id}"), Exit::Code(0));
        wait_status(&db, *id, RunStatus::Succeeded).await;
    }
    env.shut_down().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_executors_capacity_caps_the_jobs_in_flight(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::new(Some(2)));
    let data = tempfile::tempdir().unwrap();
    let ids = [queue(&db, "a", 0).await, queue(&db, "b", 0).await, queue(&db, "c", 0).await];
    let env = start(&db, &fake, data.path(), 3);
    wait_submitted(&fake, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.submitted().len(), 2, "three free slots, but the executor takes two");
    assert_eq!(status(&db, ids[2]).await, RunStatus::Queued);

    fake.end(&format!("run-{}", ids[0]), Exit::Code(1));
    wait_status(&db, ids[0], RunStatus::Failed).await;
    assert_eq!(wait_submitted(&fake, 3).await[2], format!("run-{}", ids[2]), "a finished job makes room");
    env.shut_down().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn stop_cancels_through_the_executor_and_the_run_ends_stopped(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::new(None));
    let data = tempfile::tempdir().unwrap();
    let id = queue(&db, "stopped", 0).await;
    let env = start(&db, &fake, data.path(), 1);
    wait_started(&db, id).await;
    let mut bus = env.state.bus.subscribe();

    let stop = service::runs::stop(&env.state.db, &env.state.runner, id).await.unwrap();
    assert_eq!(stop, service::runs::Stop::Stopping);
    assert!(fake.was_cancelled(&format!("run-{id}")));
    let run = wait_status(&db, id, RunStatus::Stopped).await;
    assert_eq!(run.error.as_deref(), Some("stopped by request"));
    assert_eq!(run.handle, None, "an ended run holds no handle");

    // The end was announced on the bus, after the stored event.
    let announced = eventually("the status change", async || match bus.try_recv() {
        Ok(BusEvent::Status(change)) if change.run.status == RunStatus::Stopped => Some(change),
        _ => None,
    })
    .await;
    assert_eq!(announced.run.id, id);
    env.shut_down().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_handle_that_vanishes_leaves_a_lost_run_and_frees_its_slot(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::new(None));
    let data = tempfile::tempdir().unwrap();
    let first = queue(&db, "vanishes", 1).await;
    let second = queue(&db, "next", 0).await;
    let env = start(&db, &fake, data.path(), 1);
    wait_started(&db, first).await;

    fake.vanish(&format!("run-{first}"));
    let run = wait_status(&db, first, RunStatus::Lost).await;
    assert!(run.error.unwrap().contains("resume the run"));
    wait_started(&db, second).await;
    assert_eq!(env.state.runner.slot_of_run(second).map(|s| s.name), Some("cpu/0".into()));
    env.shut_down().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_job_in_the_executors_queue_shows_queued_with_its_reason_until_it_starts(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::queueing());
    let data = tempfile::tempdir().unwrap();
    let waits = queue(&db, "waits", 0).await;
    let dequeued = queue(&db, "dequeued", 0).await;
    let env = start(&db, &fake, data.path(), 2);
    wait_submitted(&fake, 2).await;
    let run = eventually("the run to show its job", async || {
        let run = store::runs::fetch(&db, waits).await.unwrap();
        run.handle.is_some().then_some(run)
    })
    .await;
    assert_eq!(run.status, RunStatus::Queued, "submitted but pending in the executor's queue");
    let placement = env.state.runner.describe(run.handle.as_deref().unwrap()).await;
    assert_eq!((placement.state.as_str(), placement.reason.as_deref()), ("pending", Some("Priority")));
    let error = service::runs::delete(&db, &env.state.runner, waits).await.unwrap_err();
    assert!(error.to_string().contains("waiting in the executor's queue"), "{error}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.submitted().len(), 2, "a queued run with a job is not submitted again");

    fake.start(&format!("run-{waits}"));
    wait_started(&db, waits).await;
    // Stopping a waiting job cancels it in the executor's queue.
    let stop = service::runs::stop(&db, &env.state.runner, dequeued).await.unwrap();
    assert_eq!(stop, service::runs::Stop::Stopping);
    assert!(fake.was_cancelled(&format!("run-{dequeued}")));
    wait_status(&db, dequeued, RunStatus::Stopped).await;
    env.shut_down().await;
}

/// A run with a `best` checkpoint, as its events file would record it.
async fn run_with_checkpoint(db: &SqlitePool, paths: &advmix_server::paths::Paths) -> (i64, i64) {
    let mut tx = db.begin().await.unwrap();
    let run_id = store::runs::insert(&mut tx, None, "evaluated", &RunConfig::default(), &Default::default(), 0, None).await.unwrap();
    // Finished in the same transaction, so that the running scheduler never
    // sees it queued and has no training to start.
    sqlx::query("UPDATE runs SET status = 'succeeded' WHERE id = ?").bind(run_id).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let checkpoint = Checkpoint { epoch: 3, kind: CheckpointKind::Best, file: "checkpoints/best.safetensors".into(), bytes: 10, sha256: "ab".into() };
    common::fake::emit(&paths.run_dir(run_id), Event::Checkpoint(checkpoint));
    advmix_server::runner::ingest::ingest_file(db, run_id, &paths.run_events(run_id), None).await.unwrap();
    let checkpoint_id = store::checkpoints::of_run(db, run_id).await.unwrap()[0].id;
    (run_id, checkpoint_id)
}

#[sqlx::test(migrations = "../migrations")]
async fn an_evaluation_job_survives_a_server_restart_and_is_stored_once(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::new(None));
    let data = tempfile::tempdir().unwrap();
    let first = start(&db, &fake, data.path(), 1);
    let (run_id, checkpoint) = run_with_checkpoint(&db, first.state.runner.paths()).await;
    let request = service::evals::Request { suite: "aa-fast".into(), n: Some(40), epsilon: None };
    let row = service::evals::queue(&db, &first.state.runner, checkpoint, &request).await.unwrap();
    let job = format!("eval-{}", row.id);
    wait_submitted(&fake, 1).await;
    let spec = fake.spec(&job);
    assert!(spec.args.iter().any(|a| a == "--events-dir"), "the job writes its own events file: {:?}", spec.args);
    fake.emit(&job, Event::EvalProgress(EvalProgress { attack: "apgd-ce".into(), index: 1, of: 2, robust_left: 20, n: 40 }));
    eventually("the progress to be stored", async || {
        let row = store::evals::get(&db, row.id).await.unwrap().unwrap();
        (row.robust_left == Some(20)).then_some(())
    })
    .await;

    // The server stops and leaves the job running; the job finishes while
    // no server watches.
    first.shut_down().await;
    assert_eq!(store::evals::get(&db, row.id).await.unwrap().unwrap().status, EvalStatus::Running);
    let report = EvalReport {
        checkpoint: "best".into(),
        epoch: Some(3),
        suite: "aa-fast".into(),
        epsilon: 8.0 / 255.0,
        n: 40,
        clean_acc: 0.75,
        robust_acc: 0.35,
        attacks: vec![EvalAttack { attack: "apgd-ce".into(), points: 30, robust_acc: 0.5, seconds: 1.0 }],
    };
    fake.emit(&job, Event::Eval(report));
    fake.end(&job, Exit::Code(0));

    let second = start(&db, &fake, data.path(), 1);
    let stored = eventually("the adopted job to be settled", async || {
        let row = store::evals::get(&db, row.id).await.unwrap().unwrap();
        (row.status == EvalStatus::Succeeded).then_some(row)
    })
    .await;
    assert_eq!((stored.robust_acc, stored.clean_acc, stored.n), (Some(0.35), Some(0.75), 40));
    let rows = store::evals::list_for_run(&db, run_id).await.unwrap();
    assert_eq!(rows.len(), 1, "one row for the job, however often its file was read");
    assert_eq!(fake.submitted(), [job.clone()], "adopted, not submitted again");
    // Reading the file again applies nothing: the offset covers it.
    let again = advmix_server::runner::ingest::ingest(
        &db,
        advmix_server::runner::ingest::Source::Eval(row.id),
        &second.state.runner.paths().eval_dir(row.id).join("events.jsonl"),
        None,
    )
    .await
    .unwrap();
    assert!(again.is_empty());
    assert_eq!(store::runs::fetch(&db, run_id).await.unwrap().autoattack_acc, Some(0.35));
    second.shut_down().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_job_that_fails_keeps_its_own_reason(db: SqlitePool) {
    let fake = Arc::new(FakeExecutor::new(None));
    let data = tempfile::tempdir().unwrap();
    let env = start(&db, &fake, data.path(), 1);
    let (_, checkpoint) = run_with_checkpoint(&db, env.state.runner.paths()).await;
    let request = service::evals::Request { suite: "pgd".into(), n: Some(10), epsilon: None };
    let row = service::evals::queue(&db, &env.state.runner, checkpoint, &request).await.unwrap();
    let job = format!("eval-{}", row.id);
    wait_submitted(&fake, 1).await;
    fake.emit(&job, Event::Failed { reason: "checkpoint has no advmix metadata".into() });
    fake.end(&job, Exit::Code(2));
    let failed = eventually("the job to fail", async || {
        let row = store::evals::get(&db, row.id).await.unwrap().unwrap();
        (row.status == EvalStatus::Failed).then_some(row)
    })
    .await;
    assert_eq!(failed.error.as_deref(), Some("checkpoint has no advmix metadata"));
    env.shut_down().await;
}

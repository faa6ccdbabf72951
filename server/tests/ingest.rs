//! The event ingest: events.jsonl into the tables, idempotently, and out to
//! broadcast subscribers.

use std::io::Write;
use std::path::{Path, PathBuf};

use advmix_protocol::events::{
    Checkpoint, CheckpointKind, EpochMetrics, EvalAttack, EvalProgress, EvalReport, Finished, Samples, Started,
};
use advmix_protocol::{Event, EventLine, RunConfig};
use advmix_server::runner::bus::{Bus, BusEvent};
use advmix_server::runner::ingest::{self, IngestError};
use sqlx::SqlitePool;
use tempfile::TempDir;

// --- Event lines ---------------------------------------------------------

fn line(time: f64, event: Event) -> String {
    serde_json::to_string(&EventLine { time, event }).unwrap() + "\n"
}

fn started(device: &str) -> String {
    line(
        1000.0,
        Event::Started(Started {
            config: RunConfig::default(),
            device: device.into(),
            torch_version: "2.11.0".into(),
            advmix_version: "0.1.0".into(),
            git_commit: None,
            seed: 0,
            bf16: false,
            start_epoch: 0,
        }),
    )
}

/// An epoch whose metrics all derive from its number, except the two
/// accuracies the summary columns are made of.
fn epoch(n: u32, clean: f64, pgd: f64) -> String {
    let x = f64::from(n);
    line(
        1000.0 + x,
        Event::Epoch(EpochMetrics {
            epoch: n,
            lr: 0.1 / x,
            train_loss: 2.0 / x,
            train_acc: 0.1 + x / 1e6,
            train_clean_loss: 1.5 / x,
            train_clean_acc: 0.2 + x / 1e6,
            test_clean_loss: 1.4 / x,
            test_clean_acc: clean,
            test_pgd_loss: 2.5 / x,
            test_pgd_acc: pgd,
            epoch_seconds: 4.0 + x / 1e3,
            images_per_second: 300.0 + x,
        }),
    )
}

fn checkpoint(kind: CheckpointKind, n: u32, file: &str) -> String {
    let c = Checkpoint { epoch: n, kind, file: file.into(), bytes: 1000 + u64::from(n), sha256: format!("{n:064x}") };
    line(1000.5 + f64::from(n), Event::Checkpoint(c))
}

fn samples(n: u32) -> String {
    line(1000.7 + f64::from(n), Event::Samples(Samples { epoch: n, path: format!("samples/epoch-{n:04}.png") }))
}

fn finished() -> String {
    let f = Finished { best_robust_acc: 0.5, best_epoch: 2, final_clean_acc: 0.8, final_robust_acc: 0.45, total_seconds: 17.0 };
    line(2000.0, Event::Finished(f))
}

/// A whole run: 4 epochs, `last` rewritten every epoch, `best` at 1 and 2,
/// `periodic` at 2 and 4, samples at 2 and 4. PGD accuracy ties at epochs 2
/// and 3, and `finished` disagrees with the progress summary on purpose, so
/// the test sees which one wins.
fn epochs_1_to_3() -> Vec<String> {
    vec![
        started("cuda:0"),
        epoch(1, 0.6, 0.3),
        checkpoint(CheckpointKind::Last, 1, "checkpoints/last.safetensors"),
        checkpoint(CheckpointKind::Best, 1, "checkpoints/best.safetensors"),
        epoch(2, 0.7, 0.5),
        checkpoint(CheckpointKind::Last, 2, "checkpoints/last.safetensors"),
        checkpoint(CheckpointKind::Best, 2, "checkpoints/best.safetensors"),
        checkpoint(CheckpointKind::Periodic, 2, "checkpoints/epoch-0002.safetensors"),
        samples(2),
        epoch(3, 0.75, 0.5),
        checkpoint(CheckpointKind::Last, 3, "checkpoints/last.safetensors"),
    ]
}

fn epoch_4_and_finished() -> Vec<String> {
    vec![
        epoch(4, 0.8, 0.4),
        checkpoint(CheckpointKind::Last, 4, "checkpoints/last.safetensors"),
        checkpoint(CheckpointKind::Periodic, 4, "checkpoints/epoch-0004.safetensors"),
        samples(4),
        finished(),
    ]
}

fn full_run() -> Vec<String> {
    [epochs_1_to_3(), epoch_4_and_finished()].concat()
}

// --- Fixtures --------------------------------------------------------------

async fn insert_run(db: &SqlitePool) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO runs (name, config, method, dataset, model, epochs, status)
         VALUES ('r', '{}', 'pgd_at', 'cifar10', 'preact_resnet18', 4, 'running') RETURNING id",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

struct RunDir {
    _dir: TempDir,
    events: PathBuf,
}

fn run_dir() -> RunDir {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    RunDir { _dir: dir, events }
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn file_len(path: &Path) -> i64 {
    i64::try_from(std::fs::metadata(path).unwrap().len()).unwrap()
}

// --- Reading the tables back ---------------------------------------------------

type RunSummary = (i64, Option<f64>, Option<i64>, Option<f64>, Option<f64>, Option<String>, i64);
type EpochRow = (i64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64);
type CheckpointRow = (String, i64, String, i64, String, String);

/// Everything ingest writes for a run, without the surrogate ids (a replay
/// after a delete may number rows differently; nothing refers to them).
#[derive(Debug, PartialEq)]
struct Dump {
    run: RunSummary,
    epochs: Vec<EpochRow>,
    checkpoints: Vec<CheckpointRow>,
    samples: Vec<(i64, String)>,
}

async fn dump(db: &SqlitePool, run_id: i64) -> Dump {
    let run = sqlx::query_as(
        "SELECT epochs_done, best_robust_acc, best_epoch, final_clean_acc, final_robust_acc, device, events_offset
         FROM runs WHERE id = ?",
    )
    .bind(run_id)
    .fetch_one(db)
    .await
    .unwrap();
    let epochs = sqlx::query_as(
        "SELECT epoch, lr, train_loss, train_acc, train_clean_loss, train_clean_acc, test_clean_loss, test_clean_acc,
                test_pgd_loss, test_pgd_acc, epoch_seconds, images_per_second
         FROM epochs WHERE run_id = ? ORDER BY epoch",
    )
    .bind(run_id)
    .fetch_all(db)
    .await
    .unwrap();
    let checkpoints = sqlx::query_as(
        "SELECT kind, epoch, path, bytes, sha256, created_at FROM checkpoints WHERE run_id = ? ORDER BY kind, epoch",
    )
    .bind(run_id)
    .fetch_all(db)
    .await
    .unwrap();
    let samples = sqlx::query_as("SELECT epoch, path FROM samples WHERE run_id = ? ORDER BY epoch")
        .bind(run_id)
        .fetch_all(db)
        .await
        .unwrap();
    Dump { run, epochs, checkpoints, samples }
}

async fn set_offset(db: &SqlitePool, run_id: i64, offset: i64) {
    sqlx::query("UPDATE runs SET events_offset = ? WHERE id = ?").bind(offset).bind(run_id).execute(db).await.unwrap();
}

async fn count(db: &SqlitePool, table: &str, run_id: i64) -> i64 {
    // Test-only: the table name is one of ours, never input.
    let sql = format!("SELECT count(*) FROM {table} WHERE run_id = ?");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(run_id).fetch_one(db).await.unwrap()
}

// --- Tests -------------------------------------------------------------------

#[sqlx::test(migrations = "../migrations")]
async fn a_full_run_fills_the_tables_and_the_summary(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    append(&dir.events, &epochs_1_to_3().concat());

    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 11);
    let mid = dump(&db, run_id).await;
    assert_eq!(
        mid.run,
        (3, Some(0.5), Some(2), Some(0.75), Some(0.5), Some("cuda:0".into()), file_len(&dir.events)),
        "progress before the end: best ties go to the earliest epoch, final is the latest epoch"
    );

    append(&dir.events, &epoch_4_and_finished().concat());
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 5);
    let end = dump(&db, run_id).await;
    assert_eq!(end.run, (4, Some(0.5), Some(2), Some(0.8), Some(0.45), Some("cuda:0".into()), file_len(&dir.events)));
    assert_eq!(end.epochs.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let fourth = &end.epochs[3];
    assert_eq!((fourth.1, fourth.7, fourth.9, fourth.11), (0.1 / 4.0, 0.8, 0.4, 304.0));
    let checkpoints: Vec<_> = end.checkpoints.iter().map(|c| (c.0.as_str(), c.1, c.2.as_str(), c.3)).collect();
    assert_eq!(
        checkpoints,
        [
            ("best", 2, "checkpoints/best.safetensors", 1002),
            ("last", 4, "checkpoints/last.safetensors", 1004),
            ("periodic", 2, "checkpoints/epoch-0002.safetensors", 1002),
            ("periodic", 4, "checkpoints/epoch-0004.safetensors", 1004),
        ]
    );
    assert_eq!(end.checkpoints[1].5, "1970-01-01T00:16:44.500Z", "created_at is the event's time");
    assert_eq!(end.samples, [(2, "samples/epoch-0002.png".into()), (4, "samples/epoch-0004.png".into())]);
}

#[sqlx::test(migrations = "../migrations")]
async fn ingest_is_idempotent_and_a_replay_gives_the_same_rows(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    // Live ingest in two bursts, as a follower would see the file grow.
    let first: String = full_run()[..7].concat();
    let second_offset = i64::try_from(first.len()).unwrap();
    std::fs::write(&dir.events, &first).unwrap();
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    std::fs::write(&dir.events, full_run().concat()).unwrap();
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    let live = dump(&db, run_id).await;

    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 0, "nothing new");
    assert_eq!(dump(&db, run_id).await, live);

    set_offset(&db, run_id, second_offset).await;
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 9, "the second burst again");
    assert_eq!(dump(&db, run_id).await, live);

    set_offset(&db, run_id, 0).await;
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 16, "the whole file again");
    assert_eq!(dump(&db, run_id).await, live);

    for table in ["epochs", "checkpoints", "samples"] {
        let sql = format!("DELETE FROM {table} WHERE run_id = ?");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(run_id).execute(&db).await.unwrap();
    }
    sqlx::query(
        "UPDATE runs SET epochs_done = 0, best_robust_acc = NULL, best_epoch = NULL,
             final_clean_acc = NULL, final_robust_acc = NULL, device = NULL
         WHERE id = ?",
    )
        .bind(run_id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(ingest::reingest(&db, run_id, &dir.events).await.unwrap(), 16);
    assert_eq!(dump(&db, run_id).await, live);

    assert_eq!(ingest::reingest(&db, run_id, &dir.events).await.unwrap(), 16, "reingest clears the rows itself");
    assert_eq!(dump(&db, run_id).await, live);
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_ingests_of_one_run_apply_each_line_once(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    append(&dir.events, &full_run().concat());

    let (a, b) = tokio::join!(
        ingest::ingest_file(&db, run_id, &dir.events, None),
        ingest::ingest_file(&db, run_id, &dir.events, None),
    );
    assert_eq!(a.unwrap() + b.unwrap(), 16);
    assert_eq!(dump(&db, run_id).await.run.6, file_len(&dir.events));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_partial_last_line_waits_until_it_is_complete(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    let complete = [started("cpu"), epoch(1, 0.6, 0.3)].concat();
    let third = epoch(2, 0.7, 0.4);
    let (head, tail) = third.split_at(40);
    append(&dir.events, &(complete.clone() + head));

    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 2);
    let stored = dump(&db, run_id).await;
    assert_eq!(stored.run.6, i64::try_from(complete.len()).unwrap(), "the offset stops at the last newline");
    assert_eq!(stored.epochs.len(), 1);
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 0, "still incomplete");

    append(&dir.events, tail);
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 1);
    let stored = dump(&db, run_id).await;
    assert_eq!(stored.run.6, file_len(&dir.events));
    assert_eq!(stored.epochs.len(), 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn malformed_lines_are_skipped_and_later_lines_applied(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    let text = [
        epoch(1, 0.6, 0.3),
        "{\"time\": 1, \"type\": \"epo\n".into(),
        "\n".into(),
        "{\"time\": 1, \"type\": \"no_such_event\"}\n".into(),
        epoch(2, 0.7, 0.4),
    ]
    .concat();
    append(&dir.events, &text);

    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 2);
    let stored = dump(&db, run_id).await;
    assert_eq!(stored.epochs.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(stored.run.6, file_len(&dir.events), "the offset moves past the bad lines");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_file_is_empty_and_a_missing_run_is_an_error(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 0);

    append(&dir.events, &epoch(1, 0.6, 0.3));
    let missing = ingest::ingest_file(&db, run_id + 1, &dir.events, None).await;
    assert!(matches!(missing, Err(IngestError::Unknown(ingest::Source::Run(id))) if id == run_id + 1), "{missing:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_truncated_file_is_an_error(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    append(&dir.events, &full_run().concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();

    std::fs::write(&dir.events, started("cpu")).unwrap();
    let result = ingest::ingest_file(&db, run_id, &dir.events, None).await;
    assert!(matches!(result, Err(IngestError::Truncated { .. })), "{result:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn each_applied_line_goes_out_on_the_bus_once(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    let bus = Bus::new(64);
    let mut rx = bus.subscribe();
    let lines = full_run();
    let (first, rest) = lines.split_at(3);
    append(&dir.events, &first.concat());
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, Some(&bus)).await.unwrap(), 3);
    append(&dir.events, &rest.concat());
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, Some(&bus)).await.unwrap(), rest.len());
    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, Some(&bus)).await.unwrap(), 0);

    for expected in &lines {
        let BusEvent::Event(event) = rx.try_recv().expect("one message per line") else { panic!("only events were sent") };
        assert_eq!(event.run_id, run_id);
        assert_eq!(event.line, serde_json::from_str::<EventLine>(expected).unwrap());
    }
    assert!(rx.try_recv().is_err(), "nothing else was sent");
}

#[sqlx::test(migrations = "../migrations")]
async fn twenty_thousand_epochs_ingest_in_one_go(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    let n = 20_000;
    let text: String = (1..=n).map(|e| epoch(e, 0.5, f64::from(e % 1000) / 1000.0)).collect();
    append(&dir.events, &text);

    assert_eq!(ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap(), 20_000);
    assert_eq!(count(&db, "epochs", run_id).await, 20_000);
    let stored = dump(&db, run_id).await;
    assert_eq!(stored.run, (20_000, Some(0.999), Some(999), Some(0.5), Some(0.0), None, file_len(&dir.events)));
    assert_eq!(stored.epochs[19_999].0, 20_000);
}

// --- The final evaluation stage ----------------------------------------------

fn eval_progress(attack: &str, index: u32, robust_left: i64) -> String {
    line(1010.0, Event::EvalProgress(EvalProgress { attack: attack.into(), index, of: 2, robust_left, n: 100 }))
}

fn eval_report(robust_acc: f64) -> String {
    let attack = |attack: &str, points, robust_acc| EvalAttack { attack: attack.into(), points, robust_acc, seconds: 1.5 };
    line(
        1011.0,
        Event::Eval(EvalReport {
            checkpoint: "checkpoints/last.safetensors".into(),
            epoch: Some(4),
            suite: "aa-fast".into(),
            epsilon: 0.03,
            n: 100,
            clean_acc: 0.8,
            robust_acc,
            attacks: vec![attack("apgd-ce", 80, 0.4), attack("apgd-t", 40, robust_acc)],
        }),
    )
}

type EvalDump = (String, String, Option<i64>, String, Option<f64>, Option<i64>, Option<String>);

async fn evals_of(db: &SqlitePool, run_id: i64) -> Vec<EvalDump> {
    sqlx::query_as(
        "SELECT e.source, e.suite, e.epoch, e.status, e.robust_acc, e.robust_left, c.kind
         FROM evals e LEFT JOIN checkpoints c ON c.id = e.checkpoint_id WHERE e.run_id = ? ORDER BY e.id",
    )
    .bind(run_id)
    .fetch_all(db)
    .await
    .unwrap()
}

async fn autoattack(db: &SqlitePool, run_id: i64) -> (Option<f64>, Option<i64>) {
    sqlx::query_as("SELECT autoattack_acc, autoattack_epoch FROM runs WHERE id = ?").bind(run_id).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_final_attack_is_stored_against_the_last_checkpoint_and_sets_the_autoattack_column(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    sqlx::query("UPDATE runs SET config = '{\"epsilon\": 0.03}' WHERE id = ?").bind(run_id).execute(&db).await.unwrap();
    let dir = run_dir();
    let mut lines = epochs_1_to_3();
    lines.extend(epoch_4_and_finished().into_iter().take(4));
    lines.push(eval_progress("apgd-ce", 1, 40));
    append(&dir.events, &lines.concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    let running = evals_of(&db, run_id).await;
    assert_eq!(running, [("final".into(), "aa-fast".into(), Some(4), "running".into(), None, Some(40), Some("last".into()))]);
    assert_eq!(autoattack(&db, run_id).await, (None, None), "nothing until the report");

    append(&dir.events, &[eval_progress("apgd-t", 2, 31), eval_report(0.31), finished()].concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    let done = evals_of(&db, run_id).await;
    assert_eq!(done, [("final".into(), "aa-fast".into(), Some(4), "succeeded".into(), Some(0.31), None, Some("last".into()))]);
    assert_eq!(autoattack(&db, run_id).await, (Some(0.31), Some(4)));

    // A replay from the start gives the same single row.
    set_offset(&db, run_id, 0).await;
    sqlx::query("DELETE FROM evals").execute(&db).await.unwrap();
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    assert_eq!(evals_of(&db, run_id).await, done);
    assert_eq!(autoattack(&db, run_id).await, (Some(0.31), Some(4)));
}

#[sqlx::test(migrations = "../migrations")]
async fn autoattack_at_another_epsilon_does_not_count_as_the_runs(db: SqlitePool) {
    let run_id = insert_run(&db).await;
    sqlx::query("UPDATE runs SET config = '{\"epsilon\": 0.1}' WHERE id = ?").bind(run_id).execute(&db).await.unwrap();
    let dir = run_dir();
    append(&dir.events, &[full_run(), vec![eval_report(0.2)]].concat().concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    assert_eq!(evals_of(&db, run_id).await.len(), 1);
    assert_eq!(autoattack(&db, run_id).await, (None, None), "the report was at ε=0.03, the run's ε is 0.1");
}

fn progress(time: f64, stage: advmix_protocol::events::Stage, done: u64, attack: Option<(&str, u32, i64)>) -> String {
    use advmix_protocol::events::{AttackProgress, Progress};
    let attack = attack.map(|(attack, index, robust_left)| AttackProgress { attack: attack.into(), index, of: 2, robust_left, n: 100 });
    line(time, Event::Progress(Progress { stage, epoch: 4, done, total: 80, images_per_second: Some(500.0), eta_seconds: Some(30.0), attack }))
}

async fn stored_progress(db: &SqlitePool, run_id: i64) -> Option<serde_json::Value> {
    let text: Option<String> = sqlx::query_scalar("SELECT progress FROM runs WHERE id = ?").bind(run_id).fetch_one(db).await.unwrap();
    text.map(|t| serde_json::from_str(&t).unwrap())
}

/// Progress is a gauge: only the newest line is kept, whatever the number
/// of lines, and the run's end clears it.
#[sqlx::test(migrations = "../migrations")]
async fn only_the_newest_progress_is_kept_and_the_end_clears_it(db: SqlitePool) {
    use advmix_protocol::events::Stage;
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    let many: Vec<String> = (0..50u32).map(|b| progress(1100.0 + f64::from(b), Stage::Train, u64::from(b), None)).collect();
    append(&dir.events, &many.concat());
    let bus = Bus::new(64);
    let mut rx = bus.subscribe();
    ingest::ingest_file(&db, run_id, &dir.events, Some(&bus)).await.unwrap();
    let kept = stored_progress(&db, run_id).await.expect("a progress is kept");
    assert_eq!((kept["type"].as_str(), kept["done"].as_u64(), kept["time"].as_f64()), (Some("progress"), Some(49), Some(1149.0)));
    // Every line still goes out live, for pages that follow the run.
    let mut sent = 0;
    while let Ok(BusEvent::Event(_)) = rx.try_recv() {
        sent += 1;
    }
    assert_eq!(sent, 50);
    // The API's run carries it while the run runs.
    let api: serde_json::Value =
        serde_json::to_value(advmix_server::store::runs::fetch(&db, run_id).await.unwrap()).unwrap();
    assert_eq!(api["progress"]["done"], 49);

    append(&dir.events, &finished());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    assert_eq!(stored_progress(&db, run_id).await, None);
}

/// The final stage has its evaluation row from its first progress line, so
/// the run page has no gap between the last epoch and the first attack.
#[sqlx::test(migrations = "../migrations")]
async fn the_final_stage_row_exists_from_its_first_progress(db: SqlitePool) {
    use advmix_protocol::events::Stage;
    let run_id = insert_run(&db).await;
    sqlx::query("UPDATE runs SET config = '{\"epsilon\": 0.03}' WHERE id = ?").bind(run_id).execute(&db).await.unwrap();
    let dir = run_dir();
    let mut lines = epochs_1_to_3();
    lines.extend(epoch_4_and_finished().into_iter().take(4));
    lines.push(progress(1009.0, Stage::Final, 0, Some(("apgd-ce", 1, 100))));
    append(&dir.events, &lines.concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    assert_eq!(evals_of(&db, run_id).await, [("final".into(), "aa-fast".into(), Some(4), "running".into(), None, None, Some("last".into()))]);

    // The attacks' own lines then fill the same row.
    append(&dir.events, &[eval_progress("apgd-ce", 1, 40), eval_progress("apgd-t", 2, 31), eval_report(0.31)].concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    let rows = evals_of(&db, run_id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].3, "succeeded");
}

/// An evaluation job's progress lines are a gauge too: the newest is kept on
/// its row (not the run's), they do not go out as the run's events, and the
/// job's end clears it, whichever way it ends.
#[sqlx::test(migrations = "../migrations")]
async fn an_evaluation_jobs_newest_progress_is_kept_on_its_row_until_it_ends(db: SqlitePool) {
    use advmix_protocol::events::Stage;
    use advmix_server::runner::ingest::Source;
    use advmix_server::store::{EvalStatus, evals};
    let run_id = insert_run(&db).await;
    let dir = run_dir();
    append(&dir.events, &epochs_1_to_3().concat());
    ingest::ingest_file(&db, run_id, &dir.events, None).await.unwrap();
    let checkpoint: i64 = sqlx::query_scalar("SELECT id FROM checkpoints WHERE run_id = ? AND kind = 'last'").bind(run_id).fetch_one(&db).await.unwrap();
    let job_progress = |time: f64, done: u64| progress(time, Stage::Attack, done, Some(("apgd-ce", 1, 90)));
    let stored = |id: i64| {
        let db = db.clone();
        async move { evals::get(&db, id).await.unwrap().unwrap() }
    };

    for ends_with_report in [true, false] {
        let job = evals::insert_job(&db, run_id, checkpoint, 3, "aa-fast", None, 100).await.unwrap();
        assert!(evals::claim(&db, job.id, "cpu/0", "cpu").await.unwrap());
        let events = dir.events.with_file_name(format!("eval-{}.jsonl", job.id));
        let lines: Vec<String> = (0..5u32).map(|k| job_progress(1100.0 + f64::from(k), u64::from(k) * 10)).collect();
        append(&events, &lines.concat());
        let bus = Bus::new(64);
        let mut rx = bus.subscribe();
        ingest::ingest(&db, Source::Eval(job.id), &events, Some(&bus)).await.unwrap();
        assert!(rx.try_recv().is_err(), "a job's progress is not its run's event");
        let row = stored(job.id).await;
        let api = serde_json::to_value(&row).unwrap();
        assert_eq!((api["progress"]["stage"].as_str(), api["progress"]["done"].as_u64()), (Some("attack"), Some(40)), "{api}");
        let text = row.progress_text().unwrap();
        assert!(text.starts_with("APGD-CE (1 of 2): 40 of 80 points, 90 of 100 robust"), "{text}");
        assert_eq!(sqlx::query_scalar::<_, Option<String>>("SELECT progress FROM runs WHERE id = ?").bind(run_id).fetch_one(&db).await.unwrap(), None);

        if ends_with_report {
            // Progress and the report in one batch: the row ends without a bar.
            append(&events, &[job_progress(1110.0, 70), eval_progress("apgd-t", 2, 31), eval_report(0.31)].concat());
            ingest::ingest(&db, Source::Eval(job.id), &events, None).await.unwrap();
            let row = stored(job.id).await;
            assert_eq!((row.status, row.progress), (EvalStatus::Succeeded, None));
        } else {
            assert!(evals::fail(&db, job.id, "the evaluation was killed").await.unwrap());
            let row = stored(job.id).await;
            assert_eq!((row.status, row.progress), (EvalStatus::Failed, None));
            // A late line from the dead job does not bring a bar back.
            append(&events, &job_progress(1120.0, 80));
            ingest::ingest(&db, Source::Eval(job.id), &events, None).await.unwrap();
            assert_eq!(stored(job.id).await.progress, None);
        }
    }
}

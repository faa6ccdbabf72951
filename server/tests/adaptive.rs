//! Adaptive sweeps end to end: early termination stopping real training
//! runs on `digits` at their rungs, "continue anyway", a bayes sweep whose
//! proposals can be made again from what it recorded, and growing,
//! pausing and resuming a sweep through the API.

mod common;

use std::time::Duration;

use advmix_protocol::sweep::Observation;
use advmix_protocol::sweep::early_terminate::Cut;
use advmix_protocol::{SweepSpec, events::EpochMetrics};
use advmix_server::compute::Compute;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tower::ServiceExt;

async fn call(state: &advmix_server::AppState, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let body = if body.is_null() { Body::empty() } else { Body::from(body.to_string()) };
    let request = Request::builder().method(method).uri(uri).header("content-type", "application/json").body(body).unwrap();
    let response = advmix_server::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn runs_of(state: &advmix_server::AppState, sweep: i64) -> Vec<Value> {
    let (status, list) = call(state, "GET", &format!("/api/v1/runs?sweep={sweep}&sort=id&order=asc&per_page=100"), Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    list["runs"].as_array().unwrap().clone()
}

/// Waits until every run of the sweep has ended, and returns them.
async fn ended(state: &advmix_server::AppState, sweep: i64, expected: usize, within: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let runs = runs_of(state, sweep).await;
        if runs.len() == expected && runs.iter().all(|r| r["status"] != "queued" && r["status"] != "running") {
            return runs;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sweep did not end: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn trainer_state(db: &SqlitePool, data: &std::path::Path, slots: usize) -> (advmix_server::AppState, tokio::sync::watch::Sender<bool>) {
    common::harness(db.clone(), Compute::Unavailable { trainer: "".into(), reason: "".into() }, common::trainer_bin(), data, slots)
}

// Nine learning rates from hopeless to good, ERM on digits (about a second
// an epoch here): at rung 1 the slow learners are clearly behind.
const ASHA: &str = r#"{
  "name": "asha-e2e",
  "method": "grid",
  "base": {"model": "small_cnn", "dataset": "digits", "method": "erm", "epochs": 8, "batch_size": 64,
           "samples_every": 0, "checkpoint_every": 1, "eval": {"n": 100, "pgd_steps": 1, "final_attack": "none"}},
  "parameters": {"lr_max": {"values": [0.2, 0.0002, 0.1, 0.0005, 0.05, 0.001, 0.02, 0.002, 0.01]}},
  "early_terminate": {"type": "asha", "min_epochs": 1, "eta": 3}
}"#;

#[sqlx::test(migrations = "../migrations")]
async fn an_asha_sweep_prunes_runs_at_their_rungs_and_continue_anyway_finishes_one(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let (state, stop) = trainer_state(&db, data.path(), 2);
    let scheduling = tokio::spawn(state.runner.clone().run());

    let spec: Value = serde_json::from_str(ASHA).unwrap();
    let (status, created) = call(&state, "POST", "/api/v1/sweeps", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let sweep = created["id"].as_i64().unwrap();
    let runs = ended(&state, sweep, 9, Duration::from_secs(400)).await;

    let pruned: Vec<&Value> = runs.iter().filter(|r| r["status"] == "pruned").collect();
    assert!(!pruned.is_empty(), "no run was pruned: {runs:#?}");
    assert!(runs.iter().any(|r| r["status"] == "succeeded"), "some run goes to the end: {runs:#?}");
    assert!(runs.iter().all(|r| r["status"] == "pruned" || r["status"] == "succeeded"), "{runs:#?}");
    for run in &pruned {
        // Stored: where, by which value and what the cut was, in its reason too.
        let cut: Cut = serde_json::from_value(run["pruned"].clone()).unwrap_or_else(|e| panic!("{e}: {run}"));
        assert!([1, 3].contains(&cut.epoch), "cut at a rung: {cut:?}");
        assert!(cut.value < cut.cut, "pruned below the cut: {cut:?}");
        assert!(cut.reached >= 3, "a rung decides once eta runs reached it: {cut:?}");
        assert_eq!(run["error"].as_str().unwrap(), cut.reason());
        // Stopped like a user stop: after the rung, before the end, with its checkpoint.
        let done = run["epochs_done"].as_i64().unwrap();
        assert!(done >= i64::from(cut.epoch) && done < 8, "{run}");
        let id = run["id"].as_i64().unwrap();
        assert!(data.path().join(format!("runs/{id}/checkpoints/resume.safetensors")).exists(), "run {id} keeps its checkpoint");
    }
    // The sweep and the runs list count and filter the status.
    let (_, row) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    assert_eq!(row["pruned"].as_u64().unwrap() as usize, pruned.len());
    let (_, list) = call(&state, "GET", &format!("/api/v1/runs?sweep={sweep}&status=pruned"), Value::Null).await;
    assert_eq!(list["runs"].as_array().unwrap().len(), pruned.len());
    let (status, _, page) = common::get(state.clone(), &format!("/sweeps/{sweep}?status=pruned")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("sweep-pruned-reason") && page.contains("pruned at rung"), "the sweep page says why");
    assert!(page.contains("rungs at epochs 1, 3"), "the sweep page names its rungs");

    // Continue anyway: the run goes on from its checkpoint to its end, and
    // early termination leaves it alone.
    let chosen = pruned[0]["id"].as_i64().unwrap();
    let (status, body) = call(&state, "POST", &format!("/api/v1/runs/{chosen}/resume"), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["continued"], true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let run = loop {
        let (_, run) = call(&state, "GET", &format!("/api/v1/runs/{chosen}"), Value::Null).await;
        if run["status"] != "queued" && run["status"] != "running" {
            break run;
        }
        assert!(tokio::time::Instant::now() < deadline, "the continued run did not finish: {run}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["epochs_done"], 8);
    assert_eq!(run["continued"], true);
    assert_eq!(common::epochs_in_file(&data.path().join(format!("runs/{chosen}"))).last(), Some(&8));

    // The replay of the recorded epochs through the sweep's own rule.
    let (status, replay) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/replay"), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["replay"]["rungs"], json!([1, 3]));
    assert_eq!(replay["replay"]["runs"].as_array().unwrap().len(), 9);

    stop.send(true).unwrap();
    scheduling.await.unwrap();
}

const BAYES: &str = r#"{
  "name": "bayes-e2e",
  "method": "bayes",
  "count": 8,
  "random_seed": 11,
  "metric": {"name": "test_pgd_acc", "goal": "maximize"},
  "base": {"model": "small_cnn", "dataset": "digits", "method": "erm", "epochs": 2, "batch_size": 128,
           "samples_every": 0, "eval": {"n": 100, "pgd_steps": 1, "final_attack": "none"}},
  "parameters": {"lr_max": {"min": 0.0005, "max": 0.3, "distribution": "log_uniform_values"},
                 "momentum": {"values": [0.0, 0.9]}}
}"#;

#[sqlx::test(migrations = "../migrations")]
async fn a_bayes_sweep_of_eight_completes_and_its_proposals_are_reproducible(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    // One slot: each proposal is made when the one before it has ended, so
    // proposal i learned from exactly proposals 0..i.
    let (state, stop) = trainer_state(&db, data.path(), 1);
    let scheduling = tokio::spawn(state.runner.clone().run());

    let spec: SweepSpec = serde_json::from_str(BAYES).unwrap();
    let (status, created) = call(&state, "POST", "/api/v1/sweeps", serde_json::from_str(BAYES).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["runs"].as_u64(), created["queued"].as_u64()), (Some(8), Some(1)), "one proposal now, the rest later");
    let sweep = created["id"].as_i64().unwrap();
    let runs = ended(&state, sweep, 8, Duration::from_secs(400)).await;
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    let proposals: Vec<i64> = runs.iter().map(|r| r["proposal"].as_i64().unwrap()).collect();
    assert_eq!(proposals, (0..8).collect::<Vec<_>>());

    // Each stored proposal is what the spec proposes again from the
    // observations before it.
    let mut observed: Vec<Observation> = Vec::new();
    for run in &runs {
        let index = usize::try_from(run["proposal"].as_i64().unwrap()).unwrap();
        let again = spec.propose(index, &observed).unwrap();
        let mut params: serde_json::Map<String, Value> = serde_json::from_value(run["params"].clone()).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(Value::Object(again[0].params.clone()), Value::Object(params.clone()), "proposal {index}");
        let epochs: Vec<EpochMetrics> = {
            let (_, m) = call(&state, "GET", &format!("/api/v1/runs/{}/metrics", run["id"]), Value::Null).await;
            serde_json::from_value(m).unwrap()
        };
        params.remove("seed");
        observed.push(Observation { params, value: epochs.last().unwrap().test_pgd_acc });
    }
    // The page charts what it learned, one point per proposal.
    let (_, _, page) = common::get(state.clone(), &format!("/sweeps/{sweep}")).await;
    assert!(page.contains("bayes (TPE), 8 configs") && page.contains("chart-proposals"), "{page}");

    stop.send(true).unwrap();
    scheduling.await.unwrap();
}

const GRID: &str = r#"{
  "name": "grows",
  "method": "grid",
  "base": {"model": "small_cnn", "dataset": "digits", "epochs": 2},
  "parameters": {"epsilon": {"values": [0.05, 0.1]}, "lr_max": {"values": [0.05]}},
  "seeds": [0]
}"#;

async fn count(db: &SqlitePool, sweep: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM runs WHERE sweep_id = ?").bind(sweep).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn growing_a_sweep_adds_exactly_the_runs_asked_and_refuses_past_the_limit(db: SqlitePool) {
    let mut state = common::ready(db.clone());
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", serde_json::from_str(GRID).unwrap()).await;
    let sweep = created["id"].as_i64().unwrap();
    assert_eq!(count(&db, sweep).await, 2);

    // More seeds for every config.
    let (status, grown) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [1, 2]})).await;
    assert_eq!(status, StatusCode::OK, "{grown}");
    assert_eq!(grown["added"], 4);
    assert_eq!(count(&db, sweep).await, 6);
    // A new value on a grid axis runs with every seed the sweep has.
    let (status, grown) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"values": {"epsilon": [0.2]}})).await;
    assert_eq!(status, StatusCode::OK, "{grown}");
    assert_eq!(grown["added"], 3);
    assert_eq!(count(&db, sweep).await, 9);
    let names: Vec<String> = runs_of(&state, sweep).await.iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect();
    for seed in 0..3 {
        assert!(names.contains(&format!("epsilon=0.2,seed={seed}")), "{names:?}");
    }

    // Refusals, each at its field, with nothing added.
    for (ask, field) in [
        (json!({"seeds": [2]}), "seeds"),
        (json!({"values": {"epsilon": [0.1]}}), "values.epsilon"),
        (json!({"values": {"momentum": [0.5]}}), "values.momentum"),
        (json!({"count": 2}), "count"),
        (json!({"seeds": [9], "count": 2}), "grow"),
        (json!({"seeds": [5], "top": 2}), "top"),
    ] {
        let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), ask.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{ask}: {body}");
        assert_eq!(body["errors"][0]["field"], field, "{ask}: {body}");
        assert_eq!(count(&db, sweep).await, 9, "{ask} added nothing");
    }
    // Past the limit: the whole sweep counts, and nothing is added.
    state.max_sweep_runs = 11;
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [7]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("12 runs") && message.contains("limit of 11") && message.contains("--max-sweep-runs"), "{message}");
    assert_eq!(count(&db, sweep).await, 9);
    state.max_sweep_runs = 12;
    let (status, _) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [7]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&db, sweep).await, 12);

    // The history says what changed, and the stored spec followed.
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    let changes: Vec<&str> = got["changes"].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap()).collect();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes[0].contains("seeds 1, 2") && changes[1].contains("epsilon") && changes[2].contains("seeds 7"), "{changes:?}");
    assert_eq!(got["spec"]["seeds"], json!([0, 1, 2, 7]));
    assert_eq!(got["spec"]["parameters"]["epsilon"]["values"], json!([0.05, 0.1, 0.2]));
}

#[sqlx::test(migrations = "../migrations")]
async fn random_and_bayes_sweeps_grow_by_count(db: SqlitePool) {
    let state = common::ready(db.clone());
    let random = json!({
        "method": "random", "count": 3, "random_seed": 4, "base": {"epochs": 1},
        "parameters": {"lr_max": {"min": 0.01, "max": 0.1}}, "seeds": [0, 1]
    });
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", random.clone()).await;
    let sweep = created["id"].as_i64().unwrap();
    let before: Vec<Value> = runs_of(&state, sweep).await.iter().map(|r| r["params"].clone()).collect();
    let (status, grown) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"count": 2})).await;
    assert_eq!(status, StatusCode::OK, "{grown}");
    assert_eq!(grown["added"], 4, "two configs, two seeds each");
    // The draws are the ones a sweep of 5 configs makes from the same seed.
    let mut five = random.clone();
    five["count"] = json!(5);
    let all: SweepSpec = serde_json::from_value(five).unwrap();
    let expected: Vec<Value> = all.expand(100).unwrap().into_iter().map(|r| Value::Object(r.params)).collect();
    let now: Vec<Value> = runs_of(&state, sweep).await.iter().map(|r| r["params"].clone()).collect();
    assert_eq!(now, expected);
    assert_eq!(now[..6], before[..]);

    let bayes = json!({
        "method": "bayes", "count": 3, "base": {"epochs": 1},
        "parameters": {"lr_max": {"min": 0.01, "max": 0.1}}
    });
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", bayes).await;
    let sweep = created["id"].as_i64().unwrap();
    let (status, grown) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"count": 2})).await;
    assert_eq!(status, StatusCode::OK, "{grown}");
    assert_eq!((grown["added"].as_u64(), grown["to_propose"].as_u64()), (Some(0), Some(4)), "{grown}");
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    assert_eq!(got["spec"]["count"], 5);

    // More seeds for a bayes sweep also count for the proposals to come:
    // 1 run now and 4 proposals × 2 seeds later make 10 with the one there.
    let mut state = state;
    state.max_sweep_runs = 9;
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [7]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("10 runs"), "{body}");
    state.max_sweep_runs = 10;
    let (status, grown) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [7]})).await;
    assert_eq!(status, StatusCode::OK, "{grown}");
    assert_eq!((grown["added"].as_u64(), grown["to_propose"].as_u64()), (Some(1), Some(8)), "{grown}");
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"count": 1, "top": 2})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("top")), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_paused_sweeps_queued_runs_wait_until_it_is_resumed(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", serde_json::from_str(GRID).unwrap()).await;
    let sweep = created["id"].as_i64().unwrap();
    assert!(advmix_server::store::runs::next_queued(&db, "cpu").await.unwrap().is_some());

    let (status, _) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/pause"), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(advmix_server::store::runs::next_queued(&db, "cpu").await.unwrap().is_none(), "its queued runs wait");
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    assert_eq!((got["status"].as_str(), got["paused"].as_bool()), (Some("paused"), Some(true)));
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/pause"), Value::Null).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, _) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/resume"), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(advmix_server::store::runs::next_queued(&db, "cpu").await.unwrap().is_some());
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    let changes: Vec<&str> = got["changes"].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap()).collect();
    assert_eq!(changes, ["paused", "resumed"]);
    let (status, _) = call(&state, "POST", "/api/v1/sweeps/999/pause", Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A sweep of three runs on one slot of an executor that runs nothing: one
/// runs, two wait.
async fn three_on_one_slot(db: &SqlitePool) -> (advmix_server::AppState, tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>, i64) {
    let fake = std::sync::Arc::new(common::fake::FakeExecutor::new(None));
    let compute = Compute::Unavailable { trainer: "".into(), reason: "".into() };
    let data = tempfile::tempdir().unwrap().keep();
    let (state, stop) = common::with_executor(db.clone(), compute, fake, &data, 1);
    let scheduling = tokio::spawn(state.runner.clone().run());
    let spec = json!({"method": "grid", "base": {"dataset": "digits", "epochs": 5}, "parameters": {"lr_max": {"values": [0.01, 0.02, 0.03]}}});
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", spec).await;
    let sweep = created["id"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while runs_of(&state, sweep).await.iter().filter(|r| r["status"] == "running").count() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no run started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (state, stop, scheduling, sweep)
}

fn statuses(runs: &[Value]) -> Vec<&str> {
    let mut all: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    all.sort_unstable();
    all
}

#[sqlx::test(migrations = "../migrations")]
async fn a_whole_sweep_stops_or_loses_only_its_queue_and_is_paused(db: SqlitePool) {
    let (state, stop, scheduling, sweep) = three_on_one_slot(&db).await;
    let (status, done) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/cancel"), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!((done["cancelled"].as_u64(), done["stopping"].as_u64()), (Some(2), Some(0)), "{done}");
    assert_eq!(statuses(&runs_of(&state, sweep).await), ["running", "stopped", "stopped"], "the running one goes on");
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    assert_eq!(got["paused"], true, "nothing new starts: {got}");

    let (status, done) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/stop"), Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!((done["cancelled"].as_u64(), done["stopping"].as_u64()), (Some(0), Some(1)), "{done}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while statuses(&runs_of(&state, sweep).await) != ["stopped", "stopped", "stopped"] {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", statuses(&runs_of(&state, sweep).await));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    let changes: Vec<&str> = got["changes"].as_array().unwrap().iter().map(|c| c["summary"].as_str().unwrap()).collect();
    assert_eq!(changes, ["paused", "cancelled 2 queued runs", "stopped all: 1 stopping, 0 taken out of the queue"]);
    let (status, _) = call(&state, "POST", "/api/v1/sweeps/999/stop", Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    stop.send(true).unwrap();
    scheduling.await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sweeps_priority_reorders_its_queue_and_its_later_runs(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", serde_json::from_str(GRID).unwrap()).await;
    let sweep = created["id"].as_i64().unwrap();
    let (status, body) = call(&state, "PATCH", &format!("/api/v1/sweeps/{sweep}"), json!({"priority": 5})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["queued_runs"], 2);
    let (_, grown) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [1]})).await;
    assert_eq!(grown["added"], 2);
    let priorities: Vec<i64> = runs_of(&state, sweep).await.iter().map(|r| r["priority"].as_i64().unwrap()).collect();
    assert_eq!(priorities, [5, 5, 5, 5], "grown runs take the sweep's priority");
    let (_, got) = call(&state, "GET", &format!("/api/v1/sweeps/{sweep}"), Value::Null).await;
    assert_eq!(got["priority"], 5);
    let (status, body) = call(&state, "PATCH", &format!("/api/v1/sweeps/{sweep}"), json!({"priority": "high"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sweeps_best_checkpoints_are_evaluated_once_each_best_runs_first(db: SqlitePool) {
    let state = common::ready(db.clone());
    let (_, created) = call(&state, "POST", "/api/v1/sweeps", serde_json::from_str(GRID).unwrap()).await;
    let sweep = created["id"].as_i64().unwrap();
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/evaluate"), json!({"attack": "aa-fast"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing finished yet: {body}");
    assert!(body["error"].as_str().unwrap().contains("no finished run"), "{body}");

    let _ = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/grow"), json!({"seeds": [1]})).await;
    // Three finished runs with best checkpoints (one better than the others), one still queued.
    let ids: Vec<i64> = runs_of(&state, sweep).await.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    for (id, best) in ids.iter().take(3).zip([0.2, 0.5, 0.3]) {
        sqlx::query("UPDATE runs SET status = 'succeeded', best_robust_acc = ?, epochs_done = 2 WHERE id = ?").bind(best).bind(id).execute(&db).await.unwrap();
        sqlx::query("INSERT INTO checkpoints (run_id, epoch, kind, path, bytes, sha256) VALUES (?, 2, 'best', 'checkpoints/best.safetensors', 1, 'x')")
            .bind(id)
            .execute(&db)
            .await
            .unwrap();
    }
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/evaluate"), json!({"attack": "aa-fast", "n": 200, "top": 2})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let runs: Vec<i64> = body["queued"].as_array().unwrap().iter().map(|e| e["run_id"].as_i64().unwrap()).collect();
    assert_eq!(runs, [ids[1], ids[2]], "the top two by best robust accuracy");
    assert!(body["queued"].as_array().unwrap().iter().all(|e| e["suite"] == "aa-fast" && e["n"] == 200 && e["status"] == "queued"));
    // All of them now: the two already queued are not queued twice.
    let (_, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/evaluate"), json!({"attack": "aa-fast", "n": 200})).await;
    assert_eq!((body["queued"].as_array().unwrap().len(), body["already"].as_u64()), (1, Some(2)), "{body}");
    let (status, body) = call(&state, "POST", &format!("/api/v1/sweeps/{sweep}/evaluate"), json!({"attack": "fgsm"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("attack")), "{body}");
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM evals").fetch_one(&db).await.unwrap();
    assert_eq!(jobs, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_on_a_missing_dataset_is_refused_at_its_field_with_the_download_command(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let compute = Compute::Unavailable { trainer: "".into(), reason: "".into() };
    let (state, _stop) = common::harness(db.clone(), compute, "/nonexistent/advmix-trainer".into(), data.path(), 1);
    let spec = json!({"method": "grid", "base": {"dataset": "cifar10"}, "parameters": {"lr_max": {"values": [0.1, 0.2]}}});
    let (status, body) = call(&state, "POST", "/api/v1/sweeps", spec.clone()).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("dataset")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("advmix-trainer download cifar10"), "{body}");
    let (status, body) = call(&state, "POST", "/api/v1/runs", json!({"name": "c", "config": {"dataset": "cifar100"}})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("config.dataset")), "{body}");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(&db).await.unwrap();
    assert_eq!(runs, 0, "nothing created");
    // Once the files are there, the same sweep is taken.
    common::with_cifar(data.path());
    let (status, body) = call(&state, "POST", "/api/v1/sweeps", spec).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

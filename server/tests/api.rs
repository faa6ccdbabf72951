//! The JSON API under `/api/v1`, in-process through the router: every
//! endpoint's success path, each kind of bad input (a JSON error naming the
//! field, and nothing created), and the access token on and off. The
//! scheduler loop is never started, so created runs stay `queued`.

mod common;

use std::time::Duration;

use advmix_protocol::{Event, EventLine};
use advmix_server::AppState;
use advmix_server::auth::Auth;
use advmix_server::compute::Compute;
use advmix_server::runner::bus::{BusEvent, RunEvent};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tower::ServiceExt;

// ---------------------------------------------------------------- harness

/// A state over a temporary data directory, with the shutdown sender kept.
struct Env {
    state: AppState,
    stop: tokio::sync::watch::Sender<bool>,
    data: tempfile::TempDir,
}

fn env(db: SqlitePool) -> Env {
    let data = tempfile::tempdir().unwrap();
    let compute = Compute::Ready { trainer: "/opt/advmix/advmix-trainer".into(), report: common::gpu_report() };
    common::with_cifar(data.path());
    let (state, stop) = common::harness(db, compute, "/nonexistent/advmix-trainer".into(), data.path(), 1);
    Env { state, stop, data }
}

/// The same, with the access token `s3cret` required.
fn env_with_token(db: SqlitePool) -> Env {
    let mut env = env(db);
    env.state.auth = Auth::new(Some(TOKEN.into()));
    env
}

const TOKEN: &str = "s3cret";

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn header(&self, name: header::HeaderName) -> String {
        self.headers.get(&name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    /// Asserts the status and returns the JSON body.
    fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        self.json()
    }
}

impl Env {
    async fn send(&self, request: Request<Body>) -> Resp {
        let response = advmix_server::app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
            .await
            .expect("the body ends")
            .unwrap()
            .to_bytes();
        Resp { status, headers, body }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(request(Method::GET, uri).body(Body::empty()).unwrap()).await
    }

    async fn get_with(&self, uri: &str, name: header::HeaderName, value: &str) -> Resp {
        self.send(request(Method::GET, uri).header(name, value).body(Body::empty()).unwrap()).await
    }

    async fn post(&self, uri: &str) -> Resp {
        self.send(request(Method::POST, uri).body(Body::empty()).unwrap()).await
    }

    async fn delete(&self, uri: &str) -> Resp {
        self.send(request(Method::DELETE, uri).body(Body::empty()).unwrap()).await
    }

    async fn post_json(&self, uri: &str, body: &Value) -> Resp {
        self.send(with_body(Method::POST, uri, "application/json", body.to_string())).await
    }

    async fn patch_json(&self, uri: &str, body: &Value) -> Resp {
        self.send(with_body(Method::PATCH, uri, "application/json", body.to_string())).await
    }

    async fn post_raw(&self, uri: &str, content_type: &str, body: impl Into<String>) -> Resp {
        self.send(with_body(Method::POST, uri, content_type, body.into())).await
    }

    fn db(&self) -> &SqlitePool {
        &self.state.db
    }

    fn run_dir(&self, id: i64) -> std::path::PathBuf {
        self.data.path().join("runs").join(id.to_string())
    }

    /// Creates a small run through the API; returns its id.
    /// Opens an SSE stream and checks that it is one.
    async fn stream(&self, uri: &str) -> Body {
        let response = advmix_server::app(self.state.clone()).oneshot(request(Method::GET, uri).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        response.into_body()
    }

    async fn create_run(&self, name: &str, config: Value) -> i64 {
        let body = self.post_json("/api/v1/runs", &json!({ "name": name, "config": config, "priority": 0 })).await;
        body.expect(StatusCode::CREATED)["id"].as_i64().unwrap()
    }

    async fn list(&self, query: &str) -> Value {
        self.get(&format!("/api/v1/runs{query}")).await.expect(StatusCode::OK)
    }

    /// The ids a list query returns, in order.
    async fn ids(&self, query: &str) -> Vec<i64> {
        run_ids(&self.list(query).await)
    }
}

fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

fn with_body(method: Method, uri: &str, content_type: &str, body: String) -> Request<Body> {
    request(method, uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).unwrap()
}

fn run_ids(list: &Value) -> Vec<i64> {
    list["runs"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

fn small() -> Value {
    json!({ "method": "aom", "dataset": "digits", "model": "small_cnn", "epochs": 2 })
}

async fn count(db: &SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(db).await.unwrap()
}

async fn set_status(db: &SqlitePool, id: i64, status: &str) {
    sqlx::query("UPDATE runs SET status = ? WHERE id = ?").bind(status).bind(id).execute(db).await.unwrap();
}

/// A JSON error of `status` whose first field is `field`; returns its message.
fn invalid(resp: &Resp, status: StatusCode, field: &str) -> String {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert!(resp.header(header::CONTENT_TYPE).starts_with("application/json"), "{:?}", resp.headers);
    let body = resp.json();
    assert_eq!(body["field"], field, "{body}");
    let message = body["error"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

/// A 404 JSON error.
fn not_found(resp: &Resp, what: &str) {
    assert_eq!(resp.status, StatusCode::NOT_FOUND, "{what}: {}", resp.text());
    assert_eq!(resp.json()["error"], "not found", "{what}");
}

// ---------------------------------------------------------------- runs: create and get

#[sqlx::test(migrations = "../migrations")]
async fn created_runs_are_queued_listed_and_carry_their_config(db: SqlitePool) {
    let env = env(db);
    let resp = env.post_json("/api/v1/runs", &json!({ "name": " first ", "config": small(), "priority": 3 })).await;
    let id = resp.expect(StatusCode::CREATED)["id"].as_i64().unwrap();

    let list = env.list("").await;
    assert_eq!(list["total"], 1);
    let run = &list["runs"][0];
    assert_eq!(run["id"], id);
    assert_eq!(run["name"], "first", "names are trimmed");
    assert_eq!(run["status"], "queued");
    assert_eq!(run["method"], "aom");
    assert_eq!(run["dataset"], "digits");
    assert_eq!(run["model"], "small_cnn");
    assert_eq!(run["epochs"], 2);
    assert_eq!(run["priority"], 3);
    assert_eq!(run["tags"], json!([]));
    assert_eq!(run["params"], json!({}));
    assert!(run.get("config").is_none(), "lists leave the config out");

    let detail = env.get(&format!("/api/v1/runs/{id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["status"], "queued");
    let config = &detail["config"];
    assert_eq!(config["method"], "aom");
    assert_eq!(config["epochs"], 2);
    // Defaults fill what the request left out.
    assert_eq!(config["batch_size"], 128);
    assert_eq!(config["aom"]["steps"], 10);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_run_needs_only_a_name(db: SqlitePool) {
    let env = env(db);
    let resp = env.post_json("/api/v1/runs", &json!({ "name": "defaults" })).await;
    let id = resp.expect(StatusCode::CREATED)["id"].as_i64().unwrap();
    let detail = env.get(&format!("/api/v1/runs/{id}")).await.expect(StatusCode::OK);
    assert_eq!(detail["config"]["method"], "pgd_at");
    assert_eq!(detail["config"]["epochs"], 200);
    assert_eq!(detail["priority"], 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_runs_are_refused_naming_the_field_and_create_nothing(db: SqlitePool) {
    let env = env(db);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "name": "x", "config": small(), "colour": "red" }), "body", "colour"),
        (json!({ "name": "x", "config": { "epsilonn": 0.1 } }), "config.epsilonn", "epsilonn"),
        (json!({ "name": "x", "config": { "aom": { "stpes": 3 } } }), "config.aom.stpes", "stpes"),
        (json!({ "name": "x", "config": { "epochs": "ten" } }), "config.epochs", "ten"),
        (json!({ "name": "x", "config": { "method": "fgsm" } }), "config.method", "fgsm"),
        (json!({ "name": "x", "config": { "epsilon": -1 } }), "config.epsilon", "[0, 1]"),
        (json!({ "name": "x", "config": { "epochs": 0 } }), "config.epochs", "at least 1"),
        (json!({ "name": "x", "config": { "aom": { "lambda_min": 0.8, "lambda_max": 0.2 } } }), "config.aom.lambda_min", "lambda_min ≤ lambda_max"),
        (json!({ "name": "x", "config": [1, 2] }), "config", ""),
        (json!({ "name": "x", "config": { "device": "cuda" } }), "config.device", "no cuda slot"),
        (json!({ "name": "", "config": small() }), "name", "name"),
        (json!({ "name": "   ", "config": small() }), "name", "name"),
        (json!({ "name": "x".repeat(201), "config": small() }), "name", "200"),
        (json!({ "config": small() }), "body", "name"),
        (json!({ "name": 5 }), "body", "name"),
        (json!({ "name": "x", "priority": "high" }), "body", "priority"),
    ];
    for (body, field, needle) in cases {
        let resp = env.post_json("/api/v1/runs", &body).await;
        let message = invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, field);
        assert!(message.contains(needle), "{body}: `{message}` should mention `{needle}`");
    }
    // Every problem at once, each at its field.
    let resp = env
        .post_json("/api/v1/runs", &json!({ "name": "x", "config": { "epsilon": -1, "aom": { "lambda_min": 0.9, "lambda_max": 0.1 } } }))
        .await;
    invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, "config.epsilon");
    let fields: Vec<Value> = resp.json()["errors"].as_array().unwrap().iter().map(|e| e["field"].clone()).collect();
    assert_eq!(fields, [json!("config.epsilon"), json!("config.aom.lambda_min")]);

    // Not JSON at all.
    let resp = env.post_raw("/api/v1/runs", "application/json", "{\"name\": ").await;
    invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, "body");
    let resp = env.post_raw("/api/v1/runs", "text/plain", json!({ "name": "x" }).to_string()).await;
    assert!(resp.status.is_client_error(), "{}", resp.status);
    let message = invalid(&resp, resp.status, "body");
    assert!(message.contains("application/json"), "{message}");
    let resp = env.send(request(Method::POST, "/api/v1/runs").body(Body::from("{\"name\":\"x\"}")).unwrap()).await;
    assert!(resp.status.is_client_error(), "no content type: {}", resp.status);
    assert!(resp.json()["error"].as_str().unwrap().contains("application/json"));

    // Too big to read.
    let huge = json!({ "name": "x".repeat(advmix_server::app::MAX_BODY_BYTES + 1) });
    let resp = env.post_json("/api/v1/runs", &huge).await;
    assert!(invalid(&resp, StatusCode::PAYLOAD_TOO_LARGE, "body").contains("limit"));

    assert_eq!(count(env.db(), "runs").await, 0);
}

// ---------------------------------------------------------------- runs: list

/// Four runs with distinct values in every sortable column (the fourth has no
/// results, so its accuracies are NULL); returns their ids.
async fn four_runs(env: &Env) -> Vec<i64> {
    let mut ids = Vec::new();
    for (i, name) in ["alpha", "bravo", "charlie", "delta"].iter().enumerate() {
        ids.push(env.create_run(name, small()).await);
        let i = i as i64;
        let acc = (i < 3).then_some(0.1 * (i + 1) as f64);
        sqlx::query(
            "UPDATE runs SET status = ?, method = ?, dataset = ?, model = ?, epochs_done = ?, priority = ?,
             created_at = ?, best_robust_acc = ?, final_clean_acc = ?, final_robust_acc = ?, autoattack_acc = ? WHERE id = ?",
        )
        .bind(["failed", "queued", "running", "succeeded"][i as usize])
        .bind(["aom", "erm", "mixup", "trades"][i as usize])
        .bind(["cifar10", "cifar100", "digits", "synthetic"][i as usize])
        .bind(["m1", "m2", "m3", "m4"][i as usize])
        .bind(i)
        .bind(10 - i)
        .bind(format!("2026-01-0{}T00:00:00.000Z", 4 - i))
        .bind(acc)
        .bind(acc.map(|a| 1.0 - a))
        .bind(acc.map(|a| a / 2.0))
        .bind(acc)
        .bind(ids[i as usize])
        .execute(env.db())
        .await
        .unwrap();
    }
    ids
}

fn ordered(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap().total_cmp(&y.as_f64().unwrap()),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => panic!("cannot compare {a} and {b}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_sort_by_every_allowed_column_both_ways_with_nulls_last(db: SqlitePool) {
    let env = env(db);
    let ids = four_runs(&env).await;
    assert_eq!(env.ids("").await, [ids[3], ids[2], ids[1], ids[0]], "newest first by default");
    assert_eq!(env.ids("?order=asc").await, ids, "by id");
    let columns = [
        "id", "name", "status", "method", "dataset", "model", "epochs_done", "priority", "created_at",
        "best_robust_acc", "final_clean_acc", "final_robust_acc", "autoattack_acc",
    ];
    for column in columns {
        for order in ["asc", "desc"] {
            let list = env.list(&format!("?sort={column}&order={order}")).await;
            let runs = list["runs"].as_array().unwrap();
            assert_eq!(runs.len(), 4, "{column} {order}");
            let values: Vec<&Value> = runs.iter().map(|r| &r[column]).collect();
            let present: Vec<&Value> = values.iter().copied().filter(|v| !v.is_null()).collect();
            let nulls = values.len() - present.len();
            assert!(values[present.len()..].iter().all(|v| v.is_null()), "{column} {order}: NULLs last: {values:?}");
            for pair in present.windows(2) {
                let expected = if order == "asc" { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater };
                assert_eq!(ordered(pair[0], pair[1]), expected, "{column} {order}: {values:?}");
            }
            if column.ends_with("acc") {
                assert_eq!(nulls, 1, "{column}");
            }
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_filter_by_status_sweep_method_tag_and_text(db: SqlitePool) {
    let env = env(db);
    let ids = four_runs(&env).await;
    let sweep = env
        .post_raw("/api/v1/sweeps", "application/yaml", "method: grid\nbase: {epochs: 1}\nparameters:\n  seed: {values: [1, 2]}\n")
        .await
        .expect(StatusCode::CREATED);
    let sweep_id = sweep["id"].as_i64().unwrap();
    sqlx::query("UPDATE runs SET note = 'uses 50% mixup' WHERE id = ?").bind(ids[2]).execute(env.db()).await.unwrap();
    env.patch_json(&format!("/api/v1/runs/{}", ids[1]), &json!({ "tags": ["baseline", "paper"] })).await.expect(StatusCode::OK);
    env.patch_json(&format!("/api/v1/runs/{}", ids[3]), &json!({ "tags": ["paper"] })).await.expect(StatusCode::OK);

    assert_eq!(env.ids("?status=failed").await, [ids[0]]);
    assert_eq!(env.ids("?status=lost").await, Vec::<i64>::new());
    let in_sweep = env.ids(&format!("?sweep={sweep_id}")).await;
    assert_eq!(in_sweep.len(), 2);
    assert!(in_sweep.iter().all(|id| !ids.contains(id)));
    assert_eq!(env.ids("?method=erm").await, [ids[1]]);
    assert_eq!(env.ids("?tag=paper").await, [ids[3], ids[1]]);
    assert_eq!(env.ids("?tag=baseline").await, [ids[1]]);
    assert_eq!(env.ids("?tag=nothing").await, Vec::<i64>::new());
    assert_eq!(env.ids("?q=rav").await, [ids[1]], "matches the name");
    assert_eq!(env.ids("?q=MIXUP").await, [ids[2]], "matches the note, ignoring case");
    assert_eq!(env.ids("?q=50%25").await, [ids[2]], "% is literal");
    assert_eq!(env.ids("?q=5%25%25").await, Vec::<i64>::new(), "%% is literal too");
    assert_eq!(env.ids("?q=_").await, Vec::<i64>::new(), "_ is literal");
    assert_eq!(env.ids("?q=").await.len(), 6, "an empty q filters nothing");
    // Filters combine, and the total counts the filtered rows.
    let list = env.list("?tag=paper&status=succeeded").await;
    assert_eq!(run_ids(&list), [ids[3]]);
    assert_eq!(list["total"], 1);
    assert_eq!(env.ids("?tag=paper&method=aom").await, Vec::<i64>::new());
}

#[sqlx::test(migrations = "../migrations")]
async fn lists_paginate_with_a_total(db: SqlitePool) {
    let env = env(db);
    let mut all = Vec::new();
    for i in 0..5 {
        all.push(env.create_run(&format!("r{i}"), small()).await);
    }
    let page = env.list("?per_page=2&order=asc").await;
    assert_eq!((page["total"].as_i64(), page["page"].as_i64(), page["per_page"].as_i64()), (Some(5), Some(1), Some(2)));
    assert_eq!(run_ids(&page), all[..2]);
    assert_eq!(env.ids("?per_page=2&order=asc&page=2").await, all[2..4]);
    let last = env.list("?per_page=2&order=asc&page=3").await;
    assert_eq!(run_ids(&last), all[4..]);
    assert_eq!(last["total"], 5);
    let past = env.list("?per_page=2&page=4").await;
    assert_eq!(run_ids(&past), Vec::<i64>::new());
    assert_eq!(past["total"], 5);
    assert_eq!(env.list("").await["per_page"], 50, "the default page size");
    assert_eq!(env.ids("?per_page=500").await.len(), 5);
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_list_queries_name_the_parameter(db: SqlitePool) {
    let env = env(db);
    for (query, field) in [
        ("status=bogus", "status"),
        ("sort=bogus", "sort"),
        ("sort=config", "sort"),
        ("sort=id;DROP TABLE runs", "sort"),
        ("per_page=0", "per_page"),
        ("per_page=501", "per_page"),
        ("page=0", "page"),
        ("order=sideways", "order"),
    ] {
        let resp = env.get(&format!("/api/v1/runs?{}", query.replace(' ', "%20").replace(';', "%3B"))).await;
        let message = invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, field);
        assert!(!message.is_empty(), "{query}");
    }
    // Mistyped or unknown parameters are JSON errors too, and say which.
    for (query, needle) in [("per_page=abc", "per_page"), ("sweep=x", "sweep"), ("colour=red", "colour")] {
        let resp = env.get(&format!("/api/v1/runs?{query}")).await;
        let message = invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, "query");
        assert!(message.contains(needle), "{query}: {message}");
    }
    assert_eq!(count(env.db(), "runs").await, 0);
}

// ---------------------------------------------------------------- runs: patch and actions

#[sqlx::test(migrations = "../migrations")]
async fn patch_sets_priority_note_and_tags(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let other = env.create_run("s", small()).await;
    let uri = format!("/api/v1/runs/{id}");
    let run = env.patch_json(&uri, &json!({ "priority": 7, "note": "try a lower lr", "tags": ["b", " a ", "b"] })).await.expect(StatusCode::OK);
    assert_eq!(run["priority"], 7);
    assert_eq!(run["note"], "try a lower lr");
    assert_eq!(run["tags"], json!(["a", "b"]), "trimmed, deduplicated, sorted");
    assert_eq!(env.ids("?tag=a").await, [id]);

    // Left-out fields stay; tags are replaced as a whole.
    let run = env.patch_json(&uri, &json!({ "tags": ["c"] })).await.expect(StatusCode::OK);
    assert_eq!((run["priority"].as_i64(), run["note"].as_str()), (Some(7), Some("try a lower lr")));
    assert_eq!(run["tags"], json!(["c"]));
    assert_eq!(env.ids("?tag=a").await, Vec::<i64>::new());
    assert_eq!(env.ids("?tag=c").await, [id]);
    let run = env.patch_json(&uri, &json!({ "tags": [] })).await.expect(StatusCode::OK);
    assert_eq!(run["tags"], json!([]));
    let run = env.patch_json(&uri, &json!({})).await.expect(StatusCode::OK);
    assert_eq!(run["priority"], 7);

    for (body, field) in [
        (json!({ "tags": ["a,b"] }), "tags"),
        (json!({ "tags": [""] }), "tags"),
        (json!({ "tags": ["x".repeat(65)] }), "tags"),
        (json!({ "note": "x".repeat(10_001) }), "note"),
        (json!({ "priority": "high" }), "body"),
        (json!({ "status": "succeeded" }), "body"),
    ] {
        let resp = env.patch_json(&uri, &body).await;
        invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, field);
    }
    let run = env.get(&uri).await.expect(StatusCode::OK);
    assert_eq!((run["status"].as_str(), run["tags"].clone()), (Some("queued"), json!([])), "refused patches change nothing");
    let untouched = env.get(&format!("/api/v1/runs/{other}")).await.expect(StatusCode::OK);
    assert_eq!((untouched["priority"].as_i64(), untouched["note"].as_str()), (Some(0), Some("")));
}

#[sqlx::test(migrations = "../migrations")]
async fn stop_resume_and_rerun(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let uri = |action: &str| format!("/api/v1/runs/{id}/{action}");

    let resumed = env.post(&uri("resume")).await;
    assert_eq!(resumed.status, StatusCode::CONFLICT, "a queued run cannot be resumed");
    assert!(resumed.json()["error"].as_str().unwrap().contains("queued"));

    assert_eq!(env.post(&uri("stop")).await.expect(StatusCode::OK)["status"], "stopped");
    let run = env.get(&format!("/api/v1/runs/{id}")).await.expect(StatusCode::OK);
    assert_eq!(run["status"], "stopped");
    assert!(run["finished_at"].is_string());
    assert_eq!(env.ids("?status=stopped").await, [id]);
    assert_eq!(env.post(&uri("stop")).await.status, StatusCode::CONFLICT, "already stopped");

    let body = env.post(&uri("resume")).await.expect(StatusCode::OK);
    assert_eq!(body, json!({ "status": "queued", "from_checkpoint": false, "continued": false }));
    let run = env.get(&format!("/api/v1/runs/{id}")).await.expect(StatusCode::OK);
    assert_eq!(run["status"], "queued");
    assert!(run["error"].is_null());

    // With a resume checkpoint on disk, the next start continues from it.
    env.post(&uri("stop")).await.expect(StatusCode::OK);
    std::fs::create_dir_all(env.run_dir(id).join("checkpoints")).unwrap();
    std::fs::write(env.run_dir(id).join("checkpoints/resume.safetensors"), b"state").unwrap();
    let body = env.post(&uri("resume")).await.expect(StatusCode::OK);
    assert_eq!(body["from_checkpoint"], true);
    let resume: bool = sqlx::query_scalar("SELECT resume FROM runs WHERE id = ?").bind(id).fetch_one(env.db()).await.unwrap();
    assert!(resume);

    // Failed and lost runs resume too; succeeded ones do not.
    for (status, expected) in [("failed", StatusCode::OK), ("lost", StatusCode::OK), ("succeeded", StatusCode::CONFLICT)] {
        set_status(env.db(), id, status).await;
        assert_eq!(env.post(&uri("resume")).await.status, expected, "resume a {status} run");
    }
    set_status(env.db(), id, "succeeded").await;
    assert_eq!(env.post(&uri("stop")).await.status, StatusCode::CONFLICT, "a finished run cannot be stopped");

    // A running run without an executor handle yet asks to try again.
    set_status(env.db(), id, "running").await;
    let resp = env.post(&uri("stop")).await;
    assert_eq!(resp.status, StatusCode::CONFLICT);
    assert!(resp.json()["error"].as_str().unwrap().contains("being started"));

    // Rerun: a new queued run with the same config and priority, named as a re-run.
    sqlx::query("UPDATE runs SET priority = 4 WHERE id = ?").bind(id).execute(env.db()).await.unwrap();
    let new_id = env.post(&uri("rerun")).await.expect(StatusCode::CREATED)["id"].as_i64().unwrap();
    assert_ne!(new_id, id);
    let old = env.get(&format!("/api/v1/runs/{id}")).await.expect(StatusCode::OK);
    let new = env.get(&format!("/api/v1/runs/{new_id}")).await.expect(StatusCode::OK);
    assert_eq!(new["config"], old["config"]);
    let renamed = format!("{} (re-run of #{id})", old["name"].as_str().unwrap());
    assert_eq!((new["name"].as_str(), new["priority"].clone()), (Some(renamed.as_str()), old["priority"].clone()));
    assert_eq!(new["status"], "queued");
    assert_eq!(old["status"], "running", "the original is left alone");
    assert_eq!(env.ids("?status=queued").await, [new_id]);
}

#[sqlx::test(migrations = "../migrations")]
async fn rerun_of_a_sweep_run_keeps_its_sweep_and_params(db: SqlitePool) {
    let env = env(db);
    let sweep = env
        .post_raw("/api/v1/sweeps", "application/yaml", "method: grid\nparameters:\n  epsilon: {values: [0.01, 0.02]}\n")
        .await
        .expect(StatusCode::CREATED);
    let first = env.list("?order=asc").await["runs"][0].clone();
    let new_id = env.post(&format!("/api/v1/runs/{}/rerun", first["id"])).await.expect(StatusCode::CREATED)["id"].as_i64().unwrap();
    let new = env.get(&format!("/api/v1/runs/{new_id}")).await.expect(StatusCode::OK);
    assert_eq!(new["sweep_id"], sweep["id"]);
    assert_eq!(new["params"], first["params"]);
    assert_eq!(new["params"], json!({ "epsilon": 0.01 }));
    assert_eq!(new["config"]["epsilon"], 0.01);
}

#[sqlx::test(migrations = "../migrations")]
async fn delete_removes_rows_and_files_but_not_a_running_run(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let keep = env.create_run("keep", small()).await;
    env.patch_json(&format!("/api/v1/runs/{id}"), &json!({ "tags": ["t"] })).await.expect(StatusCode::OK);
    insert_epoch(env.db(), id, 1).await;
    insert_checkpoint(&env, id, "checkpoints/x.safetensors", b"0123456789").await;
    std::fs::write(env.run_dir(id).join("stderr.log"), "log").unwrap();

    set_status(env.db(), id, "running").await;
    let resp = env.delete(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(resp.status, StatusCode::CONFLICT, "{}", resp.text());
    assert!(resp.json()["error"].as_str().unwrap().contains("running"));
    assert!(env.run_dir(id).exists());
    assert_eq!(count(env.db(), "runs").await, 2);

    set_status(env.db(), id, "failed").await;
    let resp = env.delete(&format!("/api/v1/runs/{id}")).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT);
    assert!(resp.body.is_empty());
    not_found(&env.get(&format!("/api/v1/runs/{id}")).await, "deleted run");
    assert_eq!(env.ids("").await, [keep]);
    for table in ["epochs", "checkpoints", "run_tags"] {
        assert_eq!(count(env.db(), table).await, 0, "{table} rows go with the run");
    }
    assert!(!env.run_dir(id).exists(), "the run directory is removed");
    not_found(&env.delete(&format!("/api/v1/runs/{id}")).await, "deleted twice");
    // A run that never started has no directory; deleting it still works.
    assert_eq!(env.delete(&format!("/api/v1/runs/{keep}")).await.status, StatusCode::NO_CONTENT);
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_runs_are_404_on_every_endpoint(db: SqlitePool) {
    let env = env(db);
    env.create_run("r", small()).await;
    for (method, uri) in [
        (Method::GET, "/api/v1/runs/999"),
        (Method::DELETE, "/api/v1/runs/999"),
        (Method::POST, "/api/v1/runs/999/stop"),
        (Method::POST, "/api/v1/runs/999/resume"),
        (Method::POST, "/api/v1/runs/999/rerun"),
        (Method::GET, "/api/v1/runs/999/metrics"),
        (Method::GET, "/api/v1/runs/999/metrics.csv"),
        (Method::GET, "/api/v1/runs/999/checkpoints"),
        (Method::GET, "/api/v1/runs/999/log"),
        (Method::GET, "/api/v1/runs/999/archive"),
        (Method::GET, "/api/v1/runs/999/events"),
        (Method::GET, "/api/v1/checkpoints/999/download"),
        (Method::GET, "/api/v1/sweeps/999"),
    ] {
        let resp = env.send(request(method.clone(), uri).body(Body::empty()).unwrap()).await;
        not_found(&resp, &format!("{method} {uri}"));
    }
    let resp = env.patch_json("/api/v1/runs/999", &json!({ "note": "x" })).await;
    not_found(&resp, "PATCH");
    // An id that is not a number is a client error, not a server one.
    let resp = env.get("/api/v1/runs/abc").await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{}", resp.text());
    assert_eq!(count(env.db(), "runs").await, 1);
}

// ---------------------------------------------------------------- metrics, checkpoints, logs

/// Metric `i` (0-based) of epoch `e` is `e + i/4`: exact in binary and in CSV.
async fn insert_epoch(db: &SqlitePool, run: i64, epoch: i64) {
    let v = |i: usize| epoch as f64 + i as f64 / 4.0;
    sqlx::query(
        "INSERT INTO epochs (run_id, epoch, lr, train_loss, train_acc, train_clean_loss, train_clean_acc, test_clean_loss,
         test_clean_acc, test_pgd_loss, test_pgd_acc, epoch_seconds, images_per_second) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    )
    .bind(run)
    .bind(epoch)
    .bind(v(0)).bind(v(1)).bind(v(2)).bind(v(3)).bind(v(4)).bind(v(5))
    .bind(v(6)).bind(v(7)).bind(v(8)).bind(v(9)).bind(v(10))
    .execute(db)
    .await
    .unwrap();
}

/// A `best` checkpoint row at epoch 3 and, unless `contents` is empty, its file.
async fn insert_checkpoint(env: &Env, run: i64, path: &str, contents: &[u8]) -> i64 {
    if !contents.is_empty() {
        let file = env.run_dir(run).join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, contents).unwrap();
    }
    use sha2::Digest;
    sqlx::query_scalar(
        "INSERT INTO checkpoints (run_id, epoch, kind, path, bytes, sha256) VALUES (?, 3, 'best', ?, ?, ?) RETURNING id",
    )
    .bind(run)
    .bind(path)
    .bind(contents.len() as i64)
    .bind(hex::encode(sha2::Sha256::digest(contents)))
    .fetch_one(env.db())
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn metrics_as_json_and_csv(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let other = env.create_run("other", small()).await;
    assert_eq!(env.get(&format!("/api/v1/runs/{id}/metrics")).await.expect(StatusCode::OK), json!([]));
    for epoch in [2, 1] {
        insert_epoch(env.db(), id, epoch).await;
    }
    insert_epoch(env.db(), other, 1).await;

    let metrics = env.get(&format!("/api/v1/runs/{id}/metrics")).await.expect(StatusCode::OK);
    let rows = metrics.as_array().unwrap();
    assert_eq!(rows.len(), 2, "only this run's epochs");
    assert_eq!(rows[0]["epoch"], 1, "in epoch order");
    assert_eq!(rows[0]["lr"], 1.0);
    assert_eq!(rows[0]["test_pgd_acc"], 3.0);
    assert_eq!(rows[1]["images_per_second"], 4.5);

    let resp = env.get(&format!("/api/v1/runs/{id}/metrics.csv")).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.header(header::CONTENT_TYPE), "text/csv; charset=utf-8");
    assert_eq!(resp.header(header::CONTENT_DISPOSITION), format!("attachment; filename=\"run-{id}-metrics.csv\""));
    let csv = resp.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "epoch,lr,train_loss,train_acc,train_clean_loss,train_clean_acc,test_clean_loss,test_clean_acc,test_pgd_loss,test_pgd_acc,epoch_seconds,images_per_second",
            "1,1,1.25,1.5,1.75,2,2.25,2.5,2.75,3,3.25,3.5",
            "2,2,2.25,2.5,2.75,3,3.25,3.5,3.75,4,4.25,4.5",
        ]
    );
    let empty = env.get(&format!("/api/v1/runs/{}/metrics.csv", env.create_run("new", small()).await)).await;
    assert_eq!(empty.text().lines().count(), 1, "a header only");
}

#[sqlx::test(migrations = "../migrations")]
async fn checkpoints_list_and_download_whole_and_by_range(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    assert_eq!(env.get(&format!("/api/v1/runs/{id}/checkpoints")).await.expect(StatusCode::OK), json!([]));
    let contents = b"0123456789abcdef";
    let ckpt = insert_checkpoint(&env, id, "checkpoints/x.safetensors", contents).await;

    let list = env.get(&format!("/api/v1/runs/{id}/checkpoints")).await.expect(StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], ckpt);
    assert_eq!(list[0]["kind"], "best");
    assert_eq!(list[0]["epoch"], 3);
    assert_eq!(list[0]["bytes"], 16);
    assert_eq!(list[0]["path"], "checkpoints/x.safetensors");

    let uri = format!("/api/v1/checkpoints/{ckpt}/download");
    let whole = env.get(&uri).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(&whole.body[..], contents);
    assert_eq!(whole.header(header::CONTENT_LENGTH), "16");
    assert_eq!(whole.header(header::CONTENT_TYPE), "application/octet-stream");
    assert_eq!(whole.header(header::CONTENT_DISPOSITION), format!("attachment; filename=\"run-{id}-x.safetensors\""));
    assert_eq!(whole.header(header::ACCEPT_RANGES), "bytes");
    assert_eq!(whole.header(header::HeaderName::from_static("x-checksum-sha256")), list[0]["sha256"].as_str().unwrap());

    for (range, part, content_range) in [
        ("bytes=2-5", &contents[2..6], "bytes 2-5/16"),
        ("bytes=10-", &contents[10..], "bytes 10-15/16"),
        ("bytes=-3", &contents[13..], "bytes 13-15/16"),
        ("bytes=14-999", &contents[14..], "bytes 14-15/16"),
    ] {
        let resp = env.get_with(&uri, header::RANGE, range).await;
        assert_eq!(resp.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(&resp.body[..], part, "{range}");
        assert_eq!(resp.header(header::CONTENT_RANGE), content_range, "{range}");
        assert_eq!(resp.header(header::CONTENT_LENGTH), part.len().to_string(), "{range}");
    }
    for range in ["bytes=999999-", "bytes=16-", "bytes=5-2", "bytes=0-1,4-5", "items=0-1", "bytes=x-"] {
        let resp = env.get_with(&uri, header::RANGE, range).await;
        assert_eq!(resp.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(resp.header(header::CONTENT_RANGE), "bytes */16", "{range}");
    }

    // A row whose file is gone.
    let missing = insert_checkpoint_row_without_file(&env, id).await;
    not_found(&env.get(&format!("/api/v1/checkpoints/{missing}/download")).await, "missing file");
}

async fn insert_checkpoint_row_without_file(env: &Env, run: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO checkpoints (run_id, epoch, kind, path, bytes, sha256)
         VALUES (?, 5, 'periodic', 'checkpoints/epoch-5.safetensors', 10, '00') RETURNING id",
    )
    .bind(run)
    .fetch_one(env.db())
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn logs_download_whole_and_by_range(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let uri = format!("/api/v1/runs/{id}/log");
    not_found(&env.get(&uri).await, "no log yet");

    std::fs::create_dir_all(env.run_dir(id)).unwrap();
    std::fs::write(env.run_dir(id).join("stderr.log"), "line one\nline two\n").unwrap();
    let resp = env.get(&uri).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.text(), "line one\nline two\n");
    assert_eq!(resp.header(header::CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(resp.header(header::CONTENT_LENGTH), "18");
    assert_eq!(resp.header(header::CONTENT_DISPOSITION), format!("attachment; filename=\"run-{id}-stderr.log\""));

    let resp = env.get_with(&uri, header::RANGE, "bytes=9-").await;
    assert_eq!(resp.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.text(), "line two\n");
    assert_eq!(resp.header(header::CONTENT_RANGE), "bytes 9-17/18");
    let resp = env.get_with(&uri, header::RANGE, "bytes=999999-").await;
    assert_eq!(resp.status, StatusCode::RANGE_NOT_SATISFIABLE);

    // An empty log downloads as an empty body.
    std::fs::write(env.run_dir(id).join("stderr.log"), "").unwrap();
    let resp = env.get(&uri).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.body.is_empty());
    assert_eq!(resp.header(header::CONTENT_LENGTH), "0");
}

#[sqlx::test(migrations = "../migrations")]
async fn archives_hold_the_run_directory(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    not_found(&env.get(&format!("/api/v1/runs/{id}/archive")).await, "no directory yet");
    insert_checkpoint(&env, id, "checkpoints/best.safetensors", b"weights").await;
    std::fs::write(env.run_dir(id).join("checkpoints/resume.safetensors"), b"skipped").unwrap();
    std::fs::write(env.run_dir(id).join("stderr.log"), "log").unwrap();
    let resp = env.get(&format!("/api/v1/runs/{id}/archive")).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(resp.header(header::CONTENT_TYPE), "application/x-tar");
    let mut names: Vec<String> = tar::Archive::new(&resp.body[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, [format!("run-{id}/checkpoints/best.safetensors"), format!("run-{id}/stderr.log")]);
}

// ---------------------------------------------------------------- live events

fn event(run_id: i64, reason: &str) -> RunEvent {
    RunEvent { run_id, line: EventLine { time: 1.5, event: Event::Stopped { reason: reason.into() } } }
}

/// The next data frame of a streaming body, as text.
async fn next_chunk(body: &mut Body) -> String {
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .expect("the stream is open")
        .unwrap();
    String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
}

/// Reads the rest of a streaming body; panics unless it ends within 5 s.
async fn until_end(body: Body) -> String {
    let bytes = tokio::time::timeout(Duration::from_secs(5), body.collect()).await.expect("the stream ends").unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn run_events_stream_this_runs_events_and_end_at_shutdown(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let mut body = env.stream(&format!("/api/v1/runs/{id}/events")).await;

    env.state.bus.send(BusEvent::Event(event(id + 100, "another run's")));
    env.state.bus.send(BusEvent::Event(event(id, "by request")));
    let chunk = next_chunk(&mut body).await;
    assert!(chunk.starts_with("event: run\n"), "{chunk}");
    let data = chunk.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line");
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!(data, json!({ "run_id": id, "event": { "time": 1.5, "type": "stopped", "reason": "by request" } }));

    env.state.bus.send(BusEvent::Event(event(id, "later")));
    env.stop.send(true).unwrap();
    let rest = until_end(body).await;
    assert!(!rest.contains("another run's"), "{rest}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_status_change_reaches_the_runs_stream_within_a_second(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("r", small()).await;
    let mut body = env.stream(&format!("/api/v1/runs/{id}/events")).await;
    let asked = std::time::Instant::now();
    assert_eq!(env.post(&format!("/api/v1/runs/{id}/stop")).await.status, StatusCode::OK);
    let chunk = next_chunk(&mut body).await;
    assert!(asked.elapsed() < Duration::from_secs(1), "the status change took {:?}", asked.elapsed());
    assert!(chunk.starts_with("event: status\n"), "{chunk}");
    let data: Value = serde_json::from_str(chunk.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!((data["run_id"].as_i64(), data["run"]["status"].as_str()), (Some(id), Some("stopped")));
    assert_eq!(data["run"]["error"], "stopped before it started");
    assert_eq!(data["run"]["resume_from_checkpoint"], false);
    env.stop.send(true).unwrap();
    until_end(body).await;
}

#[sqlx::test(migrations = "../migrations")]
async fn all_events_stream_every_run_and_end_at_shutdown(db: SqlitePool) {
    let env = env(db);
    let mut body = env.stream("/api/v1/events").await;
    env.state.bus.send(BusEvent::Event(event(41, "a")));
    assert!(next_chunk(&mut body).await.contains("\"run_id\":41"));
    env.state.bus.send(BusEvent::Event(event(42, "b")));
    assert!(next_chunk(&mut body).await.contains("\"run_id\":42"));
    env.stop.send(true).unwrap();
    until_end(body).await;
    // A stream opened after shutdown ends at once.
    let response = advmix_server::app(env.state.clone())
        .oneshot(request(Method::GET, "/api/v1/events").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(until_end(response.into_body()).await, "");
}

// ---------------------------------------------------------------- sweeps

const GRID_YAML: &str = "
name: eps-grid
method: grid
base: {dataset: digits, model: small_cnn, epochs: 2}
parameters:
  method: {values: [pgd_at, aom]}
  epsilon: {values: [0.01, 0.02, 0.03]}
  aom.steps: {value: 3}
";

#[sqlx::test(migrations = "../migrations")]
async fn sweeps_from_yaml_queue_one_run_per_combination(db: SqlitePool) {
    let env = env(db);
    let created = env.post_raw("/api/v1/sweeps", "application/yaml", GRID_YAML).await.expect(StatusCode::CREATED);
    assert_eq!(created["runs"], 6);
    assert_eq!(created["name"], "eps-grid");
    let sweep_id = created["id"].as_i64().unwrap();

    let list = env.list(&format!("?sweep={sweep_id}&order=asc&per_page=100")).await;
    assert_eq!(list["total"], 6);
    let runs = list["runs"].as_array().unwrap();
    assert!(runs.iter().all(|r| r["status"] == "queued" && r["sweep_id"] == sweep_id));
    assert_eq!(runs[0]["params"], json!({ "method": "pgd_at", "epsilon": 0.01 }));
    assert_eq!(runs[0]["name"], "method=pgd_at,epsilon=0.01");
    assert_eq!(runs[5]["params"], json!({ "method": "aom", "epsilon": 0.03 }));
    assert_eq!(runs[5]["method"], "aom");
    let detail = env.get(&format!("/api/v1/runs/{}", runs[5]["id"])).await.expect(StatusCode::OK);
    assert_eq!(detail["config"]["epsilon"], 0.03);
    assert_eq!(detail["config"]["aom"]["steps"], 3);
    assert_eq!(detail["config"]["dataset"], "digits");

    let sweeps = env.get("/api/v1/sweeps").await.expect(StatusCode::OK);
    assert_eq!(sweeps.as_array().unwrap().len(), 1);
    assert_eq!(sweeps[0]["id"], sweep_id);
    assert_eq!(sweeps[0]["runs"], 6);
    assert_eq!(sweeps[0]["queued"], 6);
    assert_eq!(sweeps[0]["status"], "active");

    set_status(env.db(), runs[0]["id"].as_i64().unwrap(), "failed").await;
    let sweep = env.get(&format!("/api/v1/sweeps/{sweep_id}")).await.expect(StatusCode::OK);
    assert_eq!((sweep["runs"].as_i64(), sweep["queued"].as_i64(), sweep["failed"].as_i64()), (Some(6), Some(5), Some(1)));
    assert_eq!(sweep["spec"]["method"], "grid");
    assert_eq!(sweep["spec"]["base"]["epochs"], 2);
}

#[sqlx::test(migrations = "../migrations")]
async fn sweeps_from_json_and_without_a_content_type(db: SqlitePool) {
    let env = env(db);
    let spec = json!({
        "method": "random", "count": 3, "random_seed": 7,
        "base": { "dataset": "digits", "model": "small_cnn", "epochs": 1 },
        "parameters": { "lr_max": { "min": 0.01, "max": 0.1, "distribution": "log_uniform_values" } },
        "seeds": [0, 1],
    });
    let created = env.post_json("/api/v1/sweeps", &spec).await.expect(StatusCode::CREATED);
    assert_eq!(created["runs"], 6);
    assert_eq!(created["name"], "sweep of 6 runs");
    let runs = env.list(&format!("?sweep={}", created["id"])).await;
    for run in runs["runs"].as_array().unwrap() {
        let lr = run["params"]["lr_max"].as_f64().unwrap();
        assert!((0.01..=0.1).contains(&lr), "{run}");
        assert!(run["params"]["seed"].is_u64());
    }
    // The type is guessed from the text when none is given.
    let resp = env.send(request(Method::POST, "/api/v1/sweeps").body(Body::from(GRID_YAML)).unwrap()).await;
    assert_eq!(resp.expect(StatusCode::CREATED)["runs"], 6);
    let resp = env.post_raw("/api/v1/sweeps", "text/plain", spec.to_string()).await;
    assert_eq!(resp.expect(StatusCode::CREATED)["runs"], 6);
    assert_eq!(count(env.db(), "sweeps").await, 3);
    assert_eq!(count(env.db(), "runs").await, 18);
}

#[sqlx::test(migrations = "../migrations")]
async fn preview_counts_and_creates_nothing(db: SqlitePool) {
    let env = env(db);
    let body = env.post_raw("/api/v1/sweeps/preview", "application/yaml", GRID_YAML).await.expect(StatusCode::OK);
    assert_eq!(body["runs"], 6);
    assert_eq!(body["varying"], json!(["method", "epsilon"]));
    assert_eq!(body["limit"], 1000);
    let body = env
        .post_json("/api/v1/sweeps/preview", &json!({ "method": "grid", "parameters": { "seed": { "values": [1] } }, "seeds": [] }))
        .await;
    invalid(&body, StatusCode::UNPROCESSABLE_ENTITY, "seeds");
    let body = env
        .post_json("/api/v1/sweeps/preview", &json!({ "method": "grid", "seeds": [1, 2, 3] }))
        .await
        .expect(StatusCode::OK);
    assert_eq!((body["runs"].as_i64(), body["varying"].clone()), (Some(3), json!(["seed"])));
    // A preview validates every config, as submitting would.
    let resp = env
        .post_raw("/api/v1/sweeps/preview", "application/yaml", "method: grid\nparameters:\n  epsilon: {values: [0.1, 2.0]}\n")
        .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", resp.text());
    assert!(resp.text().contains("epsilon"), "{}", resp.text());
    assert_eq!(count(env.db(), "sweeps").await, 0);
    assert_eq!(count(env.db(), "runs").await, 0);
}

/// A W&B user's sweep file works unchanged apart from parameter names: its
/// W&B-only keys are accepted and named in the preview, and a step size
/// relative to ε is evaluated per run, with a warning where it falls short.
#[sqlx::test(migrations = "../migrations")]
async fn a_wandb_sweep_file_previews_with_notes_on_what_is_ignored(db: SqlitePool) {
    let env = env(db);
    let spec = "program: train.py\nentity: lab\nproject: robust\ndescription: lr search\nmethod: random\ncount: 3\n\
                metric: {name: test_pgd_acc, goal: maximize}\n\
                base: {dataset: digits, model: small_cnn, epochs: 1}\n\
                parameters:\n  lr_max: {distribution: log_uniform_values, min: 0.01, max: 0.2}\n  \
                mixup_alpha: {distribution: log_uniform, min: -1.0, max: 0.5}\n  \
                epsilon: {values: [0.03, 0.3]}\n  pgd_step: {value: eps/8}\n";
    let body = env.post_raw("/api/v1/sweeps/preview", "application/yaml", spec).await.expect(StatusCode::OK);
    let warnings = body["warnings"].to_string();
    assert!(warnings.contains("`program`") && warnings.contains("ignored"), "{warnings}");
    assert!(warnings.contains("`entity`") && warnings.contains("`description`"), "{warnings}");
    // 10 steps of ε/8 reach 1.25 ε: no warning about the training step (the
    // evaluation's default 2/255 falls short of ε = 0.3, and says so).
    assert!(!warnings.contains("\"pgd_step:"), "{warnings}");
    assert!(warnings.contains("eval.pgd_step: 20 steps of 0.00784 reach only 0.15686, short of ε = 0.30000"), "{warnings}");
    let short = spec.replace("eps/8", "eps/20");
    let body = env.post_raw("/api/v1/sweeps/preview", "application/yaml", short).await.expect(StatusCode::OK);
    assert!(body["warnings"].to_string().contains("pgd_step: 10 steps of `eps/20`"), "{body}");
}

/// `n` parameters × 11 values each.
fn big_grid(n: usize) -> String {
    let values: Vec<String> = (0..11).map(|i| format!("{}", i + 1)).collect();
    let values = values.join(", ");
    // Keys every method uses: no combination merges into another.
    let params = ["pgd_steps", "epochs", "eval.pgd_steps", "aom.steps"];
    let mut spec = "method: grid\nparameters:\n".to_owned();
    for param in &params[..n] {
        spec.push_str(&format!("  {param}: {{values: [{values}]}}\n"));
    }
    spec
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_sweeps_are_refused_naming_the_field_and_create_nothing(db: SqlitePool) {
    let env = env(db);
    let yaml = "application/yaml";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (yaml, "method: grid\nparameters:\n  epsilonn: {values: [0.1]}\n".into(), "parameters.epsilonn", "epsilonn"),
        (yaml, "method: grid\nparameters:\n  aom.stepz: {values: [1]}\n".into(), "parameters.aom.stepz", "stepz"),
        (yaml, "method: grid\nbase: {epochs: ten}\n".into(), "base.epochs", "epochs"),
        (yaml, big_grid(3), "parameters", "1000"),
        (yaml, "method: random\ncount: 1001\n".into(), "count", "1000"),
        (yaml, "method: grid\nparameters: [oops\n".into(), "spec", "YAML"),
        (yaml, "method: grid\ncolour: red\n".into(), "spec", "colour"),
        (yaml, "method: sideways\n".into(), "spec", "sideways"),
        (yaml, "".into(), "spec", ""),
        ("application/json", "{\"method\": \"grid\",".into(), "spec", "JSON"),
        ("application/json", "method: grid\n".into(), "spec", "JSON"),
        (yaml, "method: random\n".into(), "count", "count"),
        (yaml, "method: grid\nparameters:\n  epsilon: {values: [0.1, -1]}\n".into(), "", "epsilon"),
    ];
    for uri in ["/api/v1/sweeps/preview", "/api/v1/sweeps"] {
        for (content_type, body, field, needle) in &cases {
            let resp = env.post_raw(uri, content_type, body.clone()).await;
            assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri} {body}: {}", resp.text());
            let json = resp.json();
            if !field.is_empty() {
                assert_eq!(json["field"], *field, "{uri} {body}: {json}");
            }
            assert!(json["error"].as_str().unwrap().contains(needle), "{uri} {body}: {json} should mention {needle}");
        }
    }
    // Not UTF-8.
    let request = request(Method::POST, "/api/v1/sweeps").header(header::CONTENT_TYPE, yaml).body(Body::from(vec![0xff, 0xfe])).unwrap();
    invalid(&env.send(request).await, StatusCode::UNPROCESSABLE_ENTITY, "body");
    // Too big to read.
    let huge = format!("method: grid\n# {}\n", "x".repeat(advmix_server::app::MAX_BODY_BYTES));
    for uri in ["/api/v1/sweeps", "/api/v1/sweeps/preview"] {
        let resp = env.post_raw(uri, yaml, huge.clone()).await;
        assert!(invalid(&resp, StatusCode::PAYLOAD_TOO_LARGE, "body").contains("limit"), "{uri}");
    }

    assert_eq!(count(env.db(), "sweeps").await, 0);
    assert_eq!(count(env.db(), "runs").await, 0);
    // Just under the limit is fine: 2 × 11 × ... is small; 1000 exactly is allowed.
    let resp = env.post_raw("/api/v1/sweeps/preview", yaml, big_grid(2)).await.expect(StatusCode::OK);
    assert_eq!(resp["runs"], 121);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sweep_at_the_limit_is_allowed(db: SqlitePool) {
    let mut env = env(db);
    env.state.max_sweep_runs = 121;
    let created = env.post_raw("/api/v1/sweeps", "application/yaml", big_grid(2)).await.expect(StatusCode::CREATED);
    assert_eq!(created["runs"], 121);
    assert_eq!(count(env.db(), "runs").await, 121);
    env.state.max_sweep_runs = 120;
    let resp = env.post_raw("/api/v1/sweeps", "application/yaml", big_grid(2)).await;
    assert!(invalid(&resp, StatusCode::UNPROCESSABLE_ENTITY, "parameters").contains("120"));
    assert_eq!(count(env.db(), "runs").await, 121);
}

// ---------------------------------------------------------------- health

#[sqlx::test(migrations = "../migrations")]
async fn healthz_answers_with_the_version(db: SqlitePool) {
    let env = env(db);
    let body = env.get("/healthz").await.expect(StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], advmix_protocol::ADVMIX_VERSION);
}

// ---------------------------------------------------------------- access token

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Logs in through the form; returns the response.
async fn login(env: &Env, form: &str) -> Resp {
    env.post_raw("/login", "application/x-www-form-urlencoded", form).await
}

#[sqlx::test(migrations = "../migrations")]
async fn with_a_token_the_api_needs_the_bearer_header(db: SqlitePool) {
    let env = env_with_token(db);
    for uri in ["/api/v1/runs", "/api/v1/sweeps", "/api/v1/events", "/api/v1/runs/1/log", "/api/v1/checkpoints/1/download"] {
        let resp = env.get(uri).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(resp.json()["error"].as_str().unwrap().contains("Bearer"), "{uri}");
    }
    // Wrong tokens count against the address (ten a minute), so three here.
    let uri = "/api/v1/runs";
    let resp = env.get_with(uri, header::AUTHORIZATION, &bearer("wrong")).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "wrong token");
    let resp = env.get_with(uri, header::AUTHORIZATION, &bearer("s3cre")).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "a prefix of the token");
    let resp = env.get_with(uri, header::AUTHORIZATION, TOKEN).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "no scheme");
    let resp = env.get_with("/api/v1/runs", header::AUTHORIZATION, &bearer(TOKEN)).await;
    assert_eq!(resp.expect(StatusCode::OK)["total"], 0);

    // Writes too: nothing is created without the token.
    let resp = env.post_json("/api/v1/runs", &json!({ "name": "x" })).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    let resp = env.post_raw("/api/v1/sweeps", "application/yaml", GRID_YAML).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(env.db(), "runs").await, 0);
    let request = with_body(Method::POST, "/api/v1/runs", "application/json", json!({ "name": "x" }).to_string());
    let (mut parts, body) = request.into_parts();
    parts.headers.insert(header::AUTHORIZATION, bearer(TOKEN).parse().unwrap());
    let resp = env.send(Request::from_parts(parts, body)).await;
    assert_eq!(resp.status, StatusCode::CREATED);
}

#[sqlx::test(migrations = "../migrations")]
async fn with_a_token_pages_redirect_to_login_and_open_paths_stay_open(db: SqlitePool) {
    let env = env_with_token(db);
    let resp = env.get("/").await;
    assert!(matches!(resp.status, StatusCode::SEE_OTHER | StatusCode::TEMPORARY_REDIRECT), "{}", resp.status);
    assert_eq!(resp.header(header::LOCATION), "/login?next=/");
    let resp = env.get("/no/such/page?x=1&y=2").await;
    assert!(resp.status.is_redirection());
    assert_eq!(resp.header(header::LOCATION), "/login?next=/no/such/page%3Fx%3D1%26y%3D2");

    assert_eq!(env.get("/healthz").await.expect(StatusCode::OK)["status"], "ok");
    let css = env.get("/static/app.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header(header::CONTENT_TYPE).starts_with("text/css"));

    let form = env.get("/login?next=/runs").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.header(header::CONTENT_TYPE).starts_with("text/html"));
    let html = form.text();
    assert!(html.contains("<form method=\"post\" action=\"/login\">"), "{html}");
    assert!(html.contains("name=\"token\""));
    assert!(html.contains("name=\"next\" value=\"/runs\""), "{html}");
    let form = env.get("/login?next=//evil.example").await.text();
    assert!(!form.contains("evil.example"), "{form}");
}

#[sqlx::test(migrations = "../migrations")]
async fn logging_in_sets_a_strict_httponly_cookie_that_opens_pages_and_the_api(db: SqlitePool) {
    let env = env_with_token(db);
    let resp = login(&env, "token=s3cret&next=/").await;
    assert!(resp.status.is_redirection(), "{}: {}", resp.status, resp.text());
    assert_eq!(resp.header(header::LOCATION), "/");
    let cookie = resp.header(header::SET_COOKIE);
    assert!(cookie.starts_with("advmix_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains(TOKEN), "the cookie holds a hash, not the token: {cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();

    let page = env.get_with("/", header::COOKIE, &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("No runs yet."));
    let api = env.get_with("/api/v1/runs", header::COOKIE, &format!("theme=dark; {session}")).await;
    assert_eq!(api.expect(StatusCode::OK)["total"], 0);
    let forged = env.get_with("/api/v1/runs", header::COOKIE, "advmix_session=0000").await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let raw = env.get_with("/api/v1/runs", header::COOKIE, &format!("advmix_session={TOKEN}")).await;
    assert_eq!(raw.status, StatusCode::UNAUTHORIZED, "the token itself is not a session");

    // `next` leads back to where the user was, but only on this site.
    let resp = login(&env, "token=s3cret&next=%2Fno%2Fsuch%3Fx%3D1").await;
    assert_eq!(resp.header(header::LOCATION), "/no/such?x=1");
    // Browsers drop tabs and newlines inside URLs, so `/<TAB>/evil.example` is `//evil.example`.
    for next in ["%2F%2Fevil.example", "https%3A%2F%2Fevil.example", "%2F%5Cevil.example", "evil", "%2F%09%2Fevil.example", "%2Fa%0D%0Ab"] {
        let resp = login(&env, &format!("token=s3cret&next={next}")).await;
        assert!(resp.status.is_redirection());
        assert_eq!(resp.header(header::LOCATION), "/", "next={next}");
    }
    let resp = login(&env, "token=s3cret").await;
    assert_eq!(resp.header(header::LOCATION), "/");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_login_gets_a_401_page_and_no_cookie(db: SqlitePool) {
    let env = env_with_token(db);
    for form in ["token=wrong&next=/", "token=&next=/", "token=s3cret2"] {
        let resp = login(&env, form).await;
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(resp.header(header::CONTENT_TYPE).starts_with("text/html"));
        assert!(resp.headers.get(header::SET_COOKIE).is_none());
        assert!(resp.text().contains("That is not the access token"), "{}", resp.text());
    }
    let resp = login(&env, "next=/").await;
    assert!(resp.status.is_client_error(), "a form without a token: {}", resp.status);
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_token_everything_is_open(db: SqlitePool) {
    let env = env(db);
    assert!(!env.state.auth.enabled());
    assert!(!Auth::new(Some(String::new())).enabled(), "an empty token is no token");
    let id = env.create_run("open", small()).await;
    assert_eq!(env.get("/").await.status, StatusCode::OK);
    assert_eq!(env.list("").await["total"], 1);
    assert_eq!(env.get(&format!("/api/v1/runs/{id}")).await.status, StatusCode::OK);
    assert_eq!(env.get("/api/v1/sweeps").await.status, StatusCode::OK);
    // A bearer header is ignored rather than refused.
    assert_eq!(env.get_with("/api/v1/runs", header::AUTHORIZATION, &bearer("anything")).await.status, StatusCode::OK);
    assert_eq!(env.get("/login").await.status, StatusCode::OK);
    let resp = login(&env, "token=whatever&next=/runs").await;
    assert!(resp.status.is_redirection());
    assert_eq!(resp.header(header::LOCATION), "/runs");
    assert!(resp.headers.get(header::SET_COOKIE).is_none());
}

/// A web page on another site must not be able to act on a local server:
/// browsers label its requests, and state-changing ones are refused.
#[sqlx::test(migrations = "../migrations")]
async fn cross_site_posts_are_refused_and_same_site_ones_pass(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("target", small()).await;
    let from = |origin: &str| {
        request(Method::POST, &format!("/api/v1/runs/{id}/stop"))
            .header(header::ORIGIN, origin)
            .header(header::HOST, "127.0.0.1:8080")
            .body(Body::empty())
            .unwrap()
    };
    let refused = env.send(from("https://evil.example")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert_eq!(env.list("").await["runs"][0]["status"], "queued", "nothing happened");
    let fetch_metadata = request(Method::POST, "/api/v1/sweeps")
        .header("sec-fetch-site", "cross-site")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("method: grid\nparameters: {epochs: {value: 1}}"))
        .unwrap();
    assert_eq!(env.send(fetch_metadata).await.status, StatusCode::FORBIDDEN);
    assert_eq!(count(env.db(), "sweeps").await, 0);

    let allowed = env.send(from("http://127.0.0.1:8080")).await;
    allowed.expect(StatusCode::OK);
    // Reading stays open to any origin's navigation, as links need.
    env.get_with("/api/v1/runs", header::ORIGIN, "https://elsewhere.example").await.expect(StatusCode::OK);
}

/// DNS rebinding: a page whose name resolves to 127.0.0.1 sends same-origin
/// requests with its own name in Host. Every method is refused for it.
#[sqlx::test(migrations = "../migrations")]
async fn a_foreign_host_is_refused_on_every_method(db: SqlitePool) {
    let env = env(db);
    let id = env.create_run("target", small()).await;
    let rebound = "rebind.attacker.example:8383";
    let calls = [
        (Method::GET, "/api/v1/runs".to_owned(), String::new()),
        (Method::GET, "/".to_owned(), String::new()),
        (Method::POST, "/api/v1/sweeps".to_owned(), "method: grid\nparameters: {epochs: {value: 1}}".to_owned()),
        (Method::POST, format!("/api/v1/runs/{id}/stop"), String::new()),
        (Method::PATCH, format!("/api/v1/runs/{id}"), r#"{"note": "rebound"}"#.to_owned()),
        (Method::DELETE, format!("/api/v1/runs/{id}"), String::new()),
        (Method::PUT, "/api/v1/runs".to_owned(), String::new()),
    ];
    for (method, path, body) in calls {
        let call = request(method.clone(), &path)
            .header(header::HOST, rebound)
            .header(header::ORIGIN, format!("http://{rebound}"))
            .header("sec-fetch-site", "same-origin")
            .header(header::CONTENT_TYPE, if body.starts_with('{') { "application/json" } else { "application/yaml" })
            .body(Body::from(body))
            .unwrap();
        let refused = env.send(call).await;
        assert_eq!(refused.status, StatusCode::MISDIRECTED_REQUEST, "{method} {path}: {}", refused.text());
        assert!(refused.text().contains("--allowed-hosts"), "the refusal says what to do: {}", refused.text());
    }
    assert_eq!(count(env.db(), "sweeps").await, 0);
    let run = env.get(&format!("/api/v1/runs/{id}")).await.json();
    assert_eq!((run["status"].as_str(), run["note"].as_str()), (Some("queued"), Some("")), "nothing changed");

    for host in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
        env.get_with("/api/v1/runs", header::HOST, host).await.expect(StatusCode::OK);
    }
}

/// Nesting is refused before a parser spends quadratic time on it, and a
/// long seed list is checked in linear time.
#[sqlx::test(migrations = "../migrations")]
async fn a_deeply_nested_spec_is_refused_at_once(db: SqlitePool) {
    let env = env(db);
    for (content_type, body) in [
        ("application/yaml", format!("name: deep\nparameters: {}", "[".repeat(200_000))),
        ("application/json", format!("{{\"name\": \"deep\", \"parameters\": {}", "{\"a\": ".repeat(30_000))),
    ] {
        let started = std::time::Instant::now();
        let call = request(Method::POST, "/api/v1/sweeps")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let refused = env.send(call).await;
        let took = started.elapsed();
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text());
        assert!(refused.text().contains("nests deeper than"), "{}", refused.text());
        assert!(took < std::time::Duration::from_secs(2), "{content_type}: refused in {took:?}");
    }
    let seeds: Vec<String> = (0..100_000).map(|s| s.to_string()).collect();
    let spec = format!("method: grid\nbase: {{epochs: 1}}\nseeds: [{}, 7]\n", seeds.join(", "));
    let started = std::time::Instant::now();
    let refused = env.send(request(Method::POST, "/api/v1/sweeps/preview").header(header::CONTENT_TYPE, "application/yaml").body(Body::from(spec)).unwrap()).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "100k seeds checked in {:?}", started.elapsed());
    assert!(refused.text().contains("lists 7 twice"), "{}", refused.text());
    assert_eq!(count(env.db(), "sweeps").await, 0);
}

// ------------------------------------------------------------ sessions and limits

/// Logs in; the session cookie's `name=value`.
async fn session_of(env: &Env) -> String {
    let resp = login(env, &format!("token={TOKEN}&next=/")).await;
    assert!(resp.status.is_redirection(), "{}: {}", resp.status, resp.text());
    resp.header(header::SET_COOKIE).split(';').next().unwrap().to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn wrong_tokens_are_limited_per_address_before_the_token_is_checked(db: SqlitePool) {
    let env = env_with_token(db);
    for i in 0..advmix_server::auth::limit::MAX_FAILURES {
        let resp = if i % 2 == 0 {
            env.get_with("/api/v1/runs", header::AUTHORIZATION, &bearer(&format!("guess{i}"))).await
        } else {
            login(&env, &format!("token=guess{i}")).await
        };
        assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    // The right token is refused too now: guessing fast gains nothing.
    let resp = env.get_with("/api/v1/runs", header::AUTHORIZATION, &bearer(TOKEN)).await;
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.header(header::RETRY_AFTER).parse::<u64>().unwrap() <= 61);
    assert!(resp.json()["error"].as_str().unwrap().contains("wait"), "{}", resp.text());
    assert_eq!(login(&env, &format!("token={TOKEN}")).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not affected.
    let mut other = request(Method::GET, "/api/v1/runs").header(header::AUTHORIZATION, bearer(TOKEN)).body(Body::empty()).unwrap();
    other.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([10, 1, 2, 3], 5555))));
    assert_eq!(env.send(other).await.status, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn sessions_are_random_end_at_logout_and_expire(db: SqlitePool) {
    let mut env = env_with_token(db);
    let (a, b) = (session_of(&env).await, session_of(&env).await);
    assert_ne!(a, b, "each login is its own session");
    let resp = login(&env, &format!("token={TOKEN}")).await;
    let cookie = resp.header(header::SET_COOKIE);
    assert!(cookie.contains("Max-Age=604800") && !cookie.contains("Secure"), "{cookie}");

    assert_eq!(env.get_with("/api/v1/runs", header::COOKIE, &a).await.status, StatusCode::OK);
    let out = env.send(request(Method::POST, "/logout").header(header::COOKIE, &a).body(Body::empty()).unwrap()).await;
    assert!(out.status.is_redirection());
    assert_eq!(out.header(header::LOCATION), "/login");
    assert!(out.header(header::SET_COOKIE).contains("Max-Age=0"), "the browser drops it too");
    assert_eq!(env.get_with("/api/v1/runs", header::COOKIE, &a).await.status, StatusCode::UNAUTHORIZED, "ended");
    assert_eq!(env.get_with("/api/v1/runs", header::COOKIE, &b).await.status, StatusCode::OK, "others go on");
    assert!(env.get("/logout").await.text().contains("action=\"/logout\""));

    env.state.auth = Auth::new(Some(TOKEN.into())).session_ttl(Duration::from_millis(300));
    let short = session_of(&env).await;
    assert_eq!(env.get_with("/api/v1/runs", header::COOKIE, &short).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(env.get_with("/api/v1/runs", header::COOKIE, &short).await.status, StatusCode::UNAUTHORIZED, "expired");
}

#[sqlx::test(migrations = "../migrations")]
async fn cookies_are_secure_behind_tls_or_when_asked(db: SqlitePool) {
    let mut env = env_with_token(db);
    let form = format!("token={TOKEN}");
    let proxied = with_body(Method::POST, "/login", "application/x-www-form-urlencoded", form.clone());
    let (mut parts, body) = proxied.into_parts();
    parts.headers.insert("x-forwarded-proto", "https".parse().unwrap());
    let resp = env.send(Request::from_parts(parts, body)).await;
    assert!(resp.header(header::SET_COOKIE).contains("; Secure"), "{}", resp.header(header::SET_COOKIE));
    env.state.auth = Auth::new(Some(TOKEN.into())).secure_cookies(true);
    assert!(login(&env, &form).await.header(header::SET_COOKIE).contains("; Secure"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_logged_in_form_needs_its_sessions_csrf_token_not_a_planted_cookie(db: SqlitePool) {
    let mut env = env(db);
    let id = env.create_run("annotated", small()).await;
    env.state.auth = Auth::new(Some(TOKEN.into()));
    let session = session_of(&env).await;
    let page = env.get_with(&format!("/runs/{id}"), header::COOKIE, &session).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.headers.get(header::SET_COOKIE).is_none(), "no separate CSRF cookie for a session");
    let html = page.text();
    let token = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

    let annotate = |cookies: String, csrf: String| {
        let body = serde_urlencoded::to_string([("csrf", csrf.as_str()), ("note", "from the form")]).unwrap();
        request(Method::POST, &format!("/runs/{id}/annotate"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookies)
            .body(Body::from(body))
            .unwrap()
    };
    // A sibling subdomain can set advmix_csrf, but not the session's token.
    let planted = "0123456789abcdef0123456789abcdef".to_owned();
    let resp = env.send(annotate(format!("{session}; advmix_csrf={planted}"), planted)).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    let resp = env.send(annotate(session.clone(), token)).await;
    assert!(resp.status.is_redirection(), "{}: {}", resp.status, resp.text());
    let run = env.send(request(Method::GET, &format!("/api/v1/runs/{id}")).header(header::COOKIE, &session).body(Body::empty()).unwrap()).await;
    assert_eq!(run.json()["note"], "from the form");
}

// ------------------------------------------------------------ smaller defects

#[sqlx::test(migrations = "../migrations")]
async fn unknown_api_paths_answer_json_and_huge_pages_are_empty(db: SqlitePool) {
    let env = env(db);
    let resp = env.get("/api/v1/no/such/thing").await;
    assert_eq!(resp.status, StatusCode::NOT_FOUND);
    assert!(resp.header(header::CONTENT_TYPE).starts_with("application/json"));
    assert!(resp.json()["error"].as_str().unwrap().contains("/api/v1/no/such/thing"));
    assert!(env.get("/no/such/page").await.header(header::CONTENT_TYPE).starts_with("text/html"));

    env.create_run("only", small()).await;
    let list = env.list(&format!("?page={}", i64::MAX)).await;
    assert_eq!(list["total"], 1);
    assert!(list["runs"].as_array().unwrap().is_empty(), "a page past the end is empty, not the first: {list}");
    let list = env.list(&format!("?page={}&per_page=500", i64::MAX / 2)).await;
    assert!(list["runs"].as_array().unwrap().is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn control_characters_in_names_are_refused(db: SqlitePool) {
    let env = env(db);
    for name in ["nul\u{0}inside", "two\nlines", "bell\u{7}"] {
        let resp = env.post_json("/api/v1/runs", &json!({ "name": name, "config": small() })).await;
        assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert_eq!(resp.json()["field"], "name");
    }
    let spec = json!({ "name": "sweep\u{0}", "method": "grid", "base": small(), "parameters": { "lr_max": { "values": [0.1, 0.2] } } });
    let resp = env.post_json("/api/v1/sweeps", &spec).await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", resp.text());
    assert_eq!(resp.json()["field"], "name");
    assert_eq!(count(env.db(), "runs").await, 0);
}

//! A property-based fuzz of the API through the router: generated methods,
//! paths, queries, headers and bodies. Whatever comes in, the server never
//! answers 5xx, and a 4xx creates or changes nothing. Bounded in count (and
//! so in time) for `make test`.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use sqlx::SqlitePool;
use tower::ServiceExt;

const PATHS: &[&str] = &[
    "/api/v1/runs",
    "/api/v1/runs/{id}",
    "/api/v1/runs/{id}/stop",
    "/api/v1/runs/{id}/resume",
    "/api/v1/runs/{id}/rerun",
    "/api/v1/runs/{id}/metrics",
    "/api/v1/runs/{id}/metrics.csv",
    "/api/v1/runs/{id}/checkpoints",
    "/api/v1/runs/{id}/log",
    "/api/v1/runs/{id}/samples",
    "/api/v1/runs/{id}/samples/{seg}",
    "/api/v1/runs/{id}/archive",
    "/api/v1/runs/{id}/evals",
    "/api/v1/checkpoints/{id}/download",
    "/api/v1/checkpoints/{id}/evaluate",
    "/api/v1/evals/{id}",
    "/api/v1/sweeps",
    "/api/v1/sweeps/preview",
    "/api/v1/sweeps/{id}",
    "/api/v1/series",
    "/api/v1/{seg}",
    "/",
    "/runs/{id}",
    "/sweeps/{id}",
    "/compare",
    "/launch",
];

fn ids() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("9223372036854775807".to_owned()),
        Just("99999999999999999999".to_owned()),
        "[a-z%.]{1,8}",
    ]
}

fn queries() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("page"), Just("per_page"), Just("status"), Just("sweep"), Just("sort"), Just("order"),
        Just("method"), Just("q"), Just("runs"), Just("metric"), Just("kind"), Just("epoch")
    ];
    let value = prop_oneof![
        Just("9223372036854775807".to_owned()),
        Just("-5".to_owned()),
        Just("1e309".to_owned()),
        Just("%00".to_owned()),
        "[ -~]{0,12}".prop_map(|s| s.replace(['&', '#', ' '], "_")),
    ];
    proptest::collection::vec((key, value), 0..4)
        .prop_map(|pairs| pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
}

fn bodies() -> impl Strategy<Value = (String, Vec<u8>)> {
    let json_value = prop_oneof![
        Just(json!(null)),
        Just(json!({ "name": "fuzz", "config": { "epochs": -1 } })),
        Just(json!({ "name": "\u{0}", "config": {} })),
        Just(json!({ "name": "x", "config": { "model": "resnet9000" } })),
        Just(json!({ "note": "n", "tags": vec!["a"; 500], "priority": i64::MAX })),
        Just(json!({ "method": "grid", "parameters": { "lr_max": { "values": [] } } })),
        Just(json!({ "method": "random", "count": 1_000_000_000u64, "parameters": {} })),
        Just(json!({ "suite": "aa-fast", "n": -3 })),
        Just(json!([1, 2, 3])),
        Just(json!("string")),
        any::<i64>().prop_map(|n| json!({ "priority": n, "epochs": n })),
    ];
    prop_oneof![
        json_value.prop_map(|v| ("application/json".to_owned(), v.to_string().into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| ("application/json".to_owned(), b)),
        "[ -~\n]{0,80}".prop_map(|s| ("application/yaml".to_owned(), s.into_bytes())),
        Just(("application/yaml".to_owned(), b"method: grid\nparameters:\n  lr_max: {min: .inf, max: 1, count: 2}".to_vec())),
        Just(("application/x-www-form-urlencoded".to_owned(), b"csrf=x&name=%00".to_vec())),
        Just(("text/plain".to_owned(), Vec::new())),
    ]
}

fn requests() -> impl Strategy<Value = (Method, String, (String, Vec<u8>))> {
    let method = prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PATCH), Just(Method::DELETE), Just(Method::PUT)];
    let path = (proptest::sample::select(PATHS), ids(), "[a-z0-9._-]{1,10}", queries()).prop_map(|(p, id, seg, q)| {
        let path = p.replace("{id}", &id).replace("{seg}", &seg);
        if q.is_empty() { path } else { format!("{path}?{q}") }
    });
    (method, path, bodies())
}

async fn counts(db: &SqlitePool) -> (i64, i64, i64) {
    let n = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(db).await.unwrap()
    };
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE note <> ''").fetch_one(db).await.unwrap();
    (n("runs").await + n("sweeps").await, n("evals").await + n("run_tags").await, notes)
}

#[sqlx::test(migrations = "../migrations")]
async fn fuzzed_requests_never_get_a_5xx_and_a_4xx_changes_nothing(db: SqlitePool) {
    let state = common::ready(db.clone());
    let mut runner = TestRunner::new(Config { cases: 400, failure_persistence: None, ..Config::default() });
    let mut cases = Vec::new();
    for _ in 0..400 {
        cases.push(requests().new_tree(&mut runner).unwrap().current());
    }
    let mut by_class = [0usize; 6];
    for (method, uri, (content_type, body)) in cases {
        let before = counts(&db).await;
        let Ok(request) = Request::builder().method(method.clone()).uri(&uri).header("content-type", &content_type).body(Body::from(body.clone()))
        else {
            continue;
        };
        let response = tokio::time::timeout(std::time::Duration::from_secs(10), advmix_server::app(state.clone()).oneshot(request))
            .await
            .unwrap_or_else(|_| panic!("{method} {uri} did not answer in 10 s"))
            .unwrap();
        let status = response.status();
        let text = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        by_class[(status.as_u16() / 100) as usize] += 1;
        assert!(
            !status.is_server_error(),
            "{method} {uri} ({content_type}, {:?}) got {status}: {}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&text)
        );
        if status.is_client_error() {
            assert_eq!(counts(&db).await, before, "{method} {uri} got {status} but changed the store");
        }
    }
    eprintln!("fuzzed: {} 2xx, {} 3xx, {} 4xx", by_class[2], by_class[3], by_class[4]);
}

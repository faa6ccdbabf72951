//! Results tables through the API and the `advmix table` verb: grouping,
//! exports, published rows only where the threat model matches, and errors
//! that land on their parameter.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{create_sweep, get, ready};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tower::ServiceExt;

/// pgd_at and aom on CIFAR-10 with PreActResNet-18 at 8/255, two seeds each;
/// one aom run is still running.
async fn sweep(db: &SqlitePool) -> i64 {
    let spec = json!({
        "name": "methods",
        "method": "grid",
        "base": {"model": "preact_resnet18", "dataset": "cifar10", "epochs": 10, "epsilon": 8.0 / 255.0},
        "parameters": {"method": {"values": ["pgd_at", "aom"]}},
        "seeds": [0, 1],
    });
    let id = create_sweep(db, spec).await;
    for (name, status, best, last, clean, aa) in [
        ("method=pgd_at,seed=0", "succeeded", 0.50, 0.44, 0.80, Some(0.46)),
        ("method=pgd_at,seed=1", "succeeded", 0.54, 0.46, 0.82, Some(0.48)),
        ("method=aom,seed=0", "succeeded", 0.56, 0.50, 0.78, None),
        ("method=aom,seed=1", "running", 0.90, 0.90, 0.90, None),
    ] {
        sqlx::query(
            "UPDATE runs SET status = ?, best_robust_acc = ?, final_robust_acc = ?, final_clean_acc = ?, best_epoch = 7,
                    autoattack_acc = ?, autoattack_n = iif(? IS NULL, NULL, 1000), autoattack_suite = iif(? IS NULL, NULL, 'aa-fast')
             WHERE name = ?",
        )
        .bind(status)
        .bind(best)
        .bind(last)
        .bind(clean)
        .bind(aa)
        .bind(aa)
        .bind(aa)
        .bind(name)
        .execute(db)
        .await
        .unwrap();
    }
    id
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn a_sweep_table_groups_finished_runs_by_the_swept_parameters(db: SqlitePool) {
    let id = sweep(&db).await;
    let (status, _, body) = get(ready(db.clone()), &format!("/api/v1/sweeps/{id}/table")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let table = json_of(&body);
    assert_eq!(table["by"], json!(["method"]));
    let section = &table["sections"][0];
    assert_eq!((section["dataset"].as_str(), section["groups"].as_array().unwrap().len()), (Some("cifar10"), 2));
    let pgd = &section["groups"][0];
    assert_eq!(pgd["key"], json!(["pgd_at"]));
    assert_eq!(pgd["runs"].as_array().unwrap().len(), 2);
    assert!((pgd["stats"]["best_pgd"]["mean"].as_f64().unwrap() - 0.52).abs() < 1e-12);
    assert!((pgd["stats"]["autoattack"]["mean"].as_f64().unwrap() - 0.47).abs() < 1e-12);
    let aom = &section["groups"][1];
    assert_eq!(aom["runs"].as_array().unwrap().len(), 1, "the running run is left out");
    assert_eq!(aom["stats"]["best_pgd"]["std"], Value::Null, "one seed has no std");
    assert_eq!(table["left_out"][0]["status"], "running");
    assert_eq!(section["published"], json!([]), "published rows only when asked");

    let (_, _, body) = get(ready(db), &format!("/api/v1/sweeps/{id}/table?published=true")).await;
    let published = json_of(&body)["sections"][0]["published"].clone();
    let papers: Vec<&str> = published.as_array().unwrap().iter().map(|p| p["source"].as_str().unwrap()).collect();
    assert_eq!(papers.len(), 3, "CIFAR-10, L∞ 8/255, PreActResNet-18: {papers:?}");
    assert!(published.as_array().unwrap().iter().all(|p| p["dataset"] == "cifar10" && p["family"] == "preact_resnet18"));
}

#[sqlx::test(migrations = "../migrations")]
async fn exports_are_files_with_their_type_and_name(db: SqlitePool) {
    let id = sweep(&db).await;
    let app = advmix_server::app(ready(db.clone()));
    let response = app
        .oneshot(Request::get(format!("/api/v1/sweeps/{id}/table?format=latex&published=true")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/x-tex; charset=utf-8");
    assert_eq!(headers["content-disposition"], format!("attachment; filename=\"sweep-{id}-results.tex\""));
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("\\toprule") && text.contains("\\bottomrule"), "{text}");
    assert!(text.contains("pgd\\_at & 2 & \\textbf{81.0}{\\scriptsize$\\pm$1.4}"), "{text}");
    assert!(text.contains("\\textit{published: Rice et al. 2020"), "{text}");

    let (status, content_type, markdown) = get(ready(db.clone()), &format!("/api/v1/sweeps/{id}/table?format=markdown")).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/markdown; charset=utf-8"));
    assert!(markdown.starts_with("| method | Seeds | Clean |"), "{markdown}");
    let (_, content_type, csv) = get(ready(db), &format!("/api/v1/sweeps/{id}/table?format=csv")).await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    assert_eq!(csv.lines().count(), 3, "header and two groups: {csv}");
}

#[sqlx::test(migrations = "../migrations")]
async fn hand_picked_runs_get_a_table_and_mistakes_land_on_their_parameter(db: SqlitePool) {
    let _ = sweep(&db).await;
    let (status, _, body) = get(ready(db.clone()), "/api/v1/table?runs=1,2,3").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let table = json_of(&body);
    assert_eq!(table["by"], json!(["method"]), "by default the keys that differ, but the seed");

    for (uri, field, words) in [
        ("/api/v1/table?runs=1,99", "runs", "no run #99"),
        ("/api/v1/table?runs=x", "runs", "`x` is not a run id"),
        ("/api/v1/table", "runs", "name the runs"),
        ("/api/v1/table?runs=1&by=nope", "by", "no run here has `nope`"),
        ("/api/v1/sweeps/1/table?format=docx", "format", "`docx` is not a table format"),
        ("/api/v1/sweeps/1/table?colour=red", "query", "unknown field"),
    ] {
        let (status, _, body) = get(ready(db.clone()), uri).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {body}");
        let error = json_of(&body);
        let at = &error["errors"][0];
        assert_eq!(at["field"], field, "{uri}: {body}");
        assert!(at["message"].as_str().unwrap().contains(words), "{uri}: {body}");
    }
    let (status, _, _) = get(ready(db), "/api/v1/sweeps/42/table").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// `advmix table` prints what the API exports, and says what was wrong.
#[sqlx::test(migrations = "../migrations")]
async fn the_cli_verb_prints_the_export(db: SqlitePool) {
    let id = sweep(&db).await;
    let state = ready(db.clone());
    let (_, _, expected) = get(state.clone(), &format!("/api/v1/sweeps/{id}/table?format=latex&by=method")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(advmix_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let cli = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || std::process::Command::new(env!("CARGO_BIN_EXE_advmix")).args(args).output().unwrap())
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["table"].iter().chain(extra).map(|s| s.to_string()).chain(["--url".to_owned(), url.clone()]).collect()
    };

    let out = cli(args(&[&id.to_string(), "--by", "method", "--format", "latex"])).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("table.csv");
    let out = cli(args(&["--runs", "1,2", "--format", "csv", "-o", file.to_str().unwrap()])).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("source,dataset,epsilon,seeds,runs,"));

    let out = cli(args(&[&id.to_string(), "--by", "nope"])).await.unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no run here has `nope`"), "{err}");
    let out = cli(args(&[])).await.unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("name a sweep"), "the verb says what it needs");

    stop.send(()).unwrap();
    http.await.unwrap().unwrap();
}

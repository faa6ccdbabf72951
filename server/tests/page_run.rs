//! The run page (`/runs/{id}`) and its form actions, in-process through the
//! router: what the page shows, escaping, each action with its redirect and
//! its effect, refusals shown as notices, CSRF, and the sample PNG endpoint.
//! Rows are inserted directly; nothing is launched.

mod common;

use advmix_server::AppState;
use advmix_server::compute::Compute;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tower::ServiceExt;

struct Env {
    state: AppState,
    _stop: tokio::sync::watch::Sender<bool>,
    data: tempfile::TempDir,
}

fn env(db: SqlitePool) -> Env {
    let data = tempfile::tempdir().unwrap();
    let compute = Compute::Ready { trainer: "/opt/advmix/advmix-trainer".into(), report: common::gpu_report() };
    common::with_cifar(data.path());
    let (state, stop) = common::harness(db, compute, "/nonexistent/advmix-trainer".into(), data.path(), 1);
    Env { state, _stop: stop, data }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
    fn header(&self, name: header::HeaderName) -> String {
        self.headers.get(&name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }
}

impl Env {
    async fn send(&self, request: Request<Body>) -> Resp {
        let response = advmix_server::app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Resp { status, headers, body }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// The page's CSRF token, as a browser gets it: from the cookie a page sets.
    async fn token(&self) -> String {
        let page = self.get("/").await;
        let cookie = page.header(header::SET_COOKIE);
        cookie.strip_prefix("advmix_csrf=").and_then(|c| c.split(';').next()).expect("a csrf cookie").to_owned()
    }

    /// Posts a form with the browser's cookie and the fields given.
    async fn post(&self, uri: &str, token: Option<&str>, fields: &[(&str, &str)]) -> Resp {
        let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(token) = token {
            request = request.header(header::COOKIE, format!("advmix_csrf={token}"));
        }
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Posts a form the way the page does: the cookie and the same token in `csrf`.
    async fn submit(&self, uri: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.token().await;
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(uri, Some(&token), &all).await
    }

    fn run_dir(&self, id: i64) -> std::path::PathBuf {
        self.data.path().join("runs").join(id.to_string())
    }
}

fn config() -> Value {
    json!({
        "method": "aom", "model": "small_cnn", "dataset": "digits", "epochs": 10, "batch_size": 64,
        "epsilon": 8.0 / 255.0, "samples_every": 2,
        "aom": {"labels": "geometric", "steps": 3}, "seed": 1
    })
}

async fn insert_run(db: &SqlitePool, name: &str, status: &str) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO runs (name, config, params, method, dataset, model, epochs, status, attempt)
         VALUES (?, ?, '{}', 'aom', 'digits', 'small_cnn', 10, ?, 1) RETURNING id",
    )
    .bind(name)
    .bind(config().to_string())
    .bind(status)
    .fetch_one(db)
    .await
    .unwrap()
}

async fn insert_epochs(db: &SqlitePool, run: i64, epochs: std::ops::RangeInclusive<i64>) {
    for epoch in epochs {
        sqlx::query(
            "INSERT INTO epochs VALUES (?, ?, 0.1, 2.0, 0.3, 1.5, 0.5, 1.2, 0.61, 1.9, 0.342, 4.0, 250.0, NULL)",
        )
        .bind(run)
        .bind(epoch)
        .execute(db)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE runs SET epochs_done = (SELECT max(epoch) FROM epochs WHERE run_id = ?1) WHERE id = ?1")
        .bind(run)
        .execute(db)
        .await
        .unwrap();
}

async fn status_of(db: &SqlitePool, id: i64) -> String {
    sqlx::query_scalar("SELECT status FROM runs WHERE id = ?").bind(id).fetch_one(db).await.unwrap()
}

const SHA: &str = "d7498a6efc82c7ca60eb5cdc2c7ffbb76d6a5e9e5d5b84050a4ddcca531921cd";

#[sqlx::test(migrations = "../migrations")]
async fn shows_header_config_metrics_and_checkpoints(db: SqlitePool) {
    let env = env(db.clone());
    sqlx::query("INSERT INTO sweeps (id, name, spec) VALUES (7, 'labels-sweep', '{}')").execute(&db).await.unwrap();
    let id = insert_run(&db, "aom.labels=geometric", "running").await;
    sqlx::query(
        "UPDATE runs SET sweep_id = 7, params = '{\"aom.labels\":\"geometric\"}', device = 'cpu', slot = 'cpu/0',
                started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-90 seconds'), best_robust_acc = 0.342, best_epoch = 3
         WHERE id = ?",
    )
    .bind(id)
    .execute(&db)
    .await
    .unwrap();
    insert_epochs(&db, id, 1..=3).await;
    sqlx::query("INSERT INTO checkpoints (run_id, epoch, kind, path, bytes, sha256) VALUES (?, 3, 'best', 'checkpoints/best.safetensors', 382504, ?)")
        .bind(id)
        .bind(SHA)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO run_tags VALUES (?, 'baseline')").bind(id).execute(&db).await.unwrap();

    let page = env.get(&format!("/runs/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"));
    let body = page.text();
    // Header: name, status, sweep, progress, timing, device, command line.
    assert!(body.contains("aom.labels=geometric"));
    assert!(body.contains(r#"<span id="run-status" class="status status-running">running</span>"#), "{body}");
    assert!(body.contains(r#"<a class="run-sweep" href="/sweeps/7">sweep #7: labels-sweep</a>"#));
    assert!(body.contains(r#"<strong id="epochs-done">3 / 10</strong>"#));
    assert!(body.contains("running for"));
    assert!(body.contains("ETA"), "a running run with epochs has an estimate");
    assert!(body.contains("(slot cpu/0)"));
    let run_dir = env.run_dir(id);
    let command = format!(
        "/opt/advmix/advmix-trainer train --config {0}/run.json --run-dir {0} --data-dir {1}/datasets --device cpu",
        run_dir.display(),
        env.data.path().display()
    );
    assert!(body.contains(&command), "{command}\n{body}");
    assert!(body.contains(r#"<span class="chip">baseline</span>"#));
    assert!(body.contains("after epoch 3 on ") && body.contains("clean 61.0%, robust 34.2%</li>"), "the epoch's evaluation: {body}");
    // Config: dotted keys, the swept one highlighted, ε as grey levels.
    assert!(body.contains(r#"<tr data-key="aom.labels" class="swept">"#), "{body}");
    assert!(body.contains(r#"<tr data-key="aom.steps">"#));
    assert!(body.contains("= 8/255"));
    // Metrics: the table and the link to every epoch.
    assert!(body.contains(r#"<tr data-epoch="3">"#));
    assert!(body.contains("61.0") && body.contains("34.2"));
    assert!(body.contains(r#"href="/api/v1/runs/1/metrics.csv""#));
    // Charts, the scripts that draw them, and their data.
    for chart in ["chart-acc", "chart-loss", "chart-lr", "chart-speed"] {
        assert!(body.contains(&format!(r#"id="{chart}""#)), "{chart}");
    }
    for script in ["uPlot.iife.min.js", "charts.js", "live.js", "run.js"] {
        assert!(body.contains(&format!(r#"<script src="/static/{script}"></script>"#)), "{script}");
    }
    assert!(body.contains(r#"href="/static/uPlot.min.css""#));
    assert!(body.contains(r#"data-run="{&#34;id&#34;:1,"#), "the script's data, escaped: {body}");
    // Checkpoints: full hash in its cell, size, download link.
    assert!(body.contains(r#"<table id="checkpoints">"#));
    assert!(body.contains(r#"<tr data-checkpoint-id="1" data-kind="best">"#));
    assert!(body.contains(&format!(r#"<td class="sha256" title="{SHA}">{SHA}</td>"#)));
    assert!(body.contains(r#"<a class="download" href="/api/v1/checkpoints/1/download" download>"#));
    assert!(body.contains("373.5 KiB"));
    // Actions fitting a running run: stop, no resume, no delete; re-run and clone.
    // Every action is in the page, so that the live status can show it;
    // those that do not apply now are hidden.
    assert!(body.contains(r#"action="/runs/1/stop" id="action-stop">"#));
    assert!(body.contains(r#"action="/runs/1/resume" id="action-resume" hidden>"#));
    assert!(body.contains(r#"id="run-delete" hidden>"#));
    assert!(body.contains("Stop the run to delete it."));
    assert!(body.contains(r#"action="/runs/1/rerun""#));
    assert!(body.contains(r#"href="/launch?from=1""#));
    assert!(body.contains(r#"<input type="hidden" name="csrf" value=""#));
    // Empty states.
    assert!(body.contains("No sample grids yet."));
    assert!(body.contains("every 2 epochs"));
    assert!(body.contains("No log yet"));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_ended_run_offers_resume_and_delete(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "stopped-run", "stopped").await;
    sqlx::query("UPDATE runs SET error = 'stop requested; resumable at epoch 1 batch 6', exit_code = 0 WHERE id = ?")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains(r#"action="/runs/1/stop" id="action-stop" hidden>"#));
    assert!(body.contains(r#"action="/runs/1/resume" id="action-resume">"#));
    assert!(body.contains("Resume (starts over)"), "no resume checkpoint yet");
    assert!(body.contains(r#"action="/runs/1/delete""#));
    assert!(body.contains(r#"<details class="run-delete" id="run-delete">"#), "delete asks again first");
    assert!(body.contains("stop requested; resumable at epoch 1 batch 6"));
    assert!(body.contains("<dt>exit code</dt><dd>0</dd>"));
    assert!(body.contains("No checkpoints yet."));
    assert!(body.contains("No epochs yet."));

    std::fs::create_dir_all(env.run_dir(id).join("checkpoints")).unwrap();
    std::fs::write(env.run_dir(id).join("checkpoints/resume.safetensors"), b"x").unwrap();
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains("Resume from checkpoint"));
}

#[sqlx::test(migrations = "../migrations")]
async fn unknown_runs_get_the_html_404_page(db: SqlitePool) {
    let env = env(db);
    for uri in ["/runs/999", "/runs/abc"] {
        let page = env.get(uri).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(page.header(header::CONTENT_TYPE).starts_with("text/html"), "{uri}");
        assert!(page.text().contains("Page not found"), "{uri}");
    }
    let refused = env.submit("/runs/999/stop", &[]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(refused.text().contains("Page not found"));
}

#[sqlx::test(migrations = "../migrations")]
async fn user_text_is_escaped(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "<script>alert(1)</script>", "succeeded").await;
    sqlx::query("UPDATE runs SET note = '</textarea><script>alert(2)</script>' WHERE id = ?").bind(id).execute(&db).await.unwrap();
    sqlx::query("INSERT INTO run_tags VALUES (?, '<b>bold</b>')").bind(id).execute(&db).await.unwrap();
    std::fs::create_dir_all(env.run_dir(id)).unwrap();
    std::fs::write(env.run_dir(id).join("stderr.log"), "epoch 1/2: <img src=x onerror=alert(3)>\n").unwrap();
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(!body.contains("<script>alert("), "{body}");
    assert!(!body.contains("<b>bold"));
    assert!(!body.contains("<img src=x"));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || body.contains("&lt;script&gt;alert(1)"), "{body}");
    assert!(body.contains("&#60;/textarea&#62;") || body.contains("&lt;/textarea&gt;"));
    assert!(body.contains(r#"<pre id="log" class="log" tabindex="0" aria-label="Trainer log">epoch 1/2: "#));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_table_shows_the_last_twenty_epochs(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "long", "succeeded").await;
    sqlx::query("UPDATE runs SET epochs = 25 WHERE id = ?").bind(id).execute(&db).await.unwrap();
    insert_epochs(&db, id, 1..=25).await;
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(!body.contains(r#"<tr data-epoch="5">"#));
    assert!(body.contains(r#"<tr data-epoch="6">"#) && body.contains(r#"<tr data-epoch="25">"#));
    assert!(body.contains(r#"<span id="metrics-total">25</span>"#));
    assert!(body.contains(r#"<strong id="epochs-done">25 / 25</strong>"#));
}

#[sqlx::test(migrations = "../migrations")]
async fn stopping_a_queued_run_takes_it_out_of_the_queue(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "waiting", "queued").await;
    let done = env.submit(&format!("/runs/{id}/stop"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let location = done.header(header::LOCATION);
    assert!(location.starts_with(&format!("/runs/{id}?notice=Stopped")), "{location}");
    assert!(!location.contains("kind=error"));
    assert_eq!(status_of(&db, id).await, "stopped");
    let body = env.get(&location).await.text();
    assert!(body.contains(r#"<p class="notice" id="run-notice" role="status">Stopped: the run was taken out of the queue.</p>"#), "{body}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_action_says_why(db: SqlitePool) {
    let env = env(db.clone());
    let done = insert_run(&db, "done", "succeeded").await;
    let refused = env.submit(&format!("/runs/{done}/stop"), &[]).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    let location = refused.header(header::LOCATION);
    assert!(location.contains("kind=error"), "{location}");
    let body = env.get(&location).await.text();
    assert!(
        body.contains("run 1 is succeeded; only queued or running runs can be stopped"),
        "the API's reason, shown on the page: {body}"
    );
    assert!(body.contains(r#"class="notice notice-error" id="run-notice" role="alert""#));
    assert_eq!(status_of(&db, done).await, "succeeded");

    let running = insert_run(&db, "busy", "running").await;
    let refused = env.submit(&format!("/runs/{running}/delete"), &[]).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    let body = env.get(&refused.header(header::LOCATION)).await.text();
    assert!(body.contains("run 2 is running; stop it before deleting it"));
    assert_eq!(status_of(&db, running).await, "running");

    // The notice is page text, escaped like any other.
    let body = env.get(&format!("/runs/{done}?notice=%3Cscript%3Ealert(1)%3C%2Fscript%3E&kind=error")).await.text();
    assert!(!body.contains("<script>alert(1)"));
}

#[sqlx::test(migrations = "../migrations")]
async fn resume_and_rerun(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "again", "failed").await;
    let resumed = env.submit(&format!("/runs/{id}/resume"), &[]).await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER);
    assert!(resumed.header(header::LOCATION).contains("starts+over"), "{}", resumed.header(header::LOCATION));
    assert_eq!(status_of(&db, id).await, "queued");

    let rerun = env.submit(&format!("/runs/{id}/rerun"), &[]).await;
    assert_eq!(rerun.status, StatusCode::SEE_OTHER);
    assert!(rerun.header(header::LOCATION).starts_with("/runs/2?notice="), "{}", rerun.header(header::LOCATION));
    let (name, status): (String, String) =
        sqlx::query_as("SELECT name, status FROM runs WHERE id = 2").fetch_one(&db).await.unwrap();
    assert_eq!((name.as_str(), status.as_str()), ("again (re-run of #1)", "queued"));
}

#[sqlx::test(migrations = "../migrations")]
async fn tags_and_note_are_saved(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "annotated", "succeeded").await;
    let saved = env.submit(&format!("/runs/{id}/annotate"), &[("tags", " digits, baseline,, "), ("note", "first try\r\nsecond line")]).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let tags: Vec<String> = sqlx::query_scalar("SELECT tag FROM run_tags WHERE run_id = ? ORDER BY tag").bind(id).fetch_all(&db).await.unwrap();
    assert_eq!(tags, ["baseline", "digits"]);
    let note: String = sqlx::query_scalar("SELECT note FROM runs WHERE id = ?").bind(id).fetch_one(&db).await.unwrap();
    assert_eq!(note, "first try\nsecond line");
    let body = env.get(&saved.header(header::LOCATION)).await.text();
    assert!(body.contains(r#"value="baseline, digits""#), "{body}");
    assert!(body.contains(">first try\nsecond line</textarea>"));

    // A tag over 64 characters is refused with the API's reason; nothing changes.
    let long = "x".repeat(65);
    let refused = env.submit(&format!("/runs/{id}/annotate"), &[("tags", &long), ("note", "changed")]).await;
    assert!(refused.header(header::LOCATION).contains("kind=error"));
    let body = env.get(&refused.header(header::LOCATION)).await.text();
    assert!(body.contains("tags are 1 to 64 characters"));
    let note: String = sqlx::query_scalar("SELECT note FROM runs WHERE id = ?").bind(id).fetch_one(&db).await.unwrap();
    assert_eq!(note, "first try\nsecond line");
}

#[sqlx::test(migrations = "../migrations")]
async fn delete_removes_the_run_and_its_files(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "doomed", "failed").await;
    std::fs::create_dir_all(env.run_dir(id)).unwrap();
    std::fs::write(env.run_dir(id).join("stderr.log"), "boom\n").unwrap();
    let done = env.submit(&format!("/runs/{id}/delete"), &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header(header::LOCATION), "/");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(&db).await.unwrap();
    assert_eq!(left, 0);
    assert!(!env.run_dir(id).exists());
    assert_eq!(env.get(&format!("/runs/{id}")).await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn posts_without_the_csrf_token_are_refused(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "guarded", "queued").await;
    let token = env.token().await;
    for path in ["stop", "resume", "rerun", "delete", "annotate"] {
        let uri = format!("/runs/{id}/{path}");
        let no_field = env.post(&uri, Some(&token), &[("note", "x")]).await;
        assert_eq!(no_field.status, StatusCode::FORBIDDEN, "{path}");
        let no_cookie = env.post(&uri, None, &[("csrf", &token)]).await;
        assert_eq!(no_cookie.status, StatusCode::FORBIDDEN, "{path}");
        let wrong = env.post(&uri, Some(&token), &[("csrf", "0123456789abcdef0123456789abcdef")]).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(status_of(&db, id).await, "queued");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(&db).await.unwrap();
    assert_eq!(runs, 1, "no re-run was made");
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 0,
    0, 0, 0, 0x3a, 0x7e, 0x9b, 0x55, 0, 0, 0, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0, 0, 0, 2, 0, 1,
    0x48, 0xaf, 0xa4, 0x71, 0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[sqlx::test(migrations = "../migrations")]
async fn sample_grids_are_listed_and_served(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "with-samples", "succeeded").await;
    let other = insert_run(&db, "other", "succeeded").await;
    std::fs::create_dir_all(env.run_dir(id).join("samples")).unwrap();
    for epoch in [2, 4] {
        std::fs::write(env.run_dir(id).join(format!("samples/epoch-{epoch:04}.png")), PNG).unwrap();
        sqlx::query("INSERT INTO samples (run_id, epoch, path) VALUES (?, ?, ?)")
            .bind(id)
            .bind(epoch)
            .bind(format!("samples/epoch-{epoch:04}.png"))
            .execute(&db)
            .await
            .unwrap();
    }
    // A path that leaves the run directory, as a forged events file could write.
    std::fs::write(env.data.path().join("secret.png"), PNG).unwrap();
    sqlx::query("INSERT INTO samples (run_id, epoch, path) VALUES (?, 6, '../../secret.png')").bind(id).execute(&db).await.unwrap();

    let png = env.get(&format!("/api/v1/runs/{id}/samples/1")).await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.header(header::CONTENT_TYPE), "image/png");
    assert_eq!(png.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(png.body, PNG);
    assert_eq!(env.get(&format!("/api/v1/runs/{other}/samples/1")).await.status, StatusCode::NOT_FOUND, "another run's sample");
    assert_eq!(env.get(&format!("/api/v1/runs/{id}/samples/3")).await.status, StatusCode::NOT_FOUND, "outside the run");
    assert_eq!(env.get(&format!("/api/v1/runs/{id}/samples/99")).await.status, StatusCode::NOT_FOUND);

    let list: Value = serde_json::from_slice(&env.get(&format!("/api/v1/runs/{id}/samples")).await.body).unwrap();
    assert_eq!(list[0], json!({"id": 1, "epoch": 2, "url": "/api/v1/runs/1/samples/1"}));
    assert_eq!(env.get("/api/v1/runs/99/samples").await.status, StatusCode::NOT_FOUND);

    // The page shows the latest grid by default, and the one asked for.
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains(r#"<img id="sample-image" src="/api/v1/runs/1/samples/3""#), "latest: {body}");
    assert!(body.contains(r#"<option value="2" data-url="/api/v1/runs/1/samples/1">2</option>"#), "{body}");
    assert!(body.contains("clean test images"));
    assert!(body.contains("PGD adversarial examples"));
    let body = env.get(&format!("/runs/{id}?samples=2")).await.text();
    assert!(body.contains(r#"<img id="sample-image" src="/api/v1/runs/1/samples/1""#));
    assert!(body.contains(r#"<strong id="sample-caption-epoch">Epoch 2.</strong>"#));
    let body = env.get(&format!("/runs/{id}?samples=abc")).await.text();
    assert!(body.contains(r#"<img id="sample-image" src="/api/v1/runs/1/samples/3""#), "a bad value shows the latest");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_log_tail_starts_at_a_whole_line(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "chatty", "running").await;
    std::fs::create_dir_all(env.run_dir(id)).unwrap();
    let log: String = (1..=2000).map(|i| format!("epoch {i}/2000: train loss 1.2345 | test clean 50.0%\n")).collect();
    std::fs::write(env.run_dir(id).join("stderr.log"), &log).unwrap();
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains("epoch 2000/2000"));
    assert!(!body.contains("epoch 1/2000:"));
    assert!(body.contains("The end of the log is shown."));
    let start = body.find(r#"aria-label="Trainer log">"#).unwrap() + r#"aria-label="Trainer log">"#.len();
    assert!(body[start..].starts_with("epoch "), "{}", &body[start..start + 40]);
}

#[sqlx::test(migrations = "../migrations")]
async fn serves_the_run_script(db: SqlitePool) {
    let env = env(db);
    let js = env.get("/static/run.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(js.header(header::CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert!(js.text().contains("advmix.live("));
}

async fn insert_checkpoint(db: &SqlitePool, run: i64, epoch: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO checkpoints (run_id, epoch, kind, path, bytes, sha256) VALUES (?, ?, 'best', 'checkpoints/best.safetensors', 10, 'ab')
         RETURNING id",
    )
    .bind(run)
    .bind(epoch)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn evaluate_queues_a_job_and_the_page_shows_its_progress_and_result(db: SqlitePool) {
    let env = env(db.clone());
    let run = insert_run(&db, "r", "succeeded").await;
    let checkpoint = insert_checkpoint(&db, run, 3).await;
    let page = env.get(&format!("/runs/{run}")).await.text();
    assert!(page.contains(&format!("action=\"/checkpoints/{checkpoint}/evaluate\"")), "an Evaluate form per checkpoint");
    assert!(page.contains("No evaluations yet."));

    let resp = env.submit(&format!("/checkpoints/{checkpoint}/evaluate"), &[("attack", "aa-standard"), ("n", "500")]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert!(resp.header(header::LOCATION).starts_with(&format!("/runs/{run}?notice=Evaluation")));
    let queued: (String, String, i64, Option<i64>, String) =
        sqlx::query_as("SELECT source, suite, n, epoch, status FROM evals WHERE run_id = ?").bind(run).fetch_one(&db).await.unwrap();
    assert_eq!(queued, ("job".into(), "aa-standard".into(), 500, Some(3), "queued".into()));

    // As the job reports: attack 2 of 4, then the result.
    sqlx::query("UPDATE evals SET status = 'running', attack = 'apgd-t', attack_index = 2, attack_of = 4, robust_left = 212")
        .execute(&db)
        .await
        .unwrap();
    let page = env.get(&format!("/runs/{run}")).await.text();
    assert!(page.contains("attack 2 of 4 (apgd-t) done, 212 of 500 points still robust"), "{page}");
    // Inside an attack, the job's newest progress line says where it is.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let line = format!(
        r#"{{"time":{now},"type":"progress","stage":"attack","epoch":3,"done":100,"total":212,"eta_seconds":150,
            "attack":{{"attack":"fab-t","index":3,"of":4,"robust_left":200,"n":500}}}}"#
    );
    sqlx::query("UPDATE evals SET progress = ?").bind(line.replace('\n', "")).execute(&db).await.unwrap();
    let page = env.get(&format!("/runs/{run}")).await.text();
    assert!(page.contains("FAB-T (3 of 4): 100 of 212 points, 200 of 500 robust, about 2 min left"), "{page}");
    sqlx::query(
        "UPDATE evals SET status = 'succeeded', clean_acc = 0.8, robust_acc = 0.4,
                attacks = '[{\"attack\":\"apgd-ce\",\"points\":400,\"robust_acc\":0.45,\"seconds\":12.0}]'",
    )
    .execute(&db)
    .await
    .unwrap();
    let page = env.get(&format!("/runs/{run}")).await.text();
    assert!(page.contains("apgd-ce 45.0 (12 s)") && page.contains(">40.0<"), "{page}");
    // The checkpoint's row says what it was evaluated against, and the result.
    let row = &page[page.find(&format!("data-checkpoint-id=\"{checkpoint}\"")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<li>aa-standard on 500 points: clean 80.0%, robust 40.0%</li>"), "{row}");
    let listed: serde_json::Value = serde_json::from_str(&env.get(&format!("/api/v1/runs/{run}/checkpoints")).await.text()).unwrap();
    assert_eq!(listed[0]["evaluated"][0], "aa-standard on 500 points: clean 80.0%, robust 40.0%", "the API lists the same");

    // Bad input comes back as a notice; nothing more is queued.
    let resp = env.submit(&format!("/checkpoints/{checkpoint}/evaluate"), &[("attack", "cw"), ("n", "500")]).await;
    let location = resp.header(header::LOCATION);
    assert!(location.contains("kind=error") && location.contains("unknown+attack"), "{location}");
    let resp = env.submit(&format!("/checkpoints/{checkpoint}/evaluate"), &[("attack", "pgd"), ("n", "lots")]).await;
    assert!(resp.header(header::LOCATION).contains("kind=error"));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM evals").fetch_one(&db).await.unwrap();
    assert_eq!(count, 1);
    assert_eq!(env.submit("/checkpoints/999/evaluate", &[("attack", "pgd")]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(env.post(&format!("/checkpoints/{checkpoint}/evaluate"), None, &[("attack", "pgd")]).await.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_evaluation_api_queues_lists_and_refuses_bad_requests(db: SqlitePool) {
    let env = env(db.clone());
    let run = insert_run(&db, "r", "succeeded").await;
    let checkpoint = insert_checkpoint(&db, run, 2).await;
    let post = |body: &'static str| {
        let request = Request::post(format!("/api/v1/checkpoints/{checkpoint}/evaluate"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        env.send(request)
    };
    let created = post(r#"{"attack": "aa-fast", "n": 100, "epsilon": 0.0313}"#).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let row: Value = serde_json::from_slice(&created.body).unwrap();
    assert_eq!((row["status"].as_str(), row["n"].as_i64(), row["epsilon"].as_f64()), (Some("queued"), Some(100), Some(0.0313)));
    for (body, field) in [
        (r#"{"attack": "fgsm"}"#, "attack"),
        (r#"{"attack": "pgd", "n": 0}"#, "n"),
        (r#"{"attack": "pgd", "epsilon": 2}"#, "epsilon"),
        (r#"{"attack": "pgd", "steps": 2}"#, "body"),
    ] {
        let resp = post(body).await;
        assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let listed: Value = serde_json::from_slice(&env.get(&format!("/api/v1/runs/{run}/evals")).await.body).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let one = env.get(&format!("/api/v1/evals/{}", row["id"])).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(env.get("/api/v1/evals/999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(env.get("/api/v1/runs/999/evals").await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn accuracies_are_latest_until_the_run_has_ended(db: SqlitePool) {
    let env = env(db.clone());
    let running = insert_run(&db, "training", "running").await;
    let done = insert_run(&db, "trained", "succeeded").await;
    let body = env.get(&format!("/runs/{running}")).await.text();
    assert!(body.contains("Latest clean") && body.contains("Latest robust") && !body.contains("Final clean"));
    let body = env.get(&format!("/runs/{done}")).await.text();
    assert!(body.contains("Final clean") && body.contains("Final robust") && !body.contains("Latest clean"));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_config_hides_keys_the_method_and_model_ignore(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "pgd", "succeeded").await;
    sqlx::query("UPDATE runs SET config = ?, method = 'pgd_at' WHERE id = ?")
        .bind(json!({"method": "pgd_at", "model": "small_cnn", "pgd_steps": 5, "aom": {"labels": "ratio"}, "depth": 28}).to_string())
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains(r#"data-key="pgd_steps""#) && !body.contains(r#"data-key="aom.labels""#) && !body.contains(r#"data-key="depth""#));
    assert!(body.contains("<code>aom.*</code>") && body.contains("<code>widen_factor</code>"), "and says which were hidden");
}

/// A running run shows where it is inside the epoch and the trainer's ETA;
/// in the final stage, the attack, the points still robust and the time left.
#[sqlx::test(migrations = "../migrations")]
async fn the_header_shows_progress_inside_the_epoch_and_in_the_final_stage(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "training", "running").await;
    insert_epochs(&db, id, 1..=2).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let set = |line: Value| {
        let db = db.clone();
        async move {
            sqlx::query("UPDATE runs SET progress = ? WHERE id = ?").bind(line.to_string()).bind(id).execute(&db).await.unwrap();
        }
    };
    set(json!({"time": now, "type": "progress", "stage": "train", "epoch": 3, "done": 120, "total": 391,
               "images_per_second": 850.4, "eta_seconds": 150.0}))
    .await;
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains("epoch 3: batch 120 of 391, 850 img/s"), "{body}");
    assert!(body.contains(r#"id="stage-progress" max="1" value="0.3069"#), "the bar is the epoch's fraction");
    assert!(body.contains("about <span class=\"value\">2 min</span> left"), "the trainer's ETA");
    assert!(body.contains("the trainer&#39;s estimate") || body.contains("the trainer's estimate"));

    set(json!({"time": now, "type": "progress", "stage": "final", "epoch": 10, "done": 200, "total": 355,
               "eta_seconds": 130.0, "attack": {"attack": "apgd-t", "index": 2, "of": 2, "robust_left": 38, "n": 355}}))
    .await;
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains("final evaluation: APGD-T (2 of 2), 38 of 355 robust"), "{body}");
    assert!(body.contains("about <span class=\"value\">2 min</span> left"));

    // An ended run shows no stale progress.
    sqlx::query("UPDATE runs SET status = 'succeeded' WHERE id = ?").bind(id).execute(&db).await.unwrap();
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(!body.contains("final evaluation: APGD-T"));
    assert!(body.contains(r#"id="run-stage" hidden"#));
}

/// A resumed run lists its attempts, and its duration is theirs together.
#[sqlx::test(migrations = "../migrations")]
async fn a_resumed_run_lists_its_attempts(db: SqlitePool) {
    let env = env(db.clone());
    let id = insert_run(&db, "resumed", "succeeded").await;
    sqlx::query("UPDATE runs SET attempt = 2, started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-300 seconds'),
                 finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds') WHERE id = ?")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    for (attempt, start, end, status) in [(1, -700, -400, "stopped"), (2, -300, -60, "succeeded")] {
        sqlx::query(
            "INSERT OR REPLACE INTO attempts (run_id, attempt, started_at, finished_at, status)
             VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ? || ' seconds'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ? || ' seconds'), ?)",
        )
        .bind(id)
        .bind(attempt)
        .bind(start)
        .bind(end)
        .bind(status)
        .execute(&db)
        .await
        .unwrap();
    }
    let body = env.get(&format!("/runs/{id}")).await.text();
    assert!(body.contains(r#"id="run-attempts""#), "{body}");
    assert!(body.contains("(5 min, stopped)") && body.contains("(4 min, succeeded)"), "{body}");
    // 300 s + 240 s, not only the last attempt's 240 s.
    assert!(body.contains("<span class=\"value\">9 min</span> <span class=\"muted\">(all 2 attempts)</span>"), "{body}");
}

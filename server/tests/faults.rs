//! Faults from outside: a disk that fills during a run, and a flood of idle
//! connections. Both go through a real socket or a real filesystem.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use advmix_server::compute::Compute;
use advmix_server::listen::Limits;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tower::ServiceExt;

async fn call(state: &advmix_server::AppState, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(if body.is_null() { Body::empty() } else { Body::from(body.to_string()) })
        .unwrap();
    let response = advmix_server::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A tmpfs of `mib` MiB at `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, mib: u32) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "advmix-test", dir.to_str().unwrap()])
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the disk has no byte left.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let mut written = 0;
    for chunk in [1 << 20, 4096, 1] {
        let block = vec![7u8; chunk];
        while file.write_all(&block).is_ok() {
            written += chunk as u64;
        }
    }
    let _ = file.sync_all();
    written
}

async fn status_of(state: &advmix_server::AppState, id: i64) -> String {
    call(state, "GET", &format!("/api/v1/runs/{id}"), Value::Null).await.1["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_fills_during_a_run_loses_no_acknowledged_write_and_recovers() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the disk-full test mounts a tmpfs, which needs root (CI runs it as root)");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("data");
    let Some(_mount) = Tmpfs::mount(&data, 48) else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let db = advmix_server::store::open(&data).await.unwrap();
    let unavailable = || Compute::Unavailable { trainer: "".into(), reason: "".into() };
    let (state, stop) = common::harness(db.clone(), unavailable(), common::trainer_bin(), &data, 1);
    let scheduling = tokio::spawn(state.runner.clone().run());
    let config = json!({ "model": "small_cnn", "dataset": "digits", "epochs": 30, "batch_size": 64, "samples_every": 0,
                         "eval": { "n": 100, "pgd_steps": 2, "final_attack": "none" } });
    let (status, run) = call(&state, "POST", "/api/v1/runs", json!({ "name": "filling", "config": config })).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, run) = call(&state, "GET", &format!("/api/v1/runs/{id}"), Value::Null).await;
        if run["epochs_done"].as_i64() >= Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "the run did not train an epoch: {run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The disk fills while the run trains.
    let filler = data.join("filler");
    assert!(fill(&filler) > 0);
    let mut refused = Vec::new();
    // A write acknowledged on the full disk must be committed: visible to
    // the next read, whichever connection serves it.
    let committed = |note: String| {
        let state = state.clone();
        async move {
            let (_, run) = call(&state, "GET", &format!("/api/v1/runs/{id}"), Value::Null).await;
            assert_eq!(run["note"].as_str(), Some(note.as_str()), "acknowledged but not committed");
        }
    };
    for i in 0..30 {
        let note = format!("note {i} {}", "x".repeat(9_000));
        let (status, body) = call(&state, "PATCH", &format!("/api/v1/runs/{id}"), json!({ "note": note })).await;
        if status.is_success() {
            committed(note).await;
        } else {
            refused.push((status, body));
        }
    }
    let (status, _) = call(&state, "GET", &format!("/api/v1/runs/{id}/archive"), Value::Null).await;
    if !status.is_success() {
        refused.push((status, json!({ "error": "archive" })));
    }
    eprintln!("on the full disk: {} writes refused: {:?}", refused.len(), refused.iter().map(|r| r.0.as_u16()).collect::<Vec<_>>());
    assert!(!refused.is_empty(), "nothing was refused on a full disk");
    for (status, body) in &refused {
        assert!(matches!(status.as_u16(), 503 | 507), "a storage fault is a 507 or 503, not {status}: {body}");
    }
    let (status, body) = call(&state, "PATCH", &format!("/api/v1/runs/{id}"), json!({ "note": "y".repeat(9_000) })).await;
    if status == StatusCode::INSUFFICIENT_STORAGE {
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("full") && message.contains(data.to_str().unwrap()), "{message}");
    } else if status.is_success() {
        committed("y".repeat(9_000)).await;
    }

    // Space comes back: writes work again within 5 s, with no restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let acknowledged = loop {
        let note = format!("after {}", freed.elapsed().as_millis());
        let (status, body) = call(&state, "PATCH", &format!("/api/v1/runs/{id}"), json!({ "note": note })).await;
        if status.is_success() {
            break note;
        }
        assert!(freed.elapsed() < Duration::from_secs(5), "still refused 5 s after space came back: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Reads agree with each other (no connection stuck in a transaction).
    let statuses: Vec<String> = futures_util::future::join_all((0..8).map(|_| status_of(&state, id))).await;
    assert!(statuses.windows(2).all(|w| w[0] == w[1]), "{statuses:?}");

    // The run is settled: it died of the full disk, or is stopped now.
    if status_of(&state, id).await == "running" {
        call(&state, "POST", &format!("/api/v1/runs/{id}/stop"), Value::Null).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while matches!(status_of(&state, id).await.as_str(), "running" | "queued") {
        assert!(Instant::now() < deadline, "the run was never settled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    scheduling.await.unwrap();
    state.runner.drain(Duration::from_secs(20)).await;
    db.close().await;

    // A half-written file is gone after the next start.
    let leftover = data.join("runs").join(id.to_string()).join("checkpoints/resume.safetensors.tmp");
    std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
    std::fs::write(&leftover, b"half").unwrap();
    let db = advmix_server::store::open(&data).await.unwrap();
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&db).await.unwrap();
    assert_eq!(check, "ok");
    let (state, stop) = common::harness(db.clone(), unavailable(), common::trainer_bin(), &data, 1);
    let scheduling = tokio::spawn(state.runner.clone().run());
    let (_, run) = call(&state, "GET", &format!("/api/v1/runs/{id}"), Value::Null).await;
    assert_eq!(run["note"].as_str(), Some(acknowledged.as_str()), "the last acknowledged note survives the restart");
    let deadline = Instant::now() + Duration::from_secs(5);
    while leftover.exists() {
        assert!(Instant::now() < deadline, "the temporary file was not removed at start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    scheduling.await.unwrap();
    db.close().await;
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim();
    kb.parse::<u64>().unwrap() * 1024
}

async fn healthz(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[sqlx::test(migrations = "../migrations")]
async fn a_flood_of_idle_connections_leaves_healthz_answering_and_memory_returns(db: sqlx::SqlitePool) {
    const FLOOD: usize = 3000;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = Limits { header_timeout: Duration::from_secs(2), idle_timeout: Duration::from_secs(30), max_connections: 256 };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(advmix_server::serve_with(listener, common::ready(db), limits, async {
        let _ = stopped.await;
    }));
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));
    let before = rss();
    // A live page's event stream, quiet between heartbeats, outlives the
    // flood: sockets that never sent a request are evicted first.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    kept.write_all(b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));

    // Half send nothing, half the start of a request they never finish.
    let mut idle = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 1 {
            stream.write_all(b"GET / HTTP/1.1\r\nHost: local").await.unwrap();
        }
        idle.push(stream);
    }
    let asked = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(10), healthz(addr)).await.expect("healthz answers during the flood");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    eprintln!("healthz answered in {:?} with {FLOOD} idle connections open", asked.elapsed());
    let during = rss();
    match tokio::time::timeout(Duration::from_millis(300), kept.read(&mut buf)).await {
        Err(_) => {}
        Ok(Ok(n)) => assert!(n > 0, "the event stream was closed for the flood's sake"),
        Ok(Err(e)) => panic!("the event stream was closed for the flood's sake: {e}"),
    }

    // A trickle that never finishes its headers is cut off.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let cut = tokio::time::timeout(Duration::from_secs(8), slow.read(&mut buf)).await;
    assert!(cut.is_ok(), "a request whose headers never end is closed after the header timeout");

    drop(idle);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss();
    eprintln!("RSS: {} MiB before, {} MiB during, {} MiB after", before >> 20, during >> 20, after >> 20);
    assert!(during < before + (64 << 20), "the flood grew memory by {} MiB", (during - before) >> 20);
    assert!(after < before + (32 << 20), "memory stayed up after the flood: {} MiB more", (after - before) >> 20);
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));
    // This state's event streams never see a shutdown: close it here.
    drop(kept);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap().unwrap();
}

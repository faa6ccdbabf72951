//! The pages in headless Chromium (issue #6): the real server on a socket,
//! the real trainer on two CPU slots, and `web/tests/browser.mjs` driving the
//! browser through launching a sweep, watching a run train, the form's error
//! path, the sweep's charts and a checkpoint download. Screenshots of every
//! step land in `target/screenshots/`.
//!
//! Needs `node`, `node_modules/playwright-core` and `/usr/bin/chromium`
//! (`scripts/setup.sh test` installs them). Without them the test is skipped,
//! unless `CI` is set, where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::SqlitePool;

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Where cargo builds, as `common::trainer_bin` finds it.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"))
}

/// What is missing to run the browser, if anything.
fn missing_prerequisite(root: &Path) -> Option<String> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !matches!(node, Ok(ref out) if out.status.success()) {
        return Some("`node` is not on PATH".into());
    }
    if !root.join("node_modules/playwright-core").is_dir() {
        return Some(format!("{} is missing", root.join("node_modules/playwright-core").display()));
    }
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    None
}

#[sqlx::test(migrations = "../migrations")]
async fn the_pages_work_in_headless_chromium(db: SqlitePool) {
    let root = workspace();
    if let Some(reason) = missing_prerequisite(&root) {
        if std::env::var_os("CI").is_some() {
            panic!("the browser test cannot run: {reason}; run `scripts/setup.sh test` to install what it needs");
        }
        eprintln!("skipping the browser test: {reason}; run `scripts/setup.sh test` to install what it needs");
        return;
    }

    let trainer = common::trainer_bin();
    let compute = advmix_server::compute::probe(&trainer).await;
    let data = tempfile::tempdir().unwrap();
    let (state, stop) = common::harness(db, compute, trainer, data.path(), 2);
    let scheduling = tokio::spawn(state.runner.clone().run());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(advmix_server::serve(listener, state, async {
        let _ = http_stopped.await;
    }));

    let screenshots = target_dir().join("screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).unwrap();

    // Async, so that this runtime goes on serving the browser meanwhile. The
    // script has its own watchdog (7 minutes); this one is the last resort.
    let began = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(root.join("web/tests/browser.mjs"))
        .arg("--url")
        .arg(&url)
        .arg("--screenshots")
        .arg(&screenshots)
        .arg("--chromium")
        .arg(CHROMIUM)
        .current_dir(&root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting node");
    let out = tokio::time::timeout(Duration::from_secs(480), child.wait_with_output())
        .await
        .expect("web/tests/browser.mjs ran past 8 minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    println!("browser test: {:.0} s; screenshots in {}", began.elapsed().as_secs_f64(), screenshots.display());
    assert!(out.status.success(), "web/tests/browser.mjs failed ({}):\n{stdout}{stderr}", out.status);

    stop_http.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), http).await.unwrap().unwrap().unwrap();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), scheduling).await.unwrap().unwrap();
}

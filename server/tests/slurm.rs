//! The Slurm executor against a real one-node cluster (slurmctld, slurmd and
//! munged on loopback, started here by `scripts/slurm-cluster.sh` and
//! stopped by their pids), with the real trainer on CPU: a sweep that
//! succeeds, stop and resume, a requeue mid-training (queued while Slurm
//! holds it), a cancel from outside advmix, a partition sbatch refuses, a
//! server restart, an evaluation job.
//!
//! Needs root and Debian's slurm-wlm and munge (`scripts/setup.sh test`
//! installs them). Without them the test is skipped with the reason, unless
//! `CI` is set, where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use advmix_server::AppState;
use advmix_server::compute::Compute;
use advmix_server::runner::executor::slurm::{SlurmConfig, SlurmExecutor};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use tower::ServiceExt;

/// The cluster's daemons, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/slurm-cluster.sh")
    }

    /// Err with the reason when this machine cannot run one.
    fn start() -> Result<Cluster, String> {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(Self::script()).arg("start").arg(dir.path()).output().unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        match out.status.code() {
            Some(0) => Ok(Cluster { dir }),
            Some(2) => Err(said.trim().to_owned()),
            _ => panic!("the test cluster did not start:\n{said}"),
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// A Slurm client command against this cluster; its stdout.
    fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = std::process::Command::new(program).args(args).env("SLURM_CONF", self.conf()).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new(Self::script()).arg("stop").arg(self.dir.path()).status();
    }
}

struct Server {
    state: AppState,
    stop: tokio::sync::watch::Sender<bool>,
    scheduling: tokio::task::JoinHandle<()>,
}

fn server(db: &SqlitePool, cluster: &Cluster, data: &Path) -> Server {
    let config = SlurmConfig {
        partition: None,
        gres: None,
        max_jobs: 8,
        signal_seconds: 60,
        conf: Some(cluster.conf()),
        ..SlurmConfig::default()
    };
    let slurm = Arc::new(SlurmExecutor::new(common::trainer_bin(), config, Duration::from_millis(500)));
    let compute = Compute::Unavailable { trainer: "".into(), reason: "".into() };
    let (state, stop) = common::with_executor(db.clone(), compute, slurm, data, 8);
    let scheduling = tokio::spawn(state.runner.clone().run());
    Server { state, stop, scheduling }
}

impl Server {
    /// Stops the server; the cluster's jobs go on.
    async fn shut_down(self) {
        self.stop.send(true).unwrap();
        self.scheduling.await.unwrap();
        self.state.runner.drain(Duration::from_secs(10)).await;
    }

    async fn call(&self, method: &str, uri: &str, body: &str, content_type: &str) -> (StatusCode, Vec<u8>) {
        let request =
            Request::builder().method(method).uri(uri).header("content-type", content_type).body(Body::from(body.to_owned())).unwrap();
        let response = advmix_server::app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    async fn json(&self, method: &str, uri: &str, body: &str) -> Value {
        let (status, bytes) = self.call(method, uri, body, "application/yaml").await;
        assert!(status.is_success(), "{method} {uri}: {status} {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn run(&self, id: i64) -> Value {
        self.json("GET", &format!("/api/v1/runs/{id}"), "").await
    }

    /// Polls run `id` until `done` holds, for up to `limit`.
    async fn wait(&self, id: i64, limit: Duration, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let run = self.run(id).await;
            if done(&run) {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "run {id} never {what}: {run}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn sweep(&self, spec: &str) -> Vec<i64> {
        let sweep = self.json("POST", "/api/v1/sweeps", spec).await;
        let runs = self.json("GET", &format!("/api/v1/runs?sweep={}&order=asc", sweep["id"]), "").await;
        runs["runs"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
    }
}

fn sweep(name: &str, epochs: u32, extra: &str) -> String {
    format!(
        "name: {name}\nmethod: grid\nbase: {{model: small_cnn, dataset: digits, epochs: {epochs}, batch_size: 128, samples_every: 0,\n       \
         eval: {{n: 100, pgd_steps: 2, final_attack: none}}}}\n{extra}"
    )
}

async fn stored_epochs(db: &SqlitePool, id: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT epoch FROM epochs WHERE run_id = ? ORDER BY epoch").bind(id).fetch_all(db).await.unwrap()
}

fn job_of(run: &Value) -> String {
    run["handle"].as_str().expect("a running run has a handle").strip_prefix("slurm:").expect("a Slurm handle").to_owned()
}

const MINUTE: Duration = Duration::from_secs(60);

#[sqlx::test(migrations = "../migrations")]
async fn runs_and_evaluations_on_a_real_slurm_cluster(db: SqlitePool) {
    let cluster = match Cluster::start() {
        Ok(cluster) => cluster,
        Err(reason) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping the Slurm test: {reason}; run `scripts/setup.sh test` as root to install slurm-wlm and munge");
            return;
        }
        Err(reason) => panic!("the Slurm test cannot run in CI: {reason}"),
    };
    let data = tempfile::tempdir().unwrap();
    let first = server(&db, &cluster, data.path());

    // A partition that does not exist: the sweep is refused at its
    // `resources`, in sbatch's own words, and nothing is created.
    let spec = sweep("nowhere", 1, "resources: {partition: nowhere}\n");
    for path in ["/api/v1/sweeps/preview", "/api/v1/sweeps"] {
        let (status, body) = first.call("POST", path, &spec, "application/yaml").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", String::from_utf8_lossy(&body));
        let body: Value = serde_json::from_slice(&body).unwrap();
        let error = &body["errors"][0];
        assert_eq!(error["field"], "resources", "{body}");
        assert!(error["message"].as_str().unwrap().contains("Invalid partition"), "{body}");
    }
    assert_eq!(first.json("GET", "/api/v1/runs", "").await["runs"].as_array().unwrap().len(), 0, "a refused sweep creates no run");

    // A two-run sweep, a run to requeue, one to stop and resume, one that
    // someone cancels by hand, side by side on the cluster.
    let pair = first.sweep(&sweep("pair", 2, "parameters: {method: {values: [erm, mixup]}}\n")).await;
    let requeued = first.sweep(&sweep("requeued", 5, "")).await[0];
    let stopped = first.sweep(&sweep("stopped", 6, "")).await[0];
    let cancelled = first.sweep(&sweep("cancelled", 30, "")).await[0];

    let run = first.wait(requeued, 3 * MINUTE, "trained an epoch", |r| r["epochs_done"].as_i64() >= Some(1)).await;
    let script = std::fs::read_to_string(data.path().join(format!("runs/{requeued}/job.sbatch"))).unwrap();
    assert!(script.contains("#SBATCH --requeue") && script.contains("--signal=B:USR1@60") && script.contains("resume.safetensors"), "{script}");
    cluster.tool("scontrol", &["requeue", &job_of(&run)]);
    // Back in Slurm's queue until its BeginTime: queued, with the reason.
    let run = first.wait(requeued, MINUTE, "waited as a new attempt", |r| r["attempt"] == 2 && r["status"] == "queued").await;
    assert_eq!(run["executor"]["state"], "PENDING", "{run}");
    assert!(run["executor"]["reason"].is_string(), "Slurm's reason is shown: {run}");

    let run = first.wait(cancelled, 3 * MINUTE, "trained an epoch", |r| r["epochs_done"].as_i64() >= Some(1)).await;
    cluster.tool("scancel", &[&job_of(&run)]);
    let run = first.wait(cancelled, MINUTE, "stopped", |r| r["status"] == "stopped").await;
    assert!(run["error"].as_str().unwrap().contains("outside advmix"), "{run}");

    first.wait(stopped, 3 * MINUTE, "trained an epoch", |r| r["epochs_done"].as_i64() >= Some(1)).await;
    first.json("POST", &format!("/api/v1/runs/{stopped}/stop"), "").await;
    let run = first.wait(stopped, MINUTE, "stopped", |r| r["status"] == "stopped").await;
    assert_eq!(run["resume_from_checkpoint"], true, "{run}");
    let resumed = first.json("POST", &format!("/api/v1/runs/{stopped}/resume"), "").await;
    assert_eq!(resumed["from_checkpoint"], true);
    first.wait(stopped, MINUTE, "started again", |r| r["status"] == "running" && r["handle"].is_string()).await;

    // The server restarts while jobs run or wait; the next one adopts them.
    first.shut_down().await;
    let second = server(&db, &cluster, data.path());
    for id in pair.iter().copied().chain([requeued, stopped]) {
        let run = second.wait(id, 8 * MINUTE, "succeeded", |r| r["status"] != "running" && r["status"] != "queued").await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let epochs = run["epochs"].as_i64().unwrap() as u32;
        let stored = stored_epochs(&db, id).await;
        assert_eq!(stored, (1..=i64::from(epochs)).collect::<Vec<_>>(), "run {id}: no epoch missing or duplicated");
        assert_eq!(common::epochs_in_file(&data.path().join("runs").join(id.to_string())), (1..=epochs).collect::<Vec<_>>(), "run {id}: the file agrees");
    }
    assert_eq!(second.run(requeued).await["attempt"], 2, "the requeue was one more attempt");
    let log = std::fs::read_to_string(data.path().join(format!("runs/{requeued}/stderr.log"))).unwrap();
    assert_eq!(log.matches("restart ").count(), 2, "both attempts appended to one log:\n{log}");

    // A checkpoint downloads with its sha256, and an evaluation job of it
    // runs on the cluster.
    let checkpoints = second.json("GET", &format!("/api/v1/runs/{}/checkpoints", pair[0]), "").await;
    let best = checkpoints.as_array().unwrap().iter().find(|c| c["kind"] == "best").unwrap().clone();
    let (status, bytes) = second.call("GET", &format!("/api/v1/checkpoints/{}/download", best["id"]), "", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), best["sha256"].as_str().unwrap());
    let (status, body) = second.call("POST", &format!("/api/v1/checkpoints/{}/evaluate", best["id"]), r#"{"attack": "pgd", "n": 30}"#, "application/json").await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let job: Value = serde_json::from_slice(&body).unwrap();
    let deadline = tokio::time::Instant::now() + 3 * MINUTE;
    let job = loop {
        let job = second.json("GET", &format!("/api/v1/evals/{}", job["id"]), "").await;
        if job["status"] == "succeeded" {
            break job;
        }
        assert_ne!(job["status"], "failed", "{job}");
        assert!(tokio::time::Instant::now() < deadline, "the evaluation job did not finish: {job}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(job["robust_acc"].as_f64().is_some(), "{job}");
    assert!(data.path().join(format!("evals/{}/job.sbatch", job["id"])).exists());
    second.shut_down().await;
}

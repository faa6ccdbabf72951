//! A run directory is untrusted (on a cluster, other users can write the
//! shared data dir): events that name files outside it, and symlinks planted
//! in every folder the server reads, serve nothing outside the run's
//! directory.

mod common;

use std::path::Path;

use advmix_protocol::Event;
use advmix_protocol::events::{Checkpoint, CheckpointKind, Samples};
use advmix_server::compute::Compute;
use advmix_server::store;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sqlx::SqlitePool;
use tower::ServiceExt;

const SECRET: &str = "TOPSECRET-not-for-clients";

async fn get(state: &advmix_server::AppState, uri: &str) -> (StatusCode, Vec<u8>) {
    let response = advmix_server::app(state.clone()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
}

fn leaks(bytes: &[u8]) -> bool {
    bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())
}

fn checkpoint(epoch: u32, kind: CheckpointKind, file: &str) -> Event {
    Event::Checkpoint(Checkpoint { epoch, kind, file: file.into(), bytes: 10, sha256: "ab".into() })
}

#[sqlx::test(migrations = "../migrations")]
async fn a_hostile_run_directory_serves_nothing_outside_it(db: SqlitePool) {
    let data = tempfile::tempdir().unwrap();
    let secret = data.path().join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();
    let compute = Compute::Unavailable { trainer: "".into(), reason: "".into() };
    common::with_cifar(data.path());
    let (state, _stop) = common::harness(db.clone(), compute, "/nonexistent/advmix-trainer".into(), data.path(), 1);

    let mut tx = db.begin().await.unwrap();
    let id = store::runs::insert(&mut tx, None, "hostile", &Default::default(), &Default::default(), 0, None).await.unwrap();
    sqlx::query("UPDATE runs SET status = 'succeeded' WHERE id = ?").bind(id).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    let dir = state.paths.run_dir(id);
    for sub in ["checkpoints", "samples"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("checkpoints/last.safetensors"), b"real weights").unwrap();
    std::fs::write(dir.join("samples/epoch-0002.png"), b"real png").unwrap();
    let link = |name: &str| std::os::unix::fs::symlink(&secret, dir.join(name)).unwrap();
    for name in ["stderr.log", "job.sbatch", "run.json", "checkpoints/best.safetensors", "samples/epoch-0001.png"] {
        link(name);
    }
    std::os::unix::fs::symlink(data.path(), dir.join("checkpoints/up")).unwrap();

    let hostile = [
        checkpoint(1, CheckpointKind::Periodic, "../../../../etc/passwd"),
        checkpoint(2, CheckpointKind::Periodic, "/etc/hostname"),
        checkpoint(3, CheckpointKind::Periodic, "../../advmix.db"),
        checkpoint(4, CheckpointKind::Periodic, "checkpoints/up/secret.txt"),
        checkpoint(5, CheckpointKind::Best, "checkpoints/best.safetensors"),
        checkpoint(5, CheckpointKind::Last, "checkpoints/last.safetensors"),
        Event::Samples(Samples { epoch: 1, path: "samples/epoch-0001.png".into() }),
        Event::Samples(Samples { epoch: 2, path: "samples/epoch-0002.png".into() }),
        Event::Samples(Samples { epoch: 3, path: "../../secret.txt".into() }),
    ];
    for event in hostile {
        common::fake::emit(&dir, event);
    }
    advmix_server::runner::ingest::ingest_file(&db, id, &state.paths.run_events(id), None).await.unwrap();

    // Events naming a path that leaves the directory are not stored.
    let rows = store::checkpoints::of_run(&db, id).await.unwrap();
    let files: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    assert!(files.iter().all(|f| !f.starts_with('/') && !f.contains("..")), "{files:?}");
    for row in &rows {
        let (status, body) = get(&state, &format!("/api/v1/checkpoints/{}/download", row.id)).await;
        assert!(!leaks(&body), "checkpoint {} leaked", row.path);
        let want = if row.path.ends_with("last.safetensors") { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, want, "{}", row.path);
    }
    assert!(files.contains(&"checkpoints/last.safetensors"), "the real checkpoint stays: {files:?}");

    let (_, list) = get(&state, &format!("/api/v1/runs/{id}/samples")).await;
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
    let samples = list.as_array().unwrap();
    assert_eq!(samples.len(), 2, "the sample outside the directory is not stored: {list}");
    for sample in samples {
        let (status, body) = get(&state, &format!("/api/v1/runs/{id}/samples/{}", sample["id"])).await;
        assert!(!leaks(&body));
        assert!(status == StatusCode::OK || status == StatusCode::FORBIDDEN, "{status}");
    }

    for uri in [
        format!("/api/v1/runs/{id}/log"),
        format!("/runs/{id}/log.txt"),
        format!("/runs/{id}/job.sbatch"),
        format!("/runs/{id}"),
        format!("/api/v1/runs/{id}"),
    ] {
        let (status, body) = get(&state, &uri).await;
        assert!(!leaks(&body), "{uri} leaked the file behind a symlink");
        assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{uri}: {status}");
    }

    // The archive leaves symlinks out and keeps the real files.
    let (status, tar) = get(&state, &format!("/api/v1/runs/{id}/archive")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!leaks(&tar));
    let mut archive = tar::Archive::new(tar.as_slice());
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            assert!(e.header().entry_type().is_file(), "{:?} is not a plain file", e.path());
            e.path().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert!(names.iter().any(|n| n.ends_with("checkpoints/last.safetensors")), "{names:?}");
    assert!(!names.iter().any(|n| Path::new(n).ends_with("stderr.log")), "{names:?}");
}

//! The `advmix-trainer train` command as the server runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use advmix_protocol::{Event, EventLine};

const BIN: &str = env!("CARGO_BIN_EXE_advmix-trainer");

fn train(config: &str, run_dir: &Path, data_dir: &Path) -> std::process::Output {
    let config_dir = tempfile::tempdir().unwrap();
    let file = config_dir.path().join("run.json");
    std::fs::write(&file, config).unwrap();
    Command::new(BIN)
        .args(["train", "--device", "cpu", "--config"])
        .arg(&file)
        .arg("--run-dir")
        .arg(run_dir)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap()
}

/// Exit 2, one stderr line naming `field`, a `failed` event, nothing written.
fn assert_rejected(config: &str, field: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    let out = train(config, &run_dir, &tmp.path().join("datasets"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{config}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(field), "{config}: stderr names {field}: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line: EventLine = serde_json::from_str(stdout.trim()).expect("one failed event on stdout");
    let Event::Failed { reason } = line.event else { panic!("not a failed event: {stdout}") };
    assert!(stderr.contains(&reason));
    let written = std::fs::read_dir(&run_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(written, 0, "{config}: nothing may be written into the run dir");
}

#[test]
fn bad_configs_are_refused_before_anything_is_written() {
    assert_rejected(r#"{"method":"fgsm"}"#, "fgsm");
    assert_rejected(r#"{"model":"resnet50"}"#, "resnet50");
    assert_rejected(r#"{"dataset":"digits","model":"small_cnn","epsilon":-0.1}"#, "epsilon");
    assert_rejected(r#"{"dataset":"digits","aom":{"lambda_min":0.9,"lambda_max":0.1}}"#, "lambda_min");
    assert_rejected(r#"{"dataset":"cifar10"}"#, "advmix-trainer download cifar10");
}

#[test]
fn an_unwritable_run_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let out = train(r#"{"dataset":"digits","model":"small_cnn"}"#, &blocker.join("run"), tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--run-dir"));
}

/// SIGTERM finishes the batch, writes `last`, says `stopped`, exits 0; the
/// stdout stream and events.jsonl carry the same lines; --resume finishes.
#[test]
fn sigterm_stops_cleanly_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    let config = r#"{"method":"erm","model":"small_cnn","dataset":"digits","epochs":3,"batch_size":64,
        "samples_every":0,"eval":{"n":100,"pgd_steps":2,"final_attack":"none"}}"#;
    let config_file = tmp.path().join("run.json");
    std::fs::write(&config_file, config).unwrap();
    let mut child = Command::new(BIN)
        .args(["train", "--device", "cpu", "--config"])
        .arg(&config_file)
        .arg("--run-dir")
        .arg(&run_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        let event: EventLine = serde_json::from_str(&line).unwrap();
        let first_epoch = matches!(event.event, Event::Epoch(_)) && !lines.iter().any(|l: &String| l.contains(r#""type":"epoch""#));
        lines.push(std::mem::take(&mut line));
        if first_epoch {
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(lines.last().unwrap().contains(r#""type":"stopped""#), "{lines:?}");
    let file = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    assert_eq!(file, lines.concat(), "stdout and events.jsonl carry the same lines");
    assert!(run_dir.join("checkpoints/last.safetensors").exists());

    let out = Command::new(BIN)
        .args(["train", "--device", "cpu", "--resume", "--config"])
        .arg(&config_file)
        .arg("--run-dir")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let epochs: Vec<u32> = file
        .lines()
        .filter_map(|l| match serde_json::from_str::<EventLine>(l).unwrap().event {
            Event::Epoch(m) => Some(m.epoch),
            _ => None,
        })
        .collect();
    let last = *epochs.last().unwrap();
    assert_eq!(last, 3);
    assert!(file.trim_end().ends_with('}') && file.lines().last().unwrap().contains(r#""type":"finished""#));
    // Epochs finished before the stop are not repeated after it, unless the
    // stop came mid-epoch (that epoch is completed once, after resuming).
    let mut sorted = epochs.clone();
    sorted.dedup();
    assert_eq!(sorted, epochs, "no epoch reported twice: {epochs:?}");
}

//! The subcommands: sweep submit, runs, tail, download, table.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Client;
use crate::store::RunStatus;

pub fn submit_sweep(client: &Client, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        _ => "application/yaml",
    };
    let sweep = client.post("/sweeps", content_type, &text)?;
    let (runs, queued) = (sweep["runs"].as_u64().unwrap_or(0), sweep["queued"].as_u64().unwrap_or(0));
    let later = if runs > queued { format!(", {} more as bayes proposals", runs - queued) } else { String::new() };
    println!("sweep {}: {queued} runs queued{later} ({})", sweep["id"], sweep["name"].as_str().unwrap_or(""));
    for note in sweep["warnings"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        println!("note: {note}");
    }
    Ok(())
}

fn percent(v: &Value) -> String {
    v.as_f64().map_or_else(|| "-".to_owned(), |x| format!("{:.1}", 100.0 * x))
}

pub fn runs(client: &Client, sweep: Option<i64>, status: Option<&str>, limit: u32) -> anyhow::Result<()> {
    let mut query = format!("/runs?per_page={limit}");
    if let Some(sweep) = sweep {
        query.push_str(&format!("&sweep={sweep}"));
    }
    if let Some(status) = status {
        query.push_str(&format!("&status={status}"));
    }
    let page = client.get(&query)?;
    let runs = page["runs"].as_array().cloned().unwrap_or_default();
    if runs.is_empty() {
        println!("no runs");
        return Ok(());
    }
    for line in runs_table(&runs) {
        println!("{}", line.trim_end());
    }
    let total = page["total"].as_i64().unwrap_or(0);
    if total > runs.len() as i64 {
        println!("({} of {total} shown; --limit shows more)", runs.len());
    }
    Ok(())
}

/// The widest a value column gets; longer values are cut with `…`.
const MAX_CELL: usize = 18;

/// The runs as text columns: each swept value in a column of its own (the
/// part of a sweep's run names that differs), a NAME column only for runs
/// whose name is not made of those values, then status, epochs and every
/// accuracy, AutoAttack included.
fn runs_table(runs: &[Value]) -> Vec<String> {
    let params: Vec<serde_json::Map<String, Value>> =
        runs.iter().map(|r| r["params"].as_object().cloned().unwrap_or_default()).collect();
    let mut keys: Vec<String> = Vec::new();
    for key in params.iter().flat_map(|p| p.keys()) {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let value_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let said_by_params = |run: &Value, params: &serde_json::Map<String, Value>| {
        let name = run["name"].as_str().unwrap_or("");
        !params.is_empty() && params.iter().all(|(k, v)| name.contains(&format!("{k}={}", value_text(v))))
    };
    let with_names = runs.iter().zip(&params).any(|(r, p)| !said_by_params(r, p));
    let cut = |text: String| -> String {
        if text.chars().count() > MAX_CELL { text.chars().take(MAX_CELL - 1).chain(['…']).collect() } else { text }
    };
    let mut header: Vec<String> = vec!["ID".into(), "STATUS".into()];
    if with_names {
        header.push("NAME".into());
    }
    header.extend(keys.iter().map(|k| cut(k.clone())));
    header.extend(["METHOD", "EPOCHS", "BEST ROBUST%", "CLEAN%", "ROBUST%", "AA%"].map(String::from));
    let mut rows = vec![header];
    for (run, p) in runs.iter().zip(&params) {
        let mut row = vec![run["id"].to_string(), run["status"].as_str().unwrap_or("").to_owned()];
        if with_names {
            row.push(if said_by_params(run, p) { String::new() } else { cut(run["name"].as_str().unwrap_or("").to_owned()) });
        }
        row.extend(keys.iter().map(|k| p.get(k).map_or_else(|| "-".to_owned(), |v| cut(value_text(v)))));
        row.extend([
            run["method"].as_str().unwrap_or("").to_owned(),
            format!("{}/{}", run["epochs_done"], run["epochs"]),
            percent(&run["best_robust_acc"]),
            percent(&run["final_clean_acc"]),
            percent(&run["final_robust_acc"]),
            percent(&run["autoattack_acc"]),
        ]);
        rows.push(row);
    }
    // Numbers (ids, epochs, accuracies) right-aligned; the rest left.
    let numeric_from = rows[0].len() - 4;
    let widths: Vec<usize> =
        (0..rows[0].len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(c, cell)| {
                    if c == 0 || c >= numeric_from - 1 { format!("{cell:>w$}", w = widths[c]) } else { format!("{cell:<w$}", w = widths[c]) }
                })
                .collect::<Vec<_>>()
                .join("  ")
        })
        .collect()
}

/// Whether a run, as the API shows it, is queued or running.
fn is_live(run: &Value) -> bool {
    run["status"].as_str().and_then(RunStatus::parse).is_some_and(RunStatus::is_live)
}

/// One line per event; returns true on the attempt's last event.
fn print_event(event: &Value) -> bool {
    match event["type"].as_str().unwrap_or("") {
        "started" => println!("started on {} (seed {})", event["device"].as_str().unwrap_or("?"), event["seed"]),
        "epoch" => println!(
            "epoch {:>4}  lr {:.4}  train loss {:.4}  clean {}%  pgd {}%  {:.0} img/s",
            event["epoch"].to_string(),
            event["lr"].as_f64().unwrap_or(0.0),
            event["train_loss"].as_f64().unwrap_or(0.0),
            percent(&event["test_clean_acc"]),
            percent(&event["test_pgd_acc"]),
            event["images_per_second"].as_f64().unwrap_or(0.0),
        ),
        "checkpoint" => println!("checkpoint {} at epoch {}", event["kind"].as_str().unwrap_or(""), event["epoch"]),
        "samples" => println!("samples {}", event["path"].as_str().unwrap_or("")),
        "finished" => {
            println!(
                "finished: best robust {}% at epoch {}, final clean {}%",
                percent(&event["best_robust_acc"]),
                event["best_epoch"],
                percent(&event["final_clean_acc"])
            );
            return true;
        }
        kind @ ("failed" | "stopped") => {
            println!("{kind}: {}", event["reason"].as_str().unwrap_or(""));
            return true;
        }
        other => println!("{other}: {event}"),
    }
    false
}

/// A `progress` event as one line with its ETA, counted from now.
fn progress_text(event: &Value) -> Option<String> {
    let line: advmix_protocol::EventLine = serde_json::from_value(event.clone()).ok()?;
    let advmix_protocol::Event::Progress(p) = line.event else { return None };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64();
    Some(p.describe_at(line.time, now))
}

fn no_run(run: i64) -> anyhow::Error {
    anyhow::anyhow!("no run {run}: `advmix runs` lists the runs there are")
}

pub fn tail(client: &Client, run: i64) -> anyhow::Result<()> {
    let detail = client.get_one(&format!("/runs/{run}"))?.ok_or_else(|| no_run(run))?;
    println!("run {run} ({}) is {}, epoch {}/{}", detail["name"].as_str().unwrap_or(""), detail["status"].as_str().unwrap_or(""), detail["epochs_done"], detail["epochs"]);
    if !is_live(&detail) {
        return Ok(());
    }
    let (_, _, body) = client.stream(&format!("/runs/{run}/events"), 0)?;
    // Each message is an `event:` line naming its kind, then its `data:`.
    let mut kind = String::new();
    // Progress inside an epoch rewrites one line on a terminal, about once a
    // second; piped, it is left out, so the output stays one line per event.
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut status_line = false;
    for line in BufReader::new(body).lines() {
        let line = line.context("the event stream broke")?;
        if let Some(name) = line.strip_prefix("event:") {
            kind = name.trim().to_owned();
            continue;
        }
        let Some(data) = line.strip_prefix("data:") else { continue };
        let Ok(message) = serde_json::from_str::<Value>(data.trim()) else { continue };
        if kind == "run" && message["event"]["type"] == "progress" {
            if let (true, Some(text)) = (terminal, progress_text(&message["event"])) {
                print!("\r\x1b[K{text}");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                status_line = true;
            }
            continue;
        }
        if std::mem::take(&mut status_line) {
            print!("\r\x1b[K");
        }
        match kind.as_str() {
            "run" if print_event(&message["event"]) => return Ok(()),
            // A run stopped before it started ends without a trainer event.
            "status" if !is_live(&message["run"]) => {
                println!("run {run} is {}", message["run"]["status"].as_str().unwrap_or("?"));
                return Ok(());
            }
            _ => {}
        }
    }
    println!("the server closed the stream (it is shutting down?)");
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Best,
    Last,
    Epoch(i64),
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Best => f.write_str("best"),
            Kind::Last => f.write_str("last"),
            Kind::Epoch(n) => write!(f, "epoch-{n} (periodic)"),
        }
    }
}

pub fn download(client: &Client, run: i64, kind: Kind, out: Option<PathBuf>) -> anyhow::Result<()> {
    let list = client.get_one(&format!("/runs/{run}/checkpoints"))?.ok_or_else(|| no_run(run))?;
    let wanted = list.as_array().into_iter().flatten().find(|c| match &kind {
        Kind::Best => c["kind"] == "best",
        Kind::Last => c["kind"] == "last",
        Kind::Epoch(n) => c["kind"] == "periodic" && c["epoch"] == *n,
    });
    let Some(checkpoint) = wanted else {
        bail!("run {run} has no {kind} checkpoint; `advmix runs` shows its progress, --kind picks another")
    };
    let file = checkpoint["path"].as_str().unwrap_or("checkpoint.safetensors").rsplit('/').next().unwrap_or("checkpoint.safetensors");
    let out = out.unwrap_or_else(|| PathBuf::from(format!("run-{run}-{file}")));
    let partial = out.with_extension("safetensors.part");
    let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let (status, length, mut body) = client.stream(&format!("/checkpoints/{}/download", checkpoint["id"]), have)?;
    let resumed = status == 206;
    let total = checkpoint["bytes"].as_u64().or(length).unwrap_or(0);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut done = if resumed { have } else { 0 };
    let mut buf = vec![0u8; 1 << 16];
    let mut last_shown = std::time::Instant::now();
    loop {
        let n = body.read(&mut buf).context("the download broke; run the same command again to continue")?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
        done += n as u64;
        if last_shown.elapsed().as_millis() > 200 {
            progress(done, total);
            last_shown = std::time::Instant::now();
        }
    }
    progress(done, total);
    eprintln!();
    drop(file);
    let sha = hex::encode(Sha256::digest(std::fs::read(&partial)?));
    if Some(sha.as_str()) != checkpoint["sha256"].as_str() {
        std::fs::remove_file(&partial)?;
        bail!("the downloaded file's sha256 ({sha}) does not match the server's; it was deleted, download again");
    }
    std::fs::rename(&partial, &out)?;
    println!("{} ({} bytes, sha256 {sha})", out.display(), done);
    Ok(())
}

fn progress(done: u64, total: u64) {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    if total > 0 {
        let width = 30;
        let filled = (done.min(total) * width / total) as usize;
        eprint!("\r[{}{}] {:5.1}% {:.1}/{:.1} MiB", "#".repeat(filled), " ".repeat(width as usize - filled), 100.0 * done as f64 / total as f64, mib(done), mib(total));
    } else {
        eprint!("\r{:.1} MiB", mib(done));
    }
}

/// What `advmix table` tabulates.
pub enum TableOf {
    Sweep(i64),
    /// Comma-separated run ids, as typed.
    Runs(String),
}

pub fn table(
    client: &Client,
    of: &TableOf,
    by: Option<&str>,
    format: &str,
    published: bool,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let mut query: Vec<(&str, &str)> = vec![("format", format)];
    if let Some(by) = by {
        query.push(("by", by));
    }
    if published {
        query.push(("published", "true"));
    }
    let path = match of {
        TableOf::Sweep(id) => format!("/sweeps/{id}/table"),
        TableOf::Runs(ids) => {
            query.push(("runs", ids));
            "/table".to_owned()
        }
    };
    let text = client.get_text(&format!("{path}?{}", serde_urlencoded::to_string(&query)?))?;
    match output {
        Some(file) => {
            std::fs::write(file, &text).with_context(|| format!("cannot write {}", file.display()))?;
            eprintln!("wrote {}", file.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(id: i64, name: &str, params: Value, aa: Option<f64>) -> Value {
        json!({"id": id, "name": name, "status": "succeeded", "params": params, "method": "aom", "epochs_done": 2, "epochs": 2,
               "best_robust_acc": 0.4, "final_clean_acc": 0.8, "final_robust_acc": 0.35, "autoattack_acc": aa})
    }

    #[test]
    fn swept_values_are_columns_and_names_show_only_when_they_say_more() {
        let sweep = [
            run(1, "method=aom,epsilon=0.1,seed=0", json!({"method": "aom", "epsilon": 0.1, "seed": 0}), Some(0.312)),
            run(2, "method=aom,epsilon=0.1,seed=1", json!({"method": "aom", "epsilon": 0.1, "seed": 1}), None),
        ];
        let lines = runs_table(&sweep);
        assert!(lines[0].starts_with("ID  STATUS     method  epsilon  seed  METHOD"), "{lines:?}");
        assert!(!lines[0].contains("NAME"), "the names say nothing the columns do not");
        assert!(lines[1].contains("31.2") && lines[2].trim_end().ends_with('-'), "AutoAttack, or - without: {lines:?}");

        let mixed = [sweep[0].clone(), run(3, "my baseline run with a long name", json!({}), None)];
        let lines = runs_table(&mixed);
        assert!(lines[0].contains("NAME"), "{lines:?}");
        assert!(lines[2].contains("my baseline run w…"), "{lines:?}");
        let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(lengths.windows(2).all(|w| w[0] == w[1]), "columns line up: {lines:?}");
    }
}

//! The run page (`/runs/{id}`): header (status, timing, device, command line,
//! config with the swept values marked), metrics as charts and a table,
//! sample grids, the stderr tail, checkpoints, and the run's actions as
//! forms (`actions.rs`). Everything is readable without JavaScript;
//! `static/run.js` draws the charts and keeps the page current from the
//! run's event stream.

pub mod actions;
mod view;

use std::sync::Arc;

use askama::Template;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sqlx::SqlitePool;

use super::{not_found, percent, render};
use crate::compute::Compute;
use crate::csrf::CsrfToken;
use crate::error::AppError;
use crate::paths::Paths;
use crate::runner::Runner;
use crate::service::evals::DEFAULT_POINTS;
use crate::store::checkpoints::{CheckpointRow, SampleRow};
use crate::store::epochs::{EpochRow, METRICS};
use crate::store::evals::EvalRow;
use crate::store::runs::RunSummary;
use crate::runner::executor::slurm::SCRIPT;
use crate::store::{self, RunStatus};
use view::{ConfigRow, command_line, config_rows, human_bytes, log_tail, sample_caption};

/// Epoch rows in the table; the CSV has them all.
const TABLE_EPOCHS: usize = 20;

/// The page's query string. Read by hand, leniently: a bad or repeated
/// value must not turn the page into an error.
#[derive(Default)]
struct PageQuery {
    notice: Option<String>,
    /// `error` marks the notice as a refused action.
    kind: Option<String>,
    /// The sample grid's epoch; the latest grid when absent or not a number.
    samples: Option<i64>,
}

impl PageQuery {
    fn parse(raw: Option<&str>) -> PageQuery {
        let pairs: Vec<(String, String)> = raw.and_then(|r| serde_urlencoded::from_str(r).ok()).unwrap_or_default();
        let mut query = PageQuery::default();
        for (key, value) in pairs {
            match key.as_str() {
                "notice" => query.notice = Some(value),
                "kind" => query.kind = Some(value),
                "samples" => query.samples = value.trim().parse().ok(),
                _ => {}
            }
        }
        query
    }
}

struct Notice {
    text: String,
    error: bool,
}

struct Checkpoint {
    row: CheckpointRow,
    size: String,
    evaluated: Vec<String>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    run: RunSummary,
    csrf: CsrfToken,
    notice: Option<Notice>,
    sweep_name: Option<String>,
    tags: Vec<String>,
    /// How often the trainer draws a sample grid, as words.
    samples_every: String,
    /// `key=value` of each swept parameter, for the header.
    swept: Vec<(String, String)>,
    config: Vec<ConfigRow>,
    /// The keys left out of `config`: its method and model ignore them.
    ignored_keys: Vec<String>,
    command: Option<String>,
    /// Where the current attempt runs, in the executor's words.
    executor_line: Option<String>,
    /// The Slurm batch script of a run on a cluster.
    job_script: Option<String>,
    duration: Option<String>,
    /// Every attempt with its span, when there was more than one.
    attempts: Vec<AttemptRow>,
    eta: Option<String>,
    /// Whose estimate `eta` is, in words.
    eta_basis: &'static str,
    /// The trainer's newest progress while the run runs.
    progress: Option<super::LiveProgress>,
    /// The last [`TABLE_EPOCHS`] epochs, oldest first.
    table: Vec<EpochRow>,
    total_epochs_logged: usize,
    checkpoints: Vec<Checkpoint>,
    /// Evaluations of this run's checkpoints, newest first.
    evals: Vec<EvalRow>,
    /// The Evaluate form's default number of points.
    eval_points: i64,
    samples: Vec<SampleRow>,
    sample: Option<SampleRow>,
    sample_caption: String,
    log: Option<String>,
    log_truncated: bool,
    can_stop: bool,
    can_resume: bool,
    resume_from_checkpoint: bool,
    can_delete: bool,
    /// What `static/run.js` starts from, as JSON in a data-attribute.
    data: String,
}

/// One attempt, as the run page lists it.
struct AttemptRow {
    attempt: i64,
    started_at: String,
    finished_at: Option<String>,
    span: String,
    /// How it ended, with why; None while it runs.
    outcome: Option<String>,
}

impl From<store::runs::Attempt> for AttemptRow {
    fn from(a: store::runs::Attempt) -> AttemptRow {
        let outcome = a.status.map(|status| match a.error {
            Some(error) => format!("{status}: {error}"),
            None => status,
        });
        AttemptRow {
            attempt: a.attempt,
            started_at: a.started_at,
            finished_at: a.finished_at,
            span: a.seconds.map_or_else(|| "—".to_owned(), super::duration),
            outcome,
        }
    }
}

impl RunPage {
    fn pct(&self, value: &f64) -> String {
        percent(Some(*value))
    }
    fn sample_url(&self, sample: &SampleRow) -> String {
        sample.url(self.run.id)
    }
    fn opt_pct(&self, value: &Option<f64>) -> String {
        percent(*value)
    }
    /// `apgd-ce 41.0 · apgd-t 38.5` with seconds, from the stored per-attack JSON.
    fn attack_steps(&self, e: &EvalRow) -> String {
        let attacks: Vec<advmix_protocol::events::EvalAttack> =
            e.attacks.as_deref().and_then(|a| serde_json::from_str(a).ok()).unwrap_or_default();
        attacks
            .iter()
            .map(|a| format!("{} {} ({:.0} s)", a.attack, percent(Some(a.robust_acc)), a.seconds))
            .collect::<Vec<_>>()
            .join(" · ")
    }
    fn is_selected(&self, sample: &SampleRow) -> bool {
        self.sample.as_ref().is_some_and(|s| s.id == sample.id)
    }
}

pub async fn show(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    State(paths): State<Arc<Paths>>,
    State(compute): State<Arc<Compute>>,
    Extension(csrf): Extension<CsrfToken>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let Ok(id) = id.parse::<i64>() else { return Ok(not_found().await) };
    let run = match store::runs::fetch(&db, id).await {
        Ok(run) => run,
        Err(sqlx::Error::RowNotFound) => return Ok(not_found().await),
        Err(e) => return Err(e.into()),
    };
    let query = PageQuery::parse(raw.as_deref());
    let extra = store::runs::detail(&db, id).await?;
    let epochs = store::epochs::of_run(&db, id).await?;
    let checkpoints = crate::service::evals::checkpoints(&db, id).await?;
    let sample_list = store::checkpoints::samples_of_run(&db, id).await?;
    let executor_line = match &run.handle {
        Some(handle) if run.status.is_live() => Some(runner.describe(handle).await.line()),
        _ => None,
    };

    let config: Value = serde_json::from_str(&extra.config).unwrap_or(Value::Null);
    // Keys the run's method and model never read would only mislead.
    let (config, ignored) = advmix_protocol::RunConfig::without_ignored(&config);
    let params: serde_json::Map<String, Value> = serde_json::from_str(&run.params).unwrap_or_default();
    let swept = params.iter().map(|(k, v)| (k.clone(), super::value_text(v))).collect();
    let method = config["method"].as_str().unwrap_or(&run.method).to_owned();

    let progress = super::LiveProgress::of(&run);
    let trainer_eta = progress.as_ref().and_then(super::LiveProgress::eta);
    let (eta, eta_basis) = match trainer_eta {
        Some(eta) => (Some(eta), "the trainer's estimate: the epochs, their evaluations and the final attack"),
        None => (
            (run.status == RunStatus::Running && !epochs.is_empty()).then(|| {
                let mean = epochs.iter().map(|e| e.epoch_seconds).sum::<f64>() / epochs.len() as f64;
                let left = (run.epochs - run.epochs_done).max(0) as f64;
                super::duration(mean * left)
            }),
            "mean training time per epoch × epochs left",
        ),
    };
    let attempts = store::runs::attempts(&db, id).await?;
    let sample = query
        .samples
        .and_then(|epoch| sample_list.iter().find(|s| s.epoch == epoch))
        .or(sample_list.last())
        .cloned();
    let (log, log_truncated) = match log_tail(&paths.run_dir(id)).await {
        Some((text, truncated)) => (Some(text), truncated),
        None => (None, false),
    };
    let data = json!({
        "id": id,
        "status": run.status,
        // The elapsed clock ticks from here, not only after the next event.
        "started_at": run.started_at,
        "seconds_before": extra.seconds_before,
        "epochs": run.epochs,
        "epochs_done": run.epochs_done,
        "autoattack_acc": run.autoattack_acc,
        "autoattack_epoch": run.autoattack_epoch,
        "metrics": epochs,
        "metric_fields": std::iter::once("epoch").chain(METRICS).collect::<Vec<_>>(),
        "sample_caption": sample_caption(&method),
    })
    .to_string();
    let notice = query.notice.filter(|n| !n.trim().is_empty()).map(|text| Notice {
        text,
        error: query.kind.as_deref() == Some("error"),
    });
    let page = RunPage {
        csrf,
        notice,
        sweep_name: extra.sweep_name,
        tags: run.tag_list().into_iter().map(str::to_owned).collect(),
        samples_every: match config["samples_every"].as_u64() {
            Some(1) => "epoch".to_owned(),
            Some(n) => format!("{n} epochs"),
            None => "few epochs".to_owned(),
        },
        swept,
        config: config_rows(&config, &params),
        ignored_keys: ignored.iter().map(|k| if *k == "aom" { "aom.*".to_owned() } else { (*k).to_owned() }).collect(),
        command: Some(command_line(&paths, &compute, &run, extra.resume)),
        executor_line,
        job_script: read_plain_file(&paths.run_dir(id), SCRIPT).await,
        duration: extra.seconds.map(super::duration),
        attempts: if attempts.len() > 1 { attempts.into_iter().map(AttemptRow::from).collect() } else { Vec::new() },
        eta,
        eta_basis,
        progress,
        total_epochs_logged: epochs.len(),
        table: epochs.into_iter().rev().take(TABLE_EPOCHS).rev().collect(),
        checkpoints: checkpoints
            .into_iter()
            .map(|c| Checkpoint { size: human_bytes(c.row.bytes), row: c.row, evaluated: c.evaluated })
            .collect(),
        evals: store::evals::list_for_run(&db, id).await?,
        eval_points: DEFAULT_POINTS,
        samples: sample_list,
        sample,
        sample_caption: sample_caption(&method),
        log,
        log_truncated,
        can_stop: run.status.is_live(),
        can_resume: run.status.is_resumable(),
        resume_from_checkpoint: paths.resume_file(id).exists(),
        can_delete: !run.has_job(),
        data,
        run,
    };
    Ok(render(&page)?.into_response())
}

/// The run's Slurm batch script (`job.sbatch`), as the cluster ran it; 404
/// for runs another executor ran. A symlink planted in the run directory is
/// not followed.
pub async fn job_script(State(db): State<SqlitePool>, State(paths): State<Arc<Paths>>, Path(id): Path<i64>) -> Result<Response, AppError> {
    store::runs::fetch(&db, id).await?;
    let text = read_plain_file(&paths.run_dir(id), SCRIPT).await.ok_or(AppError::NotFound)?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
        (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"run-{id}-job.sbatch\"")),
    ];
    Ok((headers, text).into_response())
}

/// A regular file's text (below `dir`, not through a symlink), or None.
async fn read_plain_file(dir: &std::path::Path, name: &str) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let file = crate::paths::open_file(dir, name).await.ok()?;
    let mut text = String::new();
    file.take(1 << 20).read_to_string(&mut text).await.ok()?;
    Some(text)
}

/// The end of the run's stderr log as plain text, from its first whole line;
/// empty (not an error) before the trainer has written any. The page polls
/// it while the run is live.
pub async fn log_text(
    State(db): State<SqlitePool>,
    State(paths): State<Arc<Paths>>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    store::runs::fetch(&db, id).await?;
    let text = log_tail(&paths.run_dir(id)).await.map(|(text, _)| text).unwrap_or_default();
    let headers = [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8"), (axum::http::header::CACHE_CONTROL, "no-store")];
    Ok((headers, text).into_response())
}

//! The run page's forms: stop, resume, re-run, delete, tags and note. Each
//! calls the same core as its API endpoint, then redirects (303) back to a
//! page with a notice, so that a reload does not post again. A refused
//! action (stop a finished run) comes back as a notice saying why.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::SqlitePool;

use crate::csrf::CsrfForm;
use crate::error::AppError;
use crate::pages::not_found;
use crate::runner::Runner;
use crate::service::runs::{self, Patch, Stop};
use crate::service::evals;
use crate::store;

/// A form with nothing but its CSRF field.
#[derive(Deserialize)]
pub struct Plain {}

#[derive(Deserialize)]
pub struct Annotate {
    #[serde(default)]
    tags: String,
    #[serde(default)]
    note: String,
}

/// Back to the run page with `notice`.
fn back(id: i64, notice: &str, error: bool) -> Response {
    let mut pairs = vec![("notice", notice)];
    if error {
        pairs.push(("kind", "error"));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    Redirect::to(&format!("/runs/{id}?{query}")).into_response()
}

/// Success: `done`; the run gone: the 404 page; the action refused or the
/// input invalid: back with the reason; anything else: the error itself.
async fn finish(id: i64, result: Result<Response, AppError>) -> Response {
    match result {
        Ok(done) => done,
        Err(AppError::NotFound) => not_found().await,
        Err(AppError::Conflict(reason)) => back(id, &reason, true),
        Err(AppError::Invalid(errors)) => {
            let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            back(id, &reason, true)
        }
        Err(other) => other.into_response(),
    }
}

pub async fn stop(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<Plain>,
) -> Response {
    let result = runs::stop(&db, &runner, id).await.map(|stop| {
        let notice = if stop == Stop::Stopping {
            "Stopping: the trainer saves a checkpoint and exits after its current batch."
        } else {
            "Stopped: the run was taken out of the queue."
        };
        back(id, notice, false)
    });
    finish(id, result).await
}

pub async fn resume(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<Plain>,
) -> Response {
    let result = runs::resume(&db, &runner, id).await.map(|resumed| {
        let notice = match (resumed.continued, resumed.from_checkpoint) {
            (true, true) => "Continued anyway: early termination leaves this run alone now; it goes on from its last checkpoint.",
            (true, false) => "Continued anyway: early termination leaves this run alone now; it had no resume checkpoint, so it starts over.",
            (false, true) => "Queued again: it continues from its last checkpoint.",
            (false, false) => "Queued again: it had no resume checkpoint, so it starts over.",
        };
        back(id, notice, false)
    });
    finish(id, result).await
}

pub async fn rerun(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<Plain>,
) -> Response {
    let result = runs::rerun(&db, &runner, id)
        .await
        .map(|new_id| back(new_id, &format!("Queued as a re-run of run {id}, with the same config."), false));
    finish(id, result).await
}

pub async fn delete(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<Plain>,
) -> Response {
    let result = runs::delete(&db, &runner, id).await.map(|()| Redirect::to("/").into_response());
    finish(id, result).await
}

pub async fn annotate(
    State(db): State<SqlitePool>,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<Annotate>,
) -> Response {
    let tags = form.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    // Browsers send a textarea's line breaks as CRLF.
    let note = form.note.replace("\r\n", "\n");
    let patch = Patch { tags: Some(tags), note: Some(note), ..Patch::default() };
    let result = runs::patch(&db, id, &patch).await.map(|()| back(id, "Tags and note saved.", false));
    finish(id, result).await
}

#[derive(Deserialize)]
pub struct Evaluate {
    attack: String,
    n: Option<String>,
}

/// Queues an evaluation job of a checkpoint, then back to its run's page.
pub async fn evaluate(
    State(db): State<SqlitePool>,
    State(runner): State<Runner>,
    Path(checkpoint_id): Path<i64>,
    CsrfForm(form): CsrfForm<Evaluate>,
) -> Response {
    let run_id = match store::checkpoints::run_and_epoch(&db, checkpoint_id).await {
        Ok((run_id, _)) => run_id,
        Err(sqlx::Error::RowNotFound) => return not_found().await,
        Err(e) => return AppError::from(e).into_response(),
    };
    let n = match form.n.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => return back(run_id, &format!("n: `{text}` is not a whole number of points"), true),
        },
    };
    let request = evals::Request { suite: form.attack, n, epsilon: None };
    let result = evals::queue(&db, &runner, checkpoint_id, &request).await.map(|row| {
        let notice = format!("Evaluation {} queued: {} on {} points of the epoch-{} weights.", row.id, row.suite, row.n, row.epoch.unwrap_or(0));
        back(run_id, &notice, false)
    });
    finish(run_id, result).await
}

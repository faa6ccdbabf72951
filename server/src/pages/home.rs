//! The home page: recent runs and what this machine can train on.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use sqlx::SqlitePool;

use super::{percent, render};
use crate::compute::Compute;
use crate::scheduler::Scheduler;
use crate::error::AppError;

const RECENT_RUNS: i64 = 50;

#[derive(sqlx::FromRow)]
struct RunRow {
    name: String,
    status: String,
    method: String,
    dataset: String,
    model: String,
    epochs: i64,
    epochs_done: i64,
    best_robust_acc: Option<f64>,
    final_clean_acc: Option<f64>,
}

impl RunRow {
    fn best_robust(&self) -> String {
        percent(self.best_robust_acc)
    }
    fn final_clean(&self) -> String {
        percent(self.final_clean_acc)
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    runs: Vec<RunRow>,
    total_runs: i64,
    compute: Arc<Compute>,
    /// The scheduler's slots, e.g. `cpu/0, cpu/1`.
    slots: String,
}

pub async fn show(
    State(db): State<SqlitePool>,
    State(compute): State<Arc<Compute>>,
    State(scheduler): State<Arc<Scheduler>>,
) -> Result<Html<String>, AppError> {
    let runs = sqlx::query_as::<_, RunRow>(
        "SELECT name, status, method, dataset, model, epochs, epochs_done,
                best_robust_acc, final_clean_acc
         FROM runs ORDER BY id DESC LIMIT ?",
    )
    .bind(RECENT_RUNS)
    .fetch_all(&db)
    .await?;
    let total_runs: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(&db).await?;
    let slots = scheduler.slots.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ");
    render(&Home { runs, total_runs, compute, slots })
}

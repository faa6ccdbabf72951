//! Results tables: `/api/v1/sweeps/{id}/table` for a sweep and
//! `/api/v1/table?runs=1,2,3` for hand-picked runs, as JSON or, with
//! `format=markdown|latex|csv`, as a file to paste into a paper.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sqlx::SqlitePool;

use super::ApiQuery;
use crate::error::AppError;
use crate::service::results::format::Format;
use crate::service::results::{self, Table};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TableQuery {
    /// Comma-separated keys; absent means the swept (or differing) ones.
    pub by: Option<String>,
    pub format: Option<String>,
    /// Add the published rows that compare with the runs.
    #[serde(default)]
    pub published: bool,
    pub runs: Option<String>,
}

fn respond(table: Table, format: Option<&str>, name: &str) -> Result<Response, AppError> {
    let format = match format {
        None | Some("json") => return Ok(Json(table).into_response()),
        Some(text) => Format::parse(text).ok_or_else(|| {
            AppError::field("format", format!("`{text}` is not a table format: use json, markdown, latex or csv"))
        })?,
    };
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    Ok(([(header::CONTENT_TYPE, format.content_type().to_owned()), (header::CONTENT_DISPOSITION, disposition)], format.write(&table))
        .into_response())
}

pub async fn sweep(State(db): State<SqlitePool>, Path(id): Path<i64>, ApiQuery(q): ApiQuery<TableQuery>) -> Result<Response, AppError> {
    if q.runs.is_some() {
        return Err(AppError::field("runs", "a sweep's table has the sweep's runs: for hand-picked runs use /api/v1/table?runs=1,2,3"));
    }
    let table = results::of_sweep(&db, id, q.by.as_deref(), q.published).await?;
    respond(table, q.format.as_deref(), &format!("sweep-{id}-results"))
}

pub async fn runs(State(db): State<SqlitePool>, ApiQuery(q): ApiQuery<TableQuery>) -> Result<Response, AppError> {
    let ids = parse_ids(q.runs.as_deref().unwrap_or(""))?;
    let table = results::of_runs(&db, &ids, q.by.as_deref(), q.published).await?;
    respond(table, q.format.as_deref(), "runs-results")
}

fn parse_ids(text: &str) -> Result<Vec<i64>, AppError> {
    let mut ids = Vec::new();
    for word in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
        match word.trim_start_matches('#').parse::<i64>() {
            Ok(id) if id > 0 => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => return Err(AppError::field("runs", format!("`{word}` is not a run id: list ids as runs=1,2,3"))),
        }
    }
    if ids.is_empty() {
        return Err(AppError::field("runs", "name the runs to tabulate, as runs=1,2,3"));
    }
    if ids.len() > crate::service::results::MAX_RUNS {
        return Err(AppError::field("runs", format!("at most {} runs fit one table", crate::service::results::MAX_RUNS)));
    }
    Ok(ids)
}

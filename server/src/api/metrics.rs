//! Per-epoch metrics of a run, as JSON columns or as CSV; the columns are
//! `EpochMetrics::FIELDS`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::store;
use crate::store::epochs::{EpochRow, METRICS};

pub async fn json(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Vec<EpochRow>>, AppError> {
    store::runs::fetch(&db, id).await?;
    Ok(Json(store::epochs::of_run(&db, id).await?))
}

pub async fn csv(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<impl IntoResponse, AppError> {
    store::runs::fetch(&db, id).await?;
    let rows = store::epochs::of_run(&db, id).await?;
    let mut out = format!("epoch,{}\n", METRICS.join(","));
    for row in &rows {
        out.push_str(&row.epoch.to_string());
        for v in row.values() {
            out.push(',');
            out.push_str(&v.to_string());
        }
        out.push('\n');
    }
    let disposition = format!("attachment; filename=\"run-{id}-metrics.csv\"");
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)], out))
}

//! Per-epoch metrics of a run, as JSON columns or as CSV.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use sqlx::{AssertSqlSafe, SqlitePool};

use super::runs;
use crate::error::AppError;

/// The epochs table's metric columns, in order.
pub const METRICS: &[&str] = &[
    "lr", "train_loss", "train_acc", "train_clean_loss", "train_clean_acc", "test_clean_loss", "test_clean_acc",
    "test_pgd_loss", "test_pgd_acc", "epoch_seconds", "images_per_second",
];

#[derive(Serialize, sqlx::FromRow)]
pub struct EpochRow {
    pub epoch: i64,
    pub lr: f64,
    pub train_loss: f64,
    pub train_acc: f64,
    pub train_clean_loss: f64,
    pub train_clean_acc: f64,
    pub test_clean_loss: f64,
    pub test_clean_acc: f64,
    pub test_pgd_loss: f64,
    pub test_pgd_acc: f64,
    pub epoch_seconds: f64,
    pub images_per_second: f64,
}

impl EpochRow {
    fn values(&self) -> [f64; 11] {
        [
            self.lr, self.train_loss, self.train_acc, self.train_clean_loss, self.train_clean_acc,
            self.test_clean_loss, self.test_clean_acc, self.test_pgd_loss, self.test_pgd_acc,
            self.epoch_seconds, self.images_per_second,
        ]
    }
}

pub async fn epochs(db: &SqlitePool, run_id: i64) -> Result<Vec<EpochRow>, AppError> {
    runs::fetch(db, run_id).await?;
    let query = format!("SELECT epoch, {} FROM epochs WHERE run_id = ? ORDER BY epoch", METRICS.join(", "));
    Ok(sqlx::query_as(AssertSqlSafe(query)).bind(run_id).fetch_all(db).await?)
}

pub async fn json(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Vec<EpochRow>>, AppError> {
    Ok(Json(epochs(&db, id).await?))
}

pub async fn csv(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<impl IntoResponse, AppError> {
    let rows = epochs(&db, id).await?;
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

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::store;

/// Liveness plus a round trip to the database, so a wedged store shows up.
pub async fn check(State(db): State<SqlitePool>) -> Result<Json<Value>, AppError> {
    store::ping(&db).await?;
    Ok(Json(json!({ "status": "ok", "version": advmix_protocol::ADVMIX_VERSION })))
}

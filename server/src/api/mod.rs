//! JSON endpoints under `/api/v1`, documented in `docs/api.md`.

pub mod archive;
pub mod events;
pub mod files;
pub mod health;
pub mod metrics;
pub mod runs;
pub mod sweeps;

use axum::extract::{FromRequest, Request};
use axum::extract::rejection::JsonRejection;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// `Json` whose rejections are this API's JSON errors, naming what was wrong
/// (serde's message names the unknown or mistyped field).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(AppError::field("body", rejection_message(&rejection))),
        }
    }
}

fn rejection_message(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => "send JSON with `Content-Type: application/json`".into(),
        other => other.body_text(),
    }
}

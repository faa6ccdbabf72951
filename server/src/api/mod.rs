//! JSON endpoints under `/api/v1`, documented in `docs/api.md`.

pub mod archive;
pub mod evals;
pub mod events;
pub mod files;
pub mod health;
pub mod metrics;
pub mod runs;
pub mod samples;
pub mod series;
pub mod sweeps;
pub mod tables;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Sweep specs and configs are small; anything bigger is a mistake.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// `Json` whose rejections are this API's JSON errors, naming what was wrong
/// (serde's message names the unknown or mistyped field).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(rejection) => Err(AppError::field("body", rejection_message(&rejection)).into_response()),
        }
    }
}

/// The raw body, with a JSON 413 when it is over the server's limit.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBytes(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(rejection) => Err(AppError::field("body", rejection.body_text()).into_response()),
        }
    }
}

/// `Query` whose rejections are JSON errors too (serde's message names the
/// mistyped or unknown parameter).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(AppError::field("query", rejection.body_text())),
        }
    }
}

fn too_large() -> Response {
    let message = format!("the body is over the server's limit of {} bytes", MAX_BODY_BYTES);
    let mut response = AppError::field("body", message).into_response();
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

fn rejection_message(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => "send JSON with `Content-Type: application/json`".into(),
        other => other.body_text(),
    }
}

/// Unknown paths under `/api/v1` answer in JSON, like the rest of the API,
/// and point at its reference.
pub async fn not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> Response {
    let body = serde_json::json!({
        "error": format!("no API endpoint {}: the endpoints are listed in docs/api.md", uri.path())
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

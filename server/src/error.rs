use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::paths::Paths;
use crate::store::fault::Fault;

/// Errors a handler can return. Details of internal failures go to the
/// server log; the client sees only what it can act on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not found")]
    NotFound,
    /// Bad input: the fields at fault and what to do about each.
    #[error("invalid input")]
    Invalid(Vec<advmix_protocol::FieldError>),
    /// The request conflicts with the resource's state (stop a finished run).
    #[error("{0}")]
    Conflict(String),
}

/// A row that is not there is the client's 404 (the stores' `fetch_one`
/// says so with `RowNotFound`); anything else is the server's fault.
impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> AppError {
        match e {
            sqlx::Error::RowNotFound => AppError::NotFound,
            other => AppError::Database(other),
        }
    }
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> AppError {
        AppError::Invalid(vec![advmix_protocol::FieldError { field: field.to_owned(), message: message.into() }])
    }
}

impl AppError {
    fn fault(&self) -> Option<Fault> {
        match self {
            AppError::Database(e) => Fault::of_sqlx(e),
            AppError::Io(e) => Fault::of_io(e),
            _ => None,
        }
    }
}

/// Marks a response that failed on the disk; [`name_data_dir`] words it.
#[derive(Clone, Copy)]
struct StorageFault(Fault);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(fault) = self.fault() {
            tracing::error!(error = %self, "storage fault");
            // 507 for a full disk (the client may retry once space is
            // freed), 503 for a failing one.
            let status = match fault {
                Fault::Full => StatusCode::INSUFFICIENT_STORAGE,
                Fault::Io => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut response = (status, Json(json!({ "error": "not saved: the data directory's disk failed" }))).into_response();
            response.extensions_mut().insert(StorageFault(fault));
            return response;
        }
        let (status, body) = match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, json!({ "error": "not found" })),
            AppError::Invalid(errors) => {
                let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                let field = errors.first().map(|e| e.field.clone());
                (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": message, "field": field, "errors": errors }))
            }
            AppError::Conflict(message) => (StatusCode::CONFLICT, json!({ "error": message })),
            // `paths::open_within` refused it and logged what and why.
            AppError::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied => (
                StatusCode::FORBIDDEN,
                json!({ "error": "not served: the file is outside its run directory, behind a symlink, or unreadable" }),
            ),
            AppError::Database(_) | AppError::Template(_) | AppError::Io(_) => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal error: the details are in the server log" }),
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

/// Says which disk a storage fault was on: the errors themselves do not know
/// the data directory, the app does.
pub async fn name_data_dir(State(paths): State<Arc<Paths>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    match response.extensions().get::<StorageFault>().copied() {
        Some(StorageFault(fault)) => {
            let (parts, _) = response.into_parts();
            let body = Json(json!({ "error": fault.message(paths.data_dir()) }));
            (parts.status, parts.headers, body).into_response()
        }
        None => response,
    }
}

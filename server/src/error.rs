use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors a handler can return. Details go to the server log; the client sees
/// only what it can act on.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("template error: {0}")]
    Template(#[from] askama::Error),
    #[error("not found")]
    NotFound,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "Not found.").into_response(),
            AppError::Database(_) | AppError::Template(_) => {
                tracing::error!(error = %self, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal error: the details are in the server log.",
                )
                    .into_response()
            }
        }
    }
}

//! Front-end assets, compiled into the binary so that `advmix` runs from any
//! directory.

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

use crate::error::AppError;

const FILES: &[(&str, &str, &[u8])] =
    &[("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css"))];

pub async fn serve(Path(file): Path<String>) -> Result<impl IntoResponse, AppError> {
    let (_, mime, body) = FILES.iter().find(|(name, ..)| *name == file).ok_or(AppError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "public, max-age=300")], *body))
}

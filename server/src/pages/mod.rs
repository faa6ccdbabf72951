//! HTML pages, one module each. Pages are server-rendered askama templates
//! and work without JavaScript.

pub mod home;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;

pub fn render(page: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound;

pub async fn not_found() -> Response {
    match render(&NotFound) {
        Ok(html) => (StatusCode::NOT_FOUND, html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// An accuracy in [0,1] as a percentage for tables, or an em dash when the
/// run has not produced it yet.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{:.1}", v * 100.0))
}

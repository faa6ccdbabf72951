//! askama templates into HTML responses, for the pages and the pages' guards
//! (login, CSRF refusals).

use askama::Template;
use axum::response::Html;

use crate::error::AppError;

pub fn render(page: &impl Template) -> Result<Html<String>, AppError> {
    Ok(Html(page.render()?))
}

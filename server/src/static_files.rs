//! Front-end assets, compiled into the binary so that `advmix` runs from any
//! directory.

use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;

use crate::error::AppError;

const FILES: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css")),
    ("launch.js", "text/javascript; charset=utf-8", include_bytes!("../../static/launch.js")),
    // uPlot comes from npm (node_modules, see build.rs).
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_bytes!("../../node_modules/uplot/dist/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!("../../node_modules/uplot/dist/uPlot.min.css")),
    ("charts.js", "text/javascript; charset=utf-8", include_bytes!("../../static/charts.js")),
    ("live.js", "text/javascript; charset=utf-8", include_bytes!("../../static/live.js")),
    ("runs.js", "text/javascript; charset=utf-8", include_bytes!("../../static/runs.js")),
    ("compare.js", "text/javascript; charset=utf-8", include_bytes!("../../static/compare.js")),
    ("sweep.js", "text/javascript; charset=utf-8", include_bytes!("../../static/sweep.js")),
    ("run.js", "text/javascript; charset=utf-8", include_bytes!("../../static/run.js")),
];

pub async fn serve(Path(file): Path<String>) -> Result<impl IntoResponse, AppError> {
    let (_, mime, body) = FILES.iter().find(|(name, ..)| *name == file).ok_or(AppError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "public, max-age=300")], *body))
}

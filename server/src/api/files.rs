//! Checkpoint listing and downloads, by database id only: no client-supplied
//! path ever reaches the filesystem.

use std::sync::Arc;

use advmix_protocol::layout::STDERR_LOG;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sqlx::SqlitePool;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::error::AppError;
use crate::paths::Paths;
use crate::store;
use crate::service::evals::EvaluatedCheckpoint;

pub async fn list(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Vec<EvaluatedCheckpoint>>, AppError> {
    store::runs::fetch(&db, id).await?;
    Ok(Json(crate::service::evals::checkpoints(&db, id).await?))
}

pub async fn download(
    State(db): State<SqlitePool>,
    State(paths): State<Arc<Paths>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (run_id, path, sha256) = store::checkpoints::locate(&db, id).await?;
    let name = format!("run-{run_id}-{}", path.rsplit('/').next().unwrap_or("checkpoint.safetensors"));
    serve_file(&paths.run_dir(run_id), path.as_ref(), &name, "application/octet-stream", Some(&sha256), &headers).await
}

/// The whole stderr log of a run.
pub async fn log(
    State(db): State<SqlitePool>,
    State(paths): State<Arc<Paths>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    store::runs::fetch(&db, id).await?;
    let name = format!("run-{id}-stderr.log");
    serve_file(&paths.run_dir(id), STDERR_LOG.as_ref(), &name, "text/plain; charset=utf-8", None, &headers).await
}

/// `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` against `len`.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (s, "") => (s.parse().ok()?, len.checked_sub(1)?),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(len.saturating_sub(1))),
    };
    (start <= end && end < len).then_some((start, end))
}

/// The file `relative` below `root` (never outside it, never through a
/// symlink), with `Range` support.
pub(crate) async fn serve_file(
    root: &std::path::Path,
    relative: &std::path::Path,
    name: &str,
    mime: &'static str,
    sha256: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let mut file = match crate::paths::open_file(root, relative).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().await?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
        Some(r) => match parse_range(r, len) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                let value = HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii");
                response.headers_mut().insert(header::CONTENT_RANGE, value);
                return Ok(response);
            }
        },
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let mut body = Vec::with_capacity(count as usize);
    file.take(count).read_to_end(&mut body).await?;

    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], "_"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).expect("a plain file name"));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{end}/{len}");
        h.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("ascii"));
    }
    if let Some(sha) = sha256.and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert("x-checksum-sha256", sha);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}

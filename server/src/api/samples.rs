//! Sample image grids a run wrote (`samples/epoch-NNNN.png`), listed and
//! served by database id. The stored path comes from the run's events file,
//! so it is checked to stay inside the run's `samples/` directory before it
//! is opened.

use std::path::{Component, Path as FsPath};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::SqlitePool;

use crate::error::AppError;
use crate::paths::Paths;
use crate::store;

#[derive(Serialize)]
pub struct SampleItem {
    id: i64,
    epoch: i64,
    url: String,
}

pub async fn list(State(db): State<SqlitePool>, Path(id): Path<i64>) -> Result<Json<Vec<SampleItem>>, AppError> {
    store::runs::fetch(&db, id).await?;
    let items = store::checkpoints::samples_of_run(&db, id).await?.into_iter().map(|s| SampleItem { url: s.url(id), id: s.id, epoch: s.epoch }).collect();
    Ok(Json(items))
}

/// Only `samples/NAME.png`: no parent, absolute or nested parts.
fn safe_sample_path(path: &str) -> bool {
    let parts: Vec<Component> = FsPath::new(path).components().collect();
    matches!(parts.as_slice(), [Component::Normal(dir), Component::Normal(file)]
        if dir.to_str() == Some("samples") && FsPath::new(file).extension().is_some_and(|e| e == "png"))
}

/// One grid as `image/png`. The sample must belong to the run in the path,
/// so a URL cannot reach another run's files by id.
pub async fn image(
    State(db): State<SqlitePool>,
    State(paths): State<Arc<Paths>>,
    Path((run_id, sample_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let path = store::checkpoints::sample_path(&db, run_id, sample_id).await?;
    if !safe_sample_path(&path) {
        tracing::warn!(run = run_id, %path, "sample path outside the run's samples directory; not served");
        return Err(AppError::NotFound);
    }
    let read = async {
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut crate::paths::open_file(&paths.run_dir(run_id), &path).await?, &mut bytes).await?;
        Ok::<_, std::io::Error>(bytes)
    };
    let bytes = match read.await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let headers = [
        (header::CONTENT_TYPE, "image/png"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // Ids of deleted runs can be reused, so the browser revalidates.
        (header::CACHE_CONTROL, "no-cache"),
    ];
    Ok((headers, bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_sample_path;

    #[test]
    fn only_pngs_directly_under_samples() {
        assert!(safe_sample_path("samples/epoch-0002.png"));
        assert!(!safe_sample_path("samples/../../etc/passwd.png"));
        assert!(!safe_sample_path("/etc/x.png"));
        assert!(!safe_sample_path("checkpoints/best.safetensors"));
        assert!(!safe_sample_path("samples/sub/x.png"));
        assert!(!safe_sample_path("samples/x.txt"));
        assert!(!safe_sample_path("../samples/x.png"));
    }
}

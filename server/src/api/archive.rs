//! A run's artifacts as one tar archive: config, events, log, checkpoints
//! and sample grids. Written to a file first so the download gets a length
//! and `Range` support like any checkpoint.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use advmix_protocol::layout::RESUME_FILE;
use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::response::Response;
use sqlx::SqlitePool;

use super::files;
use crate::store;
use crate::error::AppError;
use crate::paths::Paths;

/// The in-progress resume file duplicates `last` plus optimizer state; it
/// is for the trainer, not for people.
const SKIP: &[&str] = &[RESUME_FILE];

fn build(run_dir: &Path, out: &Path, top: &str) -> std::io::Result<()> {
    // Its own temporary name, so two downloads of one run never share a file.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tmp = out.with_extension(format!("tar.{}.tmp", NEXT.fetch_add(1, Ordering::Relaxed)));
    let built = write(run_dir, &tmp, top).and_then(|()| std::fs::rename(&tmp, out));
    if built.is_err() {
        // A full disk must not keep the half-written archive.
        let _ = std::fs::remove_file(&tmp);
    }
    built
}

fn write(run_dir: &Path, tmp: &Path, top: &str) -> std::io::Result<()> {
    let mut archive = tar::Builder::new(std::fs::File::create(tmp)?);
    archive.follow_symlinks(false);
    let mut stack = vec![run_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && !SKIP.contains(&name.as_str()) && !name.ends_with(".tmp") {
                let relative = path.strip_prefix(run_dir).expect("below the run directory");
                // Opened again without following links: a file swapped for
                // a symlink since the listing is left out too.
                match crate::paths::open_within(run_dir, relative) {
                    Ok(mut file) => archive.append_file(Path::new(top).join(relative), &mut file)?,
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    archive.into_inner()?.sync_all()
}

pub async fn download(
    State(db): State<SqlitePool>,
    State(paths): State<Arc<Paths>>,
    UrlPath(id): UrlPath<i64>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    store::runs::fetch(&db, id).await?;
    let run_dir = paths.run_dir(id);
    if !run_dir.is_dir() {
        return Err(AppError::NotFound);
    }
    let archives: PathBuf = paths.archives();
    std::fs::create_dir_all(&archives)?;
    let name = format!("run-{id}.tar");
    let out = archives.join(&name);
    let top = format!("run-{id}");
    tokio::task::spawn_blocking(move || build(&run_dir, &out, &top))
        .await
        .map_err(|e| AppError::Io(std::io::Error::other(e)))??;
    files::serve_file(&archives, name.as_ref(), &name, "application/x-tar", None, &headers).await
}

//! Where things live under the data directory. The runner writes there, and
//! the API and pages read from there, so they all take the names from here.

use std::path::{Path, PathBuf};

use advmix_protocol::layout::{CHECKPOINT_DIR, EVENTS_FILE, RESUME_FILE, STDERR_LOG};

#[derive(Clone, Debug)]
pub struct Paths {
    data_dir: PathBuf,
}

impl Paths {
    pub fn new(data_dir: impl Into<PathBuf>) -> Paths {
        Paths { data_dir: data_dir.into() }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Datasets the trainer reads (and downloads into).
    pub fn datasets(&self) -> PathBuf {
        self.data_dir.join("datasets")
    }

    pub fn run_dir(&self, run_id: i64) -> PathBuf {
        self.data_dir.join("runs").join(run_id.to_string())
    }

    /// The run config file the trainer reads.
    pub fn run_config(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join("run.json")
    }

    pub fn run_events(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join(EVENTS_FILE)
    }

    pub fn run_log(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join(STDERR_LOG)
    }

    /// The file a resume continues from; a run without it starts over.
    pub fn resume_file(&self, run_id: i64) -> PathBuf {
        self.run_dir(run_id).join(CHECKPOINT_DIR).join(RESUME_FILE)
    }

    /// Where run archives are built for download.
    pub fn archives(&self) -> PathBuf {
        self.data_dir.join("archives")
    }

    /// An evaluation job's directory: its events, report and log.
    pub fn eval_dir(&self, eval_id: i64) -> PathBuf {
        self.data_dir.join("evals").join(eval_id.to_string())
    }
}

/// Bytes free for unprivileged writers on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: a NUL-terminated path and a zeroed struct for the kernel to fill.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(name.as_ptr(), &raw mut stat) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}

/// Removes the `*.tmp` files directly in `dir`: what a writer that died (or
/// met a full disk) left half-written. Only for directories no live job
/// writes to. Symlinks are removed as links, never followed.
pub fn remove_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_temp = entry.file_name().to_str().is_some_and(|n| n.ends_with(".tmp"));
        if is_temp && entry.file_type().is_ok_and(|t| !t.is_dir()) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether `relative` (a path from an events file) names something below a
/// directory: plain names only, no root, `..`, `.` or empty parts.
pub fn is_plain_relative(relative: &str) -> bool {
    !relative.is_empty()
        && !relative.contains('\0')
        && Path::new(relative).components().all(|c| matches!(c, std::path::Component::Normal(_)))
        && !relative.split('/').any(|part| part.is_empty() || part == ".")
}

/// Refused: leaves the directory, passes a symlink, or is not a plain file.
fn escapes(root: &Path, relative: &Path, why: &str) -> std::io::Error {
    tracing::warn!(root = %root.display(), path = %relative.display(), why, "refused a file outside its directory");
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, format!("{} {why}", relative.display()))
}

/// Opens the regular file `relative` below `root` for reading, following no
/// symlink on the way, `root` included: run directories may sit on a
/// filesystem other users can write (a cluster's shared data dir), so
/// every name in them is untrusted. A missing file is `NotFound`; anything
/// that leaves `root` is `PermissionDenied`, and logged.
pub fn open_within(root: &Path, relative: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if !relative.to_str().is_some_and(is_plain_relative) {
        return Err(escapes(root, relative, "is not a plain path below the directory"));
    }
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(root)
        .map_err(|e| if e.raw_os_error() == Some(libc::ELOOP) { escapes(root, relative, "is in a symlinked directory") } else { e })?;
    let file = match openat_beneath(&dir, relative) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EXDEV)) => {
            return Err(escapes(root, relative, "passes through a symlink"));
        }
        other => other?,
    };
    if !file.metadata()?.is_file() {
        return Err(escapes(root, relative, "is not a regular file"));
    }
    Ok(file)
}

/// `openat2` with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS; on a kernel
/// without it (before 5.6), a walk that refuses each symlink by hand.
fn openat_beneath(dir: &std::fs::File, relative: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(relative.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // Non-blocking, so that a planted FIFO cannot hang the open.
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: a valid directory fd, a NUL-terminated name, and `how` of the
    // size passed.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), name.as_ptr(), &raw const how, std::mem::size_of::<libc::open_how>())
    };
    if fd >= 0 {
        // SAFETY: a new fd that nothing else owns.
        return Ok(unsafe { std::fs::File::from_raw_fd(fd as i32) });
    }
    let error = std::io::Error::last_os_error();
    if !matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
        return Err(error);
    }
    let mut at = dir.try_clone()?;
    let parts: Vec<_> = relative.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let part = std::ffi::CString::new(part.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
        let flags = if last { flags } else { libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC };
        // SAFETY: as above.
        let fd = unsafe { libc::openat(at.as_raw_fd(), part.as_ptr(), flags) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as above.
        at = unsafe { std::fs::File::from_raw_fd(fd) };
    }
    Ok(at)
}

/// `open_within` for async callers.
pub async fn open_file(root: &Path, relative: impl AsRef<Path>) -> std::io::Result<tokio::fs::File> {
    let (root, relative) = (root.to_owned(), relative.as_ref().to_owned());
    let file = tokio::task::spawn_blocking(move || open_within(&root, &relative)).await.map_err(std::io::Error::other)??;
    Ok(tokio::fs::File::from_std(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_files_below_the_directory_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        std::fs::create_dir_all(root.join("checkpoints")).unwrap();
        std::fs::write(root.join("checkpoints/best.safetensors"), b"ok").unwrap();
        std::fs::write(dir.path().join("secret"), b"no").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("checkpoints/link.safetensors")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        assert!(open_within(&root, Path::new("checkpoints/best.safetensors")).is_ok());
        for bad in ["../secret", "/etc/hostname", "checkpoints/link.safetensors", "up/secret", "checkpoints/../../secret", "checkpoints", "", "./checkpoints/best.safetensors"] {
            let e = open_within(&root, Path::new(bad)).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{bad}: {e}");
        }
        assert_eq!(open_within(&root, Path::new("missing.log")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
        // A symlinked directory as the root itself is refused too.
        std::os::unix::fs::symlink(&root, dir.path().join("alias")).unwrap();
        assert!(open_within(&dir.path().join("alias"), Path::new("checkpoints/best.safetensors")).is_err());
    }
}

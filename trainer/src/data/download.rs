//! `advmix-trainer download`: fetches a CIFAR archive, checks its MD5,
//! unpacks it into the data directory and removes it.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use advmix_protocol::Dataset;
use flate2::read::GzDecoder;
use md5::{Digest, Md5};

use super::cifar::{CIFAR10, CIFAR100, Cifar};

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{0}")]
    NothingToDownload(&'static str),
    #[error("could not download {url}: {reason}.\n{help}")]
    Fetch { url: String, reason: String, help: String },
    #[error(
        "{} has MD5 {actual}, not {expected}: it is damaged or not the official archive, \
         so it was deleted.\n{help}",
        path.display()
    )]
    Checksum { path: PathBuf, actual: String, expected: String, help: String },
    #[error(
        "{} was unpacked but {} is still missing: it is not the official archive.\n{help}",
        archive.display(),
        missing.display()
    )]
    Incomplete { archive: PathBuf, missing: PathBuf, help: String },
    #[error("could not {action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

/// Puts `dataset` into `data_dir` (the trainer's `--data-dir`), unless it is
/// already there.
pub fn download(dataset: Dataset, data_dir: &Path) -> Result<(), DownloadError> {
    match dataset {
        Dataset::Cifar10 => download_from(&CIFAR10, CIFAR10.url, data_dir),
        Dataset::Cifar100 => download_from(&CIFAR100, CIFAR100.url, data_dir),
        Dataset::Digits => {
            Err(DownloadError::NothingToDownload("digits is built into the trainer; there is nothing to download"))
        }
        Dataset::Synthetic => Err(DownloadError::NothingToDownload(
            "synthetic is generated from the run's seed; there is nothing to download",
        )),
    }
}

/// [`download`] with the URL given, so that failures can be tested offline.
///
/// An archive already in `data_dir` under its official name is used instead
/// of downloading: that is how a machine without internet access gets the
/// data, from a copy made elsewhere.
pub fn download_from(cifar: &Cifar, url: &str, data_dir: &Path) -> Result<(), DownloadError> {
    if is_present(cifar, data_dir) {
        eprintln!("{} is already in {}; nothing to do.", cifar.title, data_dir.join(cifar.dir).display());
        return Ok(());
    }
    fs::create_dir_all(data_dir).map_err(io_error("create", data_dir))?;
    let archive = data_dir.join(cifar.archive);
    if archive.is_file() {
        eprintln!("Checking {}, found in the data directory", archive.display());
        let actual = md5_file(&archive).map_err(io_error("read", &archive))?;
        if actual != cifar.md5 {
            return Err(reject(cifar, data_dir, &archive, actual));
        }
    } else {
        fetch(cifar, url, data_dir, &archive)?;
    }
    eprintln!("Unpacking {}", archive.display());
    unpack(&archive, data_dir)?;
    if let Some(missing) = cifar.missing_file(data_dir) {
        return Err(DownloadError::Incomplete { archive, missing, help: manual_help(cifar, data_dir) });
    }
    fs::remove_file(&archive).map_err(io_error("remove", &archive))?;
    eprintln!("{} is ready in {}", cifar.title, data_dir.join(cifar.dir).display());
    Ok(())
}

/// Whether every file the loader reads is there.
pub fn is_present(cifar: &Cifar, data_dir: &Path) -> bool {
    cifar.missing_file(data_dir).is_none()
}

/// The MD5 of a file, as lowercase hex.
pub fn md5_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut md5 = Md5::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(hex::encode(md5.finalize())),
            n => md5.update(&buf[..n]),
        }
    }
}

/// Unpacks a `.tar.gz` into `into`. Entries reaching outside `into` (by `..`
/// or an absolute path) are not written.
pub fn unpack(archive: &Path, into: &Path) -> Result<(), DownloadError> {
    let file = File::open(archive).map_err(io_error("open", archive))?;
    tar::Archive::new(GzDecoder::new(BufReader::new(file))).unpack(into).map_err(io_error("unpack", archive))
}

/// Streams `url` into `archive`, checking the MD5 on the way. The bytes go to
/// a `.part` file that is renamed only once the MD5 matches, so an interrupted
/// download never looks like a complete archive.
fn fetch(cifar: &Cifar, url: &str, data_dir: &Path, archive: &Path) -> Result<(), DownloadError> {
    let failed =
        |reason: String| DownloadError::Fetch { url: url.to_string(), reason, help: manual_help(cifar, data_dir) };
    let agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(Duration::from_secs(30)))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    eprintln!("Downloading {url}");
    let body = agent.get(url).call().map_err(|e| failed(e.to_string()))?.into_body();
    let mut progress = Progress::new(cifar.archive, body.content_length());
    let mut reader = body.into_reader();

    let part = Partial(data_dir.join(format!("{}.part", cifar.archive)));
    let mut file = File::create(&part.0).map_err(io_error("create", &part.0))?;
    let mut md5 = Md5::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| failed(e.to_string()))?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io_error("write", &part.0))?;
        progress.advance(n);
    }
    progress.finish();
    file.sync_all().map_err(io_error("write", &part.0))?;
    let actual = hex::encode(md5.finalize());
    if actual != cifar.md5 {
        return Err(reject(cifar, data_dir, &part.0, actual));
    }
    fs::rename(&part.0, archive).map_err(io_error("rename", &part.0))
}

/// Deletes a file whose MD5 is wrong and says so.
fn reject(cifar: &Cifar, data_dir: &Path, path: &Path, actual: String) -> DownloadError {
    // Best effort: if the file cannot be removed, the error about it still
    // says what is wrong, and the next attempt overwrites or re-checks it.
    let _ = fs::remove_file(path);
    DownloadError::Checksum {
        path: path.to_path_buf(),
        actual,
        expected: cifar.md5.to_string(),
        help: format!("Run `{}` again, or {}.", cifar.download_command(data_dir), cifar.manual_instructions(data_dir)),
    }
}

fn manual_help(cifar: &Cifar, data_dir: &Path) -> String {
    format!(
        "To get {} by hand, {}. Or copy {} into {}/ and run `{}` again, \
         which checks and unpacks it.",
        cifar.title,
        cifar.manual_instructions(data_dir),
        cifar.archive,
        data_dir.display(),
        cifar.download_command(data_dir)
    )
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DownloadError {
    let path = path.to_path_buf();
    move |source| DownloadError::Io { action, path, source }
}

/// A file removed when dropped, so that a failed download leaves no debris.
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        // Already renamed or removed after a success or a rejected MD5.
        let _ = fs::remove_file(&self.0);
    }
}

/// One stderr line, rewritten in place a few times a second.
struct Progress<'a> {
    name: &'a str,
    total: Option<u64>,
    done: u64,
    shown: Option<Instant>,
}

impl<'a> Progress<'a> {
    const EVERY: Duration = Duration::from_millis(250);

    fn new(name: &'a str, total: Option<u64>) -> Self {
        Progress { name, total, done: 0, shown: None }
    }

    fn advance(&mut self, bytes: usize) {
        self.done += bytes as u64;
        if self.shown.is_none_or(|at| at.elapsed() >= Self::EVERY) {
            self.show();
        }
    }

    fn finish(&mut self) {
        self.show();
        eprintln!();
    }

    fn show(&mut self) {
        let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
        match self.total {
            Some(total) if total > 0 => eprint!(
                "\r{}: {:.1} of {:.1} MiB ({}%)",
                self.name,
                mib(self.done),
                mib(total),
                self.done * 100 / total
            ),
            _ => eprint!("\r{}: {:.1} MiB", self.name, mib(self.done)),
        }
        // Progress is cosmetic; a closed stderr must not fail the download.
        let _ = io::stderr().flush();
        self.shown = Some(Instant::now());
    }
}

//! Readers for the official binary versions of CIFAR-10 and CIFAR-100, as
//! published on <https://www.cs.toronto.edu/~kriz/cifar.html>.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use tch::{Device, Kind, Tensor};

use super::{Data, DataError, Split};

pub const PAGE: &str = "https://www.cs.toronto.edu/~kriz/cifar.html";
/// 1024 red, then 1024 green, then 1024 blue bytes, each plane row-major 32×32.
const PIXELS: usize = 3 * 32 * 32;

/// Where one CIFAR set comes from and how its files are laid out.
#[derive(Debug, Clone)]
pub struct Cifar {
    pub title: &'static str,
    /// The dataset's name on the command line.
    pub name: &'static str,
    pub url: &'static str,
    pub archive: &'static str,
    pub md5: &'static str,
    /// The directory the archive unpacks to, inside the data directory.
    pub dir: &'static str,
    pub train_files: &'static [&'static str],
    pub test_files: &'static [&'static str],
    /// Records in each official file. Smaller files with whole records are
    /// accepted too, so that tests can use small generated files.
    pub records_per_train_file: usize,
    pub records_per_test_file: usize,
    /// Label bytes before the pixels of a record; the last one is used
    /// (CIFAR-100 stores the coarse label, then the fine one).
    pub label_bytes: usize,
    pub num_classes: i64,
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

pub const CIFAR10: Cifar = Cifar {
    title: "CIFAR-10",
    name: "cifar10",
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    archive: "cifar-10-binary.tar.gz",
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    dir: "cifar-10-batches-bin",
    train_files: &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"],
    test_files: &["test_batch.bin"],
    records_per_train_file: 10_000,
    records_per_test_file: 10_000,
    label_bytes: 1,
    num_classes: 10,
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2471, 0.2435, 0.2616],
};

pub const CIFAR100: Cifar = Cifar {
    title: "CIFAR-100",
    name: "cifar100",
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    archive: "cifar-100-binary.tar.gz",
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    dir: "cifar-100-binary",
    train_files: &["train.bin"],
    test_files: &["test.bin"],
    records_per_train_file: 50_000,
    records_per_test_file: 10_000,
    label_bytes: 2,
    num_classes: 100,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
};

impl Cifar {
    pub fn record_bytes(&self) -> usize {
        self.label_bytes + PIXELS
    }

    pub fn path(&self, data_dir: &Path, file: &str) -> PathBuf {
        data_dir.join(self.dir).join(file)
    }

    /// The first expected file that does not exist, if any.
    pub fn missing_file(&self, data_dir: &Path) -> Option<PathBuf> {
        self.train_files
            .iter()
            .chain(self.test_files)
            .map(|file| self.path(data_dir, file))
            .find(|path| !path.is_file())
    }

    pub fn download_command(&self, data_dir: &Path) -> String {
        format!("advmix-trainer download {} --data-dir {}", self.name, data_dir.display())
    }

    /// How to get the files without the trainer's help.
    pub fn manual_instructions(&self, data_dir: &Path) -> String {
        format!(
            "download {} from {PAGE} (direct link {}, MD5 {}) and unpack it into {}/ \
             (`tar -xzf {} -C {}`), so that {} exists",
            self.archive,
            self.url,
            self.md5,
            data_dir.display(),
            self.archive,
            data_dir.display(),
            self.path(data_dir, self.train_files[0]).display(),
        )
    }
}

/// Loads both splits, converting to float on `device` so that only the bytes
/// cross to it.
pub fn load(cifar: &Cifar, data_dir: &Path, device: Device) -> Result<Data, DataError> {
    if let Some(path) = cifar.missing_file(data_dir) {
        let help = format!(
            "To get {}, run `{}`, or {}.",
            cifar.title,
            cifar.download_command(data_dir),
            cifar.manual_instructions(data_dir)
        );
        return Err(DataError::Missing { path, help });
    }
    let read = |files, records_per_file| read_split(cifar, data_dir, files, records_per_file, device);
    Ok(Data {
        train: read(cifar.train_files, cifar.records_per_train_file)?,
        test: read(cifar.test_files, cifar.records_per_test_file)?,
        num_classes: cifar.num_classes,
        mean: cifar.mean,
        std: cifar.std,
    })
}

fn read_split(
    cifar: &Cifar,
    data_dir: &Path,
    files: &[&str],
    records_per_file: usize,
    device: Device,
) -> Result<Split, DataError> {
    let mut bytes = Vec::new();
    for file in files {
        let path = cifar.path(data_dir, file);
        let start = bytes.len();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|source| DataError::Unreadable { path: path.clone(), source })?;
        check_file(cifar, data_dir, &path, &bytes[start..], records_per_file)?;
    }
    let record = cifar.record_bytes() as i64;
    let n = bytes.len() as i64 / record;
    let table = Tensor::from_slice(&bytes).to_device(device).view([n, record]);
    let label_at = cifar.label_bytes as i64 - 1;
    let labels = table.select(1, label_at).to_kind(Kind::Int64);
    let images =
        table.narrow(1, cifar.label_bytes as i64, PIXELS as i64).view([n, 3, 32, 32]).to_kind(Kind::Float) / 255.0;
    Ok(Split { images, labels })
}

fn check_file(
    cifar: &Cifar,
    data_dir: &Path,
    path: &Path,
    bytes: &[u8],
    records_per_file: usize,
) -> Result<(), DataError> {
    let record = cifar.record_bytes();
    let corrupt = |detail: String| DataError::Corrupt {
        name: path.display().to_string(),
        detail: format!(
            "{detail}. Delete {} and run `{}` again",
            data_dir.join(cifar.dir).display(),
            cifar.download_command(data_dir)
        ),
    };
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(corrupt(format!(
            "its {} bytes are not a whole, non-zero number of {record}-byte {} records",
            bytes.len(),
            cifar.title
        )));
    }
    let n = bytes.len() / record;
    if n > records_per_file {
        return Err(corrupt(format!("it holds {n} records; the official file holds {records_per_file}")));
    }
    let label_at = cifar.label_bytes - 1;
    if let Some((i, r)) =
        bytes.chunks_exact(record).enumerate().find(|(_, r)| i64::from(r[label_at]) >= cifar.num_classes)
    {
        return Err(corrupt(format!(
            "record {i} has label {}, but {} has {} classes",
            r[label_at], cifar.title, cifar.num_classes
        )));
    }
    Ok(())
}

//! CIFAR readers and download helpers, on small files in the official binary
//! layouts; nothing here touches the network beyond 127.0.0.1.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread;

use advmix_protocol::Dataset;
use advmix_trainer::data::cifar::{CIFAR10, CIFAR100, Cifar};
use advmix_trainer::data::{self, download};
use flate2::Compression;
use flate2::write::GzEncoder;
use tch::{Device, Kind};

const PIXELS: usize = 3072;
const PER_FILE: usize = 20;

/// A pixel byte that differs between nearby records, channels, rows and columns,
/// so that a misplaced byte is noticed.
fn pixel(file: usize, record: usize, i: usize) -> u8 {
    let mut z = (file as u64) << 40 ^ (record as u64) << 20 ^ i as u64;
    z = (z ^ (z >> 31)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (z >> 56) as u8
}

fn cifar10_label(file: usize, record: usize) -> u8 {
    ((file * 7 + record * 3) % 10) as u8
}

fn fine_label(record: usize) -> u8 {
    ((record * 37 + 11) % 100) as u8
}

/// Coarse labels differ from the fine ones, so using the wrong byte shows.
fn coarse_label(record: usize) -> u8 {
    19 - fine_label(record) / 5
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn cifar10_file(file: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for r in 0..PER_FILE {
        bytes.push(cifar10_label(file, r));
        bytes.extend((0..PIXELS).map(|i| pixel(file, r, i)));
    }
    bytes
}

/// Files 0..5 are the training batches, file 5 the test batch.
fn write_cifar10(dir: &Path) {
    for (file, name) in CIFAR10.train_files.iter().chain(CIFAR10.test_files).enumerate() {
        write(&CIFAR10.path(dir, name), &cifar10_file(file));
    }
}

fn write_cifar100(dir: &Path, train: usize, test: usize) {
    for (file, (name, n)) in [("train.bin", train), ("test.bin", test)].into_iter().enumerate() {
        let mut bytes = Vec::new();
        for r in 0..n {
            bytes.extend([coarse_label(r), fine_label(r)]);
            bytes.extend((0..PIXELS).map(|i| pixel(file, r, i)));
        }
        write(&CIFAR100.path(dir, name), &bytes);
    }
}

fn check_pixels(images: &tch::Tensor, index: usize, file: usize, record: usize) {
    for (c, h, w) in [(0, 0, 0), (0, 0, 31), (0, 1, 0), (1, 0, 0), (2, 0, 0), (1, 17, 5), (2, 31, 31), (0, 31, 0)] {
        let byte = pixel(file, record, c * 1024 + h * 32 + w);
        let got = images.double_value(&[index as i64, c as i64, h as i64, w as i64]);
        assert!((got - f64::from(byte) / 255.0).abs() < 1e-6, "image {index} [{c},{h},{w}]: {got} for byte {byte}");
    }
}

#[test]
fn reads_cifar10_in_the_official_layout() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar10(dir.path());
    let data = data::load(Dataset::Cifar10, dir.path(), 0, Device::Cpu).unwrap();
    assert_eq!(data.num_classes, 10);
    assert_eq!(data.mean, [0.4914, 0.4822, 0.4465]);
    assert_eq!(data.train.images.size(), [5 * PER_FILE as i64, 3, 32, 32]);
    assert_eq!(data.test.images.size(), [PER_FILE as i64, 3, 32, 32]);
    assert_eq!((data.train.images.kind(), data.train.labels.kind()), (Kind::Float, Kind::Int64));

    let train: Vec<i64> = Vec::try_from(&data.train.labels).unwrap();
    let expected: Vec<i64> = (0..5).flat_map(|f| (0..PER_FILE).map(move |r| i64::from(cifar10_label(f, r)))).collect();
    assert_eq!(train, expected, "training batches in order 1..5");
    let test: Vec<i64> = Vec::try_from(&data.test.labels).unwrap();
    assert_eq!(test, (0..PER_FILE).map(|r| i64::from(cifar10_label(5, r))).collect::<Vec<_>>());

    check_pixels(&data.train.images, 0, 0, 0);
    check_pixels(&data.train.images, PER_FILE + 3, 1, 3);
    check_pixels(&data.train.images, 5 * PER_FILE - 1, 4, PER_FILE - 1);
    check_pixels(&data.test.images, 7, 5, 7);
}

#[test]
fn reads_cifar100_with_its_fine_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar100(dir.path(), 30, 12);
    let data = data::load(Dataset::Cifar100, dir.path(), 0, Device::Cpu).unwrap();
    assert_eq!(data.num_classes, 100);
    assert_eq!(data.std, [0.2673, 0.2564, 0.2762]);
    assert_eq!(data.train.images.size(), [30, 3, 32, 32]);
    assert_eq!(data.test.images.size(), [12, 3, 32, 32]);
    let train: Vec<i64> = Vec::try_from(&data.train.labels).unwrap();
    assert_eq!(train, (0..30).map(|r| i64::from(fine_label(r))).collect::<Vec<_>>());
    check_pixels(&data.train.images, 0, 0, 0);
    check_pixels(&data.train.images, 29, 0, 29);
    check_pixels(&data.test.images, 11, 1, 11);
}

#[test]
fn a_missing_file_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = data::load(Dataset::Cifar10, dir.path(), 0, Device::Cpu).err().unwrap().to_string();
    for needle in [
        "cifar-10-batches-bin/data_batch_1.bin",
        "advmix-trainer download cifar10",
        "cifar-10-binary.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    ] {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }

    write_cifar100(dir.path(), 3, 3);
    fs::remove_file(CIFAR100.path(dir.path(), "test.bin")).unwrap();
    let err = data::load(Dataset::Cifar100, dir.path(), 0, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("cifar-100-binary/test.bin") && err.contains("advmix-trainer download cifar100"), "{err}");
}

#[test]
fn a_damaged_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar10(dir.path());
    let path = CIFAR10.path(dir.path(), "data_batch_3.bin");
    let mut bytes = fs::read(&path).unwrap();
    bytes.push(0);
    fs::write(&path, &bytes).unwrap();
    let err = data::load(Dataset::Cifar10, dir.path(), 0, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("data_batch_3.bin") && err.contains("3073-byte"), "{err}");

    write_cifar10(dir.path());
    let path = CIFAR10.path(dir.path(), "test_batch.bin");
    let mut bytes = fs::read(&path).unwrap();
    bytes[3073] = 10;
    fs::write(&path, &bytes).unwrap();
    let err = data::load(Dataset::Cifar10, dir.path(), 0, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("test_batch.bin") && err.contains("record 1 has label 10"), "{err}");
}

#[test]
fn md5_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abc");
    fs::write(&path, b"abc").unwrap();
    assert_eq!(download::md5_file(&path).unwrap(), "900150983cd24fb0d6963f7d28e17f72");
}

/// A `.tar.gz` holding the CIFAR-10 files under their official directory.
fn cifar10_archive() -> Vec<u8> {
    let source = tempfile::tempdir().unwrap();
    write_cifar10(source.path());
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    tar.append_dir_all(CIFAR10.dir, source.path().join(CIFAR10.dir)).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn unpacks_an_archive_into_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    fs::write(&archive, cifar10_archive()).unwrap();
    assert!(!download::is_present(&CIFAR10, dir.path()));
    download::unpack(&archive, dir.path()).unwrap();
    assert!(download::is_present(&CIFAR10, dir.path()));
    let data = data::load(Dataset::Cifar10, dir.path(), 0, Device::Cpu).unwrap();
    check_pixels(&data.train.images, 2 * PER_FILE + 5, 2, 5);
}

/// CIFAR-10 with the MD5 of the test archive in place of the official one.
fn cifar10_with_md5(archive: &[u8], dir: &Path) -> Cifar {
    let path = dir.join("for-md5");
    fs::write(&path, archive).unwrap();
    let md5 = download::md5_file(&path).unwrap();
    fs::remove_file(path).unwrap();
    Cifar { md5: Box::leak(md5.into_boxed_str()), ..CIFAR10 }
}

/// A URL on which nothing listens.
fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/cifar-10-binary.tar.gz")
}

/// Serves `body` once over HTTP on 127.0.0.1.
fn serve_once(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while request.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
        stream.write_all(&body).unwrap();
    });
    format!("http://{addr}/cifar-10-binary.tar.gz")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn downloads_checks_unpacks_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let archive = cifar10_archive();
    let cifar = cifar10_with_md5(&archive, dir.path());
    let data_dir = dir.path().join("datasets");
    download::download_from(&cifar, &serve_once(archive), &data_dir).unwrap();
    assert_eq!(entries(&data_dir), ["cifar-10-batches-bin"], "the archive is removed");
    let data = data::load(Dataset::Cifar10, &data_dir, 0, Device::Cpu).unwrap();
    check_pixels(&data.test.images, 0, 5, 0);
    // Present now: nothing is fetched, so an unreachable URL is fine.
    download::download_from(&cifar, &unreachable_url(), &data_dir).unwrap();
}

#[test]
fn a_download_with_the_wrong_md5_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let err = download::download_from(&CIFAR10, &serve_once(cifar10_archive()), dir.path()).err().unwrap();
    let message = err.to_string();
    assert!(message.contains("c32a1d4ab5d03f1284b67883e8d87530") && message.contains("deleted"), "{message}");
    assert!(entries(dir.path()).is_empty(), "left behind: {:?}", entries(dir.path()));
}

#[test]
fn an_archive_placed_by_hand_is_checked_and_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let archive = cifar10_archive();
    let cifar = cifar10_with_md5(&archive, dir.path());
    fs::write(dir.path().join("cifar-10-binary.tar.gz"), &archive).unwrap();
    download::download_from(&cifar, &unreachable_url(), dir.path()).unwrap();
    assert!(download::is_present(&cifar, dir.path()));
    assert_eq!(entries(dir.path()), ["cifar-10-batches-bin"]);

    let other = tempfile::tempdir().unwrap();
    fs::write(other.path().join("cifar-10-binary.tar.gz"), &archive).unwrap();
    let err = download::download_from(&CIFAR10, &unreachable_url(), other.path()).err().unwrap();
    assert!(err.to_string().contains("not c32a1d4ab5d03f1284b67883e8d87530"), "{err}");
    assert!(entries(other.path()).is_empty());
}

#[test]
fn offline_the_error_says_what_to_download_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let url = unreachable_url();
    let err = download::download_from(&CIFAR10, &url, dir.path()).err().unwrap().to_string();
    let data_dir = dir.path().display().to_string();
    for needle in [
        url.as_str(),
        "https://www.cs.toronto.edu/~kriz/cifar.html",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "c32a1d4ab5d03f1284b67883e8d87530",
        &format!("tar -xzf cifar-10-binary.tar.gz -C {data_dir}"),
        &format!("{data_dir}/cifar-10-batches-bin/data_batch_1.bin"),
    ] {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    assert!(entries(dir.path()).is_empty(), "no partial file is left");
}

#[test]
fn only_cifar_is_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let err = download::download(Dataset::Digits, dir.path()).err().unwrap();
    assert!(err.to_string().contains("digits is built into the trainer"), "{err}");
    let err = download::download(Dataset::Synthetic, dir.path()).err().unwrap();
    assert!(err.to_string().contains("synthetic is generated"), "{err}");
}

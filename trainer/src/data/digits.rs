//! The built-in `digits` set; the file format and the split are documented in
//! `trainer/assets/digits/README.md`.

use tch::{Device, Kind, Tensor};

use super::{Data, DataError, Split};

static DIGITS_BIN: &[u8] = include_bytes!("../../assets/digits/digits.bin");

const MAGIC: &[u8; 8] = b"ADVDIGIT";
const HEADER: usize = 20;
const SIDE: usize = 8;
const RECORD: usize = 1 + SIDE * SIDE;
/// 8×8 upsampled by nearest neighbour to the CIFAR size.
const SCALE: i64 = 4;
const LEVELS: f64 = 16.0;
pub const NUM_CLASSES: i64 = 10;
/// Pixel mean and (population) standard deviation of the training split after
/// scaling to [0, 1], the same for the three copied channels; computed once
/// from `digits.bin` and checked by `tests/digits.rs`.
pub const MEAN: f64 = 0.3051;
pub const STD: f64 = 0.3762;

/// The records of one split: a label byte then 64 pixel bytes each.
pub struct Records<'a>(&'a [u8]);

impl Records<'_> {
    pub fn len(&self) -> usize {
        self.0.len() / RECORD
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn labels(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.chunks_exact(RECORD).map(|r| r[0])
    }

    fn to_split(&self) -> Split {
        let n = self.len() as i64;
        let pixels: Vec<u8> = self.0.chunks_exact(RECORD).flat_map(|r| &r[1..]).copied().collect();
        let labels: Vec<i64> = self.labels().map(i64::from).collect();
        let small = Tensor::from_slice(&pixels).view([n, 1, SIDE as i64, SIDE as i64]).to_kind(Kind::Float)
            / LEVELS;
        let side = SIDE as i64 * SCALE;
        let images = small
            .upsample_nearest2d([side, side], None, None)
            .expand([n, 3, side, side], false)
            .contiguous();
        Split { images, labels: Tensor::from_slice(&labels) }
    }
}

/// Parses the embedded file into its (train, test) records.
pub fn parse(bytes: &[u8]) -> Result<(Records<'_>, Records<'_>), DataError> {
    let corrupt = |detail: String| DataError::Corrupt { name: "digits.bin".into(), detail };
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(corrupt("missing the ADVDIGIT header".into()));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != 1 || bytes[10] as usize != SIDE || bytes[11] as usize != SIDE {
        return Err(corrupt(format!("unsupported version {version} or image size")));
    }
    let count = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (n_train, n_test) = (count(12), count(16));
    let body = &bytes[HEADER..];
    if body.len() != (n_train + n_test) * RECORD {
        return Err(corrupt(format!(
            "{} bytes of records for {n_train} + {n_test} images",
            body.len()
        )));
    }
    let (train, test) = body.split_at(n_train * RECORD);
    let records = [train, test];
    for split in records {
        let bad = split.chunks_exact(RECORD).find(|r| r[0] >= 10 || r[1..].iter().any(|&p| p > 16));
        if bad.is_some() {
            return Err(corrupt("a label above 9 or a pixel above 16".into()));
        }
    }
    Ok((Records(train), Records(test)))
}

pub fn embedded() -> (Records<'static>, Records<'static>) {
    parse(DIGITS_BIN).expect("the embedded digits.bin is checked by the tests")
}

/// Loads both splits onto `device`.
pub fn load(device: Device) -> Data {
    let (train, test) = embedded();
    Data {
        train: train.to_split().to_device(device),
        test: test.to_split().to_device(device),
        num_classes: NUM_CLASSES,
        mean: [MEAN; 3],
        std: [STD; 3],
    }
}

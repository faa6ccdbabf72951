//! Training-time augmentation of whole batches on their own device. Random
//! draws come from torch's RNG, so a run is reproducible under
//! `tch::manual_seed`.

use advmix_protocol::Dataset;
use tch::{Kind, Tensor};

/// The standard CIFAR augmentation for `dataset`, or `x` itself (a shallow
/// clone) for the sets that are not augmented.
pub fn augment(dataset: Dataset, x: &Tensor) -> Tensor {
    if dataset.augments() { crop_flip(x, 4) } else { x.shallow_clone() }
}

/// Random crop of the zero-padded image (`pad` pixels on every side) back to
/// the input size, then a horizontal flip with probability ½, drawn
/// independently for each image of the NCHW batch `x`.
///
/// One gather over the padded batch does both: every output pixel reads the
/// padded pixel at its image's row and column offset, with the column order
/// reversed for flipped images.
pub fn crop_flip(x: &Tensor, pad: i64) -> Tensor {
    let (n, c, h, w) = x.size4().expect("crop_flip takes an NCHW batch");
    let device = x.device();
    let options = (Kind::Int64, device);
    let padded = x.constant_pad_nd([pad, pad, pad, pad]);
    let dy = Tensor::randint(2 * pad + 1, [n, 1], options);
    let dx = Tensor::randint(2 * pad + 1, [n, 1], options);
    let flip = Tensor::randint(2, [n, 1], options).to_kind(Kind::Bool);
    let across = Tensor::arange(w, options).unsqueeze(0);
    let rows = Tensor::arange(h, options).unsqueeze(0) + dy;
    let cols = across.flip([1]).where_self(&flip, &across) + dx;
    padded.index(&[
        Some(Tensor::arange(n, options).view([n, 1, 1, 1])),
        Some(Tensor::arange(c, options).view([1, c, 1, 1])),
        Some(rows.view([n, 1, h, 1])),
        Some(cols.view([n, 1, 1, w])),
    ])
}

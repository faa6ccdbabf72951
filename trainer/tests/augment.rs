mod common;

use std::collections::HashSet;

use advmix_protocol::Dataset;
use advmix_trainer::data::augment::{augment, crop_flip};
use common::torch_rng;
use tch::{Device, Kind, Tensor};

fn batch(n: i64) -> Tensor {
    tch::manual_seed(11);
    Tensor::rand([n, 3, 32, 32], (Kind::Float, Device::Cpu))
}

/// For each output image, the (dy, dx, flipped) of the single crop of the
/// padded input it equals.
fn crops(x: &Tensor, y: &Tensor, pad: i64) -> Vec<(i64, i64, bool)> {
    let padded = x.constant_pad_nd([pad, pad, pad, pad]);
    (0..x.size()[0])
        .map(|i| {
            let out = y.get(i);
            let mut found = Vec::new();
            for dy in 0..=2 * pad {
                for dx in 0..=2 * pad {
                    let crop = padded.get(i).narrow(1, dy, 32).narrow(2, dx, 32);
                    for flipped in [false, true] {
                        let candidate = if flipped { crop.flip([2]) } else { crop.shallow_clone() };
                        if candidate.equal(&out) {
                            found.push((dy, dx, flipped));
                        }
                    }
                }
            }
            assert_eq!(found.len(), 1, "image {i} matches crops {found:?}");
            found[0]
        })
        .collect()
}

#[test]
fn every_image_is_a_padded_crop_possibly_flipped() {
    let _rng = torch_rng();
    let x = batch(64);
    let y = crop_flip(&x, 4);
    assert_eq!(y.size(), x.size());
    assert_eq!(y.kind(), Kind::Float);
    let found = crops(&x, &y, 4);
    let offsets: HashSet<(i64, i64)> = found.iter().map(|&(dy, dx, _)| (dy, dx)).collect();
    assert!(offsets.len() > 1, "one offset for the whole batch: {offsets:?}");
    assert!(found.iter().any(|f| f.2) && found.iter().any(|f| !f.2), "flips are drawn per image");
    let corners = offsets.iter().any(|&(dy, dx)| dy.min(dx) == 0 || dy.max(dx) == 8);
    assert!(corners, "offsets reach the edges of 0..=8: {offsets:?}");
}

#[test]
fn without_padding_only_flips() {
    let _rng = torch_rng();
    let x = batch(16);
    let found = crops(&x, &crop_flip(&x, 0), 0);
    assert!(found.iter().all(|&(dy, dx, _)| dy == 0 && dx == 0));
}

#[test]
fn reproducible_under_manual_seed() {
    let _rng = torch_rng();
    let x = batch(32);
    tch::manual_seed(5);
    let a = crop_flip(&x, 4);
    tch::manual_seed(5);
    let b = crop_flip(&x, 4);
    tch::manual_seed(6);
    let c = crop_flip(&x, 4);
    assert!(a.equal(&b));
    assert!(!a.equal(&c));
}

#[test]
fn only_cifar_is_augmented() {
    let _rng = torch_rng();
    let x = batch(8);
    for dataset in [Dataset::Digits, Dataset::Synthetic] {
        assert!(augment(dataset, &x).equal(&x), "{dataset:?}");
    }
    for dataset in [Dataset::Cifar10, Dataset::Cifar100] {
        let y = augment(dataset, &x);
        assert_eq!(y.size(), x.size());
        assert!(!y.equal(&x), "{dataset:?}");
        crops(&x, &y, 4);
    }
}

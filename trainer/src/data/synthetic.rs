//! A generated CIFAR-shaped set for tests and throughput benchmarks. Each class
//! has a smooth random colour pattern, tiled periodically; an image is its
//! class's pattern at a random position plus Gaussian noise. The class is thus
//! a texture rather than a fixed layout: a linear model on the pixels gets
//! about three in four test images right, a small CNN nearly all of them.

use advmix_protocol::rng::SplitMix64;
use tch::Tensor;

use super::{Data, Split};

/// The sizes `data::load` uses.
pub const TRAIN_SIZE: usize = 2000;
pub const TEST_SIZE: usize = 500;

const SIDE: usize = 32;
const PLANE: usize = SIDE * SIDE;
/// A pattern is interpolated from a GRID×GRID lattice of random values per
/// channel, which makes it low-frequency.
const GRID: usize = 4;
const NOISE_STD: f64 = 0.15;

/// Generates `n_train` and `n_test` images of `num_classes` balanced classes
/// (image i has label i mod `num_classes`), on the CPU. The same seed gives
/// the same data, whatever torch's RNG state.
pub fn generate(seed: u64, n_train: usize, n_test: usize, num_classes: i64) -> Data {
    let mut rng = SplitMix64::new(seed);
    let patterns: Vec<Vec<f64>> = (0..num_classes).map(|_| pattern(&mut rng)).collect();
    let train = split(&mut rng, &patterns, n_train);
    let test = split(&mut rng, &patterns, n_test);
    Data { train, test, num_classes, mean: [0.5; 3], std: [0.25; 3] }
}

fn split(rng: &mut SplitMix64, patterns: &[Vec<f64>], n: usize) -> Split {
    let mut pixels = Vec::with_capacity(n * 3 * PLANE);
    let labels: Vec<i64> = (0..n).map(|i| (i % patterns.len()) as i64).collect();
    for &label in &labels {
        let pattern = &patterns[label as usize];
        // The lattice is periodic, so a wrapped-around shift has no seam.
        let (dy, dx) = (rng.below(SIDE), rng.below(SIDE));
        for c in 0..3 {
            for h in 0..SIDE {
                for w in 0..SIDE {
                    let p = pattern[c * PLANE + (h + dy) % SIDE * SIDE + (w + dx) % SIDE];
                    let value = 0.25 + 0.5 * p + NOISE_STD * rng.normal();
                    pixels.push(value.clamp(0.0, 1.0) as f32);
                }
            }
        }
    }
    let side = SIDE as i64;
    Split { images: Tensor::from_slice(&pixels).view([n as i64, 3, side, side]), labels: Tensor::from_slice(&labels) }
}

/// A 3×32×32 pattern in [0, 1]: bilinear interpolation of a periodic lattice.
fn pattern(rng: &mut SplitMix64) -> Vec<f64> {
    let lattice: Vec<f64> = (0..3 * GRID * GRID).map(|_| rng.unit()).collect();
    let coord = |p: usize| {
        let u = (p * GRID) as f64 / SIDE as f64;
        let i = u.floor() as usize;
        (i % GRID, (i + 1) % GRID, u - i as f64)
    };
    let mut out = Vec::with_capacity(3 * PLANE);
    for c in 0..3 {
        let at = |i: usize, j: usize| lattice[(c * GRID + i) * GRID + j];
        for h in 0..SIDE {
            let (i0, i1, fy) = coord(h);
            for w in 0..SIDE {
                let (j0, j1, fx) = coord(w);
                let top = at(i0, j0) * (1.0 - fx) + at(i0, j1) * fx;
                let bottom = at(i1, j0) * (1.0 - fx) + at(i1, j1) * fx;
                out.push(top * (1.0 - fy) + bottom * fy);
            }
        }
    }
    out
}


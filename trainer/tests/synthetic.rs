mod common;

use std::path::Path;

use advmix_protocol::Dataset;
use advmix_trainer::data::{self, Data, synthetic};
use common::torch_rng;
use tch::{Device, Kind, Tensor};

fn same(a: &Data, b: &Data) -> bool {
    a.train.images.equal(&b.train.images)
        && a.train.labels.equal(&b.train.labels)
        && a.test.images.equal(&b.test.images)
        && a.test.labels.equal(&b.test.labels)
}

#[test]
fn the_seed_alone_determines_the_data() {
    let _rng = torch_rng();
    tch::manual_seed(1);
    let a = synthetic::generate(3, 40, 20, 10);
    tch::manual_seed(2);
    let b = synthetic::generate(3, 40, 20, 10);
    assert!(same(&a, &b), "torch's RNG state must not matter");
    assert!(!same(&a, &synthetic::generate(4, 40, 20, 10)));
}

#[test]
fn generating_leaves_torchs_rng_alone() {
    let _rng = torch_rng();
    tch::manual_seed(5);
    let before = Tensor::rand([4], (Kind::Float, Device::Cpu));
    tch::manual_seed(5);
    synthetic::generate(0, 10, 10, 10);
    let after = Tensor::rand([4], (Kind::Float, Device::Cpu));
    assert!(before.equal(&after));
}

#[test]
fn balanced_classes_and_pixels_in_range() {
    let data = synthetic::generate(7, 95, 30, 10);
    assert_eq!(data.train.images.size(), [95, 3, 32, 32]);
    assert_eq!(data.test.images.size(), [30, 3, 32, 32]);
    assert_eq!((data.train.images.kind(), data.train.labels.kind()), (Kind::Float, Kind::Int64));
    for split in [&data.train, &data.test] {
        let x = &split.images;
        assert!(x.min().double_value(&[]) >= 0.0 && x.max().double_value(&[]) <= 1.0);
        let counts: Vec<i64> = Vec::try_from(&split.labels.bincount::<Tensor>(None, 10)).unwrap();
        assert!(counts.iter().all(|&n| n >= 3), "every class, about equally often: {counts:?}");
    }
}

/// A nearest-class-mean classifier does far better than chance, but the
/// random positions keep it from being perfect: there is something to learn.
#[test]
fn classes_are_learnable_but_not_trivial() {
    let data = synthetic::generate(0, 1000, 500, 10);
    let flat = |x: &Tensor| x.flatten(1, -1);
    let means =
        Tensor::stack(
            &(0..10)
                .map(|c| {
                    flat(&data.train.images)
                        .index_select(0, &data.train.labels.eq(c).nonzero().squeeze_dim(1))
                        .mean_dim(0, false, Kind::Float)
                })
                .collect::<Vec<_>>(),
            0,
        );
    let distances = Tensor::cdist(&flat(&data.test.images), &means, 2.0, None::<i64>);
    let accuracy = distances.argmin(1, false).eq_tensor(&data.test.labels).to_kind(Kind::Float).mean(Kind::Float);
    let accuracy = accuracy.double_value(&[]);
    assert!(accuracy > 0.5 && accuracy < 0.95, "nearest-mean accuracy {accuracy}");
}

#[test]
fn load_gives_the_default_cifar_shaped_set() {
    let data = data::load(Dataset::Synthetic, Path::new("/nonexistent"), 0, Device::Cpu).unwrap();
    assert_eq!(data.num_classes, 10);
    assert_eq!(data.train.images.size(), [synthetic::TRAIN_SIZE as i64, 3, 32, 32]);
    assert_eq!(data.test.images.size(), [synthetic::TEST_SIZE as i64, 3, 32, 32]);
    assert_eq!((data.mean, data.std), ([0.5; 3], [0.25; 3]));
    assert!(same(&data, &synthetic::generate(0, synthetic::TRAIN_SIZE, synthetic::TEST_SIZE, 10)));
}

use advmix_trainer::data::digits;
use tch::{Device, Kind};

#[test]
fn embedded_file_has_the_documented_split() {
    let (train, test) = digits::embedded();
    assert_eq!((train.len(), test.len()), (1442, 355));
    for split in [&train, &test] {
        let mut per_class = [0usize; 10];
        split.labels().for_each(|l| per_class[l as usize] += 1);
        assert!(per_class.iter().all(|&n| n > 0), "every class in every split: {per_class:?}");
    }
    // Stratified: about a fifth of each class is held out.
    let mut all = [0usize; 10];
    let mut held = [0usize; 10];
    train.labels().for_each(|l| all[l as usize] += 1);
    test.labels().for_each(|l| {
        all[l as usize] += 1;
        held[l as usize] += 1
    });
    for c in 0..10 {
        assert_eq!(held[c], all[c] / 5, "class {c}");
    }
}

#[test]
fn loads_as_cifar_shaped_tensors() {
    let data = digits::load(Device::Cpu);
    assert_eq!(data.num_classes, 10);
    assert_eq!(data.train.images.size(), [1442, 3, 32, 32]);
    assert_eq!(data.test.images.size(), [355, 3, 32, 32]);
    assert_eq!(data.train.labels.kind(), Kind::Int64);
    let x = &data.train.images;
    assert!(x.min().double_value(&[]) >= 0.0 && x.max().double_value(&[]) <= 1.0);
    assert_eq!(x.max().double_value(&[]), 1.0, "pixels reach the top of the range");
    // The three channels are copies of the grayscale image.
    assert!(x.select(1, 0).equal(&x.select(1, 2)));
    // Each original pixel became a 4×4 block, and every value is a level k/16.
    let img = x.get(0).select(0, 0);
    assert!(img.slice(0, 0, 4, 1).slice(1, 8, 12, 1).eq_tensor(&img.get(0).get(8)).all().int64_value(&[]) == 1);
    let levels = (x * 16.0).round() - x * 16.0;
    assert!(levels.abs().max().double_value(&[]) < 1e-5);
}

#[test]
fn rejects_a_damaged_file() {
    assert!(digits::parse(b"not a digits file").is_err());
    let mut bytes = b"ADVDIGIT".to_vec();
    bytes.extend_from_slice(&[1, 0, 8, 8, 1, 0, 0, 0, 0, 0, 0, 0]);
    bytes.extend_from_slice(&[3; 10]); // a record too short
    let err = digits::parse(&bytes).err().expect("short record is rejected");
    assert!(err.to_string().contains("digits.bin"), "{err}");
}

#[test]
fn normalization_constants_match_the_training_split() {
    let data = advmix_trainer::data::load(
        advmix_protocol::Dataset::Digits,
        std::path::Path::new("/nonexistent"),
        0,
        Device::Cpu,
    )
    .unwrap();
    let x = data.train.images.to_kind(Kind::Double);
    let mean = x.mean(Kind::Double).double_value(&[]);
    let std = (&x - mean).square().mean(Kind::Double).sqrt().double_value(&[]);
    assert!((mean - digits::MEAN).abs() < 1e-4 && (std - digits::STD).abs() < 1e-4, "mean {mean}, std {std}");
    assert_eq!((data.mean, data.std), ([digits::MEAN; 3], [digits::STD; 3]));
}

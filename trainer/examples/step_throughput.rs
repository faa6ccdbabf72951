//! Images per second of one method's training step (the attack, forward,
//! backward and SGD update) on CIFAR-shaped synthetic data. The benchmark in
//! `bench/` runs it beside the same step written in eager PyTorch.
//!
//! cargo run --release -p advmix-trainer --example step_throughput -- \
//!     --method pgd_at --model preact_resnet18 --batch-size 128 --batches 20 --device cuda

use std::time::Instant;

use advmix_protocol::{Dataset, Method, Model, RunConfig};
use advmix_trainer::data::{augment, synthetic};
use advmix_trainer::device::DeviceRequest;
use advmix_trainer::methods;
use advmix_trainer::models::{self, Normalization};
use advmix_trainer::optim::Sgd;
use clap::Parser;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "pgd_at")]
    method: String,
    #[arg(long, default_value = "preact_resnet18")]
    model: String,
    #[arg(long, default_value_t = 128)]
    batch_size: i64,
    #[arg(long, default_value_t = 10)]
    batches: u32,
    #[arg(long, default_value_t = 2)]
    warmup: u32,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long)]
    bf16: bool,
}

fn parse<T: serde::de::DeserializeOwned>(value: &str) -> T {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).expect("a known name")
}

fn main() {
    let args = Args::parse();
    let device = args.device.parse::<DeviceRequest>().and_then(DeviceRequest::resolve).expect("a usable device");
    let config = RunConfig {
        method: parse::<Method>(&args.method),
        model: parse::<Model>(&args.model),
        dataset: Dataset::Cifar10,
        bf16: args.bf16,
        ..RunConfig::default()
    };
    tch::manual_seed(0);
    let n = args.batch_size * 4;
    let data = synthetic::generate(0, n as usize, 1, 10).to_device(device);
    let vs = VarStore::new(device);
    let norm = Normalization { mean: data.mean, std: data.std };
    let net = models::build(&vs.root(), config.model, config.depth, config.widen_factor, 10, norm);
    let mut opt = Sgd::new(&vs, config.momentum, config.weight_decay);

    let mut run = |batches: u32| {
        for b in 0..batches {
            let start = (i64::from(b) * args.batch_size) % n;
            // CIFAR's crop and flip run too, as in training.
            let x = augment::augment(Dataset::Cifar10, &data.train.images.narrow(0, start, args.batch_size));
            let y = data.train.labels.narrow(0, start, args.batch_size);
            let step = if config.bf16 && device.is_cuda() {
                advmix_trainer::autocast::bf16(|| methods::step(&config, &net, &x, &y, 10, true))
            } else {
                methods::step(&config, &net, &x, &y, 10, true)
            };
            opt.zero_grad();
            step.loss.backward();
            opt.step(0.1);
        }
        // Wait for the device before reading the clock.
        let _ = Tensor::zeros([1], (Kind::Float, device)).to_device(Device::Cpu);
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    run(args.warmup);
    let start = Instant::now();
    run(args.batches);
    let seconds = start.elapsed().as_secs_f64();
    let images = f64::from(args.batches) * args.batch_size as f64;
    println!(
        "{}",
        serde_json::json!({
            "impl": "advmix (tch)",
            "method": args.method,
            "model": args.model,
            "device": advmix_trainer::device::device_name(device),
            "bf16": config.bf16 && device.is_cuda(),
            "batch_size": args.batch_size,
            "batches": args.batches,
            "seconds": seconds,
            "images_per_second": images / seconds,
        })
    );
}

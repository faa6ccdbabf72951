//! Seconds that the AutoAttack suites take on N CIFAR-shaped points of a
//! model, per attack. The model is first trained briefly (ERM) on the
//! synthetic set so that its clean accuracy is high and every attack has
//! points to work on; `bench/autoattack.sh` runs it and RESULTS.md records it.
//!
//! cargo run --release -p advmix-trainer --example autoattack_time -- \
//!     --model preact_resnet18 --n 1000 --batch 500 --device cuda

use std::time::Instant;

use advmix_protocol::{Dataset, Method, Model, RunConfig};
use advmix_trainer::attacks::autoattack::{Suite, evaluate};
use advmix_trainer::data::synthetic;
use advmix_trainer::device::DeviceRequest;
use advmix_trainer::methods;
use advmix_trainer::models::{self, Normalization};
use advmix_trainer::optim::Sgd;
use clap::Parser;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "preact_resnet18")]
    model: String,
    #[arg(long, default_value_t = 1000)]
    n: usize,
    #[arg(long, default_value_t = 500)]
    batch: i64,
    /// Training epochs over the 2000 synthetic training images.
    #[arg(long, default_value_t = 1)]
    epochs: u32,
    #[arg(long, default_value_t = 8.0 / 255.0)]
    eps: f64,
    /// Suites to time, in order (aa-fast, aa-standard, pgd).
    #[arg(long, value_delimiter = ',', default_value = "aa-fast,aa-standard")]
    suites: Vec<Suite>,
    #[arg(long, default_value = "auto")]
    device: String,
    #[arg(long)]
    bf16: bool,
}

fn main() {
    let args = Args::parse();
    let device = args.device.parse::<DeviceRequest>().and_then(DeviceRequest::resolve).expect("a usable device");
    let model: Model = serde_json::from_value(serde_json::Value::String(args.model.clone())).expect("a known model");
    let config = RunConfig { method: Method::Erm, model, dataset: Dataset::Cifar10, ..RunConfig::default() };
    tch::manual_seed(0);
    let data = synthetic::generate(0, synthetic::TRAIN_SIZE, args.n, 10).to_device(device);
    let vs = VarStore::new(device);
    let norm = Normalization { mean: data.mean, std: data.std };
    let net = models::build(&vs.root(), config.model, config.depth, config.widen_factor, 10, norm);
    let mut opt = Sgd::new(&vs, 0.9, 5e-4);
    let start = Instant::now();
    for _ in 0..args.epochs {
        let order = Tensor::randperm(data.train.len() as i64, (Kind::Int64, device));
        for idx in order.split(128, 0) {
            let x = data.train.images.index_select(0, &idx);
            let y = data.train.labels.index_select(0, &idx);
            let step = methods::step(&config, &net, &x, &y, 10, true);
            opt.zero_grad();
            step.loss.backward();
            opt.step(0.05);
        }
    }
    eprintln!("trained {} for {} epoch(s) in {:.1} s", args.model, args.epochs, start.elapsed().as_secs_f64());
    println!("| suite | points | clean | robust | attack: points in, robust after, seconds | total s |");
    println!("|---|---|---|---|---|---|");
    for suite in args.suites {
        tch::manual_seed(1);
        let start = Instant::now();
        let mut progress = |k: usize, of: usize, left: i64, _: &_| {
            eprintln!("{} attack {k}/{of}: {left} robust, {:.1} s", suite.as_str(), start.elapsed().as_secs_f64());
        };
        let mut run = || evaluate(&net, &data.test.images, &data.test.labels, args.eps, suite, args.batch, &mut progress);
        let report = if args.bf16 && device.is_cuda() { advmix_trainer::autocast::bf16(run) } else { run() };
        if device.is_cuda() {
            tch::Cuda::synchronize(0);
        }
        let total = start.elapsed().as_secs_f64();
        let steps: Vec<String> = report
            .attacks
            .iter()
            .map(|a| format!("{} {} {:.3} {:.1}", a.attack.as_str(), a.points, a.robust_acc, a.seconds))
            .collect();
        println!(
            "| {} | {} | {:.3} | {:.3} | {} | {:.1} |",
            suite.as_str(),
            report.n,
            report.clean_acc,
            report.robust_acc,
            steps.join("; "),
            total
        );
    }
}

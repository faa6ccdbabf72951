//! `advmix-trainer train`: one model, one method, evaluated after every epoch.
//!
//! Reproducibility: the torch RNG is re-seeded from (seed, epoch, batch) at
//! every batch, so the random stream depends only on the position in
//! training. That makes the RNG state of a checkpoint just its position, and
//! a run stopped mid-epoch and resumed ends bit for bit where an
//! uninterrupted one does (on CPU; cuDNN kernels are not deterministic).

pub mod eval;
pub mod metadata;
pub mod progress;
pub mod samples;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use advmix_protocol::events::{
    Checkpoint, CheckpointKind, EpochMetrics, Finished, Samples as SamplesEvent, Started,
};
use advmix_protocol::rng::SplitMix64;
use advmix_protocol::{ADVMIX_VERSION, Event, RunConfig};
use metadata::{Describe, Evaluation, Input, ModelMetadata, Splits};
use serde::{Deserialize, Serialize};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::attacks::Pgd;
use crate::autocast;
use crate::attacks::autoattack::{self, Suite};
use crate::checkpoint::{self, CheckpointError};
use crate::data::{self, Data};
use crate::device::device_name;
use crate::events::EventSink;
use crate::methods;
use crate::models::{self, Normalization};
use crate::optim::Sgd;
use crate::schedule::learning_rate;
use crate::stop::StopSignal;
use progress::{Pace, Throttle};

pub use advmix_protocol::layout::{CHECKPOINT_DIR, RESUME_FILE};
const RESUME_KEY: &str = "advmix.resume";
const EVAL_BATCH: i64 = 500;

pub struct TrainOptions {
    pub config: RunConfig,
    pub run_dir: PathBuf,
    pub device: Device,
    pub resume: bool,
    /// Echo events on stdout as well as into `events.jsonl`.
    pub stdout_events: bool,
}

#[derive(Debug, PartialEq)]
pub enum Outcome {
    Finished(Finished),
    Stopped { epoch: u32, batch: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("cannot write events into the run directory: {0}")]
    Events(#[from] std::io::Error),
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error("cannot write the sample grid: {0}")]
    Samples(#[from] tch::TchError),
}

/// Sums over the batches of the current epoch; kept on the device and read
/// once per epoch, so the training loop never waits on the host.
struct Totals {
    loss: Tensor,
    correct: Tensor,
    clean_loss: Tensor,
    clean_correct: Tensor,
    seen: Tensor,
}

impl Totals {
    fn new(device: Device, saved: Option<[f64; 5]>) -> Totals {
        let t = |i: usize| Tensor::from(saved.map_or(0.0, |s| s[i])).to_kind(Kind::Double).to_device(device);
        Totals { loss: t(0), correct: t(1), clean_loss: t(2), clean_correct: t(3), seen: t(4) }
    }

    fn values(&self) -> [f64; 5] {
        [&self.loss, &self.correct, &self.clean_loss, &self.clean_correct, &self.seen]
            .map(|t| t.double_value(&[]))
    }
}

/// The training position and the bests so far: the resume file's metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Position {
    config: RunConfig,
    /// Completed epochs.
    epoch: u32,
    /// Batches done in epoch `epoch + 1`.
    batch: u32,
    steps: i64,
    best_robust_acc: f64,
    best_epoch: u32,
    totals: [f64; 5],
    epoch_seconds_so_far: f64,
    total_seconds: f64,
    /// The last epoch's evaluation, for `finished` when a resume finds the
    /// epochs done and only the final stage left.
    #[serde(default)]
    last_clean_acc: f64,
    #[serde(default)]
    last_robust_acc: f64,
}

/// The seed of the evaluation subset's order: the per-epoch evaluation, the
/// final stage and `advmix-trainer eval` all draw their points from it.
pub fn subset_seed(seed: u64) -> i64 {
    derive_seed(seed, 0, SLOT_SUBSET)
}

/// A well-mixed seed for each (run seed, epoch, slot) triple; non-negative,
/// as torch's manual_seed takes an i64.
fn derive_seed(seed: u64, epoch: u32, slot: u64) -> i64 {
    let key = seed ^ (u64::from(epoch) << 32) ^ slot.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (SplitMix64::new(key).next_u64() >> 1) as i64
}
const SLOT_PERMUTATION: u64 = u64::MAX;
const SLOT_EVAL: u64 = u64::MAX - 1;
const SLOT_SUBSET: u64 = u64::MAX - 2;
const SLOT_INIT: u64 = u64::MAX - 3;
const SLOT_FINAL_ATTACK: u64 = u64::MAX - 4;

fn ckpt_path(run_dir: &Path, file: &str) -> PathBuf {
    run_dir.join(CHECKPOINT_DIR).join(file)
}

/// Trains on `data` (already on `opts.device`), writing events, checkpoints
/// and samples into the run directory.
pub fn run(opts: &TrainOptions, data: &Data, stop: &StopSignal) -> Result<Outcome, TrainError> {
    let config = &opts.config;
    let device = opts.device;
    std::fs::create_dir_all(opts.run_dir.join(CHECKPOINT_DIR))?;
    let mut sink = EventSink::open(&opts.run_dir, opts.stdout_events)?;

    let classes = data.num_classes;

    tch::manual_seed(derive_seed(config.seed, 0, SLOT_INIT));
    let mut vs = VarStore::new(device);
    let norm = Normalization { mean: data.mean, std: data.std };
    let net = models::build(&vs.root(), config.model, config.depth, config.widen_factor, classes, norm);
    let describe = describe(data);
    let mut opt = Sgd::new(&vs, config.momentum, config.weight_decay);

    let mut pos = if opts.resume {
        load_resume(opts, &mut vs, &mut opt)?
    } else {
        Position {
            config: config.clone(),
            epoch: 0,
            batch: 0,
            steps: 0,
            best_robust_acc: -1.0,
            best_epoch: 0,
            totals: [0.0; 5],
            epoch_seconds_so_far: 0.0,
            total_seconds: 0.0,
            last_clean_acc: 0.0,
            last_robust_acc: 0.0,
        }
    };

    sink.emit(Event::Started(Started {
        config: config.clone(),
        device: device_name(device),
        torch_version: crate::doctor::report().torch_version,
        advmix_version: ADVMIX_VERSION.to_owned(),
        git_commit: Some(env!("ADVMIX_GIT_COMMIT").to_owned()).filter(|c| !c.is_empty()),
        seed: config.seed,
        bf16: config.bf16 && device.is_cuda(),
        start_epoch: pos.epoch,
    }))?;

    let n_eval = config.eval.n.resolve(data.test.len());
    let eval_set = eval::subset(&data.test, n_eval, subset_seed(config.seed));
    let eval_pgd = Pgd {
        epsilon: config.epsilon,
        step: config.eval.pgd_step.value(),
        steps: config.eval.pgd_steps,
        random_start: true,
    };
    let n_train = data.train.len() as i64;
    let batch_size = i64::from(config.batch_size);
    // A last batch of one image would break batch norm; fold it away.
    let batches = if n_train % batch_size == 1 { n_train / batch_size } else { (n_train + batch_size - 1) / batch_size };
    let run_start = Instant::now();
    let seconds_before = pos.total_seconds;
    let n_final = config.eval.final_n.resolve(data.test.len());
    let mut pace = Pace::new(config, batches as u64, n_eval, n_final);
    let mut throttle = Throttle::new();

    while pos.epoch < config.epochs {
        let epoch = pos.epoch;
        let epoch_start = Instant::now();
        tch::manual_seed(derive_seed(config.seed, epoch, SLOT_PERMUTATION));
        let order = Tensor::randperm(n_train, (Kind::Int64, device));
        let totals = Totals::new(device, Some(pos.totals));
        let first_batch = pos.batch;
        sink.emit(Event::Progress(pace.training(epoch, u64::from(first_batch), u64::from(first_batch), 0.0)))?;

        for b in pos.batch..batches as u32 {
            tch::manual_seed(derive_seed(config.seed, epoch, u64::from(b)));
            let start = i64::from(b) * batch_size;
            let len = batch_size.min(n_train - start);
            let idx = order.narrow(0, start, len);
            let x = data::augment::augment(config.dataset, &data.train.images.index_select(0, &idx));
            let y = data.train.labels.index_select(0, &idx);
            let lr = learning_rate(
                config.lr_schedule,
                config.lr_max,
                config.epochs,
                f64::from(epoch) + f64::from(b) / batches as f64,
            );

            let step = autocast::bf16_on_cuda(config.bf16, device, || {
                methods::step(config, &net, &x, &y, classes, true)
            });
            opt.zero_grad();
            step.loss.backward();
            opt.step(lr);
            pos.steps += 1;
            accumulate(&totals, &net, &step, &x, &y, len);
            if throttle.due() {
                let seconds = epoch_start.elapsed().as_secs_f64();
                sink.emit(Event::Progress(pace.training(epoch, u64::from(b + 1), u64::from(first_batch), seconds)))?;
            }

            if stop.batch_done() {
                pos.batch = b + 1;
                pos.totals = totals.values();
                pos.epoch_seconds_so_far += epoch_start.elapsed().as_secs_f64();
                pos.total_seconds = seconds_before + run_start.elapsed().as_secs_f64();
                save_last(opts, &vs, &opt, &pos, &describe, &mut sink)?;
                sink.emit(Event::Stopped {
                    reason: format!("stop requested; resumable at epoch {} batch {}", epoch + 1, b + 1),
                })?;
                return Ok(Outcome::Stopped { epoch: pos.epoch, batch: pos.batch });
            }
        }

        // Training time only: the evaluation below is not part of an epoch's throughput.
        let t = totals.values();
        let epoch_seconds = pos.epoch_seconds_so_far + epoch_start.elapsed().as_secs_f64();
        pace.trained(batches as u64 - u64::from(first_batch), epoch_start.elapsed().as_secs_f64());
        sink.emit(Event::Progress(pace.evaluating(epoch + 1)))?;
        let eval_start = Instant::now();
        let result = autocast::bf16_on_cuda(config.bf16, device, || {
            tch::manual_seed(derive_seed(config.seed, epoch, SLOT_EVAL));
            eval::evaluate(&net, &eval_set, &eval_pgd, config.eval.restarts, EVAL_BATCH)
        });
        pace.evaluated(eval_start.elapsed().as_secs_f64(), result.clean_acc, result.pgd_acc);
        pos.epoch = epoch + 1;
        pos.batch = 0;
        pos.totals = [0.0; 5];
        pos.epoch_seconds_so_far = 0.0;
        pos.total_seconds = seconds_before + run_start.elapsed().as_secs_f64();
        let seen = t[4].max(1.0);
        eprintln!(
            "epoch {}/{}: train loss {:.4} acc {:.1}% | test clean {:.1}% pgd {:.1}% | {:.1} s, {:.0} img/s",
            pos.epoch,
            config.epochs,
            t[0] / seen,
            100.0 * t[1] / seen,
            100.0 * result.clean_acc,
            100.0 * result.pgd_acc,
            epoch_seconds,
            t[4] / epoch_seconds.max(1e-9)
        );
        sink.emit(Event::Epoch(EpochMetrics {
            epoch: pos.epoch,
            lr: learning_rate(config.lr_schedule, config.lr_max, config.epochs, f64::from(epoch)),
            train_loss: t[0] / seen,
            train_acc: t[1] / seen,
            train_clean_loss: t[2] / seen,
            train_clean_acc: t[3] / seen,
            test_clean_loss: result.clean_loss,
            test_clean_acc: result.clean_acc,
            test_pgd_loss: result.pgd_loss,
            test_pgd_acc: result.pgd_acc,
            epoch_seconds,
            images_per_second: t[4] / epoch_seconds.max(1e-9),
        }))?;

        pos.last_clean_acc = result.clean_acc;
        pos.last_robust_acc = result.pgd_acc;
        let best = result.pgd_acc > pos.best_robust_acc;
        if best {
            pos.best_robust_acc = result.pgd_acc;
            pos.best_epoch = pos.epoch;
        }
        save_last(opts, &vs, &opt, &pos, &describe, &mut sink)?;
        if best {
            save_model(opts, &vs, &pos, &describe, CheckpointKind::Best, "best.safetensors", &mut sink)?;
        }
        if config.checkpoint_every > 0 && pos.epoch % config.checkpoint_every == 0 {
            let file = format!("epoch-{:04}.safetensors", pos.epoch);
            save_model(opts, &vs, &pos, &describe, CheckpointKind::Periodic, &file, &mut sink)?;
        }
        // Every N epochs and after the last one; never when N is 0.
        let samples_due = config.samples_every > 0
            && (pos.epoch % config.samples_every == 0 || pos.epoch == config.epochs);
        if samples_due {
            write_samples(opts, &net, &eval_set, classes, &eval_pgd, pos.epoch, &mut sink)?;
        }

        if stop.requested() && pos.epoch < config.epochs {
            sink.emit(Event::Stopped { reason: format!("stop requested; resumable at epoch {}", pos.epoch + 1) })?;
            return Ok(Outcome::Stopped { epoch: pos.epoch, batch: 0 });
        }
    }
    // Every epoch is done, now or before a resume: only the final stage is left.
    final_stage(config, device, &net, data, &pos, &pace, stop, &mut sink)
}

/// `eval.final_attack` on the final weights, then `finished`. A stop request
/// ends it between two batches; a resume then runs it again.
#[allow(clippy::too_many_arguments)]
fn final_stage(
    config: &RunConfig,
    device: Device,
    net: &impl ModuleT,
    data: &Data,
    pos: &Position,
    pace: &Pace,
    stop: &StopSignal,
    sink: &mut EventSink,
) -> Result<Outcome, TrainError> {
    if let Some(suite) = Suite::for_final(config.eval.final_attack) {
        // The same seeded order as the per-epoch subset, so the two share
        // their first points.
        let n_final = config.eval.final_n.resolve(data.test.len());
        let final_set = eval::subset(&data.test, n_final, subset_seed(config.seed));
        tch::manual_seed(derive_seed(config.seed, pos.epoch, SLOT_FINAL_ATTACK));
        let report = autocast::bf16_on_cuda(config.bf16, device, || {
            final_attack(net, &final_set, config.epsilon, suite, (pos.epoch, pace), stop, sink)
        })?;
        let Some(report) = report else {
            let reason = format!("stop requested during the final {}; the epochs are done, resume to run it again", suite.as_str());
            sink.emit(Event::Stopped { reason })?;
            return Ok(Outcome::Stopped { epoch: pos.epoch, batch: 0 });
        };
        let checkpoint = format!("{CHECKPOINT_DIR}/last.safetensors");
        sink.emit(Event::Eval(report.to_event(suite, checkpoint, Some(pos.epoch))))?;
    }
    let finished = Finished {
        best_robust_acc: pos.best_robust_acc,
        best_epoch: pos.best_epoch,
        final_clean_acc: pos.last_clean_acc,
        final_robust_acc: pos.last_robust_acc,
        total_seconds: pos.total_seconds,
    };
    sink.emit(Event::Finished(finished.clone()))?;
    Ok(Outcome::Finished(finished))
}

/// Adds a batch to the epoch totals, without leaving the device.
fn accumulate(totals: &Totals, net: &impl ModuleT, step: &methods::Step, x: &Tensor, y: &Tensor, len: i64) {
    tch::no_grad(|| {
        let n = len as f64;
        let mut t = totals.loss.shallow_clone();
        let _ = t.g_add_(&(step.loss.detach().to_kind(Kind::Double) * n));
        let mut t = totals.correct.shallow_clone();
        let _ = t.g_add_(&step.logits.argmax(-1, false).eq_tensor(&step.labels).sum(Kind::Double));
        // Methods that never looked at the clean batch get one eval-mode
        // forward pass, so batch-norm statistics see only training inputs.
        let clean = step.clean_logits.as_ref().map_or_else(|| net.forward_t(x, false), |l| l.detach());
        let mut t = totals.clean_loss.shallow_clone();
        let _ = t.g_add_(&(clean.cross_entropy_for_logits(y).to_kind(Kind::Double) * n));
        let mut t = totals.clean_correct.shallow_clone();
        let _ = t.g_add_(&clean.argmax(-1, false).eq_tensor(y).sum(Kind::Double));
        let mut t = totals.seen.shallow_clone();
        let _ = t.g_add_scalar_(n);
    });
}

pub use metadata::METADATA_KEY;

/// What every checkpoint of a run on `data` says about its input.
fn describe(data: &Data) -> Describe {
    let size = data.train.images.size();
    Describe {
        input: Input { shape: [size[1], size[2], size[3]], range: [0.0, 1.0], mean: data.mean, std: data.std },
        num_classes: data.num_classes,
        splits: Splits { train: data.train.len(), test: data.test.len() },
    }
}

/// `eval.final_attack` on the final weights, over the per-epoch evaluation
/// subset, with an `eval_progress` event after each attack.
fn final_attack(
    net: &impl ModuleT,
    eval_set: &data::Split,
    epsilon: f64,
    suite: Suite,
    (epoch, pace): (u32, &Pace),
    stop: &StopSignal,
    sink: &mut EventSink,
) -> Result<Option<autoattack::Report>, TrainError> {
    let n = eval_set.len() as i64;
    // Shared by the two callbacks: each reports into the events file.
    let sink = std::cell::RefCell::new(sink);
    let failed = std::cell::RefCell::new(None);
    let emit = |event: Event| {
        if let Err(e) = sink.borrow_mut().emit(event) {
            failed.borrow_mut().get_or_insert(e);
        }
    };
    // The next attack starts at the speed the last one showed.
    let pace = std::cell::RefCell::new(pace.clone());
    let mut progress = |index: usize, of: usize, robust_left: i64, result: &autoattack::AttackResult| {
        pace.borrow_mut().attacked(result);
        let event = suite.progress(index, robust_left, n);
        eprintln!("final {} ({index}/{of}) {}: {robust_left} points still robust", suite.as_str(), event.attack);
        emit(Event::EvalProgress(event));
    };
    // Due before the first batch, right after the clean pass: the page shows
    // the stage from its start, with the points that are robust so far.
    let mut throttle = Throttle::new();
    let mut between = |at: &autoattack::Between| {
        if throttle.due() {
            // Counting the robust points waits for the device: once a second at most.
            let robust = (at.robust_left(), n);
            let p = pace.borrow().final_stage(epoch, suite, at.index, at.attack, (at.done, at.points), at.seconds, robust);
            emit(Event::Progress(p));
        }
        // Attack batches count as batches, so a test's `after_batches` can
        // land inside the final stage as SIGTERM can.
        stop.batch_done()
    };
    let report = autoattack::evaluate_until(
        net,
        &eval_set.images,
        &eval_set.labels,
        epsilon,
        suite,
        EVAL_BATCH,
        &mut progress,
        &mut between,
    );
    match failed.into_inner() {
        Some(e) => Err(e.into()),
        None => Ok(report),
    }
}

fn model_metadata(pos: &Position, describe: &Describe, kind: CheckpointKind) -> HashMap<String, String> {
    let config = &pos.config;
    // Weights saved mid-epoch were never evaluated.
    let evaluated = pos.batch == 0 && pos.epoch > 0;
    let evaluations = evaluated.then(|| Evaluation {
        attack: "pgd".to_owned(),
        steps: config.eval.pgd_steps,
        step_size: config.eval.pgd_step.value(),
        restarts: config.eval.restarts,
        epsilon: config.epsilon,
        n: config.eval.n.resolve(describe.splits.test),
        epoch: pos.epoch,
        clean_acc: pos.last_clean_acc,
        robust_acc: pos.last_robust_acc,
    });
    ModelMetadata::new(config, describe, pos.epoch, kind, evaluations.into_iter().collect()).to_map()
}

fn save_model(
    opts: &TrainOptions,
    vs: &VarStore,
    pos: &Position,
    describe: &Describe,
    kind: CheckpointKind,
    file: &str,
    sink: &mut EventSink,
) -> Result<(), TrainError> {
    let written = checkpoint::write(
        &ckpt_path(&opts.run_dir, file),
        &models::state_dict(vs, pos.steps),
        model_metadata(pos, describe, kind),
    )?;
    sink.emit(Event::Checkpoint(Checkpoint {
        epoch: pos.epoch,
        kind,
        file: format!("{CHECKPOINT_DIR}/{file}"),
        bytes: written.bytes,
        sha256: written.sha256,
    }))?;
    Ok(())
}

/// The `last` model file plus the resume file (model, momentum, position).
fn save_last(
    opts: &TrainOptions,
    vs: &VarStore,
    opt: &Sgd,
    pos: &Position,
    describe: &Describe,
    sink: &mut EventSink,
) -> Result<(), TrainError> {
    let mut tensors = models::state_dict(vs, pos.steps);
    tensors.extend(opt.state());
    let metadata = HashMap::from([(
        RESUME_KEY.to_owned(),
        serde_json::to_string(pos).expect("the position serializes"),
    )]);
    checkpoint::write(&ckpt_path(&opts.run_dir, RESUME_FILE), &tensors, metadata)?;
    save_model(opts, vs, pos, describe, CheckpointKind::Last, "last.safetensors", sink)
}

fn load_resume(opts: &TrainOptions, vs: &mut VarStore, opt: &mut Sgd) -> Result<Position, TrainError> {
    let path = ckpt_path(&opts.run_dir, RESUME_FILE);
    if !path.exists() {
        return Err(TrainError::Resume(format!(
            "{} does not exist: this run never wrote a checkpoint; start it without --resume",
            path.display()
        )));
    }
    let loaded = checkpoint::read(&path)?;
    let pos: Position = loaded
        .metadata
        .get(RESUME_KEY)
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| TrainError::Resume(format!("{} has no advmix resume state", path.display())))?;
    if pos.config != opts.config {
        return Err(TrainError::Resume(
            "the config differs from the one the checkpoint was trained with; resume with the run's own run.json".into(),
        ));
    }
    let device = vs.device();
    let get = |name: &str| loaded.tensors.get(name).map(|t| t.to_device(device));
    tch::no_grad(|| -> Result<(), TrainError> {
        for (name, mut var) in vs.variables() {
            let saved = get(&name).ok_or_else(|| TrainError::Resume(format!("the checkpoint has no {name}")))?;
            var.copy_(&saved);
        }
        Ok(())
    })?;
    opt.load_state(get).map_err(TrainError::Resume)?;
    Ok(pos)
}

fn write_samples(
    opts: &TrainOptions,
    net: &impl ModuleT,
    eval_set: &data::Split,
    classes: i64,
    pgd: &Pgd,
    epoch: u32,
    sink: &mut EventSink,
) -> Result<(), TrainError> {
    let n = samples::SAMPLES.min(eval_set.len() as i64);
    let dir = opts.run_dir.join("samples");
    std::fs::create_dir_all(&dir)?;
    let file = format!("epoch-{epoch:04}.png");
    // Its own seed, so writing samples does not change the training stream.
    tch::manual_seed(derive_seed(opts.config.seed, epoch, SLOT_EVAL ^ 1));
    samples::write_grid(
        &dir.join(&file),
        &opts.config,
        net,
        &eval_set.images.narrow(0, 0, n),
        &eval_set.labels.narrow(0, 0, n),
        classes,
        pgd,
    )?;
    sink.emit(Event::Samples(SamplesEvent { epoch, path: format!("samples/{file}") }))?;
    Ok(())
}

//! `advmix-trainer eval`: a checkpoint against PGD or the AutoAttack ensemble,
//! reported as `eval_progress`/`eval` events on stdout and as a JSON report.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use advmix_protocol::events::{Progress, Stage};
use advmix_protocol::{Event, EventLine};
use tch::nn::VarStore;

use crate::attacks::autoattack::{self, Suite};
use crate::checkpoint;
use crate::cli::{EXIT_BAD_INPUT, EXIT_FAILED};
use crate::data;
use crate::device::DeviceRequest;
use crate::events;
use crate::models::{self, Normalization};
use crate::train::metadata::ModelMetadata;
use crate::train::eval::subset;
use crate::train::progress::{Pace, Throttle};

pub struct EvalArgs {
    pub checkpoint: PathBuf,
    pub suite: Suite,
    pub n: usize,
    pub batch: i64,
    pub epsilon: Option<f64>,
    pub device: String,
    pub data_dir: PathBuf,
    pub report: Option<PathBuf>,
    /// Where events.jsonl goes besides stdout.
    pub events_dir: Option<PathBuf>,
    pub bf16: bool,
}

/// Stdout, and events.jsonl when asked for. A line the file cannot take is
/// reported once on stderr: stdout still carries it.
struct Events(Option<events::EventSink>);

impl Events {
    fn open(dir: Option<&Path>) -> Result<Events, String> {
        match dir {
            None => Ok(Events(None)),
            Some(dir) => std::fs::create_dir_all(dir)
                .and_then(|()| events::EventSink::open(dir, true))
                .map(|sink| Events(Some(sink)))
                .map_err(|e| format!("cannot write events into {}: {e}", dir.display())),
        }
    }

    fn emit(&mut self, event: Event) {
        match &mut self.0 {
            Some(sink) => {
                if let Err(e) = sink.emit(event) {
                    eprintln!("warning: cannot append to events.jsonl: {e}");
                }
            }
            None => {
                let line = EventLine { time: events::now(), event };
                println!("{}", serde_json::to_string(&line).expect("events serialize"));
            }
        }
    }

    fn fail(&mut self, code: u8, reason: String) -> ExitCode {
        eprintln!("error: {reason}");
        self.emit(Event::Failed { reason });
        ExitCode::from(code)
    }
}

/// The metadata the trainer saved in the checkpoint.
fn metadata_of(path: &Path, metadata: &std::collections::HashMap<String, String>) -> Result<ModelMetadata, String> {
    ModelMetadata::from_map(metadata).map_err(|why| format!("cannot evaluate {}: {why}", path.display()))
}

pub fn run(args: EvalArgs) -> ExitCode {
    let mut out = match Events::open(args.events_dir.as_deref()) {
        Ok(out) => out,
        Err(reason) => return Events(None).fail(EXIT_FAILED, reason),
    };
    let loaded = match checkpoint::read(&args.checkpoint) {
        Ok(l) => l,
        Err(e) => return out.fail(EXIT_BAD_INPUT, e.to_string()),
    };
    let meta = match metadata_of(&args.checkpoint, &loaded.metadata) {
        Ok(m) => m,
        Err(reason) => return out.fail(EXIT_BAD_INPUT, reason),
    };
    let config = meta.config.clone();
    let epsilon = args.epsilon.unwrap_or(config.epsilon);
    if !(0.0..=1.0).contains(&epsilon) {
        return out.fail(EXIT_BAD_INPUT, format!("--eps {epsilon}: the radius must lie in [0, 1] (pixel units, e.g. 0.0314 for 8/255)"));
    }
    let device = match args.device.parse::<DeviceRequest>().and_then(DeviceRequest::resolve) {
        Ok(d) => d,
        Err(e) => return out.fail(EXIT_BAD_INPUT, e.to_string()),
    };
    let data = match data::load(config.dataset, &args.data_dir, config.seed, device) {
        Ok(d) => d,
        Err(e) => return out.fail(EXIT_BAD_INPUT, e.to_string()),
    };

    let vs = VarStore::new(device);
    let norm = Normalization { mean: data.mean, std: data.std };
    let net = models::build(&vs.root(), config.model, config.depth, config.widen_factor, data.num_classes, norm);
    for (name, mut var) in vs.variables() {
        let Some(saved) = loaded.tensors.get(&name) else {
            return out.fail(EXIT_BAD_INPUT, format!("{} has no {name}: it is not a {:?} checkpoint", args.checkpoint.display(), config.model));
        };
        tch::no_grad(|| var.copy_(&saved.to_device(device)));
    }

    let n = args.n.min(data.test.len()).max(1);
    // The per-epoch evaluation's seeded order, as the final stage uses it.
    let points = subset(&data.test, n, crate::train::subset_seed(config.seed));
    // Both callbacks report into `out`, and both read or time the pace.
    let out = RefCell::new(out);
    let pace = RefCell::new(Pace::attacks_only(args.suite, n));
    let mut progress = |index: usize, of: usize, robust_left: i64, result: &autoattack::AttackResult| {
        pace.borrow_mut().attacked(result);
        let event = args.suite.progress(index, robust_left, n as i64);
        eprintln!("{} ({index}/{of}): {robust_left} of {n} points still robust", event.attack);
        out.borrow_mut().emit(Event::EvalProgress(event));
    };
    // Before every batch, at most once a second: a long AutoAttack shows
    // its points moving and the time left, not only a line per attack.
    let mut throttle = Throttle::new();
    let mut between = |at: &autoattack::Between| {
        if throttle.due() {
            let robust = (at.robust_left(), n as i64);
            let p = pace.borrow().final_stage(meta.epoch, args.suite, at.index, at.attack, (at.done, at.points), at.seconds, robust);
            out.borrow_mut().emit(Event::Progress(Progress { stage: Stage::Attack, ..p }));
        }
        false
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::autocast::bf16_on_cuda(args.bf16 || config.bf16, device, || {
            autoattack::evaluate_until(&net, &points.images, &points.labels, epsilon, args.suite, args.batch, &mut progress, &mut between)
        })
    }));
    let mut out = out.into_inner();
    let report = match result {
        Ok(r) => r.expect("this evaluation never gives up"),
        Err(_) => return out.fail(EXIT_FAILED, "the evaluation failed inside libtorch; see the message above".into()),
    };
    let report = report.to_event(args.suite, args.checkpoint.display().to_string(), Some(meta.epoch));
    let path = args.report.clone().unwrap_or_else(|| args.checkpoint.with_extension(format!("{}.json", args.suite.as_str())));
    if let Err(e) = std::fs::write(&path, serde_json::to_string_pretty(&report).expect("reports serialize")) {
        return out.fail(EXIT_FAILED, format!("cannot write the report {}: {e}", path.display()));
    }
    eprintln!("clean {:.2}%, robust {:.2}% under {} at ε={epsilon}; report: {}", 100.0 * report.clean_acc, 100.0 * report.robust_acc, args.suite.as_str(), path.display());
    out.emit(Event::Eval(report));
    ExitCode::SUCCESS
}

//! The `train` command's checks and error reporting. Bad input is found
//! before anything is written: a one-line error on stderr that names the
//! field and the fix, the same reason as a `failed` event on stdout, exit 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use advmix_protocol::{Event, EventLine, RunConfig};

use crate::data;
use crate::device::DeviceRequest;
use crate::events::{self, EventSink};
use crate::stop::StopSignal;
use crate::train::{self, Outcome, TrainOptions};

pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_FAILED: u8 = 1;
pub const CONFIG_FILE: &str = "config.json";

pub struct TrainArgs {
    pub config: PathBuf,
    pub run_dir: PathBuf,
    pub data_dir: PathBuf,
    pub device: String,
    pub resume: bool,
}

fn reject(reason: String) -> ExitCode {
    eprintln!("error: {reason}");
    let line = EventLine { time: events::now(), event: Event::Failed { reason } };
    println!("{}", serde_json::to_string(&line).expect("events serialize"));
    ExitCode::from(EXIT_BAD_INPUT)
}

fn read_config(path: &Path) -> Result<RunConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--config {}: cannot read it ({e}); pass the path of a run config JSON file", path.display()))?;
    RunConfig::from_json(&text).map_err(|e| format!("--config {}: {e}", path.display()))
}

fn check_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(".advmix-write-test");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("--run-dir {}: not writable ({e}); choose a directory you can write to", dir.display()))
}

pub fn train(args: TrainArgs) -> ExitCode {
    let config = match read_config(&args.config) {
        Ok(c) => c,
        Err(reason) => return reject(reason),
    };
    let device = match args.device.parse::<DeviceRequest>().and_then(DeviceRequest::resolve) {
        Ok(d) => d,
        Err(e) => return reject(e.to_string()),
    };
    let data = match data::load(config.dataset, &args.data_dir, config.seed, device) {
        Ok(d) => d,
        Err(e) => return reject(e.to_string()),
    };
    if let Err(reason) = check_writable(&args.run_dir) {
        return reject(reason);
    }
    let stop = match StopSignal::on_sigterm() {
        Ok(s) => s,
        Err(e) => return reject(format!("cannot install the SIGTERM handler: {e}")),
    };
    if !args.resume {
        let text = serde_json::to_string_pretty(&config).expect("configs serialize");
        if let Err(e) = std::fs::write(args.run_dir.join(CONFIG_FILE), text) {
            return reject(format!("--run-dir {}: cannot write {CONFIG_FILE}: {e}", args.run_dir.display()));
        }
    }

    let opts = TrainOptions { config, run_dir: args.run_dir, device, resume: args.resume, stdout_events: true };
    // libtorch reports errors (out of memory, a CUDA fault) as panics in tch.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| train::run(&opts, &data, &stop)));
    let reason = match result {
        Ok(Ok(Outcome::Finished(_) | Outcome::Stopped { .. })) => return ExitCode::SUCCESS,
        Ok(Err(e)) => e.to_string(),
        Err(panic) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the trainer panicked".to_owned()),
    };
    eprintln!("error: {reason}");
    if let Ok(mut sink) = EventSink::open(&opts.run_dir, true) {
        let _ = sink.emit(Event::Failed { reason });
    }
    ExitCode::from(EXIT_FAILED)
}

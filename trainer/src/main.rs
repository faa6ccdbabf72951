use std::path::PathBuf;
use std::process::ExitCode;

use advmix_protocol::Dataset;
use clap::{Parser, Subcommand, ValueEnum};

use advmix_trainer::cli::{self, TrainArgs};
use advmix_trainer::attacks::autoattack::Suite;
use advmix_trainer::evaluate::{self, EvalArgs};
use advmix_trainer::{data, doctor};

#[derive(Parser)]
#[command(name = "advmix-trainer", version, about = "Trains and attacks robust image classifiers")]
struct Cli {
    /// CPU threads for torch's operators; by default the CPUs a Slurm job
    /// was given (SLURM_CPUS_PER_TASK, else SLURM_CPUS_ON_NODE), else the
    /// CPUs this process may use. Trainers that share a machine should split
    /// its cores between them.
    #[arg(long, global = true, env = "ADVMIX_THREADS", value_name = "N")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one model with one method, evaluating it after every epoch.
    Train {
        /// Run config (JSON); fields left out take their defaults.
        #[arg(long)]
        config: PathBuf,
        /// Where events.jsonl, checkpoints/ and samples/ go.
        #[arg(long)]
        run_dir: PathBuf,
        /// Directory holding the CIFAR binary folders.
        #[arg(long, env = "ADVMIX_DATASETS", default_value = "var/datasets")]
        data_dir: PathBuf,
        /// cpu, cuda, cuda:N or auto.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Continue from the run directory's last checkpoint.
        #[arg(long)]
        resume: bool,
    },
    /// Fetch and verify a CIFAR archive and unpack it into the data directory.
    Download {
        dataset: Downloadable,
        #[arg(long, env = "ADVMIX_DATASETS", default_value = "var/datasets")]
        data_dir: PathBuf,
    },
    /// Evaluate a checkpoint under PGD or AutoAttack; prints events and writes a JSON report.
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        /// pgd, aa-fast (APGD-CE, APGD-T) or aa-standard (adds FAB-T and Square).
        #[arg(long, default_value = "aa-fast")]
        attack: Suite,
        /// Test points, a seeded subset of the test split.
        #[arg(long, default_value_t = 1000)]
        n: usize,
        #[arg(long, default_value_t = 500)]
        batch: i64,
        /// L∞ radius in pixel units; by default the run's training ε.
        #[arg(long)]
        eps: Option<f64>,
        #[arg(long, default_value = "auto")]
        device: String,
        #[arg(long, env = "ADVMIX_DATASETS", default_value = "var/datasets")]
        data_dir: PathBuf,
        /// Where the JSON report goes; by default beside the checkpoint.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Also append every event to DIR/events.jsonl, as training runs do,
        /// so that a server can follow the job through the file.
        #[arg(long, value_name = "DIR")]
        events_dir: Option<PathBuf>,
        /// bf16 autocast (CUDA only); a run trained in bf16 is evaluated in bf16 anyway.
        #[arg(long)]
        bf16: bool,
    },
    /// Report the torch version and the devices this trainer can use.
    Doctor {
        /// Print the report as JSON, as the server reads it.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Downloadable {
    Cifar10,
    Cifar100,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    advmix_trainer::device::set_cpu_threads(cli.threads);
    match cli.command {
        Command::Train { config, run_dir, data_dir, device, resume } => {
            cli::train(TrainArgs { config, run_dir, data_dir, device, resume })
        }
        Command::Download { dataset, data_dir } => {
            let dataset = match dataset {
                Downloadable::Cifar10 => Dataset::Cifar10,
                Downloadable::Cifar100 => Dataset::Cifar100,
            };
            match data::download::download(dataset, &data_dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Eval { checkpoint, attack, n, batch, eps, device, data_dir, report, events_dir, bf16 } => {
            evaluate::run(EvalArgs { checkpoint, suite: attack, n, batch, epsilon: eps, device, data_dir, report, events_dir, bf16 })
        }
        Command::Doctor { json } => {
            let report = doctor::report();
            if json {
                println!("{}", serde_json::to_string(&report).expect("the report serializes"));
            } else {
                doctor::print_human(&report);
            }
            ExitCode::SUCCESS
        }
    }
}

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use advmix_trainer::doctor;

#[derive(Parser)]
#[command(name = "advmix-trainer", version, about = "Trains and attacks robust image classifiers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report the torch version and the devices this trainer can use.
    Doctor {
        /// Print the report as JSON, as the server reads it.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
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

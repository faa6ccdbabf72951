//! `advmix` subcommands that talk to a running server over its JSON API.

mod client;
mod commands;

pub use client::Client;
pub use commands::{download, runs, submit_sweep, table, tail, Kind, TableOf};

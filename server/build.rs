//! The server embeds uPlot from `node_modules` (see `src/static_files.rs`);
//! without it the build would stop at an `include_bytes!` error that does not
//! say how to get the file.

use std::path::Path;

/// Embedded files, relative to the repository root.
const EMBEDDED: &[&str] = &[
    "node_modules/uplot/dist/uPlot.iife.min.js",
    "node_modules/uplot/dist/uPlot.min.css",
    "static/app.css",
    "static/charts.js",
    "static/live.js",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in EMBEDDED {
        println!("cargo::rerun-if-changed={}", root.join(file).display());
    }
    if !root.join(EMBEDDED[0]).exists() {
        println!(
            "cargo::error=node_modules/uplot is missing: run `npm ci` at the repository root (make run and make test do it)"
        );
    }
}

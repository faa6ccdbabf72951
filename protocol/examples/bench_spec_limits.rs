//! How long hostile specs take to refuse, at sizes up to the server's 1 MiB
//! body limit: deep flow nesting in YAML and JSON, deep block nesting, and a
//! long seed list with a repeat. `cargo run --release -p advmix-protocol
//! --example bench_spec_limits`; the figures go in bench/RESULTS.md.

use std::time::Instant;

use advmix_protocol::sweep::SweepSpec;

fn time(what: &str, text: &str) {
    let runs = 5;
    let mut best = f64::INFINITY;
    let mut verdict = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let result = SweepSpec::parse(text).and_then(|s| s.run_count().map(|_| s));
        best = best.min(started.elapsed().as_secs_f64() * 1e3);
        verdict = match result {
            Ok(_) => "accepted".into(),
            Err(e) => e.to_string().chars().take(60).collect(),
        };
    }
    println!("| {what} | {} | {best:.2} | {verdict} |", text.len());
}

fn main() {
    println!("| spec | bytes | best of 5, ms | verdict |\n|---|---|---|---|");
    time("YAML `[` x 200 KB", &format!("parameters: {}", "[".repeat(200_000)));
    time("YAML `[` x 1 MiB", &format!("parameters: {}", "[".repeat(1 << 20)));
    time("JSON `{\"a\": ` x 1 MiB", &format!("{{\"parameters\": {}", "{\"a\": ".repeat((1 << 20) / 6)));
    let block: String = (0..1000).map(|d| format!("{}k{d}:\n", " ".repeat(d))).collect();
    time("YAML block levels x 1000 (~500 KB)", &block);
    let seeds: Vec<String> = (0..100_000).map(|s| s.to_string()).collect();
    time("100k seeds and a repeat", &format!("method: grid\nbase: {{epochs: 1}}\nseeds: [{}, 7]\n", seeds.join(", ")));
}

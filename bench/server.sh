#!/usr/bin/env bash
# Server benchmarks: event ingest rate and API latency, release build.
# Usage: bench/server.sh        (about a minute after the build on 2 cores)
# The server needs no libtorch. Set CARGO_TARGET_DIR to build elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p advmix-server --example bench_ingest --example bench_api
BIN=${CARGO_TARGET_DIR:-target}/release/examples

echo "# $(date -u +%Y-%m-%d) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
# Other work on the machine skews the figures: record how busy it was.
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# 16 runs at once, polled every 250 ms as the supervisor does. First a
# stream the ingest keeps up with, then one it cannot (about 210,000
# lines/s offered): there the rate is the ingest's ceiling.
"$BIN/bench_ingest" 16 5000 3 250
"$BIN/bench_ingest" 16 40000 3 250
"$BIN/bench_api" 10000 200 200
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

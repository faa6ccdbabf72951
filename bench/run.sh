#!/usr/bin/env bash
# Training-step throughput: advmix (tch) against eager PyTorch, same machine,
# same call. Usage: bench/run.sh [DEVICE] [BATCH_SIZE] [BATCHES] [--bf16]
#   CPU here:  bench/run.sh cpu 32 2
#   GPU:       bench/run.sh cuda 128 20 --bf16
# Needs `make build` (or the release example) and the set-up venv, or
# PYTHON pointing at a python with torch 2.11.
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu} BATCH=${2:-32} BATCHES=${3:-2} EXTRA=${4:-}
PYTHON=${PYTHON:-.venv/bin/python}
BIN=${BENCH_BIN:-target/release/examples/step_throughput}
if [[ ! -x $BIN ]]; then
    make -s build >/dev/null
    cargo build --release -p advmix-trainer --example step_throughput
fi
echo "# $(date -u +%Y-%m-%d) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | sed 's/^/# GPU: /'
for method in pgd_at aom; do
    "$BIN" --method "$method" --model preact_resnet18 --device "$DEVICE" --batch-size "$BATCH" --batches "$BATCHES" --warmup 1 $EXTRA
    "$PYTHON" bench/reference_step.py --method "$method" --model preact_resnet18 --device "$DEVICE" --batch-size "$BATCH" --batches "$BATCHES" --warmup 1 $EXTRA
done

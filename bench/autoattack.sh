#!/usr/bin/env bash
# Seconds that AutoAttack takes on N CIFAR-shaped points of a PreActResNet-18,
# per attack. Usage: bench/autoattack.sh [DEVICE] [N] [BATCH] [SUITES] [--bf16]
#   CPU here:  bench/autoattack.sh cpu 1000 250 aa-standard
#   GPU:       bench/autoattack.sh cuda 1000 1000 aa-fast,aa-standard
# aa-fast is aa-standard's first two attacks with the same seed, so on a slow
# machine one aa-standard run gives both (the per-attack seconds say which).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${1:-cpu} N=${2:-1000} BATCH=${3:-250} SUITES=${4:-aa-fast,aa-standard} EXTRA=${5:-}
BIN=${BENCH_BIN:-target/release/examples/autoattack_time}
if [[ ! -x $BIN ]]; then
    make -s build >/dev/null
    cargo build --release -p advmix-trainer --example autoattack_time
fi
echo "# $(date -u +%Y-%m-%d) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | sed 's/^/# GPU: /'
"$BIN" --model preact_resnet18 --device "$DEVICE" --n "$N" --batch "$BATCH" --suites "$SUITES" $EXTRA

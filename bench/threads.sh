#!/usr/bin/env bash
# Concurrent CPU trainers with and without a thread share: what the local
# executor's ADVMIX_THREADS (cores ÷ slots) is for.
# Usage: bench/threads.sh [JOBS] [EPOCHS]
#   runs JOBS copies of a small digits run (one erm, the rest aom) at once,
#   first with torch's default threads (every core each), then with
#   ADVMIX_THREADS = cores / JOBS, and prints the wall time of each batch.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${1:-2}
EPOCHS=${2:-2}
export LIBTORCH_USE_PYTORCH=1 VIRTUAL_ENV=$PWD/.venv PATH=$PWD/.venv/bin:$PATH
cargo build --quiet --release -p advmix-trainer --bin advmix-trainer
LD_LIBRARY_PATH=$(python -c 'import torch, os; print(os.path.dirname(torch.__file__) + "/lib")')
export LD_LIBRARY_PATH
cores=$(nproc)
share=$(( cores / JOBS > 0 ? cores / JOBS : 1 ))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for k in $(seq 1 "$JOBS"); do
  method=$([[ $k == 1 ]] && echo erm || echo aom)
  cat > "$work/run$k.json" <<JSON
{"method":"$method","model":"small_cnn","dataset":"digits","epochs":$EPOCHS,"batch_size":128,"samples_every":0,"seed":$k,
 "aom":{"steps":2},"eval":{"n":100,"pgd_steps":2,"final_attack":"aa-fast","final_n":30}}
JSON
done
batch() { # $1: label; ADVMIX_THREADS as the caller set it
  local start end
  start=$(date +%s%N)
  for k in $(seq 1 "$JOBS"); do
    ./target/release/advmix-trainer train --device cpu --config "$work/run$k.json" --run-dir "$work/$1-$k" >/dev/null 2>&1 &
  done
  wait
  end=$(date +%s%N)
  local ms=$(( (end - start) / 1000000 ))
  printf '| %s | %d.%d |\n' "$1" $(( ms / 1000 )) $(( ms % 1000 / 100 ))
}
echo "# $(date -u +%Y-%m-%d) $(uname -m) $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $JOBS trainers at once, $EPOCHS epochs"
echo "| threads per trainer | wall seconds |"
echo "|---|---|"
(unset ADVMIX_THREADS; batch "default ($cores)")
ADVMIX_THREADS=$share batch "$share (cores ÷ $JOBS)"

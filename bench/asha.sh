#!/usr/bin/env bash
# What early termination (ASHA, W&B's hyperband) would have saved on a
# recorded sweep, replayed from its real epochs, against random search at the
# same epoch budget. Usage: bench/asha.sh [DIR] [EARLY_TERMINATE_JSON...]
#   the recorded sweep:  bench/asha.sh
#   other settings:      bench/asha.sh bench/data/asha-digits-27 '{"type":"asha","min_epochs":2}'
# DIR defaults to bench/data/asha-digits-27, which bench/asha_record.sh records.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-bench/data/asha-digits-27}
[[ $# -gt 0 ]] && shift
echo "# $(date -u +%Y-%m-%d) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
[[ -f $DIR/RECORDED ]] && sed 's/^# /# replaying data /' "$DIR/RECORDED"
cargo run --quiet --release -p advmix-protocol --example asha_replay -- "$DIR" "$@"

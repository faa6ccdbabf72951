#!/usr/bin/env bash
# Records the sweep that bench/asha.sh replays: 27 random configs of PGD-AT
# (small CNN, built-in digits, 9 epochs each), trained to the end with the
# real trainer, two at a time. Each run keeps its config and the epoch lines
# of its events.jsonl under bench/data/asha-digits-27/run-NN/.
# Usage: bench/asha_record.sh   (needs the debug trainer: `make build`)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/data/asha-digits-27
BIN=${TRAINER:-target/debug/advmix-trainer}
PYTHON=${PYTHON:-.venv/bin/python}
export LD_LIBRARY_PATH="$("$PYTHON" -c 'import torch, os; print(os.path.dirname(torch.__file__) + "/lib")')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$OUT"
# The configs are drawn once, seeded, so a re-record trains the same sweep.
"$PYTHON" - "$OUT" <<'PY'
import json, math, random, sys
out = sys.argv[1]
rng = random.Random(27)
for i in range(27):
    config = {
        "dataset": "digits", "model": "small_cnn", "method": "pgd_at", "epochs": 9,
        "epsilon": 0.15, "pgd_steps": 3, "pgd_step": 0.06,
        "lr_max": round(math.exp(rng.uniform(math.log(0.002), math.log(0.5))), 5),
        "weight_decay": round(math.exp(rng.uniform(math.log(1e-5), math.log(1e-2))), 7),
        "batch_size": rng.choice([64, 128, 256]),
        "seed": i,
        "eval": {"n": 300, "pgd_steps": 5, "pgd_step": 0.04, "final_attack": "none"},
    }
    d = f"{out}/run-{i:02d}"
    import os; os.makedirs(d, exist_ok=True)
    json.dump(config, open(f"{d}/config.json", "w"), indent=1)
PY
train() {
    local dir=$1 work
    [[ -s $dir/events.jsonl ]] && return 0
    work=$(mktemp -d)
    "$BIN" train --config "$dir/config.json" --run-dir "$work" --data-dir "$work/data" --device cpu >/dev/null 2>"$work/stderr" \
        || { echo "run $dir failed:"; tail -5 "$work/stderr"; return 1; }
    grep -E '"type":"(started|epoch|finished)"' "$work/events.jsonl" > "$dir/events.jsonl"
    rm -rf "$work"
    echo "recorded $dir"
}
export -f train
export BIN
ls -d "$OUT"/run-* | xargs -P 2 -I{} bash -c 'train {}'
echo "# recorded $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" > "$OUT/RECORDED"

#!/usr/bin/env bash
# Installs what advmix needs to build and test. Idempotent: every step checks
# first and skips what is already in place.
#   scripts/setup.sh run    what `make run` needs: a libtorch 2.11 to build against
#   scripts/setup.sh test   also a Python torch with safetensors, which the tests
#                           use as the reference implementation
set -euo pipefail
MODE=${1:-run}
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
VENV=.venv

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {
    command -v apt-get >/dev/null || return 1
    say "installing Debian packages: $*"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs and run this again"

# --- front-end libraries (npm) ----------------------------------------------
# The server embeds uPlot from node_modules at compile time (server/build.rs);
# the browser test (server/tests/browser.rs) drives Chromium with playwright-core.
if [[ ! -d node_modules/uplot || package-lock.json -nt node_modules/.package-lock.json ]] \
    || [[ $MODE == test && ! -d node_modules/playwright-core ]]; then
    if ! command -v npm >/dev/null; then
        { apt_install nodejs npm && command -v npm >/dev/null; } \
            || die "npm not found: install Node.js 18+ with npm and run this again"
    fi
    say "installing the front-end libraries from package-lock.json into node_modules"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
else
    say "front-end libraries already in node_modules"
fi

# --- Chromium, for the browser test -----------------------------------------
# playwright-core drives the system Chromium; it never downloads a browser.
if [[ $MODE == test ]]; then
    if [[ -x /usr/bin/chromium ]]; then
        say "chromium already in /usr/bin"
    elif ! apt_install chromium chromium-driver; then
        say "warning: could not install Debian's chromium and chromium-driver; the browser test needs /usr/bin/chromium"
    fi
fi

# --- Slurm, for the Slurm executor's tests ----------------------------------
# server/tests/slurm.rs starts a one-node cluster of its own from these
# (scripts/slurm-cluster.sh); it needs root, as slurmd does.
if [[ $MODE == test ]]; then
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        say "slurm-wlm and munge already installed"
    elif [[ $(id -u) -ne 0 ]]; then
        say "not root: the Slurm tests will be skipped (they need Debian's slurm-wlm and munge, and root)"
    elif ! apt_install slurm-wlm munge; then
        say "warning: could not install slurm-wlm and munge; the Slurm tests will be skipped"
    fi
fi

# --- libtorch ---------------------------------------------------------------
torch_ok() {
    "$VENV/bin/python" - "$TORCH_VERSION" <<'PY' 2>/dev/null
import sys, torch
sys.exit(torch.__version__.split("+")[0] != sys.argv[1])
PY
}

if [[ -n "${LIBTORCH:-}" ]]; then
    [[ -f "$LIBTORCH/lib/libtorch_cpu.so" ]] \
        || die "LIBTORCH=$LIBTORCH has no lib/libtorch_cpu.so: point it at a libtorch $TORCH_VERSION directory, or unset it to use a local PyTorch"
    say "using libtorch from LIBTORCH=$LIBTORCH"
fi
if [[ -n "${LIBTORCH:-}" && $MODE == run ]]; then
    :
elif torch_ok; then
    say "torch $TORCH_VERSION already in $VENV"
else
    command -v python3 >/dev/null || die "python3 not found: install Python 3.10+ and run this again"
    if [[ ! -x "$VENV/bin/pip" ]]; then
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            apt_install python3-venv || die "python3 -m venv failed: install your distribution's python3-venv package"
            python3 -m venv "$VENV"
        fi
    fi
    say "installing torch==$TORCH_VERSION into $VENV (about 3 GB with its CUDA libraries; once)"
    "$VENV/bin/pip" install --disable-pip-version-check --progress-bar off "torch==$TORCH_VERSION"
    torch_ok || die "torch $TORCH_VERSION did not import after installing it; see the pip output above"
fi

if [[ $MODE == test ]] && ! "$VENV/bin/python" -c 'import safetensors, numpy' 2>/dev/null; then
    say "installing safetensors and numpy into $VENV"
    "$VENV/bin/pip" install --disable-pip-version-check --progress-bar off "safetensors>=0.4" numpy
fi

# advmix. The two commands of the README:
#   make run    set up, build in release mode, serve on 127.0.0.1:8080
#   make test   set up, run the whole test suite
# Both are idempotent: set-up skips what is installed, cargo what is built.
# Server flags go in ARGS (make run ARGS="--port 9000"), or set ADVMIX_PORT,
# ADVMIX_DATA_DIR, ADVMIX_TRAINER in the environment.

SHELL := /bin/bash
.DEFAULT_GOAL := run

# Build against the torch in .venv unless LIBTORCH points at a libtorch.
ifeq ($(strip $(LIBTORCH)),)
export LIBTORCH_USE_PYTORCH := 1
export VIRTUAL_ENV := $(CURDIR)/.venv
export PATH := $(CURDIR)/.venv/bin:$(PATH)
endif

.PHONY: build run test
build:
	@scripts/setup.sh run
	cargo build --release --workspace --bins

run: build
	./target/release/advmix serve $(ARGS)

test:
	@scripts/setup.sh test
	cargo test --workspace --all-targets

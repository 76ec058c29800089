#!/usr/bin/env bash
# Loom model checks of the core's protocol: the core's own models of the real gated idle queue
# (cenote-core's `queue::loom_models`, in the crate, tokio-style) and the protocol models in
# loom-tests/. LOOM_MAX_PREEMPTIONS bounds the search: 3 locally by default; CI may lower it to
# stay within its time budget. (About a minute on a 2-core machine at 3.)
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS"
# A separate target dir: `--cfg loom` changes every crate's build.
# The core's unit tests outside `loom_models` are not loom models: filter on the module.
CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom" cargo test -p cenote-core --lib --release loom_models
CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom" cargo test -p cenote-loom-tests --release

#!/usr/bin/env bash
# Loom model checks of the core's protocol (loom-tests/). LOOM_MAX_PREEMPTIONS bounds the
# search: 3 locally by default; CI may lower it to stay within its time budget.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS"
# A separate target dir: `--cfg loom` changes every crate's build.
CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom" cargo test -p cenote-loom-tests --release

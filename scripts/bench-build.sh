#!/usr/bin/env bash
# Benchmarks are compiled in CI, not run (the machine is shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --workspace --no-run

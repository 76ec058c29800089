#!/usr/bin/env bash
# The core without its default `std` feature: `#![no_std]` + `alloc`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="-D warnings" cargo build -p cenote-core --no-default-features

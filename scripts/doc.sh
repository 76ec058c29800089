#!/usr/bin/env bash
# API docs, warnings (broken links, missing docs) denied.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

#!/usr/bin/env bash
# Miri (undefined-behaviour checker) on the core's unit tests, with strict provenance.
# Installs the nightly toolchain and the miri component when they are missing; if they truly
# cannot be had on this machine, says so plainly and exits 0 so that CI goes on.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v rustup >/dev/null; then
  echo "miri: SKIPPED: rustup is not installed, so no nightly toolchain can be added"
  exit 0
fi
if ! rustup run nightly cargo miri --version >/dev/null 2>&1; then
  echo "miri: installing the nightly toolchain with the miri component"
  if ! rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null 2>&1 \
    && ! rustup +nightly component add miri rust-src >/dev/null 2>&1; then
    echo "miri: SKIPPED: could not install nightly + miri on this machine (no network to static.rust-lang.org?)"
    exit 0
  fi
fi
rustup +nightly component add rust-src >/dev/null 2>&1 || true
export MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-strict-provenance"
# A separate target dir: Miri builds everything with its own flags.
CARGO_TARGET_DIR=target/miri cargo +nightly miri setup
CARGO_TARGET_DIR=target/miri cargo +nightly miri test -p cenote-core --lib

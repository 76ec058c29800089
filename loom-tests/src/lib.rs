//! Loom model checks of `cenote-core` live in `tests/`; run them with
//! `RUSTFLAGS="--cfg loom" cargo test -p cenote-loom-tests --release` (see `scripts/loom.sh`).

//! Integration tests of the cenote crates live in `tests/`; this library only runs the
//! README's examples as doctests, so that the README cannot drift from the code.
#![doc = include_str!("../../README.md")]

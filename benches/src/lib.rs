//! Shared pieces of cenote's benchmarks: trivial managers for cenote and each peer pool (create
//! and checks return at once, so that what is measured is the pool), one adapter trait per
//! front end so that every workload runs the same code on every pool, the workloads
//! themselves, a counting global allocator, a latency histogram and a CPU-time reader, and a
//! pool built exactly as the design card describes ([`card`]), measured beside cenote.
//!
//! Used by the criterion benches in `benches/` and by the `table` binary
//! (`cargo run --release -p cenote-benches --bin table`), which runs everything side by side
//! and prints a markdown table.

pub mod alloc;
pub mod card;
pub mod hist;
pub mod instructions;
pub mod keyed;
pub mod managers;
pub mod pools;
pub mod priority;
pub mod sharded;
pub mod sys;
pub mod work;

pub use managers::{AsyncNumbers, Bb8Numbers, DeadpoolNumbers, R2d2Numbers, SyncNumbers};
pub use pools::{AsyncPool, BlockOn, BlockingPool};

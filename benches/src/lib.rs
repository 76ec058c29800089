//! Trivial managers shared by the benchmarks: create and checks return at once, so that
//! what is measured is the pool.

use std::convert::Infallible;

/// A manager of `u64`s for `cenote-sync`.
#[derive(Debug, Default)]
pub struct SyncNumbers;

impl cenote_sync::Manager for SyncNumbers {
    type Connection = u64;
    type Error = Infallible;

    fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
}

/// A manager of `u64`s for `cenote-async`.
#[derive(Debug, Default)]
pub struct AsyncNumbers;

impl cenote_async::Manager for AsyncNumbers {
    type Connection = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
}

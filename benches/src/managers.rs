//! Trivial managers of `u64`s, one per pool: `create` returns 0 at once and every check passes.

use std::convert::Infallible;

/// A manager of `u64`s for `cenote-sync`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncNumbers;

impl cenote_sync::Manager for SyncNumbers {
    type Connection = u64;
    type Error = Infallible;

    fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
}

/// A manager of `u64`s for `cenote-async`.
#[derive(Debug, Default, Clone, Copy)]
pub struct AsyncNumbers;

impl cenote_async::Manager for AsyncNumbers {
    type Connection = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
}

/// A manager of `u64`s for deadpool's managed pool; `recycle` accepts every object.
#[derive(Debug, Default, Clone, Copy)]
pub struct DeadpoolNumbers;

impl deadpool::managed::Manager for DeadpoolNumbers {
    type Type = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn recycle(
        &self,
        _obj: &mut u64,
        _metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

/// A manager of `u64`s for r2d2; `is_valid` (run on every checkout by r2d2's default
/// `test_on_check_out`) passes at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct R2d2Numbers;

impl r2d2::ManageConnection for R2d2Numbers {
    type Connection = u64;
    type Error = Infallible;

    fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    fn is_valid(&self, _conn: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

/// A manager of `u64`s for bb8; `is_valid` (run on every checkout by bb8's default
/// `test_on_check_out`) passes at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bb8Numbers;

impl bb8::ManageConnection for Bb8Numbers {
    type Connection = u64;
    type Error = Infallible;

    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn is_valid(&self, _conn: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

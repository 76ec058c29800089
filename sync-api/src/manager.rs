//! The user's side of the pool: how to make and check objects.

use core::fmt::{Debug, Display};

/// Creates, checks and resets the pool's objects.
///
/// Only [`create`](Manager::create) is required. The checks default to "always fine".
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// struct Counter;
///
/// impl cenote_sync::Manager for Counter {
///     type Connection = Vec<u8>;
///     type Error = Infallible;
///
///     fn create(&self) -> Result<Vec<u8>, Infallible> {
///         Ok(Vec::with_capacity(1024))
///     }
///
///     fn reset(&self, buf: &mut Vec<u8>) -> Result<(), Infallible> {
///         buf.clear();
///         Ok(())
///     }
/// }
/// # let _pool = cenote_sync::Pool::new(Counter, 1);
/// ```
pub trait Manager: Send + Sync + 'static {
    /// The pooled object (a connection, a client, a buffer).
    type Connection: Send + 'static;
    /// What `create` and `reset` fail with.
    type Error: Debug + Display + Send + 'static;

    /// Makes a new object. Called by `get` when no object is idle and the pool has room.
    ///
    /// # Errors
    ///
    /// Whatever went wrong; `get` retries until its deadline and then reports the last error
    /// in [`Error::Timeout`](crate::Error::Timeout).
    fn create(&self) -> Result<Self::Connection, Self::Error>;

    /// A health check, run before lending an idle object when the pool is configured to
    /// validate (`validate_on_acquire`, `health_check_interval`). `false` drops the object.
    /// (Override [`check`](Manager::check) instead to give the reason.)
    fn is_valid(&self, conn: &mut Self::Connection) -> bool {
        let _ = conn;
        true
    }

    /// The health check the pool runs: `Ok` keeps the object; `Err` drops it, with the reason
    /// if there is one (`Err(None)`: no reason given).
    ///
    /// When it runs, and what that costs and catches: by default (`validate_idle_after`
    /// 500 ms) before lending an object that sat idle about half a second or more, which
    /// catches connections the server or a proxy closed while idle at the cost of one check
    /// per such lend (a busy pool's objects are rarely idle that long, so it rarely runs);
    /// with `validate_on_acquire`, before every lend (catches everything a check can, costs a
    /// round trip per `get`); with `health_check_interval`, also in maintenance passes on idle
    /// objects; and before the next lend of an object returned with `Pooled::report_error`
    /// (catches a connection that failed a query under load, before the next caller gets it).
    ///
    /// By default it is [`is_valid`](Manager::is_valid), without a reason. Override it when the
    /// check can say why it failed (the error of a `SELECT 1`, say).
    ///
    /// # Errors
    ///
    /// The object is unusable: `Some(why)`, or `None` when there is nothing more to say.
    fn check(&self, conn: &mut Self::Connection) -> Result<(), Option<Self::Error>> {
        if self.is_valid(conn) {
            Ok(())
        } else {
            Err(None)
        }
    }

    /// Run on return, on the returning thread. An error drops the object.
    ///
    /// # Errors
    ///
    /// Any error: the object is then dropped rather than pooled.
    fn reset(&self, conn: &mut Self::Connection) -> Result<(), Self::Error> {
        let _ = conn;
        Ok(())
    }

    /// A cheap check run on return, before `reset`: `true` drops the object.
    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        let _ = conn;
        false
    }
}

/// A manager shared behind an `Arc` manages as the manager itself does: what the shards of a
/// [`ShardedPool`](crate::ShardedPool) hold (one manager, `n` pools).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// let manager = Arc::new(M);
/// let (a, b) = (cenote_sync::Pool::new(manager.clone(), 1), cenote_sync::Pool::new(manager, 1));
/// assert_eq!((*a.get()?, *b.get()?), (1, 1));
/// # Ok::<(), cenote_sync::Error<std::convert::Infallible>>(())
/// ```
impl<M: Manager> Manager for std::sync::Arc<M> {
    type Connection = M::Connection;
    type Error = M::Error;

    #[inline]
    fn create(&self) -> Result<M::Connection, M::Error> {
        (**self).create()
    }

    #[inline]
    fn is_valid(&self, conn: &mut M::Connection) -> bool {
        (**self).is_valid(conn)
    }

    #[inline]
    fn check(&self, conn: &mut M::Connection) -> Result<(), Option<M::Error>> {
        (**self).check(conn)
    }

    #[inline]
    fn reset(&self, conn: &mut M::Connection) -> Result<(), M::Error> {
        (**self).reset(conn)
    }

    #[inline]
    fn has_broken(&self, conn: &mut M::Connection) -> bool {
        (**self).has_broken(conn)
    }
}

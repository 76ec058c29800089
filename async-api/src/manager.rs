//! The user's side of the pool: how to make and check objects, asynchronously.

use core::fmt::{Debug, Display};
use core::future::Future;

/// Creates, checks and resets the pool's objects, with `async` methods.
///
/// Implement the methods with plain `async fn`: the trait uses native `async fn` in traits
/// (no `#[async_trait]`, no boxed futures), and requires the futures to be `Send` so that
/// `Pool::get` can be spawned on multi-threaded executors.
///
/// Only [`create`](Manager::create) is required. `has_broken` runs synchronously on return;
/// `reset` runs in the *next* borrower's task, just before the object is lent again (a
/// returned object is marked as needing a reset; nothing is spawned on drop).
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// struct Buffers;
///
/// impl cenote_async::Manager for Buffers {
///     type Connection = Vec<u8>;
///     type Error = Infallible;
///
///     async fn create(&self) -> Result<Vec<u8>, Infallible> {
///         Ok(Vec::with_capacity(1024))
///     }
///
///     async fn reset(&self, buf: &mut Vec<u8>) -> Result<(), Infallible> {
///         buf.clear();
///         Ok(())
///     }
/// }
/// # let _pool = cenote_async::Pool::new(Buffers, 1);
/// ```
pub trait Manager: Send + Sync + 'static {
    /// The pooled object (a connection, a client, a buffer).
    type Connection: Send + 'static;
    /// What `create` and `reset` fail with.
    type Error: Debug + Display + Send + 'static;

    /// Makes a new object.
    fn create(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// A health check, run before lending an idle object when the pool is configured to
    /// validate. `false` drops the object. (Override [`check`](Manager::check) instead to
    /// give the reason.)
    fn is_valid(&self, conn: &mut Self::Connection) -> impl Future<Output = bool> + Send {
        let _ = conn;
        async { true }
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
    fn check(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Option<Self::Error>>> + Send {
        async move {
            if self.is_valid(conn).await {
                Ok(())
            } else {
                Err(None)
            }
        }
    }

    /// Prepares a returned object for its next user; runs in the next borrower's task. An
    /// error drops the object (and that borrower gets another).
    fn reset(&self, conn: &mut Self::Connection) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// A cheap synchronous check run on return: `true` drops the object.
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
/// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// # futures_lite::future::block_on(async {
/// let manager = Arc::new(M);
/// let (a, b) = (cenote_async::Pool::new(manager.clone(), 1), cenote_async::Pool::new(manager, 1));
/// assert_eq!((*a.get().await?, *b.get().await?), (1, 1));
/// # Ok::<(), cenote_async::Error<std::convert::Infallible>>(())
/// # }).unwrap();
/// ```
impl<M: Manager> Manager for std::sync::Arc<M> {
    type Connection = M::Connection;
    type Error = M::Error;

    #[inline]
    fn create(&self) -> impl Future<Output = Result<M::Connection, M::Error>> + Send {
        (**self).create()
    }

    #[inline]
    fn is_valid(&self, conn: &mut M::Connection) -> impl Future<Output = bool> + Send {
        (**self).is_valid(conn)
    }

    #[inline]
    fn check(&self, conn: &mut M::Connection) -> impl Future<Output = Result<(), Option<M::Error>>> + Send {
        (**self).check(conn)
    }

    #[inline]
    fn reset(&self, conn: &mut M::Connection) -> impl Future<Output = Result<(), M::Error>> + Send {
        (**self).reset(conn)
    }

    #[inline]
    fn has_broken(&self, conn: &mut M::Connection) -> bool {
        (**self).has_broken(conn)
    }
}

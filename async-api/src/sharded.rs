//! A pool of `n` shards for tasks on any executor: see [`ShardedPool`], and `cenote_front::sharded` for
//! the protocol (the steps of `get`, why waiting loses no wake-up, and the cost model).

use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::ops::Deref;
use core::panic::Location;
use core::time::Duration;
use std::sync::Arc;

use cenote_core::{time, Acquired, Closed, TryAcquire};
use cenote_front::{Shards, Timeout};

use crate::timer::timeout_at;
use crate::{Async, Error, Manager};

/// What the shards of a [`ShardedPool`] are: plain pools over one shared manager.
type Front<M> = Async<Arc<M>>;

/// Configures a [`ShardedPool`]: see [`cenote_front::ShardedBuilder`]. Get one from
/// [`ShardedPool::builder`].
pub type ShardedBuilder<M> = cenote_front::ShardedBuilder<Front<M>, ShardedPool<M>>;

/// An object lent by a [`ShardedPool`]: a [`Pooled`](crate::Pooled) of the shard it came
/// from, to which it goes back on drop.
pub type ShardedPooled<M> = crate::Pooled<Arc<M>>;

/// A pool split into `n` shards, for many tasks on many cores: each get goes to its home
/// shard (its thread's), steals an idle object from another before creating or waiting, and
/// one `max_size` holds across all shards. The async mirror of `cenote_sync::ShardedPool`.
///
/// Use it when many tasks on a multi-threaded executor get and return objects at a high
/// rate, so that a plain [`Pool`](crate::Pool)'s one idle queue is what they contend on; for
/// objects held for milliseconds (a database round trip) a plain pool is as fast and simpler.
/// `get_from(&key)` keeps a key's gets on one shard (affinity).
///
/// The methods it shares with the blocking front end (`status`, `shard_status`, `close`,
/// `shard_of`, ...) are on [`Shards`], which it derefs to. Each shard is a plain
/// [`Pool`](crate::Pool) ([`Shards::shard`]): spawn each shard's `maintenance()` if you use
/// time-based options.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use cenote_async::{Manager, ShardedPool};
///
/// struct Buffers;
/// impl Manager for Buffers {
///     type Connection = Vec<u8>;
///     type Error = Infallible;
///     async fn create(&self) -> Result<Vec<u8>, Infallible> { Ok(Vec::with_capacity(1024)) }
/// }
///
/// # futures_lite::future::block_on(async {
/// let pool = ShardedPool::builder(Buffers).shards(4).max_size(8).build()?;
/// let gets = (0..8).map(|_| async { pool.get().await.map(|mut buf| buf.clear()) });
/// for get in gets {
///     get.await?;
/// }
/// assert!(pool.status().size <= 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # Memory ordering
///
/// As for [`Pool`](crate::Pool): what one holder writes to an object happens-before the next
/// holder's `get` returns it, whichever shard it comes from. [`status`](Shards::status) is
/// not a consistent snapshot.
pub struct ShardedPool<M: Manager> {
    shards: Arc<Shards<Front<M>>>,
}

impl<M: Manager> Clone for ShardedPool<M> {
    fn clone(&self) -> Self {
        Self { shards: self.shards.clone() }
    }
}

impl<M: Manager> From<Shards<Front<M>>> for ShardedPool<M> {
    fn from(shards: Shards<Front<M>>) -> Self {
        Self { shards: Arc::new(shards) }
    }
}

impl<M: Manager> Deref for ShardedPool<M> {
    type Target = Shards<Front<M>>;

    #[inline]
    fn deref(&self) -> &Shards<Front<M>> {
        &self.shards
    }
}

impl<M: Manager> ShardedPool<M> {
    /// Starts configuring a sharded pool of objects made by `manager`.
    pub fn builder(manager: M) -> ShardedBuilder<M> {
        ShardedBuilder::new(Arc::new(manager))
    }

    /// Gets an object, waiting up to `acquire_timeout` (default 30 s): an idle object of the
    /// home shard, else one stolen from another shard, else a new one in the first shard
    /// with room (home first), else the first object returned (or place freed) on any shard.
    /// The home shard is that of the thread calling `get` (not polling the future).
    ///
    /// # Errors
    ///
    /// As for [`Pool::get`](crate::Pool::get): [`Error::Timeout`] (with the last create error,
    /// if any), [`Error::CreateTimeout`], [`Error::Closed`], [`Error::Create`] without a
    /// deadline, [`Error::Unavailable`] while a shard's circuit breaker is open.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Pool::get`](crate::Pool::get): dropping the future at any await
    /// point loses no object, permit or wakeup. While it waits on every shard, dropping it
    /// unlinks each wait, and a wait that had been handed an object or a place passes it on
    /// to that shard's next waiter (or back to its idle queue).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::ShardedPool::builder(M).shards(2).max_size(2).build()?;
    /// let a = pool.get().await?;
    /// let b = pool.get().await?; // the home shard is full: created in the other one
    /// assert_eq!((pool.shard_status(0).in_use, pool.shard_status(1).in_use), (1, 1));
    /// # drop((a, b));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<ShardedPooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_at(self.home_shard(), false, Timeout::Pool, Location::caller())
    }

    /// Like [`get`](ShardedPool::get), waiting up to `timeout` instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](ShardedPool::get).
    ///
    /// # Cancel safety
    ///
    /// As for [`get`](ShardedPool::get).
    #[track_caller]
    pub fn get_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ShardedPooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_at(self.home_shard(), false, Timeout::Given(Some(timeout)), Location::caller())
    }

    /// Like [`get`](ShardedPool::get), with the shard of `key` ([`Shards::shard_of`]) as the
    /// home shard: gets with equal keys go to the same shard while it has idle objects or
    /// room (the seed's `acquire_from_shard`), and steal or wait as `get` does otherwise.
    ///
    /// # Errors
    ///
    /// As for [`get`](ShardedPool::get).
    ///
    /// # Cancel safety
    ///
    /// As for [`get`](ShardedPool::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::ShardedPool::builder(M).shards(4).max_size(8).build()?;
    /// let conn = pool.get_from(&"tenant-17").await?;
    /// assert_eq!(pool.shard_status(pool.shard_of(&"tenant-17")).in_use, 1);
    /// # drop(conn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn get_from<K: Hash + ?Sized>(
        &self,
        key: &K,
    ) -> impl Future<Output = Result<ShardedPooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_at(self.shard_of(key), true, Timeout::Pool, Location::caller())
    }

    /// An idle object now (the home shard's, else another's), or `None`. Never waits and
    /// never creates; a pending `reset` is polled once in place, as
    /// [`Pool::try_get`](crate::Pool::try_get) does.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::ShardedPool::builder(M).shards(2).max_size(2).build()?;
    /// assert!(pool.try_get().is_none()); // nothing idle yet: `try_get` never creates
    /// drop(pool.get().await?);
    /// assert!(pool.try_get().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn try_get(&self) -> Option<ShardedPooled<M>> {
        let home = self.home_shard();
        core::iter::once(home).chain(self.others(home)).find_map(|s| self.shard(s).try_get())
    }

    /// `get` with `home` as the home shard (see `cenote_front::sharded` for the steps).
    /// `affine` (`get_from`): room in the home shard comes before stealing.
    async fn get_at(
        &self,
        home: usize,
        affine: bool,
        timeout: Timeout,
        location: &'static Location<'static>,
    ) -> Result<ShardedPooled<M>, Error<M::Error>> {
        // Step 1, the hot path: the home shard's idle object, lent as its own `get` lends it.
        if let Some(lease) = self.shard(home).try_take_idle() {
            return self.shard(home).get_first(Some(TryAcquire::Idle(lease)), timeout, location).await;
        }
        let mut attempt = self.shard(home).attempt_for(timeout);
        let left = |attempt: &mut cenote_front::Attempt<'_, Front<M>>| match attempt.deadline() {
            time::NEVER => Timeout::Given(None),
            deadline => Timeout::Given(Some(time::until(deadline))),
        };
        // Step 2: steal. Step 3: room. Each goes on in that shard's own `get`.
        let mut found = None;
        if affine {
            found = self.shard(home).core().try_reserve().map(|permit| (home, TryAcquire::Vacant(permit)));
        }
        for s in self.others(home).filter(|_| found.is_none()) {
            if let Some(lease) = self.shard(s).try_take_idle() {
                found = Some((s, TryAcquire::Idle(lease)));
                break;
            }
        }
        if found.is_none() {
            for s in core::iter::once(home).chain(self.others(home)) {
                if let Some(permit) = self.shard(s).core().try_reserve() {
                    found = Some((s, TryAcquire::Vacant(permit)));
                    break;
                }
            }
        }
        if found.is_none() {
            if self.is_closed() {
                return Err(Error::Closed);
            }
            // Step 4: wait on every shard, under the deadline.
            attempt.slow();
            let deadline = attempt.deadline();
            let span = self.shard(home).get_span();
            let wait = self.wait_any(home);
            let waited = if deadline == time::NEVER {
                Some(span.clone().wrap(wait).await)
            } else {
                span.clone().wrap(core::pin::pin!(timeout_at(deadline, wait))).await
            };
            span.outcome(match &waited {
                Some((_, Ok(_))) => "ok",
                Some((_, Err(Closed))) => "closed",
                None => "timeout",
            });
            found = match waited {
                None => return Err(attempt.timed_out()),
                Some((_, Err(Closed))) => return Err(Error::Closed),
                Some((s, Ok(Acquired::Idle(lease)))) => Some((s, TryAcquire::Idle(lease))),
                Some((s, Ok(Acquired::Vacant(permit)))) => Some((s, TryAcquire::Vacant(permit))),
            };
        }
        let Some((s, first)) = found else { unreachable!("each branch above found something or returned") };
        let timeout = left(&mut attempt);
        self.shard(s).get_first(Some(first), timeout, location).await
    }
}

impl<M: Manager> fmt::Debug for ShardedPool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.shards, f)
    }
}

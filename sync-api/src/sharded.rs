//! A pool of `n` shards for threads: see [`ShardedPool`], and `cenote_front::sharded` for
//! the protocol (the steps of `get`, why waiting loses no wake-up, and the cost model).

use core::fmt;
use core::future::Future;
use core::hash::Hash;
use core::ops::Deref;
use core::panic::Location;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Arc;

use cenote_core::{time, Acquired, Closed, TryAcquire};
use cenote_front::{Shards, Timeout};

use crate::{Blocking, Error, Manager};

/// What the shards of a [`ShardedPool`] are: plain pools over one shared manager.
type Front<M> = Blocking<Arc<M>>;

/// Configures a [`ShardedPool`]: see [`cenote_front::ShardedBuilder`]. Get one from
/// [`ShardedPool::builder`].
pub type ShardedBuilder<M> = cenote_front::ShardedBuilder<Front<M>, ShardedPool<M>>;

/// An object lent by a [`ShardedPool`]: a [`Pooled`](crate::Pooled) of the shard it came
/// from, to which it goes back on drop.
pub type ShardedPooled<M> = crate::Pooled<Arc<M>>;

/// A pool split into `n` shards, for many threads on many cores: each thread gets from its
/// home shard, steals an idle object from another before creating or waiting, and one
/// `max_size` holds across all shards.
///
/// Use it when many threads (more than a few cores' worth) get and return objects at a high
/// rate, so that a plain [`Pool`](crate::Pool)'s one idle queue is what they contend on; for a handful of
/// threads, or objects held for milliseconds (a database round trip), a plain pool is as fast
/// and simpler. `get_from(&key)` keeps a key's gets on one shard (affinity: a tenant's
/// objects stay warm in one shard's cache).
///
/// The methods it shares with the async front end (`status`, `shard_status`, `close`,
/// `shard_of`, ...) are on [`Shards`], which it derefs to. Each shard is a plain
/// [`Pool`](crate::Pool) ([`Shards::shard`]).
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use cenote_sync::{Manager, ShardedPool};
///
/// struct Buffers;
/// impl Manager for Buffers {
///     type Connection = Vec<u8>;
///     type Error = Infallible;
///     fn create(&self) -> Result<Vec<u8>, Infallible> { Ok(Vec::with_capacity(1024)) }
/// }
///
/// let pool = ShardedPool::builder(Buffers).shards(4).max_size(8).build()?;
/// std::thread::scope(|s| {
///     for _ in 0..8 {
///         s.spawn(|| {
///             for _ in 0..100 {
///                 let mut buf = pool.get().unwrap();
///                 buf.clear();
///             }
///         });
///     }
/// });
/// assert!(pool.status().size <= 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Memory ordering
///
/// As for [`Pool`](crate::Pool): what one holder writes to an object happens-before the next holder's
/// `get` returns it, whichever shard it comes from. [`status`](Shards::status) is not a
/// consistent snapshot.
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
    /// thread's home shard, else one stolen from another shard, else a new one in the first
    /// shard with room (home first), else the first object returned (or place freed) on any
    /// shard.
    ///
    /// # Errors
    ///
    /// As for [`Pool::get`](crate::Pool::get): [`Error::Timeout`] (with the last create error, if any),
    /// [`Error::Closed`], [`Error::Create`] without a deadline, [`Error::Unavailable`] while a
    /// shard's circuit breaker is open.
    ///
    /// # Blocking
    ///
    /// Parks the thread while waiting, and runs `create` (and `is_valid` when configured) on
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(2).max_size(2).build()?;
    /// let a = pool.get()?;
    /// let b = pool.get()?; // the home shard is full: created in the other one
    /// assert_eq!((pool.shard_status(0).in_use, pool.shard_status(1).in_use), (1, 1));
    /// # drop((a, b));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    #[track_caller]
    pub fn get(&self) -> Result<ShardedPooled<M>, Error<M::Error>> {
        self.get_at(self.home_shard(), false, Timeout::Pool)
    }

    /// Like [`get`](ShardedPool::get), waiting up to `timeout` instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](ShardedPool::get).
    ///
    /// # Blocking
    ///
    /// As for [`get`](ShardedPool::get).
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<ShardedPooled<M>, Error<M::Error>> {
        self.get_at(self.home_shard(), false, Timeout::Given(Some(timeout)))
    }

    /// Like [`get`](ShardedPool::get), with the shard of `key` ([`Shards::shard_of`]) as the
    /// home shard: gets with equal keys go to the same shard while it has idle objects or
    /// room (the seed's `acquire_from_shard`), and steal or wait as `get` does otherwise.
    ///
    /// # Errors
    ///
    /// As for [`get`](ShardedPool::get).
    ///
    /// # Blocking
    ///
    /// As for [`get`](ShardedPool::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(4).max_size(8).build()?;
    /// let conn = pool.get_from(&"tenant-17")?;
    /// assert_eq!(pool.shard_status(pool.shard_of(&"tenant-17")).in_use, 1);
    /// # drop(conn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn get_from<K: Hash + ?Sized>(&self, key: &K) -> Result<ShardedPooled<M>, Error<M::Error>> {
        self.get_at(self.shard_of(key), true, Timeout::Pool)
    }

    /// An idle object now (the home shard's, else another's), or `None`. Never waits and
    /// never creates.
    ///
    /// # Blocking
    ///
    /// Runs `is_valid` on the calling thread when configured.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(2).max_size(2).build()?;
    /// assert!(pool.try_get().is_none()); // nothing idle yet: `try_get` never creates
    /// drop(pool.get()?);
    /// assert!(pool.try_get().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn try_get(&self) -> Option<ShardedPooled<M>> {
        let home = self.home_shard();
        core::iter::once(home).chain(self.others(home)).find_map(|s| self.shard(s).try_get())
    }

    /// `get` with `home` as the home shard: step 1 (its idle objects), then the rest.
    /// `affine` (`get_from`): room in the home shard comes before stealing.
    #[inline]
    #[track_caller]
    fn get_at(
        &self,
        home: usize,
        affine: bool,
        timeout: Timeout,
    ) -> Result<ShardedPooled<M>, Error<M::Error>> {
        if let Some(pooled) = self.shard(home).try_get() {
            return Ok(pooled);
        }
        self.get_slow(home, affine, timeout, Location::caller())
    }

    /// Steps 2 to 4 of `get` (see `cenote_front::sharded`): steal, make room, wait on all.
    #[inline(never)]
    fn get_slow(
        &self,
        home: usize,
        affine: bool,
        timeout: Timeout,
        location: &'static Location<'static>,
    ) -> Result<ShardedPooled<M>, Error<M::Error>> {
        let mut attempt = self.shard(home).attempt_for(timeout);
        let left = |attempt: &mut cenote_front::Attempt<'_, Front<M>>| match attempt.deadline() {
            time::NEVER => Timeout::Given(None),
            deadline => Timeout::Given(Some(time::until(deadline))),
        };
        // What a shard's own `get` goes on from: what we found there, under the time left.
        let finish = |shard: usize, found, timeout| {
            self.shard(shard).get_slow(cenote_core::Priority::Normal, Some(found), timeout, location)
        };
        // (Room only where the breaker lets a create through: a shard that would refuse
        // must not turn the get away while another shard has an idle object or a create.)
        let admits = |s: usize| !self.shard(s).shared().breaker_refuses();
        if affine && admits(home) {
            if let Some(permit) = self.shard(home).core().try_reserve() {
                return finish(home, TryAcquire::Vacant(permit), left(&mut attempt));
            }
        }
        for s in self.others(home) {
            if let Some(lease) = self.shard(s).try_take_idle() {
                return finish(s, TryAcquire::Idle(lease), left(&mut attempt));
            }
        }
        // Room: first where the breaker admits a create; else anywhere, whose own `get` then
        // says `Unavailable` as a plain pool's does.
        for pass_admitting in [true, false] {
            for s in core::iter::once(home).chain(self.others(home)) {
                if pass_admitting && !admits(s) {
                    continue;
                }
                if let Some(permit) = self.shard(s).core().try_reserve() {
                    return finish(s, TryAcquire::Vacant(permit), left(&mut attempt));
                }
            }
        }
        if self.is_closed() {
            return Err(Error::Closed);
        }
        // Before queueing (and parking): yield a few times and look again, so that a thread
        // that would be woken a moment later takes a return without a park and a wake.
        for _ in 0..YIELDS {
            std::thread::yield_now();
            for s in core::iter::once(home).chain(self.others(home)) {
                if let Some(lease) = self.shard(s).try_take_idle() {
                    return finish(s, TryAcquire::Idle(lease), left(&mut attempt));
                }
            }
        }
        attempt.slow();
        let span = self.shard(home).get_span();
        let waited = span.in_scope(|| block_on_until(self.wait_any(home), attempt.deadline()));
        span.outcome(match &waited {
            Some((_, Ok(_))) => "ok",
            Some((_, Err(Closed))) => "closed",
            None => "timeout",
        });
        match waited {
            None => Err(attempt.timed_out()),
            Some((_, Err(Closed))) => Err(Error::Closed),
            Some((s, Ok(Acquired::Idle(lease)))) => finish(s, TryAcquire::Idle(lease), left(&mut attempt)),
            Some((s, Ok(Acquired::Vacant(permit)))) => {
                finish(s, TryAcquire::Vacant(permit), left(&mut attempt))
            }
        }
    }
}

/// How many times a getter yields and looks at every shard again before it queues.
const YIELDS: usize = 4;

/// Polls `fut` on this thread, parking between polls, until it is ready or `deadline` (in
/// [`time`] ticks; [`time::NEVER`]: none) has passed; `None` then, and `fut` is dropped.
fn block_on_until<F: Future + Unpin>(mut fut: F, deadline: u64) -> Option<F::Output> {
    /// Wakes the parked thread.
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = Pin::new(&mut fut).poll(&mut cx) {
            return Some(out);
        }
        // A wake between the poll and the park leaves the thread's token set: no wake is lost.
        if deadline == time::NEVER {
            std::thread::park();
        } else {
            let left = time::until(deadline);
            if left.is_zero() {
                return None;
            }
            std::thread::park_timeout(left);
        }
    }
}

impl<M: Manager> fmt::Debug for ShardedPool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.shards, f)
    }
}

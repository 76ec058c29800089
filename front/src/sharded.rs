//! What both front ends' `ShardedPool` share: its builder ([`ShardedBuilder`]), its shards
//! ([`Shards`], which each `ShardedPool` derefs to), the home shard of a thread and the
//! shard of a key, and the wait on every shard at once ([`WaitAny`]).
//!
//! # The shape
//!
//! A sharded pool is `n` plain pools (each one core: its own idle queue, permit counter and
//! wait list) over one manager (`Arc<M>`). `max_size` is split between them once, at build
//! time: shard `i` may hold `max_size / n` objects, one more for the first `max_size % n`
//! shards. So the total can never exceed `max_size` (each core enforces its own share with
//! its permit counter, and the shares add up to `max_size`), with no shared counter on any
//! path. A share is not a wall: a getter whose shard is full takes an idle object or a free
//! place from any other shard before it waits, so a getter waits only when no shard has an
//! idle object or a free place, which is when `max_size` objects are in use (or being
//! created). An object lives in the shard it was created in, and goes back there.
//!
//! # `get`
//!
//! 1. **Home shard, idle object** (the hot path): the thread's home shard (below) lends an
//!    idle object exactly as a plain pool's `get` does: one pop from its idle queue.
//! 2. **Steal**: an idle object of another shard (`try_take_idle`, never waiting), visiting
//!    the shards in order after the home one.
//! 3. **Room**: a free place (`try_reserve`) in the home shard, then in the others; that
//!    shard's own `get` logic creates the object into it (with its create slots, retries,
//!    backoff and breaker, as a plain pool's `get`).
//! 4. **Wait on every shard at once** ([`WaitAny`]): the getter queues in each shard's wait
//!    list (one core `Acquire` future per shard, polled together, started at the home shard)
//!    and takes the first thing any shard hands it: a returned object, or a freed place to
//!    create into. The deadline and the errors are those of a plain pool's `get`
//!    (`acquire_timeout`, [`Error::Timeout`](crate::Error::Timeout),
//!    [`Error::Closed`](crate::Error::Closed)).
//!
//! The blocking front end first yields its thread a few times (4), looking at every shard's
//! idle objects after each yield, before it queues: a thread parked in a wait list is woken
//! by a hand-off, one context switch per return (a lock convoy when the threads outnumber
//! the cores), and a getter that takes an object returned a moment later avoids the park.
//! This overtakes nobody queued: while anyone waits on a shard, that shard's returns go to
//! its waiters, not to its idle queue. (On this 2-core machine it made 16 threads on 4
//! objects 11 times faster, 2.6 to 29 Mops/s; the async front end hands off to tasks and
//! does not yield.)
//!
//! A getter with a key ([`Shards::shard_of`], `get_from(&key)`) does the same with the key's
//! shard as its home, except that room in its home shard comes before stealing (step 3's
//! first place before step 2): the key's gets stay on its shard while it has room.
//!
//! # Waiting: why no wake-up is lost, and why it is fair
//!
//! Each core already guarantees, for its own returns, that no wake-up is lost: a waiter is
//! counted in the core's `waiters` before it looks at the idle queue once more under the wait
//! list's lock and links its node, and a return's single CAS on the idle queue's tail word
//! both publishes the object and sees that count (the gate fused into the tail word): either
//! the waiter's last look finds the object, or the return sees the waiter and hands the object
//! to the oldest one. A cross-shard waiter is an ordinary waiter of *every* shard, so this
//! holds for every shard: a return on shard B, after the getter queued on B, goes to the
//! getter or to a waiter queued on B before it; a return before it is found by the getter's
//! own look when it queues on B. There is no window between "looked at B" and "queued on
//! B", because the core's `Acquire` does both (step 2's steal scan is only a fast path).
//! The same holds for a freed place (an object retired or detached on B): B's permit goes to
//! its oldest waiter.
//!
//! When one shard serves the getter, the getter drops its other waits; a core's `Acquire`
//! dropped after it was handed something passes it on to that core's next waiter (or back to
//! its idle queue). So an object handed to a getter that was served elsewhere at the same
//! moment is never stranded, and a cancelled async `get` (dropped at any await point) leaves
//! nothing behind: its waits are unlinked, and whatever they held is passed on.
//!
//! Fairness: each core serves its waiters strictly in order, and a returned object goes to a
//! waiter, not to the idle queue, while any waiter is queued there; so a newcomer cannot
//! overtake a cross-shard waiter by taking a returned object (it finds no idle object and
//! queues behind). Across shards the order is the order in which the waiters queued on each
//! shard: a getter queues on all shards within one pass, so two getters' orders agree except
//! when their passes overlap (a window of microseconds).
//!
//! Costs of waiting: `n` wait nodes, boxed (one allocation per shard, per `get` that waits;
//! waiting is already the slow path: the hot path, step 1, allocates nothing), and while a
//! getter waits it is counted once in each shard's `waiting` ([`Shards::status`] corrects the
//! sum).
//!
//! # Limits (the smallest honest form)
//!
//! * Once a shard's own `get` takes over (steps 3 and 4 hand it what they found), its retries
//!   stay on that shard: if the object it was handed fails its check or expires, or a create
//!   fails and is retried, and the shard's freed place was taken meanwhile, that `get` waits on
//!   that shard alone. These are the rare paths; the plain waits of step 4 are on every shard.
//! * The shares are fixed at build: no `resize` or `autoscale` (rejected by `build`). With
//!   `get_from`, a key's shard creates while it has room even if another shard has idle
//!   objects (affinity before reuse); the total still never exceeds `max_size`.
//! * `max_waiters` is rejected (a waiter queues on every shard); `max_pending_creates`,
//!   the circuit breaker, `set_acquire_timeout` and metrics are per shard: reach a shard with
//!   [`Shards::shard`] (also for `warm`, `maintain`, `shutdown`, `refresh` and, in the async
//!   front end, each shard's `maintenance()` future to spawn). To shut down gracefully,
//!   [`close`](Shards::close) the sharded pool first (else the other shards keep lending
//!   and creating), then `shutdown` each shard; closing one shard closes the sharded pool as
//!   far as [`is_closed`](Shards::is_closed) and its waits go.
//! * Waiting allocates (see above), and a waiter is counted in each shard's `waiting`.
//! * Metrics are each shard's own: a lend is counted (`acquired`, and its wait in the `wait`
//!   histogram) by the shard that lent it, which sees only its own part of the `get`; the time
//!   spent waiting on every shard is not in any histogram, and a timed-out cross-shard wait
//!   is counted in the home shard's `timeouts`.
//!
//! # Home shards
//!
//! A thread is given a number the first time it uses any sharded pool (a `Counter` ticket:
//! threads are numbered round-robin in the order they first get), kept in a thread-local;
//! its home shard in a pool of `n` shards is that number modulo `n`, so `n` threads that
//! draw consecutive tickets (threads of one pool started together) get one shard each. An async task's home is its current thread's
//! (tasks move between an executor's threads; a task that wants one shard uses `get_from`).
//!
//! # Why shard: cache lines per operation
//!
//! A plain pool's get + drop is two locked read-modify-writes on the core's idle queue (a pop
//! of its head word, a push of its tail word), plus the slot's own line. With `t` threads on
//! `c` cores all doing get + drop, the head and tail lines move between cores on nearly every
//! operation: about 2 cache-line transfers per operation beyond the slot's, each 50 to 100 ns
//! across sockets and 20 to 40 ns within one, and they serialize: the pool's throughput is
//! capped near one operation per transfer time, however many cores there are. With `n`
//! shards and threads spread evenly (home shards), each queue's lines are shared by `t / n`
//! threads; with `n >= c` threads and one shard each, the lines stay in their core's cache
//! and a get + drop costs no transfer at all (the slot's line too stays, since the object
//! goes back to the same shard and the same thread takes it next), so throughput scales with
//! the cores until stealing starts. Stealing costs the transfers of a plain pool's operation,
//! on the other shard's lines, only when the home shard has no idle object.
//!
//! In numbers, for `c` = 64 cores on two sockets, every core getting and returning as fast
//! as it can: a plain pool serializes on its two lines, about 2 transfers of 40 to 100 ns per
//! operation, so at most 5 to 12 million operations per second in total, whatever `c` is; a
//! pool of 64 shards with one thread per core costs each operation its uncontended price
//! (about 20 ns here: two uncontended locked operations and the slot's line, all in the
//! core's own cache), so up to 64 × 50 = 3200 million per second, until the threads start to
//! steal (a home shard empties) and pay the plain pool's transfers on another shard's lines
//! for those operations only.
//!
//! Measured on a shared 2-core VM (the table's `sharded` section in `cenote-benches`, four
//! full or quick runs while other jobs ran; cost = the sharded pool's inverse throughput over
//! the plain pool's, median of per-round ratios):
//!
//! | threads / objects | 2 / 4 | 2 / 16 | 4 / 16 | 16 / 16 | 16 / 4 |
//! |---|--:|--:|--:|--:|--:|
//! | cost, lowest to highest run | 0.39-1.16 | 0.05-1.28 | 0.58-1.13 | 0.57-0.88 | 0.40-0.71 |
//!
//! At 2 and 4 threads there is no consistent difference: two cores share few lines, and the
//! runs vary more than the pools do (the 0.05 was a run in which the plain pool made 4 Mops/s,
//! its two threads on two cores trading the queue's lines, and the next run did not repeat
//! it). At 16 threads the sharded pool was cheaper in every run. The model above does not
//! predict that on 2 cores; a likely reason is preemption: a thread descheduled inside a pop or
//! push (its position claimed, its stamp not yet published) holds up every thread on that
//! queue until it runs again, and with shards only that shard's. So the claim this supports is
//! "no worse on 2 cores"; the gain the model predicts is a many-core one.
use core::fmt;
use core::future::Future;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use cenote_core::stats::{Counter, Gauge, GaugeGuard};
use cenote_core::{Acquire, Acquired, Closed};

use crate::{BuildError, Builder, Config, Front, Handle, Status};

/// The tickets threads draw on their first sharded `get` (see "Home shards" in the module
/// docs).
static THREADS: Counter = Counter::new();

std::thread_local! {
    /// This thread's ticket; `usize::MAX` until its first sharded `get`.
    static TICKET: core::cell::Cell<usize> = const { core::cell::Cell::new(usize::MAX) };
}

/// This thread's number: drawn on first use, then one thread-local read.
#[inline]
fn ticket() -> usize {
    TICKET.with(|t| {
        let mut ticket = t.get();
        if ticket == usize::MAX {
            ticket = THREADS.fetch_incr();
            t.set(ticket);
        }
        ticket
    })
}

/// The default number of shards: the machine's parallelism
/// ([`std::thread::available_parallelism`]), or 1 if it cannot be told.
///
/// # Examples
///
/// ```
/// assert!(cenote_front::default_shards() >= 1);
/// ```
pub fn default_shards() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The `i`th of `n` shares of `total`: `total / n`, one more for the first `total % n`.
fn share(total: usize, n: usize, i: usize) -> usize {
    total / n + usize::from(i < total % n)
}

/// Configures a sharded pool: the options of a plain pool's [`Builder`] that make sense for
/// one (others go through [`config`](ShardedBuilder::config)), and the number of shards.
/// Get one from `ShardedPool::builder` in either front end.
///
/// `max_size` and `min_idle` are split between the shards (see the module docs); every other
/// option applies to each shard as it is (so `max_pending_creates` is per shard).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// let pool = cenote_sync::ShardedPool::builder(M)
///     .shards(4)
///     .max_size(10)
///     .acquire_timeout(Some(Duration::from_secs(5)))
///     .build()?;
/// assert_eq!(pool.shard_count(), 4);
/// assert_eq!(pool.status().max_size, 10);
/// assert_eq!(pool.shard_status(0).max_size, 3); // 3 + 3 + 2 + 2
/// let err = cenote_sync::ShardedPool::builder(M).shards(4).max_size(2).build().unwrap_err();
/// assert!(err.to_string().contains("more shards (4) than max_size (2)"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ShardedBuilder<F: Front, P> {
    manager: F::Manager,
    config: Config,
    shards: Option<usize>,
    pool: PhantomData<fn() -> P>,
}

impl<F: Front, P> ShardedBuilder<F, P>
where
    F::Manager: Clone,
    P: From<Shards<F>>,
    F::Pool: Deref<Target = Handle<F>>,
{
    /// A builder with the defaults (those of a plain pool, and [`default_shards`] shards).
    pub fn new(manager: F::Manager) -> Self {
        Self { manager, config: Config::new(crate::DEFAULT_MAX_SIZE), shards: None, pool: PhantomData }
    }

    /// How many shards (at least 1, at most `max_size`). Default: [`default_shards`], lowered
    /// to `max_size` if that is smaller (only a number set here is an error when too large).
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = Some(n);
        self
    }

    /// Takes every option from `config`; setters called after this one override it.
    pub fn config(mut self, config: &Config) -> Self {
        self.config = config.clone();
        self
    }

    /// Most objects in existence at once across all shards (at least the number of
    /// shards). Default: 10.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// Idle objects kept ready across all shards, split between them like `max_size`.
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.config.min_idle = min_idle;
        self
    }

    /// How long `get` waits (`None`: forever). Default: 30 s.
    pub fn acquire_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.acquire_timeout = timeout;
        self
    }

    /// Idle objects older than this are dropped by maintenance (`None`: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Objects older than this are retired (`None`: never).
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// The pool's name in logs and metrics; shard `i` is named `name[i]`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The options as set so far (`max_size` and `min_idle` for the whole pool).
    pub fn current_config(&self) -> &Config {
        &self.config
    }

    /// Builds the shards. Creates no object, never blocks.
    ///
    /// # Errors
    ///
    /// What a plain pool's `build` rejects, and: 0 shards ([`BuildError::Shards`]), more
    /// shards than `max_size`, and the options a sharded pool cannot split
    /// ([`BuildError::Unsupported`]: `capacity`, `autoscale`, `max_waiters`, `reserve`).
    pub fn build(self) -> Result<P, BuildError> {
        let config = self.config;
        config.validate()?;
        let n = match self.shards {
            Some(0) => return Err(BuildError::Shards { shards: 0, max_size: config.max_size }),
            Some(n) if n > config.max_size => {
                return Err(BuildError::Shards { shards: n, max_size: config.max_size })
            }
            Some(n) => n,
            None => default_shards().min(config.max_size),
        };
        let unsupported = |option, why| Err(BuildError::Unsupported { option, why });
        if config.capacity.is_some_and(|c| c != config.max_size) {
            return unsupported(
                "capacity",
                "a sharded pool cannot be resized (its shares are fixed at build); leave capacity unset",
            );
        }
        if config.autoscale.is_some() {
            return unsupported("autoscale", "a sharded pool cannot be resized; size it with max_size");
        }
        if config.reserve != 0 {
            return unsupported(
                "reserve",
                "a sharded pool has no priority gets (get_with), so nothing could take the reserve; use a plain pool for the overflow pool",
            );
        }
        if config.max_waiters.is_some() {
            return unsupported(
                "max_waiters",
                "a sharded pool's waiters queue on every shard; shed load in front of it instead",
            );
        }
        let pools = (0..n)
            .map(|i| {
                let mut shard = config.clone();
                shard.max_size = share(config.max_size, n, i);
                shard.min_idle = share(config.min_idle, n, i);
                shard.capacity = None;
                shard.name = format!("{}[{i}]", config.name);
                Builder::<F>::new(self.manager.clone()).config(&shard).build()
            })
            .collect::<Result<Box<[_]>, _>>()?;
        Ok(P::from(Shards { pools, cross: Gauge::new() }))
    }
}

impl<F: Front, P> fmt::Debug for ShardedBuilder<F, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedBuilder").field("shards", &self.shards).field("config", &self.config).finish()
    }
}

/// The shards of a sharded pool: `n` plain pools. Both front ends' `ShardedPool` deref to it,
/// so the methods here are the same in `cenote-sync` and `cenote-async`.
pub struct Shards<F: Front> {
    pools: Box<[F::Pool]>,
    /// Getters waiting on every shard at once (each also counted by every shard's core).
    cross: Gauge,
}

impl<F: Front> Shards<F>
where
    F::Pool: Deref<Target = Handle<F>>,
{
    /// How many shards.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(3).max_size(6).build()?;
    /// assert_eq!(pool.shard_count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn shard_count(&self) -> usize {
        self.pools.len()
    }

    /// Shard `i`, a plain pool (for its metrics, `maintain`, `warm`, ...).
    ///
    /// # Panics
    ///
    /// If `i >= shard_count()`.
    #[inline]
    #[track_caller]
    pub fn shard(&self, i: usize) -> &F::Pool {
        &self.pools[i]
    }

    /// The calling thread's home shard (see the module docs of `cenote_front::sharded`).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(2).max_size(2).build()?;
    /// let home = pool.home_shard();
    /// let conn = pool.get()?; // created in the home shard: it had room
    /// assert_eq!(pool.shard_status(home).in_use, 1);
    /// # drop(conn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn home_shard(&self) -> usize {
        ticket() % self.pools.len()
    }

    /// The shard of `key` for `get_from(&key)`: a hash of the key (std's `DefaultHasher`,
    /// unkeyed, so the same key gets the same shard in every pool with as many shards, within
    /// one build of the program), modulo the number of shards. To pick a shard by number,
    /// pass the number: any `Hash` key works, and equal keys always share a shard.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(4).max_size(8).build()?;
    /// let shard = pool.shard_of("tenant-17");
    /// assert!(shard < 4);
    /// assert_eq!(shard, pool.shard_of("tenant-17"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shard_of<K: Hash + ?Sized>(&self, key: &K) -> usize {
        // Unkeyed on purpose (not `RandomState`): the same key, the same shard, in every pool.
        let mut hasher = std::hash::DefaultHasher::new();
        key.hash(&mut hasher);
        // `u64 % n` fits in `usize`: `n` is a `usize`.
        usize::try_from(hasher.finish() % self.pools.len() as u64).unwrap_or(0)
    }

    /// The counts of the whole pool, summed over the shards (not a consistent snapshot). A
    /// getter waiting on every shard at once is counted once in `waiting`.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(2).max_size(4).build()?;
    /// let (a, b) = (pool.get()?, pool.get()?);
    /// drop(a);
    /// let status = pool.status();
    /// assert_eq!((status.max_size, status.size, status.idle, status.in_use), (4, 2, 1, 1));
    /// # drop(b);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> Status {
        let mut sum = Status { max_size: 0, size: 0, idle: 0, in_use: 0, waiting: 0 };
        for pool in &*self.pools {
            let s = pool.status();
            sum.max_size += s.max_size;
            sum.size += s.size;
            sum.idle += s.idle;
            sum.in_use += s.in_use;
            sum.waiting += s.waiting;
        }
        let extra = self.cross.get().saturating_mul(self.pools.len() - 1);
        sum.waiting = sum.waiting.saturating_sub(extra);
        sum
    }

    /// Shard `i`'s own counts (a getter waiting on every shard is counted in each).
    ///
    /// # Panics
    ///
    /// If `i >= shard_count()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(2).max_size(3).build()?;
    /// assert_eq!((pool.shard_status(0).max_size, pool.shard_status(1).max_size), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn shard_status(&self, i: usize) -> Status {
        self.pools[i].status()
    }

    /// Closes every shard: waiters get `Error::Closed` at once, idle objects are dropped now,
    /// in-use ones when they return, and every later `get` fails with `Closed`.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::ShardedPool::builder(M).shards(2).max_size(2).build()?;
    /// pool.close();
    /// assert!(pool.is_closed() && pool.get().unwrap_err().is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        for pool in &*self.pools {
            pool.close();
        }
    }

    /// Whether the pool is closed: [`close`](Shards::close) was called, or one of its shards
    /// was closed through [`shard`](Shards::shard) (a `get` that has to wait then fails with
    /// `Closed`, as it waits on every shard: to shut a sharded pool down, close it first, then
    /// shut its shards down one by one).
    pub fn is_closed(&self) -> bool {
        self.pools.iter().any(|pool| pool.is_closed())
    }

    /// For front ends: the shards in the order a getter from `home` visits them after its
    /// home: `home + 1`, ..., wrapping around, `home` excluded.
    #[inline]
    pub fn others(&self, home: usize) -> impl Iterator<Item = usize> {
        let n = self.pools.len();
        (1..n).map(move |k| (home + k) % n)
    }

    /// For front ends: queues the caller on every shard at once, starting at `home` (see
    /// "Waiting" in the module docs). Counts it once in [`status`](Shards::status)'s
    /// `waiting` until the returned wait is dropped.
    #[cold]
    pub fn wait_any(&self, home: usize) -> WaitAny<'_, F> {
        let n = self.pools.len();
        let waits = (0..n).map(|k| Box::pin(self.pools[(home + k) % n].core().acquire())).collect();
        WaitAny { waits, home, _counted: self.cross.enter() }
    }
}

impl<F: Front> fmt::Debug for Shards<F>
where
    F::Pool: Deref<Target = Handle<F>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shards").field("shards", &self.pools.len()).field("status", &self.status()).finish()
    }
}

/// A core's wait of a pool of front end `F`.
type AcquireOf<'a, F> = Acquire<'a, crate::Entry<<F as Front>::Connection>, crate::Shared<F>>;
/// What a core's wait of a pool of front end `F` yields.
type AcquiredOf<F> = Acquired<crate::Entry<<F as Front>::Connection>, crate::Shared<F>>;

/// A wait on every shard at once ([`Shards::wait_any`]): ready with the first shard that
/// hands the caller an object or a place, as `(shard, what)`. Cancel-safe: dropping it
/// unlinks every wait, and one that was handed something passes it on (see the module docs).
/// Poll it to completion once; drop it after.
#[must_use = "futures do nothing unless polled"]
pub struct WaitAny<'a, F: Front> {
    /// One wait per shard, the home shard's first.
    waits: Vec<Pin<Box<AcquireOf<'a, F>>>>,
    home: usize,
    _counted: GaugeGuard<'a>,
}

impl<F: Front> Future for WaitAny<'_, F> {
    type Output = (usize, Result<AcquiredOf<F>, Closed>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (n, home) = (self.waits.len(), self.home);
        for (k, wait) in self.waits.iter_mut().enumerate() {
            if let Poll::Ready(found) = wait.as_mut().poll(cx) {
                return Poll::Ready(((home + k) % n, found));
            }
        }
        Poll::Pending
    }
}

impl<F: Front> fmt::Debug for WaitAny<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitAny").field("shards", &self.waits.len()).field("home", &self.home).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    /// The shares add up to the total, differ by at most one, and the larger come first.
    #[test]
    fn shares_add_up() {
        for total in 1..40 {
            for n in 1..=total {
                let shares: Vec<usize> = (0..n).map(|i| share(total, n, i)).collect();
                assert_eq!(shares.iter().sum::<usize>(), total);
                assert!(shares.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1), "{shares:?}");
            }
        }
    }
}

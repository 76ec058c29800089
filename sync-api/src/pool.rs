//! The pool handle and `get`.

use core::fmt;
use core::time::Duration;
use std::time::Instant;

use cenote_core::{Acquired, CheckOut, Config, Core, Lease, Permit, Shared, TryAcquire, WaitError};

use crate::{Builder, Error, Manager, Pooled, ResizeError, Status};

pub(crate) type Inner<M> = Core<<M as Manager>::Connection, Shared<M>>;
pub(crate) type PoolLease<M> = Lease<<M as Manager>::Connection, Shared<M>>;

/// A pool of objects made by a [`Manager`], for threads. Cloning it is cheap (a handle).
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use cenote_sync::{Manager, Pool};
///
/// struct Numbers;
/// impl Manager for Numbers {
///     type Connection = u64;
///     type Error = Infallible;
///     fn create(&self) -> Result<u64, Infallible> { Ok(42) }
/// }
///
/// let pool = Pool::new(Numbers, 4);
/// let threads: Vec<_> = (0..8)
///     .map(|_| {
///         let pool = pool.clone();
///         std::thread::spawn(move || *pool.get().unwrap() + 1)
///     })
///     .collect();
/// for t in threads {
///     assert_eq!(t.join().unwrap(), 43);
/// }
/// assert!(pool.status().size <= 4);
/// ```
///
/// # Memory ordering
///
/// What one holder writes to an object happens-before the next holder's `get` returns it.
/// [`status`](Pool::status) is not a consistent snapshot.
pub struct Pool<M: Manager> {
    /// A handle to the core: when the last one goes, the pool closes (idle objects are
    /// dropped then, in-use ones as they return).
    core: Inner<M>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self { core: self.core.clone() }
    }
}

/// First pause between failed creates while `get` keeps trying; doubles up to the cap.
const CREATE_BACKOFF_START: Duration = Duration::from_millis(5);
const CREATE_BACKOFF_MAX: Duration = Duration::from_millis(500);

impl<M: Manager> Pool<M> {
    /// Starts configuring a pool of objects made by `manager`.
    pub fn builder(manager: M) -> Builder<M> {
        Builder::new(manager)
    }

    /// A pool of at most `max_size` objects with the defaults for everything else.
    ///
    /// # Panics
    ///
    /// If `max_size` is 0. Use [`Pool::builder`] to get a [`BuildError`](crate::BuildError)
    /// instead.
    #[track_caller]
    pub fn new(manager: M, max_size: usize) -> Self {
        match Self::builder(manager).max_size(max_size).build() {
            Ok(pool) => pool,
            Err(e) => panic!("Pool::new: {e}"),
        }
    }

    pub(crate) fn from_config(manager: M, config: Config) -> Self {
        let (slots, max_size) = (config.slots(), config.max_size);
        let core = Core::new(slots, max_size, Shared::new(manager, config))
            .unwrap_or_else(|e| unreachable!("config was validated: {e}"));
        Self { core }
    }

    /// Creates `min_idle` objects (best effort: stops at the first error).
    pub(crate) fn warm(&self) {
        let shared = self.core.ext();
        for _ in 0..shared.config.min_idle {
            let Some(permit) = self.core.try_reserve() else { break };
            let Ok(conn) = shared.manager.create() else { break };
            let mut lease = Permit::fill(permit, conn);
            let meta = Lease::meta_mut(&mut lease);
            meta.use_count = 0;
            shared.stamp_created(meta, false);
        }
    }

    /// Gets an object, waiting up to `acquire_timeout` (default 30 s) for one.
    ///
    /// Lends an idle object if there is one, else creates one if the pool has room, else
    /// waits for a return. If `create` fails, `get` keeps trying (with a growing pause)
    /// until the deadline and then reports the last error.
    ///
    /// # Errors
    ///
    /// * [`Error::Timeout`] when the deadline passes, with the last `create` error if any;
    /// * [`Error::Closed`] if the pool is closed;
    /// * [`Error::Create`] if `create` fails and there is no deadline.
    ///
    /// # Blocking
    ///
    /// Parks the thread while waiting, and runs `create` (and `is_valid` when configured) on
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = String; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<String, Self::Error> { Ok(String::new()) } }
    /// let pool = cenote_sync::Pool::new(M, 1);
    /// let mut s = pool.get()?;
    /// s.push_str("hello");
    /// drop(s);
    /// assert_eq!(*pool.get()?, "hello");
    /// # Ok::<(), cenote_sync::Error<std::convert::Infallible>>(())
    /// ```
    #[inline]
    pub fn get(&self) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_inner(self.core.ext().config.acquire_timeout)
    }

    /// Like [`get`](Pool::get), waiting up to `timeout` instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Blocking
    ///
    /// As for [`get`](Pool::get).
    pub fn get_timeout(&self, timeout: Duration) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_inner(Some(timeout))
    }

    /// An idle object now, or `None`. Never waits and never creates.
    pub fn try_get(&self) -> Option<Pooled<M>> {
        loop {
            let lease = self.core.try_take_idle()?;
            if let Some(pooled) = self.check_out(lease) {
                return Some(pooled);
            }
        }
    }

    #[inline]
    fn get_inner(&self, timeout: Option<Duration>) -> Result<Pooled<M>, Error<M::Error>> {
        // The clock is read only once we have to wait or retry: not on the fast path.
        let mut deadline: Option<Option<Instant>> = None;
        let deadline_of = |deadline: &mut Option<Option<Instant>>| {
            *deadline.get_or_insert_with(|| timeout.and_then(|t| Instant::now().checked_add(t)))
        };
        let mut last_create_error = None;
        let mut backoff = CREATE_BACKOFF_START;
        loop {
            let acquired = match self.core.try_acquire() {
                TryAcquire::Idle(lease) => Acquired::Idle(lease),
                TryAcquire::Vacant(permit) => Acquired::Vacant(permit),
                TryAcquire::Closed => return Err(Error::Closed),
                TryAcquire::Exhausted => match self.core.acquire_blocking(deadline_of(&mut deadline)) {
                    Ok(acquired) => acquired,
                    Err(WaitError::Closed) => return Err(Error::Closed),
                    Err(_) => return Err(Error::Timeout { last_create_error }),
                },
            };
            match acquired {
                Acquired::Idle(lease) => {
                    if let Some(pooled) = self.check_out(lease) {
                        return Ok(pooled);
                    }
                }
                Acquired::Vacant(permit) => match self.create(permit) {
                    Ok(pooled) => return Ok(pooled),
                    Err(e) => {
                        // The permit is back in the pool; pause before trying again.
                        let Some(deadline) = deadline_of(&mut deadline) else {
                            return Err(Error::Create(e));
                        };
                        let now = Instant::now();
                        if now >= deadline {
                            return Err(Error::Timeout { last_create_error: Some(e) });
                        }
                        last_create_error = Some(e);
                        std::thread::sleep(backoff.min(deadline - now));
                        backoff = (backoff * 2).min(CREATE_BACKOFF_MAX);
                    }
                },
            }
        }
    }

    /// Creates an object into `permit`. A failing or panicking `create` drops the permit,
    /// which gives its place back.
    fn create(&self, permit: Permit<M::Connection, Shared<M>>) -> Result<Pooled<M>, M::Error> {
        let shared = self.core.ext();
        let conn = shared.manager.create()?;
        let mut lease = Permit::fill(permit, conn);
        shared.stamp_created(Lease::meta_mut(&mut lease), true);
        Ok(Pooled::new(lease))
    }

    /// Applies the health options to an idle object about to be lent; `None` if it was
    /// dropped instead.
    #[inline]
    fn check_out(&self, lease: PoolLease<M>) -> Option<Pooled<M>> {
        let shared = self.core.ext();
        let mut pooled = Pooled::new(lease);
        let keep = match shared.check_idle(pooled.meta_mut()) {
            CheckOut::Lend => true,
            CheckOut::Validate => shared.manager.is_valid(&mut pooled),
            _ => false,
        };
        if keep {
            Some(pooled)
        } else {
            Pooled::retire(pooled);
            None
        }
    }

    /// The pool's counts (not a consistent snapshot).
    pub fn status(&self) -> Status {
        self.core.status().into()
    }

    /// Changes `max_size`, within the capacity set at build time. Growing lets waiters
    /// create at once; shrinking drops idle extras now and in-use extras as they return.
    ///
    /// # Errors
    ///
    /// [`ResizeError`] for 0, a size above capacity, or a closed pool.
    pub fn resize(&self, max_size: usize) -> Result<(), ResizeError> {
        self.core.resize(max_size)
    }

    /// Closes the pool: waiters get [`Error::Closed`] at once, idle objects are dropped now,
    /// in-use ones when they return, and every later `get` fails with `Closed`.
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether the pool is closed.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.core.ext().manager
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("status", &self.status()).field("closed", &self.is_closed()).finish()
    }
}

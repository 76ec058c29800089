//! The pool handle and `get().await`.

use core::fmt;
use core::future::Future;
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use cenote_core::{Acquired, CheckOut, Closed, Config, Core, Lease, Permit, Shared, TryAcquire};

use crate::timer::{sleep_until, sleep_until_unexpired, timeout_at, Sleep};
use crate::watch::Watch;
use crate::{Builder, Error, Manager, Pooled, ResizeError, Status};

pub(crate) type Inner<M> = Core<<M as Manager>::Connection, Shared<M>>;
pub(crate) type PoolLease<M> = Lease<<M as Manager>::Connection, Shared<M>>;

/// A pool of objects made by a [`Manager`], for async code on any executor. Cloning it is
/// cheap (a handle).
///
/// No runtime is needed or assumed: waiting uses the pool's own wakeups, and timeouts use a
/// small shared timer thread (one timer per pool for all its waiters' deadlines), so
/// `get().await` works on tokio, smol, async-std or under a bare
/// `futures_lite::future::block_on`.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use cenote_async::{Manager, Pool};
///
/// struct Numbers;
/// impl Manager for Numbers {
///     type Connection = u64;
///     type Error = Infallible;
///     async fn create(&self) -> Result<u64, Infallible> { Ok(42) }
/// }
///
/// # futures_lite::future::block_on(async {
/// let pool = Pool::new(Numbers, 4);
/// let a = pool.get().await.unwrap();
/// let b = pool.get().await.unwrap();
/// assert_eq!(*a + *b, 84);
/// assert_eq!(pool.status().in_use, 2);
/// # });
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
    /// The one timer for the deadlines of this pool's waiters.
    watch: Arc<Watch<M::Connection, Shared<M>>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self { core: self.core.clone(), watch: Arc::clone(&self.watch) }
    }
}

/// First pause between failed creates while `get` keeps trying; doubles up to the cap.
const CREATE_BACKOFF_START: Duration = Duration::from_millis(5);
const CREATE_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// The deadline of one `get`, read from the clock only when first needed.
struct Deadline {
    timeout: Option<Duration>,
    /// `None` until first needed; then `Some(None)` if there is no limit (or it is too far to
    /// represent).
    at: Option<Option<Instant>>,
}

impl Deadline {
    fn new(timeout: Option<Duration>) -> Self {
        Self { timeout, at: None }
    }

    /// The deadline (`None`: no limit), read from the clock if not yet fixed, and whether it
    /// was fixed just now from a non-zero timeout (so it is still ahead).
    fn at(&mut self) -> (Option<Instant>, bool) {
        let timeout = self.timeout;
        let mut fresh = false;
        let at = *self.at.get_or_insert_with(|| {
            fresh = timeout.is_some_and(|t| !t.is_zero());
            timeout.and_then(|t| Instant::now().checked_add(t))
        });
        (at, fresh)
    }

    /// Runs `fut` to completion within the deadline; `None` if the deadline passed first. A
    /// future that completes on its first poll costs no clock read and no timer. (A plain
    /// `poll_fn` over the caller's pinned future: no second copy of it, no nested state.)
    fn run<'a, F: Future>(
        &'a mut self,
        mut fut: Pin<&'a mut F>,
    ) -> impl Future<Output = Option<F::Output>> + 'a {
        let mut sleep: Option<Sleep> = None;
        core::future::poll_fn(move |cx| {
            if let Poll::Ready(output) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            // A deadline computed from the clock just now, for a non-zero timeout, is in the
            // future: then the sleep's first poll need not read the clock again.
            let (at, fresh) = self.at();
            let Some(at) = at else {
                return Poll::Pending;
            };
            let sleep =
                sleep.get_or_insert_with(|| if fresh { sleep_until_unexpired(at) } else { sleep_until(at) });
            if Pin::new(sleep).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
    }
}

/// Why one `create` produced no object.
enum CreateFailed<E> {
    Error(E),
    Timeout,
}

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
        let watch = Watch::new(core.downgrade(), core.ext().epoch());
        Self { core, watch }
    }

    /// Creates idle objects until there are `min_idle` (best effort: stops at the first
    /// error or when the pool is full).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an object being created when the future is dropped is dropped, and its
    /// place freed.
    pub async fn warm(&self) {
        let shared = self.core.ext();
        while self.core.status().idle < shared.config.min_idle {
            let Some(permit) = self.core.try_reserve() else { break };
            let Ok(conn) = shared.manager.create().await else { break };
            let mut lease = Permit::fill(permit, conn);
            let meta = Lease::meta_mut(&mut lease);
            meta.use_count = 0;
            shared.stamp_created(meta, false);
        }
    }

    /// Gets an object, waiting up to `acquire_timeout` (default 30 s) for one.
    ///
    /// Lends an idle object if there is one (running the manager's `reset` on it first, and
    /// `is_valid` if configured), else creates one if the pool has room, else waits for a
    /// return. If `create` fails, `get` keeps trying (with a growing pause) until the deadline
    /// and then reports the last error.
    ///
    /// # Errors
    ///
    /// * [`Error::Timeout`] when the deadline passes, with the last `create` error if any;
    /// * [`Error::CreateTimeout`] when one `create` exceeds `create_timeout`;
    /// * [`Error::Closed`] if the pool is closed;
    /// * [`Error::Create`] if `create` fails and there is no deadline.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future at any await point loses no object, permit or
    /// wakeup. Per await point:
    /// * waiting for a return: the registered listener is removed; if it had already been
    ///   woken for an object or a freed place, that is passed to the next waiter or back to
    ///   the pool;
    /// * in the manager's `create`: the permit is dropped, freeing its place (and waking a
    ///   waiter);
    /// * in `reset` or `is_valid`: the object goes back to the pool still marked as needing a
    ///   reset, so the next borrower resets it;
    /// * in the pause between failed creates: nothing is held.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = String; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<String, Self::Error> { Ok(String::new()) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::new(M, 1);
    /// let mut s = pool.get().await?;
    /// s.push_str("hello");
    /// drop(s);
    /// assert_eq!(*pool.get().await?, "hello");
    /// # Ok::<(), cenote_async::Error<std::convert::Infallible>>(())
    /// # }).unwrap();
    /// ```
    pub async fn get(&self) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_within(self.core.ext().config.acquire_timeout).await
    }

    /// Like [`get`](Pool::get), waiting up to `timeout` instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Cancel safety
    ///
    /// As for [`get`](Pool::get).
    pub async fn get_timeout(&self, timeout: Duration) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_within(Some(timeout)).await
    }

    /// An idle object now, or `None`. Never waits and never creates.
    ///
    /// The object's pending `reset` (and `is_valid`, when configured) is polled once, in
    /// place: a manager whose checks complete without waiting (the defaults, or a quick
    /// in-memory reset) gets its object; one whose check would have to wait is left in the
    /// pool, still marked for its reset, and `None` is returned: use `get` for those.
    pub fn try_get(&self) -> Option<Pooled<M>> {
        let mut cx = Context::from_waker(Waker::noop());
        while let Some(lease) = self.core.try_take_idle() {
            let checked = pin!(self.check_out(lease));
            match checked.poll(&mut cx) {
                Poll::Ready(Some(pooled)) => return Some(pooled),
                // Dropped as expired or invalid: look at the next idle object.
                Poll::Ready(None) => {}
                // Dropping the pending check returns the object, still marked for reset.
                Poll::Pending => return None,
            }
        }
        None
    }

    async fn get_within(&self, timeout: Option<Duration>) -> Result<Pooled<M>, Error<M::Error>> {
        // Each await point below runs under the deadline, but the clock is first read (and the
        // timer used) only when one of them does not finish on its first poll: an idle object
        // whose reset completes at once never touches either.
        let mut deadline = Deadline::new(timeout);
        let mut last_create_error = None;
        let mut backoff = CREATE_BACKOFF_START;
        loop {
            let acquired = match self.core.try_acquire() {
                TryAcquire::Idle(lease) => Acquired::Idle(lease),
                TryAcquire::Vacant(permit) => Acquired::Vacant(permit),
                TryAcquire::Closed => return Err(Error::Closed),
                TryAcquire::Exhausted => match self.wait(&mut deadline).await {
                    None => return Err(Error::Timeout { last_create_error }),
                    Some(Err(Closed)) => return Err(Error::Closed),
                    Some(Ok(acquired)) => acquired,
                },
            };
            match acquired {
                Acquired::Idle(lease) => match deadline.run(pin!(self.check_out(lease))).await {
                    None => return Err(Error::Timeout { last_create_error }),
                    Some(Some(pooled)) => return Ok(pooled),
                    Some(None) => {}
                },
                Acquired::Vacant(permit) => match deadline.run(pin!(self.create(permit))).await {
                    None => return Err(Error::Timeout { last_create_error }),
                    Some(Ok(pooled)) => return Ok(pooled),
                    Some(Err(CreateFailed::Timeout)) => return Err(Error::CreateTimeout),
                    Some(Err(CreateFailed::Error(e))) => {
                        if timeout.is_none() {
                            return Err(Error::Create(e));
                        }
                        last_create_error = Some(e);
                        // The pause between attempts, within the deadline.
                        if let Some(until) = Instant::now().checked_add(backoff) {
                            if deadline.run(pin!(sleep_until(until))).await.is_none() {
                                return Err(Error::Timeout { last_create_error });
                            }
                        }
                        backoff = (backoff * 2).min(CREATE_BACKOFF_MAX);
                    }
                },
            }
        }
    }

    /// Waits for a return or a freed place; `None` if the deadline passed first.
    ///
    /// The deadline goes to the core with the wait, and the pool's one [`Watch`] wakes the
    /// waiter when it has passed: no timer per wait, and none at all for a waiter served in
    /// time. Here the clock is read when the wait starts (to fix the deadline, unless an
    /// earlier step already did) and when the future is polled without being served.
    async fn wait(
        &self,
        deadline: &mut Deadline,
    ) -> Option<Result<Acquired<M::Connection, Shared<M>>, Closed>> {
        let (at, fresh) = deadline.at();
        let Some(at) = at else { return Some(self.core.acquire().await) };
        let shared = self.core.ext();
        let due = shared.ticks_at(at);
        let watch = &self.watch;
        let mut acquire = pin!(self.core.acquire_until(due, |due| watch.arm(due)));
        // A deadline fixed from the clock just now is still ahead at the first poll.
        let mut skip_check = fresh;
        core::future::poll_fn(|cx| {
            if let Poll::Ready(acquired) = acquire.as_mut().poll(cx) {
                return Poll::Ready(Some(acquired));
            }
            if !core::mem::take(&mut skip_check) && shared.now() >= due {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Creates an object into `permit`. If `create` fails, panics or is cancelled, the permit
    /// is dropped, which gives its place back.
    async fn create(
        &self,
        permit: Permit<M::Connection, Shared<M>>,
    ) -> Result<Pooled<M>, CreateFailed<M::Error>> {
        let shared = self.core.ext();
        let created = match shared.config.create_timeout.and_then(|t| Instant::now().checked_add(t)) {
            None => shared.manager.create().await,
            Some(deadline) => {
                timeout_at(deadline, shared.manager.create()).await.ok_or(CreateFailed::Timeout)?
            }
        };
        let conn = created.map_err(CreateFailed::Error)?;
        let mut lease = Permit::fill(permit, conn);
        shared.stamp_created(Lease::meta_mut(&mut lease), true);
        Ok(Pooled::new(lease))
    }

    /// Resets, checks and applies the health options to an idle object about to be lent;
    /// `None` if it was dropped instead.
    async fn check_out(&self, lease: PoolLease<M>) -> Option<Pooled<M>> {
        let shared = self.core.ext();
        let mut pooled = Pooled::new(lease);
        let validate = match shared.check_idle(Lease::meta_mut(pooled.lease_mut())) {
            CheckOut::Lend => false,
            CheckOut::Validate => true,
            _ => {
                Pooled::retire(pooled);
                return None;
            }
        };
        if Pooled::meta(&pooled).needs_reset {
            // If this await is cancelled, `pooled` goes back still marked `needs_reset`.
            let (shared, conn) = Lease::split_mut(pooled.lease_mut());
            if shared.manager.reset(conn).await.is_err() {
                Pooled::retire(pooled);
                return None;
            }
            Lease::meta_mut(pooled.lease_mut()).needs_reset = false;
        }
        if validate && !shared.manager.is_valid(&mut pooled).await {
            Pooled::retire(pooled);
            return None;
        }
        Some(pooled)
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

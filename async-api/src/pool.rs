//! The pool handle and `get().await`.

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ops::Deref;
use core::panic::Location;
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Arc;

use cenote_core::{time, Acquired, Closed, Priority, TryAcquire};
use cenote_front::{
    Attempt, CreateSlot, Creating, Dropped, Front, Handle, LeaseOf, Lifeline, Maintenance, PermitOf, Return,
    Shared, Shutdown, Timeout, WarmStep,
};

use crate::maintenance;

mod run;
use crate::timer::{sleep_until, sleep_until_unexpired, timeout_at, Sleep};
use crate::watch::Watch;
use crate::{Builder, Error, Manager, Pooled};

/// The async front end, as the shared layer sees it: the [`Front`] of a [`Manager`]. Only
/// named in types ([`Builder`], [`Pooled`]).
pub struct Async<M>(PhantomData<fn() -> M>);

impl<M> fmt::Debug for Async<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Async")
    }
}

impl<M: Manager> Front for Async<M> {
    type Manager = M;
    type Connection = M::Connection;
    type Error = M::Error;
    type Pool = Pool<M>;

    fn pool(handle: Handle<Self>) -> Pool<M> {
        let watch = Watch::new(handle.core().downgrade());
        let lifeline = Arc::new(Lifeline::new(&handle));
        // Reaping that needs no manager call, on the shared maintenance thread, for a pool
        // whose `maintenance()` nobody spawned (it stands aside while that runs).
        let background = handle.config().maintenance_thread.unwrap_or_else(|| handle.wants_reaping());
        let reaping = background.then(|| handle.start_reaping());
        Pool { handle, watch, _lifeline: lifeline, _reaping: reaping }
    }

    /// `has_broken` on the returning thread; the async `reset` waits for the next getter.
    #[inline]
    fn on_return(manager: &M, conn: &mut M::Connection) -> Return {
        if manager.has_broken(conn) {
            Return::Retire
        } else {
            Return::KeepUnreset
        }
    }
}

type Ext<M> = Shared<Async<M>>;

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
/// The methods both front ends share (`status`, `resize`, `close`, `is_closed`, `manager`,
/// `config`) are on [`Handle`], which `Pool` derefs to.
///
/// # Memory ordering
///
/// What one holder writes to an object happens-before the next holder's `get` returns it.
/// [`status`](Handle::status) is not a consistent snapshot.
pub struct Pool<M: Manager> {
    /// A handle to the core: when the last one goes, the pool closes (idle objects are
    /// dropped then, in-use ones as they return).
    handle: Handle<Async<M>>,
    /// The one timer for the deadlines of this pool's waiters.
    watch: Arc<Watch<cenote_front::Entry<M::Connection>, Ext<M>>>,
    /// Wakes a sleeping `maintenance()` future when the last handle goes.
    _lifeline: Arc<Lifeline<Async<M>>>,
    /// Keeps the background reaping job while any handle is alive (see `maintenance_thread`).
    _reaping: Option<Arc<cenote_front::Background>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            handle: self.handle.clone(),
            watch: Arc::clone(&self.watch),
            _lifeline: Arc::clone(&self._lifeline),
            _reaping: self._reaping.clone(),
        }
    }
}

impl<M: Manager> Deref for Pool<M> {
    type Target = Handle<Async<M>>;

    #[inline]
    fn deref(&self) -> &Handle<Async<M>> {
        &self.handle
    }
}

/// Runs `fut` to completion within the `get`'s deadline; `None` if the deadline passed
/// first. A future that completes on its first poll costs no clock read and no timer. (A
/// plain `poll_fn` over the caller's pinned future: no second copy of it, no nested state.)
fn within<'a, 'p: 'a, F: Future, M: Manager>(
    attempt: &'a mut Attempt<'p, Async<M>>,
    mut fut: Pin<&'a mut F>,
) -> impl Future<Output = Option<F::Output>> + use<'a, 'p, F, M> {
    let mut sleep: Option<Sleep> = None;
    core::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        // A deadline computed from the clock just now, for a non-zero timeout, is in the
        // future: then the sleep's first poll need not read the clock again.
        let (at, fresh) = attempt.deadline_fresh();
        if at == time::NEVER {
            return Poll::Pending;
        }
        let sleep =
            sleep.get_or_insert_with(|| if fresh { sleep_until_unexpired(at) } else { sleep_until(at) });
        if Pin::new(sleep).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
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
        Self::builder(manager).max_size(max_size).build_or_panic()
    }

    /// Creates idle objects until `min_idle` are idle (or the pool is full). Returns how many
    /// it created.
    ///
    /// Creates already under way for `min_idle` (a maintenance pass, another `warm`) count:
    /// concurrent fillers never take the pool past `min_idle` between them. Each create takes
    /// one of the `max_pending_creates` slots; while all are taken, `warm` waits for one.
    ///
    /// # Errors
    ///
    /// The first `create` error: the objects created before it stay in the pool.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an object being created when the future is dropped is dropped, and its
    /// place freed; those created before stay in the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::builder(M).max_size(4).min_idle(3).build()?;
    /// assert_eq!(pool.status().idle, 0); // `build` creates nothing
    /// assert_eq!(pool.warm().await?, 3);
    /// assert_eq!(pool.status().idle, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn warm(&self) -> Result<usize, M::Error> {
        let mut created = 0;
        loop {
            match self.handle.warm_step() {
                WarmStep::Create(fill) => {
                    let span = self.handle.create_span();
                    let made = span.clone().wrap(pin!(self.manager().create())).await;
                    span.outcome(if made.is_ok() { "ok" } else { "error" });
                    match made {
                        Ok(conn) => self.handle.fill_idle(fill, conn),
                        Err(e) => {
                            self.handle.create_failed();
                            return Err(e);
                        }
                    }
                    created += 1;
                    self.handle.log_warm(created);
                }
                // `max_pending_creates` creates in flight: wait for one to finish.
                WarmStep::Busy(wait) => {
                    let _woken = timeout_at(time::after(cenote_front::RECHECK), wait.listener).await;
                }
                _ => return Ok(created),
            }
        }
    }

    /// Runs one maintenance pass now, in the calling task, and says what it did and when the
    /// next one is due: drops idle objects past their `max_lifetime` deadline (each object's
    /// own: `max_lifetime` minus a jitter of up to 1/40 of it) or idle longer than
    /// `idle_timeout` (keeping at least `min_idle` idle), runs [`Manager::check`] on objects
    /// idle at least `health_check_interval` (a check still running after
    /// `health_check_timeout` counts as failed; failed objects are dropped), and creates
    /// objects until `min_idle` are idle, pausing `create_backoff` after a failure.
    ///
    /// [`maintenance`](Pool::maintenance) runs this in a loop; call it yourself when you
    /// drive your own.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an object being checked goes back to the pool (the check is dropped); an
    /// object being created is dropped and its place freed.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::builder(M).max_size(4).min_idle(2).build()?;
    /// let pass = pool.maintain().await;
    /// assert_eq!(pass.created, 2);
    /// assert_eq!(pool.status().idle, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn maintain(&self) -> Maintenance {
        maintenance::pass(&self.handle).await
    }

    /// The pool's background maintenance: a future that runs [`maintain`](Pool::maintain)
    /// passes, each when the last one said the next is due (at most `maintenance_interval`
    /// apart), until the pool is closed or its last handle is dropped, which ends it at once.
    /// Spawn it on your executor (it is `Send + 'static`); it holds only a weak handle, so
    /// it never keeps the pool open. Its sleeps use the pool's own timer thread: it runs
    /// the same on tokio, smol or a bare `block_on`.
    ///
    /// # Cancel safety
    ///
    /// Dropping it stops the maintenance; nothing is lost (see [`maintain`](Pool::maintain)).
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::builder(M).max_size(4).min_idle(2).build()?;
    /// // On tokio: `tokio::spawn(pool.maintenance());` Here it runs beside the code below.
    /// let maintenance = pool.maintenance();
    /// let work = async {
    ///     while pool.status().idle < 2 {
    ///         futures_lite::future::yield_now().await;
    ///     }
    ///     pool.close(); // ends the maintenance too
    /// };
    /// futures_lite::future::zip(maintenance, work).await;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn maintenance(&self) -> impl Future<Output = ()> + Send + 'static {
        maintenance::run(self.handle.downgrade())
    }

    /// Shuts the pool down gracefully: closes it (waiters get [`Error::Closed`] at once, idle
    /// objects are dropped, every later `get` fails), then waits up to `timeout` for the
    /// objects still lent out to come back (each is dropped as it returns), and reports how
    /// many were still out. [`close`](Handle::close) is the same without the wait.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops the wait; the pool stays closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::new(M, 2);
    /// let conn = pool.get().await?;
    /// let worker = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     drop(conn);
    /// });
    /// let report = pool.shutdown(Duration::from_secs(5)).await;
    /// assert_eq!((report.out_at_start, report.still_out), (1, 0));
    /// # worker.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn shutdown(&self, timeout: Duration) -> Shutdown {
        let shutdown = self.handle.begin_shutdown(timeout);
        let deadline = time::at(shutdown.deadline());
        while let Some(freed) = shutdown.next_wait(&self.handle) {
            // Each object that comes back wakes us; the pool's timer ends the wait.
            // At most `SHUTDOWN_RECHECK` at a time (see `ShuttingDown::park`).
            let slice = time::after(cenote_front::SHUTDOWN_RECHECK).min(deadline);
            let _ = timeout_at(slice, freed).await;
        }
        shutdown.finish(&self.handle)
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
    /// * [`Error::Create`] if `create` fails and there is no deadline;
    /// * [`Error::Overloaded`] at once, with `max_waiters` set, if it would wait while that
    ///   many callers already wait;
    /// * [`Error::Unavailable`] at once, with a `circuit_breaker` set, if it would have to
    ///   create while the breaker is open.
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
    /// Drop a `get` future you no longer poll. Once it waits at the front of the queue the
    /// next return is handed to it: a future kept alive but not polled (the losing branch of
    /// a `select!` that is not dropped) holds that object until it is polled or dropped, and
    /// one that is leaked (`mem::forget`, or a task that is never dropped) holds it for good,
    /// as a leaked [`Pooled`] does.
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
    ///
    /// `get` is `#[track_caller]` (a plain `fn` returning the future, so that the caller's
    /// location is taken when it is called): with `leak_detection_threshold` set, a leak
    /// report names where the object was acquired.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_within(Ask, Timeout::Pool, Location::caller())
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
    #[track_caller]
    pub fn get_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Pooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_within(Ask, Timeout::Given(Some(timeout)), Location::caller())
    }

    /// An idle object now, or `None`. Never waits and never creates.
    ///
    /// The object's pending `reset` (and `is_valid`, when configured) is polled once, in
    /// place: a manager whose checks complete without waiting (the defaults, or a quick
    /// in-memory reset) gets its object; one whose check would have to wait is left in the
    /// pool, still marked for its reset, and `None` is returned: use `get` for those.
    #[track_caller]
    pub fn try_get(&self) -> Option<Pooled<M>> {
        self.try_get_inner(Priority::Normal, Location::caller())
    }

    pub(crate) fn try_get_inner(
        &self,
        priority: Priority,
        location: &'static Location<'static>,
    ) -> Option<Pooled<M>> {
        let mut cx = Context::from_waker(Waker::noop());
        while let Some(lease) = self.handle.core().try_take_idle_with(priority) {
            let checked = pin!(self.check_out(lease, location));
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

    /// `get` with `timeout`: [`get_first`](Pool::get_first)'s future itself (not awaited
    /// inside another: one state machine less on every get). `first` is [`Ask`] for a plain
    /// get (`Normal`), [`AskAs`] for a priority get.
    pub(crate) fn get_within(
        &self,
        first: impl First<M> + 'static,
        timeout: Timeout,
        location: &'static Location<'static>,
    ) -> impl Future<Output = Result<Pooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_first(first, timeout, location)
    }

    /// `get`, from a first `try_acquire`'s answer ([`Ask`]: ask the core; a sharded pool
    /// passes what another step found: an idle object, or a place to create into).
    pub(crate) async fn get_first(
        &self,
        mut first: impl First<M>,
        timeout: Timeout,
        location: &'static Location<'static>,
    ) -> Result<Pooled<M>, Error<M::Error>> {
        // Each await point below runs under the deadline, but the clock is first read (and the
        // timer used) only when one of them does not finish on its first poll: an idle object
        // whose reset completes at once never touches either.
        let mut attempt = self.handle.attempt_for(timeout);
        // A create slot (`max_pending_creates`), kept across the pause after a failed create.
        let mut slot: Option<CreateSlot<'_, Async<M>>> = None;
        loop {
            let acquired =
                match first.next().unwrap_or_else(|| self.core().try_acquire_with(first.priority())) {
                    TryAcquire::Idle(lease) => Acquired::Idle(lease),
                    TryAcquire::Vacant(permit) => Acquired::Vacant(permit),
                    TryAcquire::Closed => return Err(Error::Closed),
                    TryAcquire::Exhausted => {
                        attempt.slow();
                        slot = None; // nothing to create for now: let another caller have the slot
                        self.handle.admit(&mut attempt)?; // `max_waiters`
                        let span = self.handle.get_span();
                        let waited = span.clone().wrap(pin!(self.wait(&mut attempt, first.priority()))).await;
                        span.outcome(match &waited {
                            Some(Ok(_)) => "ok",
                            Some(Err(Closed)) => "closed",
                            None => "timeout",
                        });
                        match waited {
                            None => return Err(attempt.timed_out()),
                            Some(Err(Closed)) => return Err(Error::Closed),
                            Some(Ok(acquired)) => acquired,
                        }
                    }
                };
            match acquired {
                Acquired::Idle(lease) => {
                    match within(&mut attempt, pin!(self.check_out(lease, location))).await {
                        None => return Err(attempt.timed_out()),
                        Some(Some(pooled)) => {
                            attempt.lent();
                            return Ok(pooled);
                        }
                        Some(None) => {}
                    }
                }
                Acquired::Vacant(permit) => {
                    attempt.slow();
                    // The circuit breaker, if set: fail fast while it is open (the permit goes
                    // back); when half-open, this create may be its one probe.
                    let probe = attempt.may_create()?;
                    // Every create slot is taken: give the place back and wait for a slot or a
                    // return, within the deadline. (A slot held from a failed create is kept
                    // while an idle object is checked: the get ends, or retries, soon after.)
                    if slot.is_none() && !self.take_create_slot(&mut slot) {
                        drop((permit, probe));
                        self.handle.admit(&mut attempt)?; // `max_waiters`
                        if !self.wait_for_create_slot(&mut attempt).await {
                            return Err(attempt.timed_out());
                        }
                        continue;
                    }
                    // Before the create: its start time and the pool's generation (`refresh`).
                    let creating = self.handle.begin_create();
                    match within(&mut attempt, pin!(self.create(permit, location, creating))).await {
                        // The deadline cut a create off: a failed create for the books and the
                        // circuit breaker (a backend that accepts and never answers must open
                        // it, with or without `create_timeout`).
                        None => {
                            self.handle.create_failed();
                            return Err(attempt.timed_out());
                        }
                        Some(Ok(pooled)) => {
                            attempt.lent();
                            return Ok(pooled);
                        }
                        Some(Err(CreateFailed::Timeout)) => {
                            self.handle.create_failed();
                            return Err(Error::CreateTimeout);
                        }
                        Some(Err(CreateFailed::Error(e))) => {
                            // The pause between attempts, within the deadline.
                            let pause = attempt.create_failed(e)?;
                            drop(probe); // a failed probe reopened the breaker: it ends here
                                         // Counted in `status().waiting` while it pauses (a cancelled get too
                                         // leaves the count: the guard goes with the future).
                            let waiting = self.shared().waiting();
                            let slept = within(&mut attempt, pin!(sleep_until(time::after(pause)))).await;
                            drop(waiting);
                            if slept.is_none() {
                                return Err(attempt.timed_out());
                            }
                        }
                    }
                }
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
        attempt: &mut Attempt<'_, Async<M>>,
        priority: Priority,
    ) -> Option<Result<Acquired<cenote_front::Entry<M::Connection>, Ext<M>>, Closed>> {
        let (due, fresh) = attempt.deadline_fresh();
        if due == time::NEVER {
            return Some(self.core().acquire().with_priority(priority).await);
        }
        let shared = self.shared();
        let watch = &self.watch;
        let mut acquire = pin!(self.core().acquire_until(due, |due| watch.arm(due)).with_priority(priority));
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

    /// Takes a create slot into `slot` if one is free; whether it did.
    fn take_create_slot<'a>(&'a self, slot: &mut Option<CreateSlot<'a, Async<M>>>) -> bool {
        *slot = self.shared().try_create_slot();
        slot.is_some()
    }

    /// Waits (up to [`RECHECK`](cenote_front::RECHECK) at a time, and never past the
    /// deadline) for a create slot to be given back (or an object returned); counted in
    /// `status().waiting` meanwhile. `false` once the deadline has passed.
    #[cold]
    async fn wait_for_create_slot(&self, attempt: &mut Attempt<'_, Async<M>>) -> bool {
        let deadline = attempt.deadline();
        let Some(wait) = self.shared().wait_for_create_slot() else { return true };
        let left = time::until(deadline);
        if left.is_zero() {
            return false;
        }
        let _woken = timeout_at(time::after(left.min(cenote_front::RECHECK)), wait.listener).await;
        true
    }

    /// Creates an object into `permit`. If `create` fails, panics or is cancelled, the permit
    /// is dropped, which gives its place back.
    async fn create(
        &self,
        permit: PermitOf<Async<M>>,
        location: &'static Location<'static>,
        creating: Creating,
    ) -> Result<Pooled<M>, CreateFailed<M::Error>> {
        let span = self.handle.create_span();
        let create = pin!(self.manager().create());
        let create = span.clone().wrap(create);
        let created = match self.config().create_timeout {
            None => Some(create.await),
            Some(limit) => timeout_at(time::after(limit), create).await,
        };
        span.outcome(match &created {
            Some(Ok(_)) => "ok",
            Some(Err(_)) => "error",
            None => "timeout",
        });
        let conn = created.ok_or(CreateFailed::Timeout)?.map_err(CreateFailed::Error)?;
        Ok(self.handle.lend_created(permit, conn, location, creating))
    }

    /// Resets, checks and applies the health options to an idle object about to be lent;
    /// `None` if it was dropped instead.
    async fn check_out(
        &self,
        lease: LeaseOf<Async<M>>,
        location: &'static Location<'static>,
    ) -> Option<Pooled<M>> {
        let (mut pooled, validate) = self.handle.check_out(lease, location)?;
        if Pooled::needs_reset(&pooled) {
            // If this await is cancelled, `pooled` goes back still marked for its reset.
            if self.manager().reset(&mut pooled).await.is_err() {
                Pooled::retire_because(pooled, Dropped::ResetFailed);
                return None;
            }
            Pooled::reset_done(&mut pooled);
        }
        if validate {
            let span = self.handle.check_span();
            let checked = span.clone().wrap(pin!(self.manager().check(&mut pooled))).await;
            span.outcome(if checked.is_ok() { "ok" } else { "failed" });
            if checked.is_err() {
                Pooled::retire_because(pooled, Dropped::Invalid);
                return None;
            }
            Pooled::check_passed(&mut pooled);
        }
        Pooled::lent(&mut pooled);
        Some(pooled)
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.handle, f)
    }
}

/// What [`Pool::get_first`] starts from: nothing ([`Ask`], a plain `get`: a zero-sized type,
/// so that its future is the same as without this parameter), or what a sharded pool's
/// step found (`Option<TryAcquire>`, taken on the first round).
pub(crate) trait First<M: Manager>: Send {
    /// The answer to use instead of asking the core, this round.
    fn next(&mut self) -> Option<cenote_front::TryAcquireOf<Async<M>>>;

    /// The class the get asks and waits in: `Normal` but for [`AskAs`] (a constant for the
    /// others, so that a plain get's future is the same as without classes).
    #[inline(always)]
    fn priority(&self) -> Priority {
        Priority::Normal
    }
}

/// Ask the core from the first round on.
pub(crate) struct Ask;

impl<M: Manager> First<M> for Ask {
    #[inline(always)]
    fn next(&mut self) -> Option<cenote_front::TryAcquireOf<Async<M>>> {
        None
    }
}

/// Ask the core from the first round on, in a class (`get_with`).
pub(crate) struct AskAs(pub(crate) Priority);

impl<M: Manager> First<M> for AskAs {
    #[inline(always)]
    fn next(&mut self) -> Option<cenote_front::TryAcquireOf<Async<M>>> {
        None
    }

    #[inline(always)]
    fn priority(&self) -> Priority {
        self.0
    }
}

impl<M: Manager> First<M> for Option<cenote_front::TryAcquireOf<Async<M>>> {
    #[inline]
    fn next(&mut self) -> Option<cenote_front::TryAcquireOf<Async<M>>> {
        self.take()
    }
}

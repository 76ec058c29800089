//! The pool handle and `get`.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::panic::Location;
use core::time::Duration;

use cenote_core::{Acquired, Priority, TryAcquire, WaitError};
use std::sync::Arc;

use cenote_front::{
    CreateSlot, Dropped, Front, Handle, LeaseOf, Maintenance, PermitOf, Return, Shutdown, Timeout, WarmStep,
};

use crate::maintenance;
use crate::{BuildError, Builder, Config, Error, Manager, Pooled};

/// The blocking front end, as the shared layer sees it: the [`Front`] of a [`Manager`].
/// Only named in types ([`Builder`], [`Pooled`]).
pub struct Blocking<M>(PhantomData<fn() -> M>);

impl<M> fmt::Debug for Blocking<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Blocking")
    }
}

impl<M: Manager> Front for Blocking<M> {
    type Manager = M;
    type Connection = M::Connection;
    type Error = M::Error;
    type Pool = Pool<M>;

    fn pool(handle: Handle<Self>) -> Pool<M> {
        let background =
            handle.config().maintenance_thread.unwrap_or_else(|| handle.shared().needs_maintenance());
        let maintenance =
            background.then(|| handle.start_background(|handle| maintenance::pass(handle).next));
        Pool { handle, _maintenance: maintenance }
    }

    /// `create_timeout` cannot be honoured: a blocking `create` runs on the caller's thread and
    /// cannot be interrupted.
    fn validate(config: &Config) -> Result<(), BuildError> {
        if config.create_timeout.is_some() {
            return Err(BuildError::Unsupported {
                option: "create_timeout",
                why: "a blocking create runs on the calling thread and cannot be interrupted; bound it in the manager instead (a connect timeout), and get() never waits longer than acquire_timeout plus one create",
            });
        }
        Ok(())
    }

    /// `has_broken`, then `reset`, on the returning thread.
    #[inline]
    fn on_return(manager: &M, conn: &mut M::Connection) -> Return {
        if manager.has_broken(conn) {
            Return::Retire
        } else if manager.reset(conn).is_err() {
            Return::ResetFailed
        } else {
            Return::Keep
        }
    }
}

/// A pool of objects made by a [`Manager`], for threads. Cloning it is cheap (a handle).
///
/// The methods both front ends share (`status`, `resize`, `close`, `is_closed`, `manager`,
/// `config`) are on [`Handle`], which `Pool` derefs to.
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
/// [`status`](Handle::status) is not a consistent snapshot.
pub struct Pool<M: Manager> {
    handle: Handle<Blocking<M>>,
    /// Keeps the background maintenance job while any handle is alive.
    _maintenance: Option<Arc<cenote_front::Background>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self { handle: self.handle.clone(), _maintenance: self._maintenance.clone() }
    }
}

impl<M: Manager> Deref for Pool<M> {
    type Target = Handle<Blocking<M>>;

    #[inline]
    fn deref(&self) -> &Handle<Blocking<M>> {
        &self.handle
    }
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
    /// # Blocking
    ///
    /// Runs `create` on the calling thread, one object after another.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// // (no background thread here: it would fill min_idle too, and `warm` would create fewer)
    /// let pool = cenote_sync::Pool::builder(M).max_size(4).min_idle(3).maintenance_thread(false).build()?;
    /// assert_eq!(pool.status().idle, 0); // `build` creates nothing
    /// assert_eq!(pool.warm()?, 3);
    /// assert_eq!(pool.status().idle, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn warm(&self) -> Result<usize, M::Error> {
        use event_listener::Listener as _;
        let mut created = 0;
        loop {
            match self.handle.warm_step() {
                WarmStep::Create(fill) => {
                    let span = self.handle.create_span();
                    let made = span.in_scope(|| self.manager().create());
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
                    let _woken = wait.listener.wait_timeout(cenote_front::RECHECK);
                }
                _ => return Ok(created),
            }
        }
    }

    /// Runs one maintenance pass now, on the calling thread, and says what it did and when
    /// the next one is due: drops idle objects past their `max_lifetime` deadline (each
    /// object's own: `max_lifetime` minus a jitter of up to 1/40 of it) or idle longer than
    /// `idle_timeout` (keeping at least `min_idle` idle), runs [`Manager::check`] on objects
    /// idle at least `health_check_interval` (dropping those that fail), and creates objects
    /// until `min_idle` are idle, pausing `create_backoff` after a failure.
    ///
    /// The background maintenance thread (on by default when `min_idle` or a time-based
    /// option is set; see [`Builder::maintenance_thread`](cenote_front::Builder::maintenance_thread))
    /// calls this for you; call it yourself when you run your own loop (turn the thread off).
    /// An object is out of the idle queue only while the pass looks at it or checks it.
    ///
    /// # Blocking
    ///
    /// Runs `check` and `create` on the calling thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M)
    ///     .max_size(4)
    ///     .min_idle(1)
    ///     .idle_timeout(Some(Duration::from_millis(1)))
    ///     .maintenance_thread(false)
    ///     .build()?;
    /// let (a, b) = (pool.get()?, pool.get()?);
    /// drop((a, b));
    /// std::thread::sleep(Duration::from_millis(2));
    /// let pass = pool.maintain();
    /// assert_eq!(pass.idle_timeout, 1, "one reaped, one kept for min_idle");
    /// assert_eq!(pool.status().idle, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn maintain(&self) -> Maintenance {
        maintenance::pass(&self.handle)
    }

    /// Retires every object created before this call: the idle ones now, the lent ones when
    /// they are returned; no `get` that begins after it returns receives an old object (see
    /// [`Handle::refresh`], which this calls, for the generation argument). Wakes the
    /// background maintenance thread, so that `min_idle` replacements are created at once.
    /// Returns how many idle objects it dropped now.
    pub fn refresh(&self) -> usize {
        let dropped = self.handle.refresh();
        if let Some(token) = &self._maintenance {
            token.wake();
        }
        dropped
    }

    /// Shuts the pool down gracefully: closes it (waiters get [`Error::Closed`] at once, idle
    /// objects are dropped, every later `get` fails), then waits up to `timeout` for the
    /// objects still lent out to come back (each is dropped as it returns), and reports how
    /// many were still out. [`close`](Handle::close) is the same without the wait.
    ///
    /// # Blocking
    ///
    /// Parks the calling thread while it waits; each object that comes back wakes it (an
    /// `event-listener` wait on the pool's slow path, no polling).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::new(M, 2);
    /// let conn = pool.get()?;
    /// let worker = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     drop(conn); // finishes its work and returns it
    /// });
    /// let report = pool.shutdown(Duration::from_secs(5));
    /// assert_eq!((report.out_at_start, report.still_out), (1, 0));
    /// assert!(pool.get().unwrap_err().is_closed());
    /// # worker.join().unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> Shutdown {
        let shutdown = self.handle.begin_shutdown(timeout);
        while let Some(freed) = shutdown.next_wait(&self.handle) {
            shutdown.park(freed);
        }
        shutdown.finish(&self.handle)
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
    /// * [`Error::Create`] if `create` fails and there is no deadline (`acquire_timeout`
    ///   `None`, or too far off to represent);
    /// * [`Error::Overloaded`] at once, with `max_waiters` set, if it would wait while that
    ///   many callers already wait;
    /// * [`Error::Unavailable`] at once, with a `circuit_breaker` set, if it would have to
    ///   create while the breaker is open.
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
    #[track_caller]
    pub fn get(&self) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_inner(Priority::Normal, Timeout::Pool, Location::caller())
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
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_inner(Priority::Normal, Timeout::Given(Some(timeout)), Location::caller())
    }

    /// An idle object now, or `None`. Never waits and never creates.
    ///
    /// # Blocking
    ///
    /// Runs `is_valid` on the calling thread when configured.
    #[track_caller]
    pub fn try_get(&self) -> Option<Pooled<M>> {
        self.try_get_inner(Priority::Normal, Location::caller())
    }

    pub(crate) fn try_get_inner(
        &self,
        priority: Priority,
        location: &'static Location<'static>,
    ) -> Option<Pooled<M>> {
        loop {
            let lease = self.handle.core().try_take_idle_with(priority)?;
            if let Some(pooled) = self.check_out(lease, location) {
                return Some(pooled);
            }
        }
    }

    #[inline]
    pub(crate) fn get_inner(
        &self,
        priority: Priority,
        timeout: Timeout,
        location: &'static Location<'static>,
    ) -> Result<Pooled<M>, Error<M::Error>> {
        // The fast path: an idle object at once, fit to lend. No clock read, no `Attempt`, no
        // create slot, no metrics beyond the slot's own use count.
        let first = match self.core().try_acquire_with(priority) {
            TryAcquire::Idle(lease) => match self.check_out(lease, location) {
                Some(pooled) => return Ok(pooled),
                None => None, // dropped (expired, failed its check): look again
            },
            other => Some(other),
        };
        self.get_slow(priority, first, timeout, location)
    }

    /// The rest of `get`: waits, creates and retries, from the first `try_acquire`'s answer
    /// (`None`: ask again; a sharded pool passes what another step found). The clock is read
    /// from here on.
    #[inline(never)]
    pub(crate) fn get_slow(
        &self,
        priority: Priority,
        mut first: Option<FirstTry<M>>,
        timeout: Timeout,
        location: &'static Location<'static>,
    ) -> Result<Pooled<M>, Error<M::Error>> {
        let mut attempt = self.handle.attempt_for(timeout);
        // A create slot (`max_pending_creates`), kept across the pause after a failed create.
        let mut slot: Option<CreateSlot<'_, Blocking<M>>> = None;
        loop {
            let acquired = match first.take().unwrap_or_else(|| self.core().try_acquire_with(priority)) {
                TryAcquire::Idle(lease) => Acquired::Idle(lease),
                TryAcquire::Vacant(permit) => Acquired::Vacant(permit),
                TryAcquire::Closed => return Err(Error::Closed),
                TryAcquire::Exhausted => {
                    attempt.slow();
                    slot = None; // nothing to create for now: let another caller have the slot
                    self.handle.admit(&mut attempt)?; // `max_waiters`
                    let span = self.handle.get_span();
                    let waited =
                        span.in_scope(|| self.core().acquire_blocking_with(attempt.deadline(), priority));
                    span.outcome(match &waited {
                        Ok(_) => "ok",
                        Err(WaitError::Closed) => "closed",
                        Err(_) => "timeout",
                    });
                    match waited {
                        Ok(acquired) => acquired,
                        Err(WaitError::Closed) => return Err(Error::Closed),
                        Err(_) => return Err(attempt.timed_out()),
                    }
                }
            };
            match acquired {
                Acquired::Idle(lease) => {
                    slot = None;
                    if let Some(pooled) = self.check_out(lease, location) {
                        attempt.lent();
                        return Ok(pooled);
                    }
                }
                Acquired::Vacant(permit) => {
                    attempt.slow();
                    // The circuit breaker, if set: fail fast while it is open (the permit goes
                    // back); when half-open, this create may be its one probe.
                    let probe = attempt.may_create()?;
                    if slot.is_none() {
                        slot = self.shared().try_create_slot();
                    }
                    if slot.is_none() {
                        // Every create slot is taken: give the place back and wait for a slot
                        // or a return, within the deadline.
                        drop((permit, probe));
                        self.handle.admit(&mut attempt)?; // `max_waiters`
                        if !self.wait_for_create_slot(&mut attempt) {
                            return Err(attempt.timed_out());
                        }
                        continue;
                    }
                    match self.create(permit, location) {
                        Ok(pooled) => {
                            attempt.lent();
                            return Ok(pooled);
                        }
                        // The permit is back in the pool; pause before trying again (keeping
                        // the slot: at most `max_pending_creates` callers retry at once).
                        Err(e) => {
                            let pause = attempt.create_failed(e)?;
                            drop(probe); // a failed probe reopened the breaker: it ends here
                            let _waiting = self.shared().waiting(); // counted in `status().waiting`
                            std::thread::sleep(pause);
                        }
                    }
                }
            }
        }
    }

    /// Waits (up to [`RECHECK`](cenote_front::RECHECK) at a time, and never past the
    /// deadline) for a create slot to be given back (or an object returned); counted in
    /// `status().waiting` meanwhile. `false` once the deadline has passed.
    #[cold]
    fn wait_for_create_slot(&self, attempt: &mut cenote_front::Attempt<'_, Blocking<M>>) -> bool {
        use event_listener::Listener as _;
        let deadline = attempt.deadline();
        let Some(wait) = self.shared().wait_for_create_slot() else { return true };
        let left = cenote_core::time::until(deadline);
        if left.is_zero() {
            return false;
        }
        let _woken = wait.listener.wait_timeout(left.min(cenote_front::RECHECK));
        true
    }

    /// Creates an object into `permit`. A failing or panicking `create` drops the permit,
    /// which gives its place back.
    fn create(
        &self,
        permit: PermitOf<Blocking<M>>,
        location: &'static Location<'static>,
    ) -> Result<Pooled<M>, M::Error> {
        // Before the create: its start time and the pool's generation (see `refresh`).
        let creating = self.handle.begin_create();
        let span = self.handle.create_span();
        let created = span.in_scope(|| self.manager().create());
        span.outcome(if created.is_ok() { "ok" } else { "error" });
        Ok(self.handle.lend_created(permit, created?, location, creating))
    }

    /// Applies the health options to an idle object about to be lent; `None` if it was
    /// dropped instead.
    #[inline]
    fn check_out(
        &self,
        lease: LeaseOf<Blocking<M>>,
        location: &'static Location<'static>,
    ) -> Option<Pooled<M>> {
        let (mut pooled, validate) = self.handle.check_out(lease, location)?;
        if validate {
            let span = self.handle.check_span();
            let checked = span.in_scope(|| self.manager().check(&mut pooled));
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

/// What `get`'s first `try_acquire` answered, handed to its slow path.
pub(crate) type FirstTry<M> =
    TryAcquire<cenote_front::Entry<<M as Manager>::Connection>, cenote_front::Shared<Blocking<M>>>;

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.handle, f)
    }
}

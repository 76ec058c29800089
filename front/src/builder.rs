//! Configuring and building a pool: one builder for both front ends.

use core::fmt;
use core::time::Duration;

use crate::front::Front;
use crate::{BuildError, Config, Handle, DEFAULT_MAX_SIZE};

/// Configures a pool. Get one from `Pool::builder` of either front end.
///
/// | option | default |
/// |---|---|
/// | `max_size` | 10 |
/// | `capacity` (ceiling for `resize`) | `max_size` |
/// | `min_idle` (created by `warm`) | 0 |
/// | `acquire_timeout` | 30 s |
/// | `create_timeout` | none (async front end only) |
/// | `idle_timeout` | none |
/// | `max_lifetime` | none |
/// | `validate_on_acquire` | `false` |
/// | `health_check_interval` | none |
/// | `validate_idle_after` | 500 ms |
/// | `max_pending_creates` | 2 |
/// | `leak_detection_threshold` | none |
/// | `max_waiters` (load shedding) | none (no limit) |
/// | `reserve` (the last objects, for `Priority::High`) | 0 (off) |
/// | `circuit_breaker` | none (off) |
///
/// `build` creates no object in either front end: it never blocks and never fails because
/// the backend is down. `Pool::warm` creates the `min_idle` objects (blocking, or `.await`ed).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # struct M; impl cenote_sync::Manager for M { type Connection = (); type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<(), Self::Error> { Ok(()) } }
///
/// let pool = cenote_sync::Pool::builder(M)
///     .max_size(16)
///     .min_idle(2)
///     .acquire_timeout(Some(Duration::from_secs(5)))
///     .maintenance_thread(false) // else the background thread may fill min_idle before `warm`
///     .build()?;
/// assert_eq!(pool.status().max_size, 16);
/// assert_eq!(pool.warm()?, 2);
/// assert_eq!(pool.status().idle, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<F: Front> {
    manager: F::Manager,
    config: Config,
    on_metrics: Option<crate::metrics::OnMetrics>,
}

impl<F: Front> Builder<F> {
    /// A builder with the defaults, for objects made by `manager`.
    pub fn new(manager: F::Manager) -> Self {
        Self { manager, config: Config::new(DEFAULT_MAX_SIZE), on_metrics: None }
    }

    /// Takes every option from `config` (a [`Config`] loaded from a file, say); setters called
    /// after this one override it.
    pub fn config(mut self, config: &Config) -> Self {
        self.config = config.clone();
        self
    }

    /// Most objects in existence at once (at least 1). Default: 10.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// Slots allocated up front: the ceiling for `Pool::resize`. At least `max_size`.
    /// Default: `max_size`.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.config.capacity = Some(capacity);
        self
    }

    /// Idle objects kept ready (at most `max_size`): `Pool::warm` creates them. Default: 0.
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.config.min_idle = min_idle;
        self
    }

    /// How long `Pool::get` waits, retries of failed creates included; `None` waits forever
    /// (and returns the first create error at once). Default: 30 s.
    pub fn acquire_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.acquire_timeout = timeout;
        self
    }

    /// How long one `create` may take (async front end); `None`: bounded only by the acquire
    /// timeout. Default: none. The blocking pool rejects it
    /// ([`BuildError::Unsupported`]): a blocking `create` cannot be interrupted, so bound it
    /// in the manager (a connect timeout) instead.
    pub fn create_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.create_timeout = timeout;
        self
    }

    /// Drop idle objects that have not been used for this long, instead of lending them.
    /// Default: none.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Drop objects older than this, instead of lending them. Default: none.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// Check every idle object with the manager's `is_valid` before lending it. Default:
    /// `false`.
    pub fn validate_on_acquire(mut self, validate: bool) -> Self {
        self.config.validate_on_acquire = validate;
        self
    }

    /// Check an object with the manager's `check` before lending it if it has been idle at
    /// least about this long (a coarse clock, ±100 ms: the hot path reads no clock). Catches
    /// connections that died while idle, at the cost of one check per lend of an object idle
    /// that long. `None` turns it off. Default: 500 ms.
    ///
    /// The coarse clock is ticked by one process-wide thread, `cenote-clock`, started by the
    /// first pool that uses it; it ticks every 100 ms while such a pool is alive and parks
    /// otherwise, and it does not end with the pools (turn the option off where a test
    /// harness wants every thread to end, as Miri does).
    pub fn validate_idle_after(mut self, after: Option<Duration>) -> Self {
        self.config.validate_idle_after = after;
        self
    }

    /// Check an idle object with the manager's `is_valid` before lending it if it has been
    /// idle at least this long. Default: none.
    pub fn health_check_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.health_check_interval = interval;
        self
    }

    /// The longest one health check may take in a maintenance pass (async: a check still
    /// running then counts as failed, and its object is dropped). Default: 5 s.
    pub fn health_check_timeout(mut self, timeout: Duration) -> Self {
        self.config.health_check_timeout = timeout;
        self
    }

    /// Pauses between failed creates, in `get` and in maintenance refills: `first`, doubling
    /// up to `max`, each jittered. Default: 5 ms, 500 ms.
    pub fn create_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.config.create_backoff = (first, max);
        self
    }

    /// The longest pause between two maintenance passes (a pass may come sooner, when an
    /// object is due for reaping or checking, or a refill for a retry). Default: 30 s.
    pub fn maintenance_interval(mut self, interval: Duration) -> Self {
        self.config.maintenance_interval = interval;
        self
    }

    /// Autoscaling (the dynamic pool): maintenance passes move `max_size` within
    /// `autoscale.min..=autoscale.max` from the pool's utilization and wait p99 over a window,
    /// at most once per `cooldown` (see [`Autoscale`](crate::Autoscale) for the rule). The
    /// pool starts at `max_size` (which must be within the range); slots are allocated for
    /// `max` at build time unless `capacity` is set. Turns background maintenance on.
    /// Default: `None`.
    pub fn autoscale(mut self, autoscale: Option<crate::Autoscale>) -> Self {
        self.config.autoscale = autoscale;
        self
    }

    /// Whether the shared background thread (`cenote-maintenance`, one for every pool) runs
    /// this pool's maintenance.
    ///
    /// Blocking front end: full passes (reap, check, refill). Default: on when `min_idle`, a
    /// time-based option or `leak_detection_threshold` is set, or an `on_metrics` callback.
    ///
    /// Async front end: checks and refills are async and belong on your executor (spawn
    /// `Pool::maintenance()`); the thread only does what needs no manager call: it drops idle
    /// objects past `idle_timeout` or `max_lifetime`, reports leaks and calls `on_metrics`, so
    /// that a pool whose `maintenance()` nobody spawned does not keep expired connections
    /// open. It stands aside while a `maintenance()` future runs. Default: on when
    /// `idle_timeout`, `max_lifetime` or `leak_detection_threshold` is set, or an
    /// `on_metrics` callback.
    pub fn maintenance_thread(mut self, on: bool) -> Self {
        self.config.maintenance_thread = Some(on);
        self
    }

    /// Drop an object on return once this many errors were reported against it with
    /// `Pooled::report_error`. Default: none.
    pub fn max_errors(mut self, max: Option<u32>) -> Self {
        self.config.max_errors = max;
        self
    }

    /// Most `create` calls in flight at once for this pool, across `get`, `warm` and
    /// maintenance refills (at least 1; 0 is a [`BuildError`]). A `get` that finds room in the
    /// pool but every create slot taken waits, within its timeout, for an object to be returned
    /// or for a create to finish (then it may create itself); a caller pausing between failed
    /// creates keeps its slot, so during an outage at most `n` callers retry and the others
    /// wait for their outcome. A `get` that times out this way carries the pool's last create
    /// error. Default: 2.
    pub fn max_pending_creates(mut self, n: usize) -> Self {
        self.config.max_pending_creates = n;
        self
    }

    /// Report objects held longer than this: each maintenance pass logs (`log::warn!`, once
    /// per lend) the pool's name, how long the object has been out, and where it was acquired
    /// (`get`, `get_timeout` and `try_get` are `#[track_caller]`), and counts them in
    /// `Maintenance::leaked`. A pass is due within the threshold while it is set (and in the
    /// blocking front end it turns the maintenance thread on; an async pool needs its
    /// `maintenance()` future spawned, or `maintain()` called). Costs, when set: one clock
    /// read and two stores per lend, one store per return; when `None` (the default),
    /// nothing.
    pub fn leak_detection_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.config.leak_detection_threshold = threshold;
        self
    }

    /// Load shedding: a `get` that finds nothing to lend and would wait while `n` callers
    /// already wait fails at once with [`Error::Overloaded`](crate::Error::Overloaded)
    /// (counted in `Metrics::overloaded`) instead of queueing into a timeout. `None` (the
    /// default): no limit; `Some(0)`: never queue. Takes `n`, `Some(n)` or `None`.
    ///
    /// "Waiting" is what `status().waiting` counts: callers queued for a return and callers
    /// waiting for a create slot. A `get` is checked once, when it first has to wait; once
    /// let in it is never turned away later. A `get` pausing between retries of its own
    /// failed create is not checked (it holds one of the `max_pending_creates` slots: work in
    /// hand, not a queue), though it is counted while it pauses.
    ///
    /// # The bound
    ///
    /// The check reads the count without a lock (a `get` is counted once it has entered the
    /// wait), so it is exact only between races: when `c` callers pass the check at the same
    /// instant, up to `n - 1 + c` may end up waiting (plus up to `max_pending_creates`
    /// pausing between create retries, as above); and a caller is turned away only if at least
    /// `n` were counted at its check, where a waiter moving from one wait to the other at that
    /// instant may be counted twice (so it may be turned away with `n - 1` waiting, by as
    /// many callers as were moving). [`Error::Overloaded`](crate::Error::Overloaded) carries
    /// the count it saw.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(1).max_waiters(0).build()?;
    /// let held = pool.get()?;
    /// let start = std::time::Instant::now();
    /// let err = pool.get_timeout(Duration::from_secs(10)).unwrap_err();
    /// assert!(err.is_overloaded(), "{err}");
    /// assert!(start.elapsed() < Duration::from_secs(1), "at once, not after the timeout");
    /// assert_eq!(pool.metrics().overloaded, 1);
    /// drop(held);
    /// assert!(pool.get().is_ok(), "an idle object is lent whatever the limit");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_waiters(mut self, n: impl Into<Option<usize>>) -> Self {
        self.config.max_waiters = n.into();
        self
    }

    /// The overflow pool (off by default): the last `n` available objects and places (idle
    /// objects plus room to create) go only to [`Priority::High`](crate::Priority) gets
    /// (`get_with(Priority::High)`); a `Normal` or `Low` get that would take one of them waits
    /// instead, within its timeout, and is served once more than `n` are available again.
    /// `High` gets may take them. `n` must be below `max_size`
    /// ([`BuildError::ReserveNotBelowMaxSize`](crate::BuildError::ReserveNotBelowMaxSize)).
    ///
    /// A pool with a reserve pays for it on `Normal` and `Low` gets: each takes an idle
    /// object and then checks (a fence and a few loads, lock-free) that the reserve is still
    /// there, deciding under the wait list's lock only at its edge; `High` gets, and pools
    /// without a reserve, run the plain hot path.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_sync::Priority;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(2).reserve(1).build()?;
    /// let normal = pool.get()?;
    /// let short = Duration::from_millis(10);
    /// assert!(pool.get_timeout(short).unwrap_err().is_timeout(), "the last one is reserved");
    /// let high = pool.get_with(Priority::High)?;
    /// # drop((normal, high));
    /// assert!(cenote_sync::Pool::builder(M).max_size(2).reserve(2).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve(mut self, n: usize) -> Self {
        self.config.reserve = n;
        self
    }

    /// The circuit breaker on creation (off by default): after `failures` consecutive failed
    /// creates, a `get` that would have to create fails at once with
    /// [`Error::Unavailable`](crate::Error::Unavailable) for `open_for`; then one probe create
    /// is let through, whose success closes the breaker. Idle objects are lent meanwhile.
    /// Takes a [`CircuitBreaker`](crate::CircuitBreaker), `Some(..)` or `None`; see it for the
    /// states and an example.
    pub fn circuit_breaker(mut self, breaker: impl Into<Option<crate::CircuitBreaker>>) -> Self {
        self.config.circuit_breaker = breaker.into();
        self
    }

    /// The pool's name, in its log lines. Default: `"cenote"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Builds the pool, or panics: for the front ends' `Pool::new(manager, max_size)`.
    ///
    /// # Panics
    ///
    /// If the configuration cannot work (with the [`BuildError`]'s message).
    #[track_caller]
    pub fn build_or_panic(self) -> F::Pool {
        match self.build() {
            Ok(pool) => pool,
            Err(e) => panic!("Pool::new: {e}"),
        }
    }

    /// Calls `f` with the pool's [`Metrics`](crate::Metrics) about every `interval`, from
    /// maintenance passes: in `cenote-sync` the background maintenance thread (which this
    /// option turns on by default), in `cenote-async` the spawned `maintenance()` future, or
    /// your own `maintain()` calls. For logging a status block or pushing to a metrics system
    /// that scrapes nothing. `f` runs on the maintenance thread or task: keep it short.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let pool = cenote_sync::Pool::builder(M)
    ///     .maintenance_thread(false) // this example drives the passes itself
    ///     .on_metrics(Duration::from_secs(60), move |m| log.lock().unwrap().push(m.acquired))
    ///     .build()?;
    /// drop(pool.get()?);
    /// pool.maintain(); // the first pass calls it at once; the next in 60 s
    /// pool.maintain();
    /// assert_eq!(*seen.lock().unwrap(), [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_metrics(
        mut self,
        interval: Duration,
        f: impl Fn(&crate::Metrics) + Send + Sync + 'static,
    ) -> Self {
        self.on_metrics = Some(crate::metrics::OnMetrics::new(interval, Box::new(f)));
        self
    }

    /// The configuration so far (not validated yet).
    pub fn current_config(&self) -> &Config {
        &self.config
    }

    /// Builds the pool. Creates no object (see `Pool::warm`), never blocks.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for values that cannot work (`max_size` 0, `min_idle > max_size`,
    /// `capacity < max_size`, a zero duration) or slots that cannot be allocated.
    pub fn build(self) -> Result<F::Pool, BuildError> {
        self.config.validate()?;
        F::validate(&self.config)?;
        if self.on_metrics.as_ref().is_some_and(|m| m.interval().is_zero()) {
            return Err(BuildError::ZeroDuration { option: "on_metrics" });
        }
        Ok(F::pool(Handle::new(self.manager, self.config, self.on_metrics)?))
    }
}

impl<F: Front> fmt::Debug for Builder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").field("config", &self.config).finish_non_exhaustive()
    }
}

//! What the pool has done since it was built: counters, objects dropped by reason, and three
//! histograms (acquire wait, object lifetime, create time), read with [`Handle::metrics`].
//!
//! # What it costs
//!
//! The books are always kept, and the uncontended `get` + drop pays no shared
//! read-modify-write for them:
//!
//! * `acquired` is the sum of per-slot use counts that the lender writes on the slot's own
//!   cache line, which it owns and already writes ([`cenote_core::Lease::count_use`]); a
//!   snapshot adds them up (`capacity` loads).
//! * A `get` that found an idle object at once records nothing else: its wait is 0, and the
//!   snapshot derives how many such gets there were (`acquired - waited`).
//! * Everything else is counted on slow paths that already cost far more: a `get` that had to
//!   wait or create (one clock read when it starts to, one when it ends), a create, a timeout,
//!   an object dropped (through the core's [`vacated`](cenote_core::Hooks::vacated) hook, which
//!   also sees the objects the core drops on its own: on close and after a shrink).
//!
//! The counters and histograms are `cenote_core::stats` types (`Relaxed` atomics): each value
//! is exact, but a snapshot is not taken at one instant, so two counters read together may
//! disagree by the operations in flight.

use core::fmt;
use core::time::Duration;

use cenote_core::stats::{Counter, Histogram as Buckets, HISTOGRAM_BUCKETS};
use cenote_core::{time, SlotMeta, Vacated};

use crate::front::{Entry, Front, Shared};
use crate::handle::Handle;

/// Why an object was dropped (the reasons counted in [`Closed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dropped {
    /// Idle longer than `idle_timeout`.
    IdleTimeout,
    /// Past its `max_lifetime`.
    MaxLifetime,
    /// Failed a health check (`is_valid` / `check`, on lend or in maintenance).
    Invalid,
    /// The manager said it was broken when it came back (`has_broken`).
    Broken,
    /// Its `reset` failed.
    ResetFailed,
    /// Returned with `max_errors` reported errors.
    Errors,
    /// One too many after `resize` lowered `max_size`.
    Resized,
    /// Taken out of the pool for good (`Pooled::detach`).
    Detached,
    /// Dropped by its user (`Pooled::retire`, or a panic while it was held).
    Retired,
    /// The pool was closed (or its last handle dropped).
    Closed,
    /// Created before a `refresh` (soft eviction).
    Refreshed,
}

const REASONS: usize = 11;

impl Dropped {
    const ALL: [Dropped; REASONS] = [
        Dropped::IdleTimeout,
        Dropped::MaxLifetime,
        Dropped::Invalid,
        Dropped::Broken,
        Dropped::ResetFailed,
        Dropped::Errors,
        Dropped::Resized,
        Dropped::Detached,
        Dropped::Retired,
        Dropped::Closed,
        Dropped::Refreshed,
    ];

    /// The reason's name in snake case, as in the [`Closed`] fields and the Prometheus
    /// `reason` label: `"idle_timeout"`, `"max_lifetime"`, ...
    pub fn name(self) -> &'static str {
        match self {
            Dropped::IdleTimeout => "idle_timeout",
            Dropped::MaxLifetime => "max_lifetime",
            Dropped::Invalid => "invalid",
            Dropped::Broken => "broken",
            Dropped::ResetFailed => "reset_failed",
            Dropped::Errors => "errors",
            Dropped::Resized => "resized",
            Dropped::Detached => "detached",
            Dropped::Retired => "retired",
            Dropped::Closed => "closed",
            Dropped::Refreshed => "refreshed",
        }
    }
}

/// The books a pool keeps (in [`Shared`]).
#[derive(Debug, Default)]
pub(crate) struct Books {
    created: Counter,
    create_errors: Counter,
    timeouts: Counter,
    closed: [Counter; REASONS],
    wait: Buckets,
    lifetime: Buckets,
    create_time: Buckets,
    /// Objects held past `leak_detection_threshold` at the last maintenance pass.
    pub(crate) leaked: cenote_core::stats::Gauge,
    /// The most lends ever reported as "at once" (wait 0): kept so that the zero-wait bucket
    /// never goes down between snapshots (see `metrics`).
    at_once: Counter,
    /// `get`s turned away by `max_waiters`.
    pub(crate) overloaded: Counter,
    /// `get`s turned away by the open circuit breaker.
    pub(crate) unavailable: Counter,
}

impl Books {
    /// The wait histogram's counts now (for autoscaling's window).
    pub(crate) fn wait_counts(&self) -> [usize; HISTOGRAM_BUCKETS] {
        self.wait.counts()
    }
}

/// The user's metrics callback (`Builder::on_metrics`), called from maintenance passes.
pub(crate) struct OnMetrics {
    interval: Duration,
    f: Box<dyn Fn(&Metrics) + Send + Sync>,
    /// When the next call is due, in [`cenote_core::time`] ticks (0: at the first pass).
    due: std::sync::Mutex<u64>,
}

impl OnMetrics {
    pub(crate) fn new(interval: Duration, f: Box<dyn Fn(&Metrics) + Send + Sync>) -> Self {
        Self { interval, f, due: std::sync::Mutex::new(0) }
    }

    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// Calls the callback if it is due at `now`; when the next call is due. The lock keeps
    /// two passes at once (a `maintain()` beside the background one) from both calling.
    pub(crate) fn run_if_due<F: Front>(&self, handle: &Handle<F>, now: u64) -> u64 {
        let mut due = self.due.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if now >= *due {
            let metrics = handle.metrics();
            // A panicking callback must not end the pool's maintenance.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(&metrics))).is_err() {
                log::error!("pool {}: the on_metrics callback panicked", handle.config().name);
            }
            *due = now.saturating_add(crate::front::ticks(self.interval));
        }
        *due
    }
}

impl fmt::Debug for OnMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnMetrics").field("interval", &self.interval).finish_non_exhaustive()
    }
}

/// A create in progress, for the books: when it started (see [`Handle::begin_create`]).
#[derive(Clone, Copy, Debug)]
#[must_use = "pass it on with the created object, or to `create_failed`"]
pub struct Creating {
    started: u64,
    /// The pool's generation when the create began (see `refresh`).
    pub(crate) generation: usize,
}

impl<F: Front> Shared<F> {
    /// The core's [`vacated`](cenote_core::Hooks::vacated) hook: counts the object by reason
    /// and records its lifetime.
    pub(crate) fn vacated(&self, entry: &Entry<F::Connection>, _meta: &SlotMeta, why: Vacated) {
        let reason = match why {
            Vacated::Detached => Dropped::Detached,
            Vacated::Shrunk => Dropped::Resized,
            Vacated::Closed => Dropped::Closed,
            _ => entry.dropped.unwrap_or(Dropped::Retired),
        };
        self.books.closed[reason as usize].incr();
        self.trace_dropped(reason);
        self.books.lifetime.record(time::now().saturating_sub(entry.born));
    }

    /// A create finished with an object.
    pub(crate) fn created(&self, creating: Creating) -> u64 {
        let now = time::now();
        self.books.created.incr();
        self.books.create_time.record(now.saturating_sub(creating.started));
        now
    }

    /// A create failed (an error, a panic, or its `create_timeout`).
    pub(crate) fn create_failed(&self) {
        self.books.create_errors.incr();
    }

    /// A `get` timed out.
    pub(crate) fn timed_out(&self) {
        self.books.timeouts.incr();
    }

    /// A `get` that had to wait or create got its object after `waited` ticks.
    pub(crate) fn record_wait(&self, waited: u64) {
        self.books.wait.record(waited);
    }
}

impl<F: Front> Handle<F> {
    /// For front ends: a create starts now (one clock read: creates are a slow path). Give the
    /// result to [`lend_created`](Handle::lend_created) / [`fill_idle`](Handle::fill_idle)
    /// with the object, or to [`create_failed`](Handle::create_failed).
    pub fn begin_create(&self) -> Creating {
        Creating { started: time::now(), generation: self.shared().generation() }
    }

    /// For front ends: a create failed (counted in [`Metrics::create_errors`], and by the
    /// circuit breaker, if set).
    pub fn create_failed(&self) {
        self.shared().create_failed();
        let _open = self.shared().breaker_failed(None);
    }

    /// What the pool has done since it was built, and how it stands now.
    ///
    /// Lock-free and allocation-free; it reads one word per slot and three histograms, so
    /// it is cheap enough to call on every scrape, not on every `get`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(1).build()?;
    /// let conn = pool.get()?; // created: the get had to create, so it "waited"
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_err()); // a timeout
    /// drop(conn);
    /// drop(pool.get()?); // an idle object at once
    /// let m = pool.metrics();
    /// assert_eq!((m.created, m.acquired, m.waited, m.timeouts), (1, 2, 1, 1));
    /// assert_eq!(m.wait.count, 2);
    /// println!("{m}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics(&self) -> Metrics {
        let books = &self.shared().books;
        let status = self.status();
        let acquired = self.core().uses() as u64;
        let mut wait = Histogram::read(&books.wait);
        // Gets that found an idle object at once waited 0 and recorded nothing: they are the
        // lends counted less the waits recorded. A lend that waited counts its use an instant
        // before its wait is recorded, so a snapshot in between sees one more "at once"; the
        // high-water mark keeps the bucket from going down again (Prometheus would read a
        // counter reset), at the price of counting such a lend twice until later lends at
        // once catch up.
        let waited = wait.count;
        let at_once = books.at_once.raise_to(acquired.saturating_sub(waited) as usize) as u64;
        wait.counts[0] = wait.counts[0].saturating_add(at_once as usize);
        wait.count += at_once;
        let mut closed = [0u64; REASONS];
        for (n, c) in closed.iter_mut().zip(&books.closed) {
            *n = c.get() as u64;
        }
        Metrics {
            name: std::sync::Arc::clone(&self.shared().name),
            max_size: status.max_size,
            size: status.size,
            idle: status.idle,
            in_use: status.in_use,
            waiting: status.waiting,
            created: books.created.get() as u64,
            create_errors: books.create_errors.get() as u64,
            acquired,
            waited,
            timeouts: books.timeouts.get() as u64,
            overloaded: books.overloaded.get() as u64,
            unavailable: books.unavailable.get() as u64,
            closed: Closed::from_counts(closed),
            leaked: books.leaked.get() as u64,
            wait,
            lifetime: Histogram::read(&books.lifetime),
            create_time: Histogram::read(&books.create_time),
        }
    }
}

/// Objects dropped since the pool was built, by reason (see [`Dropped`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Closed {
    /// Idle longer than `idle_timeout`.
    pub idle_timeout: u64,
    /// Past their `max_lifetime`.
    pub max_lifetime: u64,
    /// Failed a health check.
    pub invalid: u64,
    /// Broken when they came back (`has_broken`).
    pub broken: u64,
    /// Their `reset` failed.
    pub reset_failed: u64,
    /// Returned with `max_errors` errors.
    pub errors: u64,
    /// Extras after a shrink.
    pub resized: u64,
    /// Detached (`Pooled::detach`).
    pub detached: u64,
    /// Retired by their user (`Pooled::retire`, a panic).
    pub retired: u64,
    /// Dropped on close.
    pub closed: u64,
    /// Created before a `refresh`.
    pub refreshed: u64,
}

impl Closed {
    fn from_counts(c: [u64; REASONS]) -> Self {
        Self {
            idle_timeout: c[Dropped::IdleTimeout as usize],
            max_lifetime: c[Dropped::MaxLifetime as usize],
            invalid: c[Dropped::Invalid as usize],
            broken: c[Dropped::Broken as usize],
            reset_failed: c[Dropped::ResetFailed as usize],
            errors: c[Dropped::Errors as usize],
            resized: c[Dropped::Resized as usize],
            detached: c[Dropped::Detached as usize],
            retired: c[Dropped::Retired as usize],
            closed: c[Dropped::Closed as usize],
            refreshed: c[Dropped::Refreshed as usize],
        }
    }

    /// The count for one reason.
    pub fn get(&self, reason: Dropped) -> u64 {
        match reason {
            Dropped::IdleTimeout => self.idle_timeout,
            Dropped::MaxLifetime => self.max_lifetime,
            Dropped::Invalid => self.invalid,
            Dropped::Broken => self.broken,
            Dropped::ResetFailed => self.reset_failed,
            Dropped::Errors => self.errors,
            Dropped::Resized => self.resized,
            Dropped::Detached => self.detached,
            Dropped::Retired => self.retired,
            Dropped::Closed => self.closed,
            Dropped::Refreshed => self.refreshed,
        }
    }

    /// Every reason with its count, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = (Dropped, u64)> + '_ {
        Dropped::ALL.into_iter().map(|r| (r, self.get(r)))
    }

    /// Objects dropped, all reasons together.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }
}

/// A snapshot of one of the pool's histograms (durations, recorded in nanoseconds in
/// log-linear buckets: each bucket's upper bound is within 25% of every value in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: Duration,
    counts: [usize; HISTOGRAM_BUCKETS],
}

impl Histogram {
    fn read(buckets: &Buckets) -> Self {
        let counts = buckets.counts();
        let count = counts.iter().map(|&n| n as u64).sum();
        Self { count, sum: Duration::from_nanos(buckets.sum()), counts }
    }

    /// The value at quantile `q` (0.0 to 1.0; 0.99 is p99): the upper bound of the bucket
    /// holding it, so at most 25% above the true value. Zero when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Duration {
        match Buckets::quantile_of(&self.counts, q) {
            u64::MAX => Duration::MAX,
            nanos => Duration::from_nanos(nanos),
        }
    }

    /// The mean, or zero when nothing was recorded.
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(0) => Duration::ZERO,
            Ok(n) => self.sum / n,
            Err(_) => Duration::from_nanos((self.sum.as_nanos() / u128::from(self.count)) as u64),
        }
    }

    /// The non-empty buckets, lowest first: each bucket's upper bound (inclusive; the last
    /// is `Duration::MAX`) and how many values fell in it. (For cumulative buckets, as
    /// Prometheus wants them, sum as you go.)
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, &n)| n != 0).map(|(i, &n)| {
            let upper = match Buckets::upper_bound(i) {
                u64::MAX => Duration::MAX,
                nanos => Duration::from_nanos(nanos),
            };
            (upper, n as u64)
        })
    }
}

impl fmt::Display for Histogram {
    /// `n 120 mean 1.2ms p50 1ms p99 4ms p999 8ms max 8ms`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "n {} mean {:?} p50 {:?} p99 {:?} p999 {:?} max {:?}",
            self.count,
            self.mean(),
            self.quantile(0.5),
            self.quantile(0.99),
            self.quantile(0.999),
            self.quantile(1.0)
        )
    }
}

/// What a pool has done since it was built, and how it stands (see [`Handle::metrics`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Metrics {
    /// The pool's `name` (shared with the pool: a snapshot allocates nothing).
    pub name: std::sync::Arc<str>,
    /// The current maximum number of objects.
    pub max_size: usize,
    /// Objects in existence (idle plus in use plus being created).
    pub size: usize,
    /// Objects ready to lend.
    pub idle: usize,
    /// Objects lent out or being created.
    pub in_use: usize,
    /// Callers waiting for an object.
    pub waiting: usize,
    /// Objects created.
    pub created: u64,
    /// Creates that failed (an error, or `create_timeout`; a `create` that panics is not
    /// counted: the panic goes to the caller).
    pub create_errors: u64,
    /// Objects lent to callers (`get`, `try_get`); a maintenance pass's visits are not
    /// counted.
    pub acquired: u64,
    /// Of those, lends that had to wait for a return or create an object first.
    pub waited: u64,
    /// `get`s that timed out.
    pub timeouts: u64,
    /// `get`s turned away at once by load shedding (`max_waiters`: [`Error::Overloaded`](crate::Error::Overloaded)).
    pub overloaded: u64,
    /// `get`s that failed fast because the circuit breaker was open
    /// ([`Error::Unavailable`](crate::Error::Unavailable)).
    pub unavailable: u64,
    /// Objects dropped, by reason.
    pub closed: Closed,
    /// Objects held past `leak_detection_threshold` when the last maintenance pass looked (0
    /// while that option is unset).
    pub leaked: u64,
    /// How long each lend waited (0 for an idle object at once); `count == acquired`, up to
    /// the lends in flight (and never going down: see the note in the code of `metrics`).
    pub wait: Histogram,
    /// How long each dropped object lived, from its creation.
    pub lifetime: Histogram,
    /// How long each successful create took.
    pub create_time: Histogram,
}

impl fmt::Display for Metrics {
    /// One readable block: gauges, counters, drops by reason and the three histograms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "pool {}: max_size {} size {} idle {} in_use {} waiting {}",
            self.name, self.max_size, self.size, self.idle, self.in_use, self.waiting
        )?;
        writeln!(
            f,
            "  created {} create_errors {} acquired {} waited {} timeouts {} overloaded {} unavailable {} leaked {}",
            self.created,
            self.create_errors,
            self.acquired,
            self.waited,
            self.timeouts,
            self.overloaded,
            self.unavailable,
            self.leaked
        )?;
        write!(f, "  dropped {}:", self.closed.total())?;
        for (reason, n) in self.closed.iter().filter(|&(_, n)| n != 0) {
            write!(f, " {} {n}", reason.name())?;
        }
        writeln!(f)?;
        writeln!(f, "  wait        {}", self.wait)?;
        writeln!(f, "  lifetime    {}", self.lifetime)?;
        write!(f, "  create_time {}", self.create_time)
    }
}

//! One maintenance pass, in the shared layer's terms: reap expired idle objects, hand the
//! front end the ones due for a health check one at a time, refill to `min_idle` with a
//! backoff between failures, and say when the next pass is due.
//!
//! The front ends drive it (`Pool::maintain`), running the manager's `check` and `create`
//! themselves (blocking, or awaited). A pass takes an idle object out of the idle queue only
//! while it looks at it (and, for one due for a check, while the check runs), then puts it
//! back; an object returned by a pass goes to a waiter like any return. Nothing here waits,
//! and nothing runs under a lock but bookkeeping.

use core::fmt;
use core::time::Duration;
use std::sync::Mutex;

use cenote_core::Lease;

use crate::front::{ticks, Expired, Front, LeaseOf, Shared};
use crate::Handle;

/// What one maintenance pass did, and when the next one is due.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// let pool = cenote_sync::Pool::builder(M)
///     .max_size(4)
///     .min_idle(2)
///     .maintenance_thread(false) // this example drives the passes itself
///     .build()?;
/// let pass = pool.maintain();
/// assert_eq!(pass.created, 2); // refilled to min_idle
/// assert_eq!(pool.status().idle, 2);
/// assert!(pass.next <= Some(Duration::from_secs(30))); // the default maintenance_interval
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Maintenance {
    /// Idle objects dropped because they were idle longer than `idle_timeout` (never below
    /// `min_idle` idle objects).
    pub idle_timeout: usize,
    /// Idle objects dropped because they were past their own `max_lifetime` deadline.
    pub max_lifetime: usize,
    /// Idle objects whose health check ran.
    pub checked: usize,
    /// Of those, the ones that failed it (or, async, did not finish within
    /// `health_check_timeout`), and were dropped.
    pub invalid: usize,
    /// Objects held longer than `leak_detection_threshold` now (each is logged once per
    /// lend, with where it was acquired); 0 when the option is off.
    pub leaked: usize,
    /// Idle objects dropped because they were created before a `refresh` (one that a racing
    /// return put back after the refresh's sweep).
    pub refreshed: usize,
    /// Objects created to bring the idle ones up to `min_idle`.
    pub created: usize,
    /// Creates that failed; the refill is retried after `create_backoff`.
    pub create_errors: usize,
    /// `max_size` changed by autoscaling in this pass: `(from, to)`.
    pub scaled: Option<(usize, usize)>,
    /// When the next pass is due, from the end of this one: at most `maintenance_interval`,
    /// sooner when an object is due for reaping or a check, or a refill for a retry. `None`
    /// once the pool is closed: no more passes are needed.
    pub next: Option<Duration>,
}

impl fmt::Display for Maintenance {
    /// One line, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reaped {} idle and {} old, checked {} ({} invalid), created {} ({} failed)",
            self.idle_timeout,
            self.max_lifetime,
            self.checked,
            self.invalid,
            self.created,
            self.create_errors
        )?;
        if self.refreshed > 0 {
            write!(f, ", dropped {} from before a refresh", self.refreshed)?;
        }
        if self.leaked > 0 {
            write!(f, ", {} held past leak_detection_threshold", self.leaked)?;
        }
        if let Some((from, to)) = self.scaled {
            write!(f, ", autoscaled max_size {from} -> {to}")?;
        }
        match self.next {
            Some(next) => write!(f, ", next pass in {next:?}"),
            None => f.write_str(", pool closed"),
        }
    }
}

/// Creation trouble remembered between passes and `get`s: the refill's backoff and the rate
/// limit of the "create failed" log lines.
#[derive(Debug)]
pub(crate) struct CreateHealth<E> {
    /// Consecutive failed refills.
    failures: u32,
    /// No refill before this time (pool ticks).
    retry_at: u64,
    /// Failures not logged since the last line, and when that line was written (ticks).
    suppressed: u64,
    logged_at: Option<u64>,
    /// Recent create errors from `get`s, newest last, for callers that time out without
    /// one of their own (see `Shared::keep_error`).
    pub(crate) errors: std::collections::VecDeque<E>,
}

impl<E> Default for CreateHealth<E> {
    fn default() -> Self {
        Self {
            failures: 0,
            retry_at: 0,
            suppressed: 0,
            logged_at: None,
            errors: std::collections::VecDeque::new(),
        }
    }
}

/// At most one "create failed" log line per pool in this long (the others are counted).
const LOG_EVERY: Duration = Duration::from_secs(10);

impl<F: Front> Shared<F> {
    /// Logs a failed create (rate-limited: the first one, then at most one line per 10 s
    /// with the count of those not logged), from `get` or a refill.
    pub(crate) fn log_create_failure(&self, error: &F::Error, during: &str) {
        let now = self.now();
        let Ok(mut health) = self.create_health.lock() else { return };
        let due = health.logged_at.is_none_or(|at| now.saturating_sub(at) >= ticks(LOG_EVERY));
        if !due {
            health.suppressed += 1;
            return;
        }
        let suppressed = core::mem::take(&mut health.suppressed);
        health.logged_at = Some(now);
        drop(health);
        let name = &self.config.name;
        if suppressed == 0 {
            log::warn!("pool {name}: create failed during {during}: {error}");
        } else {
            log::warn!("pool {name}: create failed during {during}: {error} ({suppressed} more failures since the last line)");
        }
    }
}

/// An idle object taken out for a health check by a pass; back to the pool when dropped
/// (without running `has_broken` or `reset`: a visit is not a use).
#[must_use = "dropping a visit puts the object back at once"]
pub struct Visit<F: Front> {
    lease: Option<LeaseOf<F>>,
}

impl<F: Front> Visit<F> {
    /// The object, for the check.
    pub fn conn_mut(&mut self) -> &mut F::Connection {
        &mut self.lease.as_mut().unwrap_or_else(|| unreachable!("a visit holds its lease")).conn
    }
}

impl<F: Front> Drop for Visit<F> {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            Lease::release(lease);
        }
    }
}

impl<F: Front> fmt::Debug for Visit<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Visit").finish_non_exhaustive()
    }
}

/// One maintenance pass in progress: made by [`Handle::begin_pass`], driven by a front end's
/// `maintain` (see the module docs), ended by [`Pass::finish`].
pub struct Pass<'a, F: Front> {
    handle: &'a Handle<F>,
    now: u64,
    /// Idle objects not yet visited in this pass (a snapshot of the count at the start).
    to_visit: usize,
    /// Idle objects that `idle_timeout` may still reap without going below `min_idle`.
    reapable: usize,
    /// The earliest time (ticks) something is due; `u64::MAX`: nothing.
    next: u64,
    report: Maintenance,
    /// The half-open circuit breaker's probe, when this pass's refill is it.
    probe: Option<crate::breaker::Probe<'a, F>>,
}

impl<F: Front> Handle<F> {
    /// For front ends: starts a maintenance pass.
    pub fn begin_pass(&self) -> Pass<'_, F> {
        let idle = self.core().status().idle;
        let shared = self.shared();
        Pass {
            handle: self,
            now: shared.now(),
            to_visit: idle,
            reapable: idle.saturating_sub(shared.min_idle()),
            next: u64::MAX,
            report: Maintenance::default(),
            probe: None,
        }
    }
}

impl<'a, F: Front> Pass<'a, F> {
    /// The next idle object due for a health check, reaping the expired ones on the way and
    /// putting back the others; `None` when every idle object was visited once.
    pub fn next_check(&mut self) -> Option<Visit<F>> {
        let shared = self.handle.shared();
        while self.to_visit > 0 {
            self.to_visit -= 1;
            let mut lease = self.handle.try_take_idle()?;
            let (_, entry, meta) = Lease::parts_mut(&mut lease);
            // A visit is not a use (the core counted one when it lent the object).
            meta.use_count = meta.use_count.saturating_sub(1);
            if shared.is_stale(entry) {
                self.report.refreshed += 1;
                self.reapable = self.reapable.saturating_sub(1);
                self.retire(lease, Expired::Refreshed);
                continue;
            }
            let standing = shared.standing(entry, meta, self.now);
            match standing.expired {
                Some(Expired::Lifetime) => {
                    self.report.max_lifetime += 1;
                    self.reapable = self.reapable.saturating_sub(1);
                    self.retire(lease, Expired::Lifetime);
                    continue;
                }
                Some(Expired::Idle) if self.reapable > 0 => {
                    self.report.idle_timeout += 1;
                    self.reapable -= 1;
                    self.retire(lease, Expired::Idle);
                    continue;
                }
                // Idle too long, but kept for `min_idle`: looked at again next interval.
                // (`standing` never says `Refreshed`: that is `is_stale`, above.)
                Some(Expired::Idle | Expired::Refreshed) | None => {}
            }
            self.next = self.next.min(standing.next);
            if standing.check {
                return Some(Visit { lease: Some(lease) });
            }
        }
        None
    }

    fn retire(&self, mut lease: LeaseOf<F>, expired: Expired) {
        let why = match expired {
            Expired::Lifetime => "past its max_lifetime",
            Expired::Idle => "idle longer than idle_timeout",
            Expired::Refreshed => "created before a refresh",
        };
        log::debug!("pool {}: dropped an idle object {why}", self.handle.config().name);
        lease.dropped = Some(expired.reason());
        Lease::retire(lease);
    }

    /// The health check of `visit` passed (`Ok`) or failed (`Err`, with its reason if any):
    /// a passed object goes back, a failed one is dropped.
    pub fn checked(&mut self, mut visit: Visit<F>, result: Result<(), Option<F::Error>>) {
        self.report.checked += 1;
        let Some(mut lease) = visit.lease.take() else { return };
        match result {
            Ok(()) => {
                lease.checked_at = self.now;
                self.handle.shared().stamp_idle(&mut lease);
                Lease::release(lease);
            }
            Err(why) => {
                self.report.invalid += 1;
                let name = &self.handle.config().name;
                match why {
                    Some(why) => {
                        log::debug!("pool {name}: dropped an idle object that failed its check: {why}")
                    }
                    None => log::debug!("pool {name}: dropped an idle object that failed its check"),
                }
                lease.dropped = Some(crate::metrics::Dropped::Invalid);
                Lease::retire(lease);
            }
        }
    }

    /// A permit to create one more idle object, while fewer than `min_idle` are idle, the
    /// pool has room, no refill retry is pending and the circuit breaker (if set) lets a
    /// create through; `None` otherwise.
    pub fn refill_permit(&mut self) -> Option<crate::Fill<'a, F>> {
        let shared = self.handle.shared();
        if let Ok(health) = shared.create_health.lock() {
            if health.retry_at > shared.now() {
                self.next = self.next.min(health.retry_at);
                return None;
            }
        }
        if self.probe.is_none() && self.handle.core().status().idle < shared.min_idle() {
            match shared.refill_gate() {
                Ok(probe) => self.probe = probe,
                Err(again) => {
                    self.next = self.next.min(again);
                    return None;
                }
            }
        }
        match self.handle.warm_step() {
            crate::WarmStep::Create(fill) => Some(fill),
            crate::WarmStep::Warm => None,
            // Every create slot is taken (`get`s creating): try again a little later.
            crate::WarmStep::Busy(_) => {
                let later = shared.now().saturating_add(ticks(shared.config.create_backoff.1));
                self.next = self.next.min(later);
                None
            }
        }
    }

    /// A refill created `conn` into `permit`: it becomes idle.
    pub fn created(&mut self, permit: crate::Fill<'_, F>, conn: F::Connection) {
        self.report.created += 1;
        self.handle.fill_idle(permit, conn);
        self.probe = None;
        if let Ok(mut health) = self.handle.shared().create_health.lock() {
            health.failures = 0;
        }
    }

    /// A refill's create failed (`None`: it took longer than `create_timeout`): logged
    /// (rate-limited), retried after `create_backoff`, and counted by the circuit breaker (if
    /// set; an error that leaves it open is kept for the first `get` it turns away).
    pub fn create_failed(&mut self, error: Option<F::Error>) {
        self.report.create_errors += 1;
        let shared = self.handle.shared();
        shared.create_failed();
        match &error {
            Some(error) => shared.log_create_failure(error, "a refill"),
            None => {
                log::warn!("pool {}: a refill's create took longer than create_timeout", shared.config.name)
            }
        }
        if let Some(retry_in) = shared.breaker_failed(error.as_ref()) {
            if let Some(error) = error {
                shared.breaker_keep(error);
            }
            self.next = self.next.min(shared.now().saturating_add(ticks(retry_in)));
        }
        self.probe = None;
        let (first, max) = shared.config.create_backoff;
        let now = shared.now();
        if let Ok(mut health) = shared.create_health.lock() {
            let pause = crate::attempt::backoff(first, max, health.failures);
            health.failures = health.failures.saturating_add(1);
            health.retry_at = now.saturating_add(ticks(pause));
            self.next = self.next.min(health.retry_at);
        }
    }

    /// Ends the pass: what it did, and when the next is due.
    pub fn finish(mut self) -> Maintenance {
        let shared = self.handle.shared();
        if self.handle.is_closed() {
            self.report.next = None;
            return self.report;
        }
        let (leaked, leak_due) = self.handle.scan_leaks();
        shared.books.leaked.set(leaked);
        self.report.leaked = leaked;
        self.next = self.next.min(leak_due);
        let now = shared.now();
        if let Some(on_metrics) = &shared.on_metrics {
            self.next = self.next.min(on_metrics.run_if_due(self.handle, now));
        }
        if let Some(scaler) = &shared.scaler {
            let (scaled, due) = self.handle.autoscale(scaler, now);
            self.report.scaled = scaled;
            self.next = self.next.min(due);
        }
        let interval = shared.maintenance_interval();
        let due = Duration::from_nanos(self.next.saturating_sub(now));
        self.report.next = Some(due.min(interval));
        if self.report != (Maintenance { next: self.report.next, ..Maintenance::default() }) {
            log::debug!("pool {}: maintenance: {}", shared.config.name, self.report);
        }
        self.report
    }
}

impl<F: Front> fmt::Debug for Pass<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pass").field("report", &self.report).finish_non_exhaustive()
    }
}

/// The refill bookkeeping a [`Shared`] holds.
pub(crate) type Health<E> = Mutex<CreateHealth<E>>;

//! What a front end tells the shared layer, and what the layer keeps in the core.

use core::fmt::{Debug, Display};
use core::time::Duration;

use cenote_core::SlotMeta;

use crate::{Config, Handle};

/// A front end: the types of its manager and objects, how it wraps a pool handle, and what it
/// does with an object being returned.
///
/// Implemented once per front end on a marker type (`cenote_sync::Blocking<M>`,
/// `cenote_async::Async<M>`); the shared [`Builder`](crate::Builder),
/// [`Pooled`](crate::Pooled) and [`Handle`] are generic over it, so that what both front
/// ends do is written once. A third front end (or a pool built on the core with its own
/// manager trait) implements it the same way.
pub trait Front: Sized + Send + Sync + 'static {
    /// The user's manager.
    type Manager: Send + Sync + 'static;
    /// The pooled object.
    type Connection: Send + 'static;
    /// What the manager fails with.
    type Error: Debug + Display + Send + 'static;
    /// The front end's pool handle, made from a [`Handle`] by [`Builder::build`](crate::Builder::build).
    type Pool;

    /// Wraps a newly built pool.
    fn pool(handle: Handle<Self>) -> Self::Pool;

    /// Rejects options this front end cannot honour (checked by `build` after
    /// [`Config::validate`]). By default, none.
    ///
    /// # Errors
    ///
    /// The option that cannot work here, and why.
    fn validate(config: &Config) -> Result<(), crate::BuildError> {
        let _ = config;
        Ok(())
    }

    /// What to do with an object being returned, on the returning thread, synchronously
    /// (nothing is spawned from a drop): the blocking front end runs the manager's
    /// `has_broken` and `reset` here; the async one runs `has_broken` and leaves `reset` to
    /// the next getter's task.
    fn on_return(manager: &Self::Manager, conn: &mut Self::Connection) -> Return;
}

/// What [`Front::on_return`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Return {
    /// Put it back, ready to lend.
    Keep,
    /// Put it back; the manager's `reset` must run before it is lent again.
    KeepUnreset,
    /// Drop it and free its place: the manager said it is broken.
    Retire,
    /// Drop it and free its place: its `reset` failed.
    ResetFailed,
}

/// What the pool keeps in each slot: the object and the front end's per-object state.
#[derive(Debug)]
pub struct Entry<C> {
    pub(crate) conn: C,
    /// The object was returned and `reset` has not run since (async front end).
    pub(crate) unreset: bool,
    /// When a maintenance pass last checked it, in the pool's ticks (0: never).
    pub(crate) checked_at: u64,
    /// `SlotMeta::errors` when the object last passed a check: an object returned with more
    /// errors than that (`Pooled::report_error`) is checked before it is lent again.
    pub(crate) errors_checked: u32,
    /// When it was created, in [`cenote_core::time`] ticks (always stamped: creates are a
    /// slow path), for the lifetime histogram.
    pub(crate) born: u64,
    /// Why the front end is dropping it, set just before it retires the lease (read by the
    /// core's `vacated` hook; `None`: retired by its user).
    pub(crate) dropped: Option<crate::metrics::Dropped>,
    /// When it was last returned (or created, or passed a check), on the coarse clock
    /// (milliseconds, `cenote_core::time::coarse_now`), for `validate_idle_after`.
    pub(crate) idle_since: usize,
    /// The pool's generation when its `create` began: older than the pool's current one
    /// after a `refresh`, and then retired wherever the pool next looks at it.
    pub(crate) generation: usize,
}

impl<C> Entry<C> {
    pub(crate) fn new(conn: C, born: u64, generation: usize) -> Self {
        Self {
            conn,
            unreset: false,
            checked_at: 0,
            errors_checked: 0,
            born,
            dropped: None,
            idle_since: cenote_core::time::coarse_now(),
            generation,
        }
    }
}

/// The core of a pool of front end `F`: slots holding [`Entry`]s, and [`Shared`] in the
/// core's extension value.
pub type CoreOf<F> = cenote_core::Core<Entry<<F as Front>::Connection>, Shared<F>>;
/// A lease of [`CoreOf<F>`].
pub type LeaseOf<F> = cenote_core::Lease<Entry<<F as Front>::Connection>, Shared<F>>;
/// What [`CoreOf<F>`]'s `try_acquire` found.
pub type TryAcquireOf<F> = cenote_core::TryAcquire<Entry<<F as Front>::Connection>, Shared<F>>;
/// A permit of [`CoreOf<F>`].
pub type PermitOf<F> = cenote_core::Permit<Entry<<F as Front>::Connection>, Shared<F>>;

/// What a pool keeps in the core's extension value: its manager, the validated configuration,
/// and what maintenance remembers between passes. Time stamps and deadlines are ticks of
/// [`cenote_core::time`].
#[derive(Debug)]
pub struct Shared<F: Front> {
    /// The user's manager.
    pub manager: F::Manager,
    /// The configuration, validated.
    pub config: Config,
    /// Whether a time-based option is set, so that lending and returning read the clock.
    clock: bool,
    /// Creation trouble: the refill's backoff and the log's rate limit.
    pub(crate) create_health: crate::maintain::Health<F::Error>,
    /// Notified when the pool is closed or its last front-end handle goes: wakes background
    /// work (a sleeping maintenance task) so that it ends at once. A cold-path wait:
    /// `event-listener` serves it.
    pub(crate) lifecycle: event_listener::Event,
    /// Notified (by the core's `place_freed` hook, on its slow path) when a place in the pool
    /// is freed: what a graceful shutdown waits on.
    pub(crate) place_freed: event_listener::Event,
    /// What the pool has done: counters and histograms (see `metrics.rs`).
    pub(crate) books: crate::metrics::Books,
    /// `Builder::on_metrics`: called from maintenance passes.
    pub(crate) on_metrics: Option<crate::metrics::OnMetrics>,
    /// `config.name`, shared: what each metrics snapshot carries without allocating.
    pub(crate) name: std::sync::Arc<str>,
    /// The options that can change at runtime (see `settings.rs`), read on slow paths only.
    pub(crate) settings: std::sync::RwLock<crate::settings::Settings>,
    /// `validate_idle_after` in coarse-clock milliseconds (`None`: off), and what keeps the
    /// coarse clock ticking meanwhile.
    idle_window: Option<(usize, crate::coarse::ClockUser)>,
    /// Creates for idle objects in flight (`warm`, refills): see [`Fill`](crate::Fill).
    pub(crate) filling: crate::fill::Filling,
    /// Callers inside `get` that are not in the core's wait list but waiting all the same: in
    /// the pause between create retries (and, with `max_pending_creates`, for a create slot).
    /// Added to the core's count in `status().waiting`.
    pub(crate) waiting: cenote_core::stats::Gauge,
    /// Creates in flight, bounded by `max_pending_creates` (see [`CreateSlot`](crate::CreateSlot)).
    pub(crate) pending: cenote_core::stats::Gauge,
    /// Bumped by `refresh`: objects of older generations are retired (see `refresh.rs`).
    pub(crate) generation: cenote_core::stats::Counter,
    /// Notified when a create slot is given back.
    pub(crate) slot_freed: event_listener::Event,
    /// Maintenance loops of the front end's own running (the async `maintenance()` future):
    /// while there is one, the background reaping stands aside.
    pub(crate) maintained: cenote_core::stats::Gauge,
    /// Autoscaling's window and state (`None`: off).
    pub(crate) scaler: Option<crate::autoscale::Scaler>,
    /// The circuit breaker on creation (`config.circuit_breaker`), if set: see `breaker.rs`.
    pub(crate) breaker: Option<crate::breaker::Breaker<F::Error>>,
}

/// Why an idle object is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Past its own `max_lifetime` deadline.
    Lifetime,
    /// Idle longer than `idle_timeout`.
    Idle,
    /// Created before a `refresh`.
    Refreshed,
}

impl Expired {
    /// The reason counted in the metrics.
    pub(crate) fn reason(self) -> crate::metrics::Dropped {
        match self {
            Expired::Lifetime => crate::metrics::Dropped::MaxLifetime,
            Expired::Idle => crate::metrics::Dropped::IdleTimeout,
            Expired::Refreshed => crate::metrics::Dropped::Refreshed,
        }
    }
}

/// How an idle object stands at some instant (see [`Shared::standing`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Standing {
    /// Past a deadline: drop it (lifetime first: it applies whatever `min_idle` says).
    pub(crate) expired: Option<Expired>,
    /// Due for a health check.
    pub(crate) check: bool,
    /// The next time, in ticks, at which one of these changes (`u64::MAX`: never).
    pub(crate) next: u64,
}

/// What to do with an idle object about to be lent (see [`Shared::check_idle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum CheckOut {
    /// Too old or idle too long: drop it.
    Expired(Expired),
    /// Run the manager's health check first.
    Validate,
    /// Lend it as it is.
    Lend,
}

impl<F: Front> Shared<F> {
    pub(crate) fn new(
        manager: F::Manager,
        config: Config,
        on_metrics: Option<crate::metrics::OnMetrics>,
    ) -> Self {
        let name = std::sync::Arc::from(config.name.as_str());
        let config_autoscale = config.autoscale;
        let settings = crate::settings::Settings::of(&config);
        let breaker = crate::breaker::breaker(config.circuit_breaker);
        let idle_window = config.validate_idle_after.map(|after| {
            let ms = usize::try_from(after.as_millis()).unwrap_or(usize::MAX);
            (ms, crate::coarse::ClockUser::new())
        });
        Self {
            manager,
            clock: config.needs_clock(),
            config,
            create_health: crate::maintain::Health::default(),
            lifecycle: event_listener::Event::new(),
            place_freed: event_listener::Event::new(),
            books: crate::metrics::Books::default(),
            on_metrics,
            name,
            settings,
            idle_window,
            filling: crate::fill::Filling::default(),
            waiting: cenote_core::stats::Gauge::new(),
            pending: cenote_core::stats::Gauge::new(),
            generation: cenote_core::stats::Counter::new(),
            slot_freed: event_listener::Event::new(),
            maintained: cenote_core::stats::Gauge::new(),
            scaler: config_autoscale.map(crate::autoscale::Scaler::new),
            breaker,
        }
    }

    /// Whether maintenance has anything to do: what [`Config::needs_maintenance`] says, or a
    /// metrics callback to call.
    pub fn needs_maintenance(&self) -> bool {
        self.config.needs_maintenance() || self.on_metrics.is_some()
    }

    /// The core's [`Hooks::place_freed`](cenote_core::Hooks::place_freed): wakes a shutdown
    /// waiting for lent objects. A cold path: it runs only when a place is freed.
    pub(crate) fn place_freed(&self) {
        self.place_freed.notify(usize::MAX);
    }

    /// For front ends: held by a running maintenance loop of the front end's own (the async
    /// `maintenance()` future) for its life, so that the background reaping
    /// ([`Handle::start_reaping`]) stands aside meanwhile.
    pub fn maintaining(&self) -> cenote_core::stats::GaugeGuard<'_> {
        self.maintained.enter()
    }

    /// For front ends: counts the caller in `status().waiting` until the guard is dropped.
    /// Hold it across the pause between create retries (and any other wait of `get` outside
    /// the core's wait list, which the core counts itself).
    pub fn waiting(&self) -> cenote_core::stats::GaugeGuard<'_> {
        self.waiting.enter()
    }

    /// Whether a time-based option is set (so that the time stamps are kept).
    #[inline]
    pub fn uses_clock(&self) -> bool {
        self.clock
    }

    /// Now, in the ticks of [`cenote_core::time`]: the unit of the slot time stamps and of
    /// every deadline.
    #[inline]
    pub fn now(&self) -> u64 {
        cenote_core::time::now()
    }

    /// Stamps a newly created object (only when the clock is in use).
    pub(crate) fn stamp_created(&self, meta: &mut SlotMeta, lent: bool) {
        if self.clock {
            let now = self.now();
            meta.created = now;
            meta.last_used = now;
            if lent {
                meta.checked_out = now;
            }
        }
    }

    /// Stamps an object being returned, or one that just passed a check, on the coarse
    /// clock (when `validate_idle_after` is on): one load of a read-mostly word.
    #[inline]
    pub(crate) fn stamp_idle(&self, entry: &mut Entry<F::Connection>) {
        if self.idle_window.is_some() {
            entry.idle_since = cenote_core::time::coarse_now();
        }
    }

    /// Stamps an object being returned (only when the clock is in use).
    #[inline]
    pub(crate) fn stamp_returned(&self, meta: &mut SlotMeta) {
        if self.clock {
            meta.last_used = self.now();
        }
    }

    /// This object's own lifetime: `max_lifetime` minus a jitter of up to 1/40 of it, drawn
    /// from its creation time, so that a cohort created together is not retired (and
    /// replaced) together. The same object always gets the same deadline.
    pub(crate) fn lifetime(&self, created: u64) -> Option<u64> {
        let lifetime = ticks(self.config.max_lifetime?);
        let span = lifetime / 40;
        let jitter = if span == 0 { 0 } else { splitmix64(created) % span };
        Some(lifetime - jitter)
    }

    /// How an idle object stands at `now`: expired (and why), due for a check, and when that
    /// next changes.
    pub(crate) fn standing<C>(&self, entry: &Entry<C>, meta: &SlotMeta, now: u64) -> Standing {
        let mut next = u64::MAX;
        let mut passed = |since: u64, limit: Option<u64>| match limit {
            Some(limit) if now >= since.saturating_add(limit) => true,
            Some(limit) => {
                next = next.min(since.saturating_add(limit));
                false
            }
            None => false,
        };
        let expired = if passed(meta.created, self.lifetime(meta.created)) {
            Some(Expired::Lifetime)
        } else if passed(meta.last_used, self.config.idle_timeout.map(ticks)) {
            Some(Expired::Idle)
        } else {
            None
        };
        let checked = meta.last_used.max(entry.checked_at);
        let check = passed(checked, self.config.health_check_interval.map(ticks));
        Standing { expired, check, next }
    }

    /// Applies `max_lifetime`, `idle_timeout`, `validate_on_acquire` and
    /// `health_check_interval` to an idle object about to be lent, and stamps it as lent.
    /// Reads the clock only when a time-based option is set.
    #[inline]
    pub(crate) fn check_idle<C>(&self, entry: &Entry<C>, meta: &mut SlotMeta) -> CheckOut {
        // Created before a `refresh`: retire it (this closes the race with a return, see
        // `refresh.rs`).
        if self.is_stale(entry) {
            return CheckOut::Expired(Expired::Refreshed);
        }
        // Errors reported since its last check: check it before trusting it again.
        let mut validate = self.config.validate_on_acquire || meta.errors > entry.errors_checked;
        if let Some((window, _)) = &self.idle_window {
            // Idle about `validate_idle_after` or longer (coarse clock: no clock read here).
            validate |= cenote_core::time::coarse_now().wrapping_sub(entry.idle_since) >= *window;
        }
        if self.clock {
            let now = self.now();
            let standing = self.standing(entry, meta, now);
            if let Some(expired) = standing.expired {
                return CheckOut::Expired(expired);
            }
            validate |= standing.check;
            meta.checked_out = now;
        }
        if validate {
            CheckOut::Validate
        } else {
            CheckOut::Lend
        }
    }
}

/// A duration in the pool's ticks (nanoseconds), saturating.
pub(crate) fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A well-mixed hash of `x` (splitmix64's finaliser): spreads nearby creation times apart.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dummy;
    impl Front for Dummy {
        type Manager = ();
        type Connection = ();
        type Error = &'static str;
        type Pool = ();
        fn pool(_: Handle<Self>) {}
        fn on_return(_: &(), _: &mut ()) -> Return {
            Return::Keep
        }
    }

    /// A cohort created within a few microseconds gets deadlines spread over the last 1/40 of
    /// `max_lifetime`, each within it, and the same object always gets the same one.
    #[test]
    fn lifetime_jitter_spreads_a_cohort_within_a_fortieth() {
        let mut config = Config::new(1);
        config.max_lifetime = Some(Duration::from_secs(40));
        let shared = Shared::<Dummy>::new((), config, None);
        let full = ticks(Duration::from_secs(40));
        let created: Vec<u64> = (0..1000).map(|i| 1_000_000 + i * 1_000).collect();
        let deadlines: Vec<u64> = created.iter().map(|&c| shared.lifetime(c).unwrap()).collect();
        assert!(deadlines.iter().all(|&d| d <= full && d > full - full / 40), "within the last 1/40");
        assert_eq!(shared.lifetime(created[7]), Some(deadlines[7]), "deterministic");
        let (min, max) = (deadlines.iter().min().unwrap(), deadlines.iter().max().unwrap());
        assert!(max - min > full / 40 * 9 / 10, "spread over the window: {min}..{max}");
        let mut buckets = [0u32; 10];
        for d in &deadlines {
            buckets[((full - d) * 10 / (full / 40)).min(9) as usize] += 1;
        }
        assert!(buckets.iter().all(|&b| b > 50), "roughly uniform: {buckets:?}");
    }
}

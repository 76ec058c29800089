//! The part of a pool handle both front ends share: building the core, counts, resizing,
//! closing, and the steps of lending and creating that do not wait.

use core::fmt;
use core::panic::Location;

use cenote_core::{ConfigError, Core, Lease, Permit};

use crate::front::{CheckOut, CoreOf, Entry, Front, LeaseOf, PermitOf, Shared};
use crate::metrics::Creating;
use crate::{BuildError, Config, Pooled, Status};

/// The handle to a pool that both front ends' `Pool` types wrap (and deref to): the methods
/// here are the same in `cenote-sync` and `cenote-async`. Cloning it is cheap; when the last
/// clone goes, the pool closes (idle objects are dropped then, in-use ones as they return).
///
/// # Examples
///
/// ```
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// let pool = cenote_sync::Pool::builder(M).max_size(2).capacity(4).build()?;
/// let held = pool.get()?;
/// assert_eq!(pool.status().in_use, 1); // `status` is a `Handle` method
/// pool.resize(4)?;
/// assert_eq!(pool.status().max_size, 4);
/// pool.close();
/// assert!(pool.is_closed() && pool.get().unwrap_err().is_closed());
/// drop(held); // dropped, not pooled: the pool is closed
/// assert_eq!(pool.status().size, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Handle<F: Front> {
    core: CoreOf<F>,
}

impl<F: Front> Clone for Handle<F> {
    fn clone(&self) -> Self {
        Self { core: self.core.clone() }
    }
}

impl<F: Front> Handle<F> {
    /// Builds the core for a validated `config`.
    pub(crate) fn new(
        manager: F::Manager,
        config: Config,
        on_metrics: Option<crate::metrics::OnMetrics>,
    ) -> Result<Self, BuildError> {
        let (slots, max_size) = (config.slots(), config.max_size);
        let hooks =
            cenote_core::Hooks::new().place_freed(Shared::<F>::place_freed).vacated(Shared::<F>::vacated);
        let core = Core::new_with_hooks(slots, max_size, Shared::new(manager, config, on_metrics), hooks)
            .map_err(|e| match e {
                ConfigError::ZeroMaxSize => BuildError::ZeroMaxSize,
                ConfigError::MaxSizeAboveCapacity { max_size, capacity } => {
                    BuildError::CapacityBelowMaxSize { capacity, max_size }
                }
                ConfigError::CapacityTooLarge { capacity } => BuildError::CapacityTooLarge { capacity },
                ConfigError::OutOfMemory { capacity, bytes } => BuildError::OutOfMemory { capacity, bytes },
                other => unreachable!("Core::new does not fail with {other:?}"),
            })?;
        let reserve = core.ext().config.reserve;
        if reserve != 0 {
            // Validated below `max_size` with the rest of the config.
            core.set_reserve(reserve)
                .map_err(|_| BuildError::ReserveNotBelowMaxSize { reserve, max_size })?;
        }
        Ok(Self { core })
    }

    /// The core, for a front end's waits.
    #[inline]
    pub fn core(&self) -> &CoreOf<F> {
        &self.core
    }

    /// The manager, configuration and clock.
    #[inline]
    pub fn shared(&self) -> &Shared<F> {
        self.core.ext()
    }

    /// The manager.
    pub fn manager(&self) -> &F::Manager {
        &self.shared().manager
    }

    /// The validated configuration the pool was built with (`max_size` as built: see
    /// [`status`](Handle::status) for the current one).
    pub fn config(&self) -> &Config {
        &self.shared().config
    }

    /// The pool's counts (not a consistent snapshot). `waiting` counts every caller inside
    /// `get` that has no object yet and is not creating one: those queued for a return, and
    /// those pausing between failed creates (`create_backoff`) or waiting for a create slot
    /// (`max_pending_creates`), so that an outage shows as callers waiting, not as an idle pool.
    pub fn status(&self) -> Status {
        let mut status: Status = self.core.status().into();
        status.waiting = status.waiting.saturating_add(self.shared().waiting.get());
        status
    }

    /// Changes `max_size`, within the capacity set at build time. Growing lets waiters
    /// create at once; shrinking drops idle extras now and in-use extras as they return.
    ///
    /// # Errors
    ///
    /// [`ResizeError`](cenote_core::ConfigError) for 0, a size above capacity, or a closed
    /// pool.
    pub fn resize(&self, max_size: usize) -> Result<(), ConfigError> {
        self.core.resize(max_size)
    }

    /// Closes the pool: waiters get `Error::Closed` at once, idle objects are dropped now,
    /// in-use ones when they return, and every later `get` fails with `Closed`.
    pub fn close(&self) {
        self.core.close();
        self.shared().lifecycle.notify(usize::MAX);
    }

    /// Whether the pool is closed.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Visits the idle objects once each, oldest first, and drops those for which `keep`
    /// returns `false`, freeing their places; returns how many it dropped. For evicting by
    /// your own rule (say, connections to a host that was removed), as deadpool's `retain`.
    ///
    /// Runs on the calling thread, without waiting: an object is out of the idle queue only
    /// while `keep` looks at it (a concurrent `get` may then create a new object or wait). A
    /// panic in `keep` puts the visited object back.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u32; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u32, Self::Error> { Ok(0) } }
    /// let pool = cenote_sync::Pool::new(M, 4);
    /// let objects: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    /// for (n, mut obj) in objects.into_iter().enumerate() {
    ///     *obj = n as u32; // 0, 1, 2, returned idle on drop
    /// }
    /// assert_eq!(pool.retain(|n, _meta| *n != 1), 1);
    /// assert_eq!(pool.status().idle, 2);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&mut F::Connection, &cenote_core::SlotMeta) -> bool) -> usize {
        self.core.retain(|entry, meta| keep(&mut entry.conn, meta))
    }

    /// For front ends: applies the health options to an idle object about to be lent.
    /// `None` if it expired (it is dropped, its place freed); else the object, and whether
    /// the manager's `is_valid` must pass before it is lent.
    /// `location` is the caller of `get` (`#[track_caller]`), kept for leak reports when
    /// `leak_detection_threshold` is set.
    #[inline]
    pub fn check_out(
        &self,
        lease: LeaseOf<F>,
        location: &'static Location<'static>,
    ) -> Option<(Pooled<F>, bool)> {
        let mut pooled = Pooled::new(lease);
        let validate = match pooled.check_idle() {
            CheckOut::Lend => false,
            CheckOut::Validate => true,
            CheckOut::Expired(expired) => {
                Pooled::retire_because(pooled, expired.reason());
                return None;
            }
        };
        pooled.mark_lent(location);
        Some((pooled, validate))
    }

    /// For front ends and maintenance: an idle object now, if any (never waits, never
    /// creates), the [`reserve`](crate::Builder::reserve) included (taken as
    /// [`Priority::High`](crate::Priority)), so that maintenance visits every idle object.
    /// A getter's `try_get_with` goes through the core's `try_take_idle_with` instead.
    #[inline]
    pub fn try_take_idle(&self) -> Option<LeaseOf<F>> {
        self.core.try_take_idle_with(cenote_core::Priority::High)
    }

    /// For front ends: puts a newly created object into `permit` and lends it.
    /// `location` as for [`check_out`](Handle::check_out); `creating` is what
    /// [`begin_create`](Handle::begin_create) gave just before the `create` began (its start
    /// time and the pool's generation then).
    pub fn lend_created(
        &self,
        permit: PermitOf<F>,
        conn: F::Connection,
        location: &'static Location<'static>,
        creating: Creating,
    ) -> Pooled<F> {
        self.shared().create_succeeded();
        let born = self.shared().created(creating);
        let mut lease = Permit::fill(permit, Entry::new(conn, born, creating.generation));
        Lease::count_use(&mut lease);
        self.shared().stamp_created(Lease::meta_mut(&mut lease), true);
        self.shared().mark_lent(&lease, location);
        Pooled::new(lease)
    }

    /// For front ends' `warm`: logs its progress ("warming db: 3/5", at `info`), one line per
    /// object created: warming a pool of connections to a slow backend can take a while.
    pub fn log_warm(&self, created: usize) {
        log::info!("warming {}: {created}/{}", self.config().name, self.shared().min_idle());
    }
}

/// What [`shutdown`](Handle::begin_shutdown) found: how many objects came back in time and
/// how many were still out when it stopped waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shutdown {
    /// Objects lent out (or being created) when the shutdown began.
    pub out_at_start: usize,
    /// Of those, the ones still out when the wait ended (they are dropped when they return).
    pub still_out: usize,
    /// How long the shutdown waited.
    pub waited: core::time::Duration,
}

impl fmt::Display for Shutdown {
    /// One line, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} objects came back in {:?}, {} still out",
            self.out_at_start - self.still_out,
            self.out_at_start,
            self.waited,
            self.still_out
        )
    }
}

/// A shutdown in progress (see [`Handle::begin_shutdown`]).
#[derive(Debug)]
pub struct ShuttingDown {
    start: std::time::Instant,
    deadline: std::time::Instant,
    out_at_start: usize,
}

impl ShuttingDown {
    /// What to wait on next, or `None` when the wait is over (every object is back, or the
    /// deadline has passed): then [`finish`](ShuttingDown::finish). The listener is woken
    /// when a place in the pool is freed (an object came back and was dropped); wait on it
    /// until [`deadline`](ShuttingDown::deadline), then ask again. It listens before it
    /// looks, so a return between the look and the wait is not missed.
    pub fn next_wait<F: Front>(&self, handle: &Handle<F>) -> Option<event_listener::EventListener> {
        let listener = handle.shared().place_freed.listen();
        if handle.status().size == 0 || std::time::Instant::now() >= self.deadline {
            return None;
        }
        Some(listener)
    }

    /// For blocking front ends: parks the thread on `freed` (from
    /// [`next_wait`](ShuttingDown::next_wait)) until it is woken or the deadline passes.
    pub fn park(&self, freed: event_listener::EventListener) {
        use event_listener::Listener as _;
        // At most `SHUTDOWN_RECHECK` at a time: a place given back without a notification
        // (a permit won against a maximum lowered at that instant) is seen by then.
        let slice = std::time::Instant::now() + SHUTDOWN_RECHECK;
        let _ = freed.wait_deadline(self.deadline.min(slice));
    }

    /// When the wait ends at the latest.
    pub fn deadline(&self) -> std::time::Instant {
        self.deadline
    }

    /// What the shutdown found.
    pub fn finish<F: Front>(self, handle: &Handle<F>) -> Shutdown {
        let report = Shutdown {
            out_at_start: self.out_at_start,
            still_out: handle.status().size.min(self.out_at_start),
            waited: self.start.elapsed(),
        };
        let name = &handle.config().name;
        if report.still_out == 0 {
            log::info!("pool {name}: shut down: {report}");
        } else {
            log::warn!("pool {name}: shut down: {report}");
        }
        report
    }
}

impl<F: Front> Handle<F> {
    /// For front ends' `shutdown`: closes the pool (waiters get `Closed` at once, idle objects
    /// are dropped) and starts waiting up to `timeout` for the objects still out.
    pub fn begin_shutdown(&self, timeout: core::time::Duration) -> ShuttingDown {
        let start = std::time::Instant::now();
        // A timeout too large for the clock waits for good.
        let deadline = start.checked_add(timeout).unwrap_or_else(|| start + FOR_GOOD);
        self.close();
        ShuttingDown { start, deadline, out_at_start: self.status().size }
    }
}

/// The longest a shutdown sleeps before looking again, woken or not.
pub const SHUTDOWN_RECHECK: core::time::Duration = core::time::Duration::from_millis(100);

/// A wait longer than anything a process lives (about 31 years): what a `Duration::MAX`
/// shutdown timeout becomes.
const FOR_GOOD: core::time::Duration = core::time::Duration::from_secs(1 << 30);

/// A handle that does not keep the pool open, for background work (maintenance): see
/// [`Handle::downgrade`].
pub struct WeakHandle<F: Front> {
    core: cenote_core::WeakCore<Entry<F::Connection>, Shared<F>>,
}

impl<F: Front> Handle<F> {
    /// A handle that keeps the pool's memory (and manager) but not the pool open: the pool
    /// closes when its last [`Handle`] goes, whatever weak handles are left.
    pub fn downgrade(&self) -> WeakHandle<F> {
        WeakHandle { core: self.core.downgrade() }
    }
}

impl<F: Front> WeakHandle<F> {
    /// A listener woken when the pool is closed or its last front-end handle goes (see
    /// [`Lifeline`]): for background work that sleeps between rounds. Look at the pool
    /// again after making it (the event may have fired just before).
    pub fn closing(&self) -> event_listener::EventListener {
        self.shared().lifecycle.listen()
    }

    /// A handle to the pool, unless its last handle has gone (then it is closed for good).
    pub fn upgrade(&self) -> Option<Handle<F>> {
        self.core.upgrade().map(|core| Handle { core })
    }

    /// The manager, configuration and clock (alive as long as this weak handle).
    pub fn shared(&self) -> &Shared<F> {
        self.core.ext()
    }
}

/// Held by a front end's pool handles (one `Arc` shared by all clones): when the last goes,
/// background work sleeping on [`WeakHandle::closing`] is woken to end at once, instead of at
/// its next due time (and the pool's memory and manager go with it).
pub struct Lifeline<F: Front> {
    weak: WeakHandle<F>,
}

impl<F: Front> Lifeline<F> {
    /// The lifeline of the pool behind `handle`.
    pub fn new(handle: &Handle<F>) -> Self {
        Self { weak: handle.downgrade() }
    }
}

impl<F: Front> Drop for Lifeline<F> {
    fn drop(&mut self) {
        self.weak.shared().lifecycle.notify(usize::MAX);
    }
}

impl<F: Front> fmt::Debug for Lifeline<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifeline").finish_non_exhaustive()
    }
}

impl<F: Front> Clone for WeakHandle<F> {
    fn clone(&self) -> Self {
        Self { core: self.core.clone() }
    }
}

impl<F: Front> fmt::Debug for WeakHandle<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakHandle").field("name", &self.shared().config.name).finish_non_exhaustive()
    }
}

impl<F: Front> fmt::Debug for Handle<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.config().name)
            .field("status", &self.status())
            .field("closed", &self.is_closed())
            .finish()
    }
}

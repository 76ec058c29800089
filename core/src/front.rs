//! Configuration, status and error types shared by the cenote front ends.
//!
//! `cenote-sync` and `cenote-async` re-export these, so a user sees one `Error`, one
//! `BuildError`, one `Status` whichever front end they use. Pools built on the core alone may
//! use them too.

use core::fmt;
use core::time::Duration;

#[cfg(feature = "std")]
use crate::SlotMeta;

/// A pool's configuration, checked by [`Config::validate`]. The front ends' builders fill it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Most objects in existence at once. No default: every pool names it.
    pub max_size: usize,
    /// Slots allocated at build time, the ceiling for `resize`. Default: `max_size`.
    pub capacity: Option<usize>,
    /// Idle objects the pool keeps ready. Default: 0.
    pub min_idle: usize,
    /// How long `get` waits. `None`: forever. Default: 30 seconds.
    pub acquire_timeout: Option<Duration>,
    /// How long one `create` may take (async front end). `None`: bounded only by
    /// `acquire_timeout`. Default: `None`.
    pub create_timeout: Option<Duration>,
    /// Idle objects older than this (since last return) are dropped instead of lent.
    /// Default: `None` (kept forever).
    pub idle_timeout: Option<Duration>,
    /// Objects older than this (since creation) are dropped instead of lent.
    /// Default: `None`.
    pub max_lifetime: Option<Duration>,
    /// Run the manager's `is_valid` on every object before lending it. Default: `false`.
    pub validate_on_acquire: bool,
    /// Run `is_valid` before lending an object that has been idle at least this long.
    /// Default: `None`.
    pub health_check_interval: Option<Duration>,
}

/// The default for [`Config::acquire_timeout`]: 30 seconds (not forever, which stalls a
/// service silently when the pool is exhausted).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

impl Config {
    /// The defaults, with `max_size` objects at most.
    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            capacity: None,
            min_idle: 0,
            acquire_timeout: Some(DEFAULT_ACQUIRE_TIMEOUT),
            create_timeout: None,
            idle_timeout: None,
            max_lifetime: None,
            validate_on_acquire: false,
            health_check_interval: None,
        }
    }

    /// The capacity in slots: `capacity`, or `max_size` when unset.
    pub fn slots(&self) -> usize {
        self.capacity.unwrap_or(self.max_size)
    }

    /// Whether lending or returning needs a clock reading (a time-based option is set).
    pub fn needs_clock(&self) -> bool {
        self.idle_timeout.is_some() || self.max_lifetime.is_some() || self.health_check_interval.is_some()
    }

    /// Checks every value.
    ///
    /// # Errors
    ///
    /// The first [`BuildError`] found.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{BuildError, Config};
    ///
    /// assert!(Config::new(4).validate().is_ok());
    /// assert_eq!(Config::new(0).validate(), Err(BuildError::ZeroMaxSize));
    /// ```
    pub fn validate(&self) -> Result<(), BuildError> {
        if self.max_size == 0 {
            return Err(BuildError::ZeroMaxSize);
        }
        if self.min_idle > self.max_size {
            return Err(BuildError::MinIdleAboveMaxSize { min_idle: self.min_idle, max_size: self.max_size });
        }
        let capacity = self.slots();
        if capacity < self.max_size {
            return Err(BuildError::CapacityBelowMaxSize { capacity, max_size: self.max_size });
        }
        if capacity > crate::Core::<()>::MAX_CAPACITY {
            return Err(BuildError::CapacityTooLarge { capacity });
        }
        for (option, value) in [
            ("create_timeout", self.create_timeout),
            ("idle_timeout", self.idle_timeout),
            ("max_lifetime", self.max_lifetime),
            ("health_check_interval", self.health_check_interval),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(BuildError::ZeroDuration { option });
            }
        }
        Ok(())
    }
}

/// A builder value that cannot work. Returned by `Builder::build`; never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_size` was 0.
    ZeroMaxSize,
    /// `min_idle` was larger than `max_size`.
    MinIdleAboveMaxSize {
        /// The requested `min_idle`.
        min_idle: usize,
        /// The requested `max_size`.
        max_size: usize,
    },
    /// `capacity` was smaller than `max_size`.
    CapacityBelowMaxSize {
        /// The requested capacity.
        capacity: usize,
        /// The requested `max_size`.
        max_size: usize,
    },
    /// `capacity` was larger than the core supports.
    CapacityTooLarge {
        /// The requested capacity.
        capacity: usize,
    },
    /// A duration option was zero; leave it unset (`None`) to turn it off instead.
    ZeroDuration {
        /// The option's name.
        option: &'static str,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroMaxSize => f.write_str("max_size is 0: set it to the most objects the pool may hold (at least 1)"),
            Self::MinIdleAboveMaxSize { min_idle, max_size } => {
                write!(f, "min_idle ({min_idle}) is larger than max_size ({max_size}): lower min_idle or raise max_size")
            }
            Self::CapacityBelowMaxSize { capacity, max_size } => write!(
                f,
                "capacity ({capacity}) is smaller than max_size ({max_size}): capacity is the ceiling for resize, so set it to at least max_size or leave it unset"
            ),
            Self::CapacityTooLarge { capacity } => write!(
                f,
                "capacity ({capacity}) is larger than the supported maximum ({})",
                crate::Core::<()>::MAX_CAPACITY
            ),
            Self::ZeroDuration { option } => {
                write!(f, "{option} is zero: leave it unset to turn it off, or give it a positive duration")
            }
        }
    }
}

impl core::error::Error for BuildError {}

/// Why `get` failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// `acquire_timeout` (or the `get_timeout` limit) passed before an object was free.
    Timeout {
        /// The last error from `create` during this wait, if creating kept failing: the
        /// likely reason the pool had nothing to give.
        last_create_error: Option<E>,
    },
    /// The pool is closed.
    Closed,
    /// The manager's `create` failed, and there was no deadline to keep retrying against
    /// (`acquire_timeout` is `None`).
    Create(E),
    /// One `create` took longer than `create_timeout` (async front end).
    CreateTimeout,
}

impl<E> Error<E> {
    /// Whether the wait timed out (including [`Error::CreateTimeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::CreateTimeout)
    }

    /// Whether the pool was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }

    /// The manager's error, if this error carries one.
    pub fn create_error(&self) -> Option<&E> {
        match self {
            Self::Timeout { last_create_error } => last_create_error.as_ref(),
            Self::Create(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { last_create_error: None } => f.write_str(
                "timed out waiting for a pooled object: every object stayed in use; raise max_size or the timeout, or return objects sooner",
            ),
            Self::Timeout { last_create_error: Some(e) } => {
                write!(f, "timed out waiting for a pooled object while creating new ones kept failing; last error: {e}")
            }
            Self::Closed => f.write_str("the pool is closed"),
            Self::Create(e) => write!(f, "creating a pooled object failed: {e}"),
            Self::CreateTimeout => f.write_str("creating a pooled object took longer than create_timeout"),
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.create_error().map(|e| e as _)
    }
}

/// A pool's counts. Not a consistent snapshot: each figure is read on its own, while other
/// threads keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
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
}

impl fmt::Display for Status {
    /// `max_size 4 size 3 idle 1 in_use 2 waiting 0`: one line, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max_size {} size {} idle {} in_use {} waiting {}",
            self.max_size, self.size, self.idle, self.in_use, self.waiting
        )
    }
}

impl From<crate::CoreStatus> for Status {
    fn from(s: crate::CoreStatus) -> Self {
        Self {
            max_size: s.max_size,
            size: s.size,
            idle: s.idle,
            in_use: s.size.saturating_sub(s.idle),
            waiting: s.waiting,
        }
    }
}

/// The builder setters shared by the cenote front ends, written once: expands, inside an
/// `impl` block of a type with a `config: Config` field, to one chainable setter per option.
/// The doc links resolve where it expands (the front end's `Pool` and `Manager`).
#[doc(hidden)]
#[macro_export]
macro_rules! __builder_setters {
    () => {
        /// Most objects in existence at once (at least 1). Default: 10.
        pub fn max_size(mut self, max_size: usize) -> Self {
            self.config.max_size = max_size;
            self
        }

        /// Slots allocated up front: the ceiling for [`Pool::resize`]. At least `max_size`.
        /// Default: `max_size`.
        pub fn capacity(mut self, capacity: usize) -> Self {
            self.config.capacity = Some(capacity);
            self
        }

        /// Idle objects created up front and kept ready (at most `max_size`). Default: 0.
        pub fn min_idle(mut self, min_idle: usize) -> Self {
            self.config.min_idle = min_idle;
            self
        }

        /// How long [`Pool::get`] waits; `None` waits forever. Default: 30 s.
        pub fn acquire_timeout(mut self, timeout: Option<::core::time::Duration>) -> Self {
            self.config.acquire_timeout = timeout;
            self
        }

        /// How long one `create` may take (async front end; a blocking `create` cannot be
        /// interrupted, so the blocking pool accepts it and does not use it); `None`: bounded
        /// only by the acquire timeout. Default: none.
        pub fn create_timeout(mut self, timeout: Option<::core::time::Duration>) -> Self {
            self.config.create_timeout = timeout;
            self
        }

        /// Drop idle objects that have not been used for this long, instead of lending them.
        /// Default: none.
        pub fn idle_timeout(mut self, timeout: Option<::core::time::Duration>) -> Self {
            self.config.idle_timeout = timeout;
            self
        }

        /// Drop objects older than this, instead of lending them. Default: none.
        pub fn max_lifetime(mut self, lifetime: Option<::core::time::Duration>) -> Self {
            self.config.max_lifetime = lifetime;
            self
        }

        /// Check every idle object with [`Manager::is_valid`] before lending it. Default:
        /// `false`.
        pub fn validate_on_acquire(mut self, validate: bool) -> Self {
            self.config.validate_on_acquire = validate;
            self
        }

        /// Check an idle object with [`Manager::is_valid`] before lending it if it has been
        /// idle at least this long. Default: none.
        pub fn health_check_interval(mut self, interval: Option<::core::time::Duration>) -> Self {
            self.config.health_check_interval = interval;
            self
        }
    };
}

/// What a cenote front end keeps in the core's extension value: its manager, the validated
/// configuration, and the epoch of the slot time stamps.
#[cfg(feature = "std")]
#[derive(Debug)]
pub struct Shared<M> {
    /// The user's manager.
    pub manager: M,
    /// The configuration, validated.
    pub config: Config,
    /// Whether a time-based option is set, so that lending and returning read the clock.
    clock: bool,
    epoch: std::time::Instant,
}

/// What to do with an idle object about to be lent (see [`Shared::check_idle`]).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckOut {
    /// Too old or idle too long: drop it.
    Expired,
    /// Run the manager's health check first.
    Validate,
    /// Lend it as it is.
    Lend,
}

#[cfg(feature = "std")]
impl<M> Shared<M> {
    /// Starts the clock epoch now.
    pub fn new(manager: M, config: Config) -> Self {
        Self { manager, clock: config.needs_clock(), config, epoch: std::time::Instant::now() }
    }

    /// Whether a time-based option is set (so that the time stamps are kept).
    #[inline]
    pub fn uses_clock(&self) -> bool {
        self.clock
    }

    /// Nanoseconds since the pool was built: the unit of the slot time stamps.
    pub fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant the pool's clock counts from (`now() == 0`).
    pub fn epoch(&self) -> std::time::Instant {
        self.epoch
    }

    /// `at` in the ticks of [`now`](Shared::now) (0 if before the epoch).
    pub fn ticks_at(&self, at: std::time::Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Stamps a newly created object (only when the clock is in use).
    pub fn stamp_created(&self, meta: &mut SlotMeta, lent: bool) {
        if self.clock {
            let now = self.now();
            meta.created = now;
            meta.last_used = now;
            if lent {
                meta.checked_out = now;
            }
        }
    }

    /// Stamps an object being returned (only when the clock is in use).
    #[inline]
    pub fn stamp_returned(&self, meta: &mut SlotMeta) {
        if self.clock {
            meta.last_used = self.now();
        }
    }

    /// Applies `max_lifetime`, `idle_timeout`, `validate_on_acquire` and
    /// `health_check_interval` to an idle object about to be lent, and stamps it as lent.
    /// Reads the clock only when a time-based option is set.
    #[inline]
    pub fn check_idle(&self, meta: &mut SlotMeta) -> CheckOut {
        let mut validate = self.config.validate_on_acquire;
        if self.clock {
            let now = self.now();
            let age = now.saturating_sub(meta.created);
            let idle = now.saturating_sub(meta.last_used);
            let older =
                |limit: Option<Duration>, ns: u64| limit.is_some_and(|d| u128::from(ns) >= d.as_nanos());
            if older(self.config.max_lifetime, age) || older(self.config.idle_timeout, idle) {
                return CheckOut::Expired;
            }
            validate |= older(self.config.health_check_interval, idle);
            meta.checked_out = now;
        }
        if validate {
            CheckOut::Validate
        } else {
            CheckOut::Lend
        }
    }
}

//! A pool's configuration and the errors of checking it.

use core::fmt;
use core::time::Duration;

/// A pool's configuration, checked by [`Config::validate`]. The builders fill it; a pool keeps
/// its validated copy ([`Handle::config`](crate::Handle::config)).
///
/// With the `serde` feature it also loads from TOML or YAML (`Config::from_toml_str`,
/// `from_yaml_str`, `from_file`, and `Pools` for a file of named pools), durations written
/// `"30s"`: the crate docs' "Configuration from a file" has the shape and the aliases.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_front::Config;
///
/// let mut config = Config::new(8);
/// config.acquire_timeout = Some(Duration::from_secs(2));
/// assert!(config.validate().is_ok());
/// assert_eq!(config.slots(), 8);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Most objects in existence at once. Default: [`DEFAULT_MAX_SIZE`].
    pub max_size: usize,
    /// Slots allocated at build time, the ceiling for `resize`. Default: `max_size`.
    pub capacity: Option<usize>,
    /// Idle objects the pool keeps ready (created by `warm`). Default: 0.
    pub min_idle: usize,
    /// How long `get` waits, creation retries included. `None`: forever. Default: 30 seconds.
    pub acquire_timeout: Option<Duration>,
    /// How long one `create` may take (async front end only: the blocking one rejects it).
    /// `None`: bounded only by `acquire_timeout`. Default: `None`.
    pub create_timeout: Option<Duration>,
    /// Idle objects older than this (since last return) are dropped instead of lent.
    /// Default: `None` (kept forever).
    pub idle_timeout: Option<Duration>,
    /// Objects older than this (since creation) are dropped instead of lent.
    /// Default: `None`.
    pub max_lifetime: Option<Duration>,
    /// Run the manager's `is_valid` on every object before lending it. Default: `false`.
    pub validate_on_acquire: bool,
    /// Run `is_valid` before lending an object that has been idle at least this long, and
    /// check idle objects that long idle in maintenance passes. Default: `None`.
    pub health_check_interval: Option<Duration>,
    /// Check an object with the manager's `check` before lending it if it has been idle at
    /// least about this long (measured on a coarse clock, ±100 ms, so that the hot path
    /// reads no clock): a connection the server closed while it sat idle is caught before a
    /// caller gets it, as HikariCP does for connections idle over 500 ms. `None`: never.
    /// Default: 500 ms ([`DEFAULT_VALIDATE_IDLE_AFTER`]).
    pub validate_idle_after: Option<Duration>,
    /// The longest one health check (`is_valid`/`check`) may take in a maintenance pass
    /// (async front end: a check still running then counts as failed and its object is
    /// dropped). Default: 5 s.
    pub health_check_timeout: Duration,
    /// Pauses between failed creates, in `get` and in maintenance refills: the first, and the
    /// most it doubles to (each pause jittered). Default: 5 ms and 500 ms.
    pub create_backoff: (Duration, Duration),
    /// The longest pause between two maintenance passes. Default: 30 s.
    pub maintenance_interval: Duration,
    /// Whether a background maintenance thread runs the passes (blocking front end). `None`:
    /// on when `min_idle` or a time-based option is set. Default: `None`.
    pub maintenance_thread: Option<bool>,
    /// Objects with this many errors reported through `Pooled::report_error` are dropped
    /// when they are returned. `None`: never. Default: `None`.
    pub max_errors: Option<u32>,
    /// Most `create` calls in flight at once, across `get`, `warm` and maintenance refills (at
    /// least 1). A `get` that would create beyond it waits instead, within its timeout, for a
    /// return or for a create to finish; a caller pausing between failed creates keeps its
    /// slot, so at most this many callers retry during an outage. Default:
    /// [`DEFAULT_MAX_PENDING_CREATES`].
    pub max_pending_creates: usize,
    /// Objects held longer than this are reported by maintenance passes (a `log::warn!` with
    /// the pool's name, how long, and where the object was acquired, once per lend; and
    /// `Maintenance::leaked`). `None`: off, and then lending records nothing (no clock read,
    /// no store). Default: `None`.
    pub leak_detection_threshold: Option<Duration>,
    /// Load shedding: a `get` that would wait while this many callers already wait
    /// (`status().waiting`) fails at once with [`Error::Overloaded`](crate::Error::Overloaded)
    /// instead of queueing into a timeout. `Some(0)`: never queue. `None`: no limit. Default:
    /// `None`. See [`Builder::max_waiters`](crate::Builder::max_waiters) for the bound.
    pub max_waiters: Option<usize>,
    /// The overflow pool: the last `reserve` available objects and places (idle objects plus
    /// room to create) go only to [`Priority::High`](crate::Priority) gets; a `Normal` or
    /// `Low` get that would take one waits instead. 0: off. Default: 0. Must be below
    /// `max_size`. See [`Builder::reserve`](crate::Builder::reserve).
    pub reserve: usize,
    /// The circuit breaker on creation: after this many consecutive failed creates, a `get`
    /// that would have to create fails at once with
    /// [`Error::Unavailable`](crate::Error::Unavailable) until a probe create succeeds. `None`:
    /// off. Default: `None`. See [`CircuitBreaker`](crate::CircuitBreaker).
    pub circuit_breaker: Option<crate::CircuitBreaker>,
    /// The pool's name in log lines. Default: `"cenote"`.
    pub name: String,
    /// Autoscaling: maintenance moves `max_size` within a range from how busy the pool is
    /// (see [`Autoscale`](crate::Autoscale)). Default: `None` (off).
    pub autoscale: Option<crate::Autoscale>,
}

/// The default for [`Config::validate_idle_after`]: 500 ms.
pub const DEFAULT_VALIDATE_IDLE_AFTER: Duration = Duration::from_millis(500);
/// The default for [`Config::health_check_timeout`]: 5 seconds.
pub const DEFAULT_HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// The default for [`Config::maintenance_interval`]: 30 seconds.
pub const DEFAULT_MAINTENANCE_INTERVAL: Duration = Duration::from_secs(30);
/// The default for [`Config::create_backoff`]: 5 ms first, doubling up to 500 ms.
pub const DEFAULT_CREATE_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(5), Duration::from_millis(500));

/// The default for [`Config::acquire_timeout`]: 30 seconds (not forever, which stalls a
/// service silently when the pool is exhausted).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The default for [`Config::max_pending_creates`]: 2 (as HikariCP and bb8 connect a few at a
/// time: more in flight at once mostly adds load on a backend that is already slow or down).
pub const DEFAULT_MAX_PENDING_CREATES: usize = 2;

/// The default for [`Config::max_size`] in the builders: 10.
pub const DEFAULT_MAX_SIZE: usize = 10;

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
            validate_idle_after: Some(DEFAULT_VALIDATE_IDLE_AFTER),
            health_check_timeout: DEFAULT_HEALTH_CHECK_TIMEOUT,
            create_backoff: DEFAULT_CREATE_BACKOFF,
            maintenance_interval: DEFAULT_MAINTENANCE_INTERVAL,
            maintenance_thread: None,
            max_errors: None,
            max_pending_creates: DEFAULT_MAX_PENDING_CREATES,
            leak_detection_threshold: None,
            max_waiters: None,
            reserve: 0,
            circuit_breaker: None,
            name: String::from("cenote"),
            autoscale: None,
        }
    }

    /// Whether maintenance has anything to do: `min_idle` to keep, a time-based option,
    /// leaks to report, or autoscaling.
    pub fn needs_maintenance(&self) -> bool {
        self.min_idle > 0
            || self.needs_clock()
            || self.leak_detection_threshold.is_some()
            || self.autoscale.is_some()
    }

    /// The capacity in slots: `capacity`, or `max_size` when unset.
    pub fn slots(&self) -> usize {
        self.capacity.unwrap_or_else(|| self.autoscale.map_or(self.max_size, |a| a.max.max(self.max_size)))
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
    /// use cenote_front::{BuildError, Config};
    ///
    /// assert!(Config::new(4).validate().is_ok());
    /// assert_eq!(Config::new(0).validate(), Err(BuildError::ZeroMaxSize));
    /// ```
    pub fn validate(&self) -> Result<(), BuildError> {
        if self.max_size == 0 {
            return Err(BuildError::ZeroMaxSize);
        }
        if self.max_pending_creates == 0 {
            return Err(BuildError::ZeroMaxPendingCreates);
        }
        if self.min_idle > self.max_size {
            return Err(BuildError::MinIdleAboveMaxSize { min_idle: self.min_idle, max_size: self.max_size });
        }
        if self.reserve != 0 && self.reserve >= self.max_size {
            return Err(BuildError::ReserveNotBelowMaxSize {
                reserve: self.reserve,
                max_size: self.max_size,
            });
        }
        if let Some(autoscale) = self.autoscale.filter(|a| self.reserve != 0 && self.reserve >= a.min) {
            return Err(BuildError::ReserveNotBelowMaxSize {
                reserve: self.reserve,
                max_size: autoscale.min,
            });
        }
        let capacity = self.slots();
        if capacity < self.max_size {
            return Err(BuildError::CapacityBelowMaxSize { capacity, max_size: self.max_size });
        }
        if capacity > cenote_core::Core::<()>::MAX_CAPACITY {
            return Err(BuildError::CapacityTooLarge { capacity });
        }
        for (option, value) in [
            ("create_timeout", self.create_timeout),
            ("idle_timeout", self.idle_timeout),
            ("max_lifetime", self.max_lifetime),
            ("health_check_interval", self.health_check_interval),
            ("validate_idle_after", self.validate_idle_after),
            ("leak_detection_threshold", self.leak_detection_threshold),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(BuildError::ZeroDuration { option });
            }
        }
        for (option, value) in [
            ("health_check_timeout", self.health_check_timeout),
            ("maintenance_interval", self.maintenance_interval),
            ("create_backoff", self.create_backoff.0),
        ] {
            if value.is_zero() {
                return Err(BuildError::ZeroDuration { option });
            }
        }
        let (first, max) = self.create_backoff;
        if first > max {
            return Err(BuildError::BackoffFirstAboveMax { first, max });
        }
        if let Some(autoscale) = &self.autoscale {
            autoscale.validate(self.max_size, self.min_idle, capacity)?;
        }
        if let Some(breaker) = self.circuit_breaker {
            if breaker.failures == 0 {
                return Err(BuildError::ZeroBreakerFailures);
            }
            if breaker.open_for.is_zero() {
                return Err(BuildError::ZeroDuration { option: "circuit_breaker.open_for" });
            }
        }
        Ok(())
    }
}

impl Default for Config {
    /// [`Config::new`]`(`[`DEFAULT_MAX_SIZE`]`)`.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SIZE)
    }
}

/// A builder value that cannot work, or a pool that could not be allocated. Returned by
/// `Builder::build`; never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_size` was 0.
    ZeroMaxSize,
    /// `max_pending_creates` was 0: no object could ever be created.
    ZeroMaxPendingCreates,
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
    /// The slots for `capacity` objects could not be allocated.
    OutOfMemory {
        /// The requested capacity.
        capacity: usize,
        /// The bytes the allocation asked for.
        bytes: u64,
    },
    /// A duration option was zero; leave it unset (`None`) to turn it off instead.
    ZeroDuration {
        /// The option's name.
        option: &'static str,
    },
    /// An option this front end cannot honour.
    Unsupported {
        /// The option's name.
        option: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// An `autoscale` value that cannot work (see [`Autoscale`](crate::Autoscale)).
    Autoscale {
        /// What is wrong, and what to do.
        why: &'static str,
    },
    /// `circuit_breaker`'s `failures` was 0: it would be open before any create failed.
    ZeroBreakerFailures,
    /// `reserve` was not below `max_size` (or below `autoscale`'s `min`, the smallest
    /// `max_size` autoscaling may set): `Normal` and `Low` gets could never be served.
    ReserveNotBelowMaxSize {
        /// The requested reserve.
        reserve: usize,
        /// The `max_size` (or autoscale `min`) it must be below.
        max_size: usize,
    },
    /// A sharded pool's `shards` was 0, or more than its `max_size` (each shard holds at
    /// least one object).
    Shards {
        /// The requested number of shards.
        shards: usize,
        /// The requested `max_size`.
        max_size: usize,
    },
    /// `create_backoff`'s first pause was longer than its longest.
    BackoffFirstAboveMax {
        /// The first pause.
        first: Duration,
        /// The longest pause.
        max: Duration,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroMaxSize => f.write_str("max_size is 0: set it to the most objects the pool may hold (at least 1)"),
            Self::ZeroMaxPendingCreates => f.write_str(
                "max_pending_creates is 0: no object could ever be created; set it to the most creates to run at once (at least 1; the default is 2)",
            ),
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
                cenote_core::Core::<()>::MAX_CAPACITY
            ),
            Self::OutOfMemory { capacity, bytes } => write!(
                f,
                "could not allocate {bytes} bytes for a pool of capacity {capacity}: slots are allocated up front, so lower capacity (or max_size)"
            ),
            Self::ZeroDuration { option } => {
                write!(f, "{option} is zero: leave it unset to turn it off, or give it a positive duration")
            }
            Self::ZeroBreakerFailures => f.write_str(
                "circuit_breaker failures is 0: the breaker would open before any create failed; give the number of consecutive failed creates that opens it (at least 1), or leave the breaker off (None)",
            ),
            Self::ReserveNotBelowMaxSize { reserve, max_size } => write!(
                f,
                "reserve ({reserve}) is not below max_size ({max_size}, or autoscale's min): Normal and Low gets could never be served; lower reserve below it (it is the part of the pool kept for Priority::High) or raise max_size"
            ),
            Self::Unsupported { option, why } => write!(f, "{option} is not supported here: {why}"),
            Self::Autoscale { why } => write!(f, "autoscale: {why}"),
            Self::Shards { shards: 0, .. } => {
                f.write_str("shards is 0: give at least 1 (or leave it unset for the machine's parallelism)")
            }
            Self::Shards { shards, max_size } => write!(
                f,
                "more shards ({shards}) than max_size ({max_size}): each shard holds at least one object, so lower shards or raise max_size"
            ),
            Self::BackoffFirstAboveMax { first, max } => write!(
                f,
                "create_backoff's first pause ({first:?}) is longer than its longest ({max:?}): swap them or raise the longest"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

//! The options both keyed pools share, their builder and its errors.

use core::fmt;
use core::marker::PhantomData;
use std::time::Duration;

/// The default per-key `max_size`.
///
/// ```
/// assert_eq!(cenote_keyed::KeyedConfig::default().max_size, cenote_keyed::DEFAULT_MAX_SIZE);
/// ```
pub const DEFAULT_MAX_SIZE: usize = 8;
/// The default global `max_total`.
///
/// ```
/// assert_eq!(cenote_keyed::KeyedConfig::default().max_total, cenote_keyed::DEFAULT_MAX_TOTAL);
/// ```
pub const DEFAULT_MAX_TOTAL: usize = 64;
/// The default `acquire_timeout` of `get`.
///
/// ```
/// assert_eq!(cenote_keyed::KeyedConfig::default().acquire_timeout, Some(cenote_keyed::DEFAULT_ACQUIRE_TIMEOUT));
/// ```
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The options of a keyed pool (both front ends). Build one with [`Builder`]'s methods, or
/// fill it and hand it to [`Builder::config`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_keyed::KeyedConfig;
///
/// let mut config = KeyedConfig::default();
/// config.max_size = 4;
/// config.max_total = 16;
/// config.idle_timeout = Some(Duration::from_secs(60));
/// assert!(config.check().is_ok());
/// config.max_idle = Some(5);
/// assert!(config.check().unwrap_err().to_string().contains("max_idle"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyedConfig {
    /// The most objects one key holds at once (lent, idle, or being created). Default
    /// [`DEFAULT_MAX_SIZE`].
    pub max_size: usize,
    /// The most idle objects one key keeps: an object returned when its key has this many
    /// idle is closed. `None` (the default): `max_size`.
    pub max_idle: Option<usize>,
    /// The most objects all keys together hold at once. Default [`DEFAULT_MAX_TOTAL`].
    pub max_total: usize,
    /// How long an object may stay idle before `maintain()` closes it; a key whose sub-pool
    /// holds nothing any more is then removed from the map. `None` (the default): idle
    /// objects are never closed for their age (empty sub-pools are still removed).
    pub idle_timeout: Option<Duration>,
    /// How long `get` waits, in all (for its key's cap, for the global cap, and for the
    /// create). `None`: for as long as it takes. Default [`DEFAULT_ACQUIRE_TIMEOUT`].
    pub acquire_timeout: Option<Duration>,
    /// Whether an idle object is checked with the manager's `is_valid` before it is lent.
    /// Default `false`.
    pub validate_on_acquire: bool,
    /// How many shards the key map has (each a `RwLock<HashMap>`). `None` (the default): four
    /// per available CPU, rounded up to a power of two.
    pub shards: Option<usize>,
}

impl Default for KeyedConfig {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_SIZE,
            max_idle: None,
            max_total: DEFAULT_MAX_TOTAL,
            idle_timeout: None,
            acquire_timeout: Some(DEFAULT_ACQUIRE_TIMEOUT),
            validate_on_acquire: false,
            shards: None,
        }
    }
}

impl KeyedConfig {
    /// Checks the options against each other; `build()` runs this.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the option and what to do about it.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_keyed::{BuildError, KeyedConfig};
    ///
    /// let mut config = KeyedConfig::default();
    /// config.max_size = 0;
    /// assert_eq!(config.check(), Err(BuildError::ZeroMaxSize));
    /// ```
    pub fn check(&self) -> Result<(), BuildError> {
        if self.max_size == 0 {
            return Err(BuildError::ZeroMaxSize);
        }
        if self.max_size > cenote_core::Core::<()>::MAX_CAPACITY {
            return Err(BuildError::MaxSizeTooLarge {
                max_size: self.max_size,
                limit: cenote_core::Core::<()>::MAX_CAPACITY,
            });
        }
        if let Some(max_idle) = self.max_idle {
            if max_idle > self.max_size {
                return Err(BuildError::MaxIdleAboveMaxSize { max_idle, max_size: self.max_size });
            }
        }
        if self.max_total == 0 {
            return Err(BuildError::ZeroMaxTotal);
        }
        if self.max_size > self.max_total {
            return Err(BuildError::MaxSizeAboveMaxTotal {
                max_size: self.max_size,
                max_total: self.max_total,
            });
        }
        if self.shards == Some(0) {
            return Err(BuildError::ZeroShards);
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(BuildError::ZeroIdleTimeout);
        }
        Ok(())
    }

    /// `max_idle`, resolved (`None`: `max_size`).
    pub(crate) fn resolved_max_idle(&self) -> usize {
        self.max_idle.unwrap_or(self.max_size)
    }

    /// `shards`, resolved to a power of two.
    pub(crate) fn shard_count(&self) -> usize {
        let n = self.shards.unwrap_or_else(|| {
            4 * std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        n.checked_next_power_of_two().unwrap_or(1 << (usize::BITS - 1)).min(1 << 16)
    }
}

/// Why a keyed pool could not be built. Each message says what to change.
///
/// # Examples
///
/// ```
/// use cenote_keyed::BuildError;
///
/// let e = BuildError::MaxSizeAboveMaxTotal { max_size: 8, max_total: 4 };
/// assert!(e.to_string().contains("raise max_total"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_size` was 0.
    ZeroMaxSize,
    /// `max_size` was above what one core can hold.
    MaxSizeTooLarge {
        /// The requested per-key maximum.
        max_size: usize,
        /// The largest supported.
        limit: usize,
    },
    /// `max_idle` was above `max_size`.
    MaxIdleAboveMaxSize {
        /// The requested per-key idle maximum.
        max_idle: usize,
        /// The per-key maximum.
        max_size: usize,
    },
    /// `max_total` was 0.
    ZeroMaxTotal,
    /// `max_size` (one key) was above `max_total` (all keys).
    MaxSizeAboveMaxTotal {
        /// The requested per-key maximum.
        max_size: usize,
        /// The requested global maximum.
        max_total: usize,
    },
    /// `shards` was 0.
    ZeroShards,
    /// `idle_timeout` was zero.
    ZeroIdleTimeout,
    /// A sub-pool of `max_size` slots could not be allocated.
    OutOfMemory {
        /// The requested per-key maximum.
        max_size: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroMaxSize => f.write_str("max_size is 0; each key needs room for at least one object: set max_size to 1 or more"),
            Self::MaxSizeTooLarge { max_size, limit } => {
                write!(f, "max_size {max_size} is above the largest supported per-key size {limit}; lower max_size")
            }
            Self::MaxIdleAboveMaxSize { max_idle, max_size } => write!(
                f,
                "max_idle {max_idle} is above max_size {max_size}; a key cannot keep more idle objects than it may hold: lower max_idle or raise max_size"
            ),
            Self::ZeroMaxTotal => f.write_str("max_total is 0; the pool needs room for at least one object: set max_total to 1 or more"),
            Self::MaxSizeAboveMaxTotal { max_size, max_total } => write!(
                f,
                "max_size {max_size} (per key) is above max_total {max_total} (all keys); lower max_size or raise max_total"
            ),
            Self::ZeroShards => f.write_str("shards is 0; the key map needs at least one shard: leave shards unset for the default"),
            Self::ZeroIdleTimeout => f.write_str(
                "idle_timeout is zero; every idle object would be closed at once: give a positive duration, or None to keep idle objects",
            ),
            Self::OutOfMemory { max_size } => write!(
                f,
                "could not allocate a sub-pool of {max_size} slots (each key's slots are allocated when the key is first used); lower max_size"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// A pool that a [`Builder`] can build: [`sync::KeyedPool`](crate::sync::KeyedPool) and
/// [`nonblocking::KeyedPool`](crate::nonblocking::KeyedPool). Sealed.
///
/// # Examples
///
/// ```
/// use cenote_keyed::{BuildPool, Builder};
///
/// /// Any keyed pool, from its builder.
/// fn build<P: BuildPool>(builder: Builder<P>) -> P {
///     builder.max_size(1).max_total(1).build().expect("valid options")
/// }
/// # struct Numbers;
/// # impl cenote_keyed::sync::KeyedManager<u32> for Numbers {
/// #     type Connection = u32;
/// #     type Error = std::convert::Infallible;
/// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
/// # }
/// let pool = build(cenote_keyed::sync::KeyedPool::builder(Numbers));
/// assert_eq!(pool.config().max_total, 1);
/// ```
pub trait BuildPool: Sized + sealed::Sealed {
    /// The manager the pool is built around.
    type Manager;

    /// Builds the pool from a checked configuration (called by [`Builder::build`]).
    #[doc(hidden)]
    fn from_checked(manager: Self::Manager, config: KeyedConfig) -> Self;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// Configures a keyed pool; get one from `KeyedPool::builder` (either front end).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_keyed::sync::{KeyedManager, KeyedPool};
///
/// struct Hosts;
/// impl KeyedManager<String> for Hosts {
///     type Connection = String;
///     type Error = std::convert::Infallible;
///     fn create(&self, key: &String) -> Result<String, Self::Error> {
///         Ok(format!("connection to {key}"))
///     }
/// }
///
/// let pool = KeyedPool::builder(Hosts)
///     .max_size(2)
///     .max_idle(1)
///     .max_total(10)
///     .idle_timeout(Some(Duration::from_secs(90)))
///     .acquire_timeout(Some(Duration::from_secs(5)))
///     .build()?;
/// assert_eq!(pool.config().max_total, 10);
///
/// let err = KeyedPool::builder(Hosts).max_size(20).max_total(10).build().unwrap_err();
/// assert!(err.to_string().contains("lower max_size or raise max_total"));
/// # Ok::<(), cenote_keyed::BuildError>(())
/// ```
pub struct Builder<P: BuildPool> {
    manager: P::Manager,
    config: KeyedConfig,
    _pool: PhantomData<fn() -> P>,
}

impl<P: BuildPool> fmt::Debug for Builder<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<P: BuildPool> Builder<P> {
    pub(crate) fn new(manager: P::Manager) -> Self {
        Self { manager, config: KeyedConfig::default(), _pool: PhantomData }
    }

    /// Replaces every option with `config`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// let mut config = cenote_keyed::KeyedConfig::default();
    /// config.max_size = 2;
    /// let pool = KeyedPool::builder(Numbers).config(config).build()?;
    /// assert_eq!(pool.config().max_size, 2);
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn config(mut self, config: KeyedConfig) -> Self {
        self.config = config;
        self
    }

    /// See [`KeyedConfig::max_size`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// assert_eq!(KeyedPool::builder(Numbers).max_size(3).build()?.config().max_size, 3);
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// See [`KeyedConfig::max_idle`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// assert_eq!(KeyedPool::builder(Numbers).max_idle(1).build()?.config().max_idle, Some(1));
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn max_idle(mut self, max_idle: usize) -> Self {
        self.config.max_idle = Some(max_idle);
        self
    }

    /// See [`KeyedConfig::max_total`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// assert_eq!(KeyedPool::builder(Numbers).max_total(100).build()?.config().max_total, 100);
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn max_total(mut self, max_total: usize) -> Self {
        self.config.max_total = max_total;
        self
    }

    /// See [`KeyedConfig::idle_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// use std::time::Duration;
    /// let pool = KeyedPool::builder(Numbers).idle_timeout(Some(Duration::from_secs(60))).build()?;
    /// assert_eq!(pool.config().idle_timeout, Some(Duration::from_secs(60)));
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = idle_timeout;
        self
    }

    /// See [`KeyedConfig::acquire_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// let pool = KeyedPool::builder(Numbers).acquire_timeout(None).build()?; // wait for as long as it takes
    /// assert_eq!(pool.config().acquire_timeout, None);
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn acquire_timeout(mut self, acquire_timeout: Option<Duration>) -> Self {
        self.config.acquire_timeout = acquire_timeout;
        self
    }

    /// See [`KeyedConfig::validate_on_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// assert!(KeyedPool::builder(Numbers).validate_on_acquire(true).build()?.config().validate_on_acquire);
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn validate_on_acquire(mut self, validate: bool) -> Self {
        self.config.validate_on_acquire = validate;
        self
    }

    /// See [`KeyedConfig::shards`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// assert_eq!(KeyedPool::builder(Numbers).shards(8).build()?.config().shards, Some(8));
    /// assert!(KeyedPool::builder(Numbers).shards(0).build().is_err());
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.config.shards = Some(shards);
        self
    }

    /// Checks the options and builds the pool. Creates no object and allocates no sub-pool
    /// (each key's is made on its first use).
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// let err = KeyedPool::builder(Numbers).max_idle(9).build().unwrap_err();
    /// assert_eq!(err.to_string(), "max_idle 9 is above max_size 8; a key cannot keep more idle objects than it may hold: lower max_idle or raise max_size");
    /// # Ok::<(), cenote_keyed::BuildError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the bad option and what to do.
    pub fn build(self) -> Result<P, BuildError> {
        self.config.check()?;
        // One sub-pool's slots, allocated once and dropped: a size the machine cannot hold is
        // an error now, not at a key's first use.
        cenote_core::Core::<(), ()>::new(self.config.max_size, self.config.max_size, ())
            .map_err(|_| BuildError::OutOfMemory { max_size: self.config.max_size })?;
        Ok(P::from_checked(self.manager, self.config))
    }
}

//! Configuring and building a pool.

use core::fmt;
use core::time::Duration;

use cenote_core::{BuildError, Config};

use crate::{Manager, Pool};

/// Configures a [`Pool`]. Get one from [`Pool::builder`].
///
/// | option | default |
/// |---|---|
/// | `max_size` | 10 |
/// | `capacity` (ceiling for `resize`) | `max_size` |
/// | `min_idle` | 0 |
/// | `acquire_timeout` | 30 s |
/// | `create_timeout` | none (bounded by `acquire_timeout`) |
/// | `idle_timeout` | none |
/// | `max_lifetime` | none |
/// | `validate_on_acquire` | `false` |
/// | `health_check_interval` | none |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # struct M; impl cenote_async::Manager for M { type Connection = (); type Error = std::convert::Infallible;
/// #     async fn create(&self) -> Result<(), Self::Error> { Ok(()) } }
/// # futures_lite::future::block_on(async {
///
/// let pool = cenote_async::Pool::builder(M)
///     .max_size(16)
///     .min_idle(2)
///     .acquire_timeout(Some(Duration::from_secs(5)))
///     .build_warm()
///     .await?;
/// assert_eq!(pool.status().max_size, 16);
/// assert_eq!(pool.status().idle, 2);
/// # Ok::<(), cenote_async::BuildError>(())
/// # }).unwrap();
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<M: Manager> {
    manager: M,
    config: Config,
}

/// The default `max_size` of a builder.
pub const DEFAULT_MAX_SIZE: usize = 10;

impl<M: Manager> Builder<M> {
    pub(crate) fn new(manager: M) -> Self {
        Self { manager, config: Config::new(DEFAULT_MAX_SIZE) }
    }

    /// Most objects in existence at once (at least 1).
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.config.max_size = max_size;
        self
    }

    /// Slots allocated up front: the ceiling for [`Pool::resize`]. At least `max_size`.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.config.capacity = Some(capacity);
        self
    }

    /// Idle objects created at build time and kept ready (at most `max_size`).
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.config.min_idle = min_idle;
        self
    }

    /// How long [`Pool::get`] waits; `None` waits forever.
    pub fn acquire_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.acquire_timeout = timeout;
        self
    }

    /// How long one `create` may take before `get` fails with
    /// [`Error::CreateTimeout`](crate::Error::CreateTimeout); `None`: bounded only by the
    /// acquire timeout.
    pub fn create_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.create_timeout = timeout;
        self
    }

    /// Drop idle objects that have not been used for this long, instead of lending them.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Drop objects older than this, instead of lending them.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.config.max_lifetime = lifetime;
        self
    }

    /// Check every idle object with [`Manager::is_valid`] before lending it.
    pub fn validate_on_acquire(mut self, validate: bool) -> Self {
        self.config.validate_on_acquire = validate;
        self
    }

    /// Check an idle object with [`Manager::is_valid`] before lending it if it has been idle
    /// at least this long.
    pub fn health_check_interval(mut self, interval: Option<Duration>) -> Self {
        self.config.health_check_interval = interval;
        self
    }

    /// Builds the pool. Creates nothing yet: `min_idle` objects are created by
    /// [`build_warm`](Builder::build_warm) or [`Pool::warm`], and otherwise on demand.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for values that cannot work: `max_size` 0, `min_idle > max_size`,
    /// `capacity < max_size`, a zero duration.
    pub fn build(self) -> Result<Pool<M>, BuildError> {
        self.config.validate()?;
        Ok(Pool::from_config(self.manager, self.config))
    }

    /// Builds the pool and creates the `min_idle` objects in the calling task. A failing
    /// `create` leaves the pool with fewer idle objects; it fills up on demand.
    ///
    /// # Errors
    ///
    /// As for [`build`](Builder::build).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the pool being built and whatever it created.
    pub async fn build_warm(self) -> Result<Pool<M>, BuildError> {
        let pool = self.build()?;
        pool.warm().await;
        Ok(pool)
    }
}

impl<M: Manager> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").field("config", &self.config).finish_non_exhaustive()
    }
}

//! Configuring and building a pool.

use core::fmt;

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
/// | `create_timeout` | none (async front end only) |
/// | `idle_timeout` | none |
/// | `max_lifetime` | none |
/// | `validate_on_acquire` | `false` |
/// | `health_check_interval` | none |
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
///     .build()?;
/// assert_eq!(pool.status().max_size, 16);
/// assert_eq!(pool.status().idle, 2);
/// # Ok::<(), cenote_sync::BuildError>(())
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

    cenote_core::__builder_setters!();

    /// Builds the pool and creates `min_idle` objects.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for values that cannot work: `max_size` 0, `min_idle > max_size`,
    /// `capacity < max_size`, a zero duration.
    ///
    /// # Blocking
    ///
    /// Creates `min_idle` objects on the calling thread. A failing `create` leaves the pool
    /// with fewer idle objects; it fills up on demand.
    pub fn build(self) -> Result<Pool<M>, BuildError> {
        self.config.validate()?;
        let pool = Pool::from_config(self.manager, self.config);
        pool.warm();
        Ok(pool)
    }
}

impl<M: Manager> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder").field("config", &self.config).finish_non_exhaustive()
    }
}

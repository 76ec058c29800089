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

    cenote_core::__builder_setters!();

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

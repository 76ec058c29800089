//! Options that can change while the pool runs: those read only on slow paths (a `get` that
//! has to wait, a maintenance pass), so that changing them costs the hot path nothing.
//!
//! | option | setter | takes effect |
//! |---|---|---|
//! | `acquire_timeout` | [`Handle::set_acquire_timeout`] | for every `get` that starts waiting afterwards |
//! | `min_idle` | [`Handle::set_min_idle`] | at the next maintenance pass or `warm` |
//! | `maintenance_interval` | [`Handle::set_maintenance_interval`] | from the next pass's schedule on |
//! | `max_size` | [`Handle::resize`] | at once (within `capacity`) |
//!
//! The others (`validate_on_acquire`, `idle_timeout`, `max_lifetime`,
//! `health_check_interval`, `max_errors`) are read on every lend or return, and stay as built:
//! making them changeable would put a shared read of a lock or a second atomic on the hot
//! path. Build a new pool (and `shutdown` the old one) to change them.
//! [`Handle::config`] shows the options as built; [`Handle::settings`] the current ones.

use std::sync::{PoisonError, RwLock};

use core::time::Duration;

use crate::front::{Front, Shared};
use crate::{BuildError, Config, Handle};

/// The values of the changeable options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) min_idle: usize,
    pub(crate) maintenance_interval: Duration,
}

impl Settings {
    pub(crate) fn of(config: &Config) -> RwLock<Self> {
        RwLock::new(Self {
            acquire_timeout: config.acquire_timeout,
            min_idle: config.min_idle,
            maintenance_interval: config.maintenance_interval,
        })
    }
}

impl<F: Front> Shared<F> {
    fn settings(&self) -> Settings {
        *self.settings.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// `acquire_timeout` now (slow paths only).
    pub(crate) fn acquire_timeout(&self) -> Option<Duration> {
        self.settings().acquire_timeout
    }

    /// `min_idle` now (slow paths only).
    pub(crate) fn min_idle(&self) -> usize {
        self.settings().min_idle
    }

    /// `maintenance_interval` now (slow paths only).
    pub(crate) fn maintenance_interval(&self) -> Duration {
        self.settings().maintenance_interval
    }
}

impl<F: Front> Handle<F> {
    /// The configuration with the runtime changes applied (see the `set_*` methods);
    /// [`config`](Handle::config) is the configuration as built.
    pub fn settings(&self) -> Config {
        let now = self.shared().settings();
        let mut config = self.config().clone();
        config.acquire_timeout = now.acquire_timeout;
        config.min_idle = now.min_idle;
        config.maintenance_interval = now.maintenance_interval;
        config.max_size = self.status().max_size;
        config
    }

    /// Changes `acquire_timeout` (`None`: wait for good) for every `get` that starts waiting
    /// from now on. Never fails.
    ///
    /// ```
    /// use std::time::Duration;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::new(M, 1);
    /// let held = pool.get()?;
    /// pool.set_acquire_timeout(Some(Duration::from_millis(1)));
    /// assert!(pool.get().unwrap_err().is_timeout()); // waited 1 ms, not 30 s
    /// assert_eq!(pool.settings().acquire_timeout, Some(Duration::from_millis(1)));
    /// assert_eq!(pool.config().acquire_timeout, Some(Duration::from_secs(30)), "as built");
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_acquire_timeout(&self, timeout: Option<Duration>) {
        self.update(|s| s.acquire_timeout = timeout);
        log::info!("pool {}: acquire_timeout is now {timeout:?}", self.config().name);
    }

    /// Changes `min_idle`, for the next maintenance pass or `warm`: raising it refills, lowering
    /// it lets `idle_timeout` reap down to the new floor. A blocking pool built with nothing
    /// for maintenance to do has no maintenance thread (it is decided at build time): call
    /// `warm` or `maintain` after raising it there, or build with `maintenance_thread(true)`.
    ///
    /// # Errors
    ///
    /// [`BuildError::MinIdleAboveMaxSize`] if `min_idle` is above the current `max_size`
    /// (nothing changes).
    pub fn set_min_idle(&self, min_idle: usize) -> Result<(), BuildError> {
        let max_size = self.status().max_size;
        if min_idle > max_size {
            return Err(BuildError::MinIdleAboveMaxSize { min_idle, max_size });
        }
        self.update(|s| s.min_idle = min_idle);
        log::info!("pool {}: min_idle is now {min_idle}", self.config().name);
        Ok(())
    }

    /// Changes the longest pause between maintenance passes, from the next pass's schedule
    /// on.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroDuration`] for a zero interval (nothing changes).
    pub fn set_maintenance_interval(&self, interval: Duration) -> Result<(), BuildError> {
        if interval.is_zero() {
            return Err(BuildError::ZeroDuration { option: "maintenance_interval" });
        }
        self.update(|s| s.maintenance_interval = interval);
        Ok(())
    }

    fn update(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.shared().settings.write().unwrap_or_else(PoisonError::into_inner));
    }
}

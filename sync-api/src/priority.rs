//! Priority gets: [`Pool::get_with`] and its siblings (the classes, aging and reserve are the
//! core's: see `cenote_core::Priority`).

use core::panic::Location;
use core::time::Duration;

use cenote_front::Timeout;

use crate::{Error, Manager, Pool, Pooled, Priority};

impl<M: Manager> Pool<M> {
    /// Like [`get`](Pool::get) (which is `get_with(Priority::Normal)`), in class `priority`:
    /// waiters are served by class (`High` first), FIFO within a class, with aging: a waiter
    /// at the front of its class is served after at most [`AGE_AFTER`](crate::AGE_AFTER)
    /// serves to higher classes. Only `High` may take the pool's
    /// [`reserve`](crate::Builder::reserve).
    ///
    /// A blocking waiter first spins briefly and may be overtaken by a newcomer that finds an
    /// object idle (see the core's fairness notes); the classes order the waiters that are
    /// queued.
    ///
    /// # Errors
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Blocking
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_sync::Priority;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(2).reserve(1).build()?;
    /// let a = pool.get_with(Priority::Low)?;
    /// let b = pool.get_with(Priority::High)?; // the reserve: only High gets it
    /// # drop((a, b));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn get_with(&self, priority: Priority) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_inner(priority, Timeout::Pool, Location::caller())
    }

    /// [`get_with`](Pool::get_with), waiting up to `timeout` instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Blocking
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_sync::Priority;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(1).build()?;
    /// let held = pool.get()?;
    /// let err = pool.get_with_timeout(Priority::High, Duration::from_millis(5)).unwrap_err();
    /// assert!(err.is_timeout());
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn get_with_timeout(
        &self,
        priority: Priority,
        timeout: Duration,
    ) -> Result<Pooled<M>, Error<M::Error>> {
        self.get_inner(priority, Timeout::Given(Some(timeout)), Location::caller())
    }

    /// [`try_get`](Pool::try_get) in class `priority`: a `Normal` or `Low` caller does not
    /// take one of the [`reserve`](crate::Builder::reserve).
    ///
    /// # Blocking
    ///
    /// As for [`try_get`](Pool::try_get).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_sync::Priority;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(2).reserve(1).build()?;
    /// drop(pool.get_with(Priority::High)?); // one idle object, and room for one more
    /// assert!(pool.try_get_with(Priority::Low).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn try_get_with(&self, priority: Priority) -> Option<Pooled<M>> {
        self.try_get_inner(priority, Location::caller())
    }
}

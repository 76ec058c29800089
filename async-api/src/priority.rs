//! Priority gets: [`Pool::get_with`] and its siblings (the classes, aging and reserve are the
//! core's: see `cenote_core::Priority`).

use core::future::Future;
use core::panic::Location;
use core::time::Duration;

use cenote_front::Timeout;

use crate::pool::AskAs;
use crate::{Error, Manager, Pool, Pooled, Priority};

impl<M: Manager> Pool<M> {
    /// Like [`get`](Pool::get) (which is `get_with(Priority::Normal)`), in class `priority`:
    /// waiters are served by class (`High` first), FIFO within a class, with aging: a waiter
    /// at the front of its class is served after at most [`AGE_AFTER`](crate::AGE_AFTER)
    /// serves to higher classes. Only `High` may take the pool's
    /// [`reserve`](crate::Builder::reserve).
    ///
    /// # Errors
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Cancel safety
    ///
    /// As for [`get`](Pool::get): a cancelled priority get leaves nothing behind, and an
    /// object handed to it goes on to the next waiter by class.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_async::Priority;
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::builder(M).max_size(2).reserve(1).build()?;
    /// let a = pool.get_with(Priority::Low).await?;
    /// let b = pool.get_with(Priority::High).await?; // the reserve: only High gets it
    /// # drop((a, b));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn get_with(
        &self,
        priority: Priority,
    ) -> impl Future<Output = Result<Pooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_within(AskAs(priority), Timeout::Pool, Location::caller())
    }

    /// [`get_with`](Pool::get_with), waiting up to `timeout` instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Cancel safety
    ///
    /// As for [`get`](Pool::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_async::Priority;
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::builder(M).max_size(2).reserve(1).build()?;
    /// let held = pool.get().await?;
    /// let err = pool.get_with_timeout(Priority::Normal, Duration::from_millis(5)).await.unwrap_err();
    /// assert!(err.is_timeout(), "the last one is reserved for High");
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn get_with_timeout(
        &self,
        priority: Priority,
        timeout: Duration,
    ) -> impl Future<Output = Result<Pooled<M>, Error<M::Error>>> + Send + '_ {
        self.get_within(AskAs(priority), Timeout::Given(Some(timeout)), Location::caller())
    }

    /// [`try_get`](Pool::try_get) in class `priority`: a `Normal` or `Low` caller does not
    /// take one of the [`reserve`](crate::Builder::reserve).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_async::Priority;
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::builder(M).max_size(2).reserve(1).build()?;
    /// drop(pool.get_with(Priority::High).await?); // one idle, and room for one more
    /// assert!(pool.try_get_with(Priority::Low).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[track_caller]
    pub fn try_get_with(&self, priority: Priority) -> Option<Pooled<M>> {
        self.try_get_inner(priority, Location::caller())
    }
}

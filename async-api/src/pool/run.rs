//! `Pool::run`: an async closure on a pooled connection, retried on transient errors.
//!
//! The closure takes the connection by value and hands it back with its result:
//! `FnMut(Pooled<M>) -> impl Future<Output = (Pooled<M>, Result<T, U>)>`. A future that
//! borrows the connection for one call (`for<'a> FnMut(&'a mut Conn) -> impl Future + 'a`)
//! cannot be written as a bound on stable Rust; an async closure (`AsyncFnMut`, stable since
//! 1.85, the MSRV) can, and was tried first, but then `run`'s future is not `Send` where it
//! matters: spawning it on tokio fails with "implementation of `Send` is not general enough"
//! (the higher-ranked closure future), so it could not run in a spawned task. Passing the
//! object by value needs no boxing and keeps the future `Send` when the closure's is.

use core::panic::Location;

use cenote_front::{Retry, RetryPolicy, RunError, Timeout};

use crate::timer::sleep_until;
use crate::{Manager, Pool, Pooled};

impl<M: Manager> Pool<M> {
    /// Runs `f` on a pooled connection, retrying it after an error `policy.transient`
    /// accepts, at most `policy.attempts` times in all, pausing `policy.backoff` between
    /// attempts (on the pool's own timer: any executor). After an error, a connection the
    /// manager's `has_broken` calls broken is retired (counted in `Metrics::closed.broken`)
    /// and the next attempt gets another; a transient error is reported against a connection
    /// that is not broken (`Pooled::report_error`). Errors of the pool (timeout, closed, ...)
    /// are returned at once. `f` takes the connection by value and returns it with its
    /// result (see the module docs of `run.rs` for why).
    ///
    /// # Errors
    ///
    /// [`RunError::Pool`] if `get` failed; [`RunError::Failed`] with the closure's last error
    /// when it was not transient or the attempts ran out.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe as [`get`](Pool::get): dropping it returns the connection in use (the
    /// closure's future is dropped with it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_async::{Pool, RetryPolicy};
    /// # struct M; impl cenote_async::Manager for M { type Connection = u32; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u32, Self::Error> { Ok(0) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = Pool::new(M, 2);
    /// let policy = RetryPolicy::new(5, |e: &&str| *e == "deadlock").backoff(Duration::from_millis(1), Duration::from_millis(5));
    /// let mut tries = 0;
    /// let answer = pool
    ///     .run(|mut conn| {
    ///         tries += 1;
    ///         let attempt = tries;
    ///         async move {
    ///             *conn += 1; // the connection, this attempt's
    ///             let result = if attempt < 3 { Err("deadlock") } else { Ok(attempt) };
    ///             (conn, result)
    ///         }
    ///     }, &policy)
    ///     .await;
    /// assert_eq!(answer.unwrap(), 3);
    /// # });
    /// ```
    #[track_caller]
    pub fn run<'a, T, U, P, F, Fut>(
        &'a self,
        mut f: F,
        policy: &'a RetryPolicy<P>,
    ) -> impl core::future::Future<Output = Result<T, RunError<M::Error, U>>> + 'a
    where
        F: FnMut(Pooled<M>) -> Fut + 'a,
        Fut: core::future::Future<Output = (Pooled<M>, Result<T, U>)> + 'a,
        P: Fn(&U) -> bool,
        T: 'a,
        U: 'a,
    {
        let location = Location::caller();
        async move {
            let mut retry = Retry::new(policy);
            loop {
                let conn =
                    self.get_within(super::Ask, Timeout::Pool, location).await.map_err(RunError::Pool)?;
                let (mut conn, result) = f(conn).await;
                let error = match result {
                    Ok(value) => return Ok(value),
                    Err(error) => error,
                };
                let broken = self.manager().has_broken(&mut conn);
                let pause = retry.failed(conn, broken, error)?;
                sleep_until(cenote_core::time::after(pause)).await;
            }
        }
    }
}

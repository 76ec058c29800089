//! `Pool::run`: a closure on a pooled connection, retried on transient errors.

use cenote_front::{Retry, RetryPolicy, RunError};

use crate::{Manager, Pool};

impl<M: Manager> Pool<M> {
    /// Runs `f` on a pooled connection, retrying it on another (or the same) connection after
    /// an error `policy.transient` accepts, at most `policy.attempts` times in all, pausing
    /// `policy.backoff` between attempts. After an error, a connection the manager's
    /// `has_broken` calls broken is retired (counted in `Metrics::closed.broken`) and the next
    /// attempt gets another; a transient error is reported against a connection that is not
    /// broken (`Pooled::report_error`). The connection goes back to the pool after each
    /// attempt. Errors of the pool (timeout, closed, ...) are returned at once.
    ///
    /// # Errors
    ///
    /// [`RunError::Pool`] if `get` failed; [`RunError::Failed`] with the closure's last error
    /// when it was not transient or the attempts ran out.
    ///
    /// # Blocking
    ///
    /// As [`get`](Pool::get), plus `f` and the pauses between attempts (`thread::sleep`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_sync::{Pool, RetryPolicy, RunError};
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u32; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u32, Self::Error> { Ok(0) } }
    /// #[derive(Debug, PartialEq)]
    /// enum Db { Deadlock, Syntax }
    /// let pool = Pool::new(M, 2);
    /// let policy = RetryPolicy::new(5, |e: &Db| *e == Db::Deadlock).backoff(Duration::from_millis(1), Duration::from_millis(5));
    /// let mut tries = 0;
    /// let answer = pool.run(|_conn| { tries += 1; if tries < 3 { Err(Db::Deadlock) } else { Ok(42) } }, &policy);
    /// assert_eq!((answer.unwrap(), tries), (42, 3));
    ///
    /// let failed = pool.run(|_conn| Err::<(), _>(Db::Syntax), &policy).unwrap_err();
    /// assert!(matches!(failed, RunError::Failed { error: Db::Syntax, attempts: 1 }));
    /// ```
    #[track_caller]
    pub fn run<T, U, P>(
        &self,
        mut f: impl FnMut(&mut M::Connection) -> Result<T, U>,
        policy: &RetryPolicy<P>,
    ) -> Result<T, RunError<M::Error, U>>
    where
        P: Fn(&U) -> bool,
    {
        let mut retry = Retry::new(policy);
        loop {
            let mut conn = self.get().map_err(RunError::Pool)?;
            let error = match f(&mut conn) {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let broken = self.manager().has_broken(&mut conn);
            let pause = retry.failed(conn, broken, error)?;
            std::thread::sleep(pause);
        }
    }
}

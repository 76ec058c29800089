//! The retry helper both front ends' `Pool::run` follow: a [`RetryPolicy`], the error of a
//! run ([`RunError`]), and what to do with a connection after the user's error.

use core::fmt;
use core::time::Duration;

use crate::front::Front;
use crate::{Error, Pooled};

/// How `Pool::run` retries: at most `attempts` runs of the closure (0 counts as 1), pausing
/// between them (`backoff`: `first`, doubling up to `max`, each jittered), and only after an
/// error for which `transient` says `true` (a serialization failure, a dropped connection; not
/// a syntax error or a constraint violation).
///
/// After any error, a connection the manager's `has_broken` calls broken is retired
/// (`Pooled::retire`) and the next attempt gets another; after a transient error a connection
/// that is not broken gets an error reported against it (`Pooled::report_error`: it is checked
/// before it is lent again, and `max_errors` applies). Errors of the pool itself (a timeout,
/// `Overloaded`, `Unavailable`) are not retried: `get` already waited, or was told to fail
/// fast.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_front::RetryPolicy;
///
/// #[derive(Debug)]
/// enum DbError { Deadlock, Syntax }
/// let policy = RetryPolicy::new(3, |e: &DbError| matches!(e, DbError::Deadlock))
///     .backoff(Duration::from_millis(1), Duration::from_millis(50));
/// assert_eq!(policy.attempts, 3);
/// assert!((policy.transient)(&DbError::Deadlock) && !(policy.transient)(&DbError::Syntax));
/// ```
#[derive(Clone, Copy)]
pub struct RetryPolicy<P> {
    /// Most runs of the closure, the first included (0 counts as 1).
    pub attempts: u32,
    /// The pause after the first failure, and the most it doubles to (each jittered).
    pub backoff: (Duration, Duration),
    /// Whether an error of the closure is worth another attempt.
    pub transient: P,
}

/// The default [`RetryPolicy::backoff`]: 10 ms, doubling up to 1 s.
pub const DEFAULT_RETRY_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

impl<P> RetryPolicy<P> {
    /// At most `attempts` runs, retrying the errors `transient` accepts, with the default
    /// backoff ([`DEFAULT_RETRY_BACKOFF`]).
    pub fn new(attempts: u32, transient: P) -> Self {
        Self { attempts, backoff: DEFAULT_RETRY_BACKOFF, transient }
    }

    /// The pause after the first failure, doubling up to `max`.
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = (first, max.max(first));
        self
    }
}

impl<P> fmt::Debug for RetryPolicy<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Why `Pool::run` failed: the pool gave no connection, or the closure failed for good.
///
/// # Examples
///
/// ```
/// use cenote_front::{Error, RunError};
/// let e: RunError<std::io::Error, &str> = RunError::Failed { error: "deadlock", attempts: 3 };
/// assert_eq!(e.to_string(), "the operation failed after 3 attempts");
/// assert_eq!(e.operation_error(), Some(&"deadlock"));
/// let e: RunError<std::io::Error, &str> = RunError::Pool(Error::Closed);
/// assert!(e.pool_error().is_some_and(Error::is_closed));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError<E, U> {
    /// `get` failed (its error; not retried: it already waited up to `acquire_timeout`, or
    /// was told to fail fast).
    Pool(Error<E>),
    /// The closure's last error: one `transient` refused, or the last of `attempts`.
    Failed {
        /// The closure's error.
        error: U,
        /// Runs of the closure made, this one included.
        attempts: u32,
    },
}

impl<E, U> RunError<E, U> {
    /// The pool's error, if the pool failed.
    pub fn pool_error(&self) -> Option<&Error<E>> {
        match self {
            Self::Pool(e) => Some(e),
            Self::Failed { .. } => None,
        }
    }

    /// The closure's last error, if it failed.
    pub fn operation_error(&self) -> Option<&U> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::Pool(_) => None,
        }
    }
}

impl<E, U> fmt::Display for RunError<E, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pool(_) => f.write_str("getting a pooled connection for the operation failed"),
            Self::Failed { attempts: 1, .. } => f.write_str("the operation failed (not retried)"),
            Self::Failed { attempts, .. } => write!(f, "the operation failed after {attempts} attempts"),
        }
    }
}

/// The pool's or the closure's error is the source.
impl<E, U> std::error::Error for RunError<E, U>
where
    E: std::error::Error + 'static,
    U: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pool(e) => Some(e),
            Self::Failed { error, .. } => Some(error),
        }
    }
}

/// For front ends: one `run`'s attempts so far.
#[derive(Debug)]
pub struct Retry<'p, P> {
    policy: &'p RetryPolicy<P>,
    made: u32,
}

impl<'p, P> Retry<'p, P> {
    /// A run under `policy`, before its first attempt.
    pub fn new(policy: &'p RetryPolicy<P>) -> Self {
        Self { policy, made: 0 }
    }

    /// The closure failed with `error` on connection `conn`, which the manager's `has_broken`
    /// says is `broken` or not: retires or reports the connection (see [`RetryPolicy`]), then
    /// says how long to pause before the next attempt.
    ///
    /// # Errors
    ///
    /// [`RunError::Failed`] when `error` is not transient or the attempts are used up.
    pub fn failed<F: Front, U>(
        &mut self,
        mut conn: Pooled<F>,
        broken: bool,
        error: U,
    ) -> Result<Duration, RunError<F::Error, U>>
    where
        P: Fn(&U) -> bool,
    {
        self.made = self.made.saturating_add(1);
        let transient = (self.policy.transient)(&error);
        if broken {
            Pooled::retire_because(conn, crate::Dropped::Broken);
        } else if transient {
            Pooled::report_error(&mut conn);
        }
        if !transient || self.made >= self.policy.attempts.max(1) {
            return Err(RunError::Failed { error, attempts: self.made });
        }
        let (first, max) = self.policy.backoff;
        Ok(crate::attempt::backoff(first, max, self.made - 1))
    }
}

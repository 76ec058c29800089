//! One `get`'s deadline and its retries of failed creates: the policy both front ends follow.

use core::time::Duration;
use std::time::Instant;

use crate::Error;

/// First pause between failed creates while `get` keeps trying; doubles up to
/// [`CREATE_BACKOFF_MAX`].
pub const CREATE_BACKOFF_START: Duration = Duration::from_millis(5);
/// The longest pause between failed creates.
pub const CREATE_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// One `get`: its deadline (read from the clock only when first needed), the last create
/// error, and the pause before the next create.
///
/// Both front ends decide the same way: a failed create is retried after a growing pause
/// while the deadline allows, the timeout then carries the last error, and with no deadline
/// (`acquire_timeout` `None`, or one too far off to represent) the first failure is returned
/// as [`Error::Create`] at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_front::{Attempt, Error};
///
/// let mut forever = Attempt::<&str>::new(None);
/// assert!(matches!(forever.create_failed("refused"), Err(Error::Create("refused"))));
///
/// let mut bounded = Attempt::<&str>::new(Some(Duration::from_secs(10)));
/// let pause = bounded.create_failed("refused").unwrap();
/// assert!(pause <= Duration::from_millis(5));
/// assert!(matches!(bounded.timed_out(), Error::Timeout { last_create_error: Some("refused") }));
/// ```
#[derive(Debug)]
pub struct Attempt<E> {
    timeout: Option<Duration>,
    /// `None` until first needed; then `Some(None)` if there is no limit.
    deadline: Option<Option<Instant>>,
    last_create_error: Option<E>,
    backoff: Duration,
}

impl<E> Attempt<E> {
    /// A `get` that waits up to `timeout` (`None`: no limit).
    #[inline]
    pub fn new(timeout: Option<Duration>) -> Self {
        Self { timeout, deadline: None, last_create_error: None, backoff: CREATE_BACKOFF_START }
    }

    /// The deadline (`None`: no limit), fixed from the clock on the first call.
    pub fn deadline(&mut self) -> Option<Instant> {
        self.deadline_fresh().0
    }

    /// [`deadline`](Attempt::deadline), and whether this call fixed it from a non-zero
    /// timeout (so it is certainly still ahead: a caller may skip one clock read).
    pub fn deadline_fresh(&mut self) -> (Option<Instant>, bool) {
        let timeout = self.timeout;
        let mut fresh = false;
        let at = *self.deadline.get_or_insert_with(|| {
            fresh = timeout.is_some_and(|t| !t.is_zero());
            timeout.and_then(|t| Instant::now().checked_add(t))
        });
        (at, fresh)
    }

    /// The error for a deadline that passed: [`Error::Timeout`] with the last create error.
    pub fn timed_out(self) -> Error<E> {
        Error::Timeout { last_create_error: self.last_create_error }
    }

    /// A create failed with `error`: how long to pause before trying again, or the error to
    /// return (`Create` without a deadline, `Timeout` once it has passed).
    ///
    /// # Errors
    ///
    /// The `get`'s final error, as above.
    pub fn create_failed(&mut self, error: E) -> Result<Duration, Error<E>> {
        let Some(deadline) = self.deadline() else {
            return Err(Error::Create(error));
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout { last_create_error: Some(error) });
        }
        self.last_create_error = Some(error);
        let pause = self.backoff.min(deadline - now);
        self.backoff = (self.backoff * 2).min(CREATE_BACKOFF_MAX);
        Ok(pause)
    }
}

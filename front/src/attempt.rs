//! One `get`'s deadline and its retries of failed creates: the policy both front ends follow.

use cenote_core::time;
use core::time::Duration;

use crate::front::{Front, Shared};
use crate::Error;

/// The pause after `failures` failed creates in a row: `first` doubled that many times, at
/// most `max`, then jittered ("equal jitter": between half of it and all of it), so that many
/// callers failing together do not retry together.
pub(crate) fn backoff(first: Duration, max: Duration, failures: u32) -> Duration {
    let pause = first.saturating_mul(1u32 << failures.min(20)).min(max);
    let half = pause / 2;
    let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let jitter = if spread == 0 { 0 } else { random() % spread };
    half + Duration::from_nanos(jitter)
}

/// A random number, for jitter: std's random hash keys. Not for anything that needs real
/// randomness.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // Each `RandomState::new()` on a thread has new keys (std bumps them per call).
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    hasher.finish()
}

/// One `get`: its deadline (read from the clock only when first needed), the last create
/// error, and the pause before the next create.
///
/// Both front ends decide the same way: a failed create is retried after a growing pause
/// while the deadline allows, the timeout then carries the last error, and with no deadline
/// (`acquire_timeout` `None`, or one too far off to represent) the first failure is returned
/// as [`Error::Create`] at once.
///
/// Each failure is logged with the pool's name (rate-limited).
///
/// With `max_pending_creates` (default 2), a `get` that finds room in the pool but every create
/// slot taken waits for a return or a slot within the same deadline; with no deadline it waits
/// for a slot without limit, then creates once, and a failure is still returned as
/// [`Error::Create`] at once: so with `acquire_timeout(None)` a failing create is never
/// retried by the pool, but at most `max_pending_creates` run at a time (a caller's own retry
/// loop should pause between its attempts; or give the pool a deadline and let it retry with
/// `create_backoff`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_front::Error;
/// # #[derive(Debug)] struct Refused; impl std::fmt::Display for Refused {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("refused") } }
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = Refused;
/// #     fn create(&self) -> Result<u8, Refused> { Err(Refused) } }
/// let pool = cenote_sync::Pool::builder(M).acquire_timeout(None).build()?;
/// let mut forever = pool.attempt(None);
/// assert!(matches!(forever.create_failed(Refused), Err(Error::Create(Refused))));
///
/// let mut bounded = pool.attempt(Some(Duration::from_secs(10)));
/// let pause = bounded.create_failed(Refused).unwrap();
/// assert!(pause <= Duration::from_millis(5)); // the first `create_backoff` pause, jittered
/// assert!(matches!(bounded.timed_out(), Error::Timeout { last_create_error: Some(Refused) }));
/// # Ok::<(), cenote_sync::BuildError>(())
/// ```
pub struct Attempt<'a, F: Front> {
    pub(crate) shared: &'a Shared<F>,
    timeout: Timeout,
    /// `None` until first needed; then the deadline in [`cenote_core::time`] ticks
    /// (`NEVER`: no limit).
    deadline: Option<u64>,
    last_create_error: Option<F::Error>,
    failures: u32,
    /// When this `get` first had to wait or create (ticks), for the wait histogram; `None`
    /// while it has not (the fast path reads no clock).
    began: Option<u64>,
    /// Let in by `max_waiters` (see `shed.rs`): checked at its first wait only.
    pub(crate) admitted: bool,
}

/// How long one `get` may wait (see [`Handle::attempt_for`](crate::Handle::attempt_for)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// The pool's `acquire_timeout` at the time the `get` first has to wait (it can be
    /// changed at runtime: [`Handle::set_acquire_timeout`](crate::Handle::set_acquire_timeout)).
    Pool,
    /// This long (`None`: no limit).
    Given(Option<Duration>),
}

impl<F: Front> core::fmt::Debug for Attempt<'_, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attempt")
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl<F: Front> crate::Handle<F> {
    /// For front ends: one `get` that waits up to `timeout` (`None`: no limit).
    #[inline]
    pub fn attempt(&self, timeout: Option<Duration>) -> Attempt<'_, F> {
        self.attempt_for(Timeout::Given(timeout))
    }

    /// For front ends: one `get` that waits as `timeout` says (the pool's current
    /// `acquire_timeout`, read only if the `get` has to wait, or a given one).
    #[inline]
    pub fn attempt_for(&self, timeout: Timeout) -> Attempt<'_, F> {
        Attempt {
            shared: self.shared(),
            timeout,
            deadline: None,
            last_create_error: None,
            failures: 0,
            began: None,
            admitted: false,
        }
    }
}

impl<F: Front> Attempt<'_, F> {
    /// The deadline in [`cenote_core::time`] ticks ([`NEVER`](cenote_core::time::NEVER): no
    /// limit, also for a timeout too long to represent), fixed from the clock on the first
    /// call. The same value goes to the core's wait and to the timer.
    pub fn deadline(&mut self) -> u64 {
        self.deadline_fresh().0
    }

    /// [`deadline`](Attempt::deadline), and whether this call fixed it from a non-zero
    /// timeout (so it is certainly still ahead: a caller may skip one clock read).
    pub fn deadline_fresh(&mut self) -> (u64, bool) {
        let timeout = match self.timeout {
            // Read once (a lock on the settings), then kept: later calls do not read it again.
            Timeout::Pool => {
                let timeout = self.shared.acquire_timeout();
                self.timeout = Timeout::Given(timeout);
                timeout
            }
            Timeout::Given(timeout) => timeout,
        };
        let mut fresh = false;
        let at = *self.deadline.get_or_insert_with(|| match timeout {
            None => time::NEVER,
            Some(t) => {
                fresh = !t.is_zero();
                time::after(t)
            }
        });
        (at, fresh && at != time::NEVER)
    }

    /// This `get`'s last create error, taken.
    pub(crate) fn take_last_create_error(&mut self) -> Option<F::Error> {
        self.last_create_error.take()
    }

    /// The error for a deadline that passed: [`Error::Timeout`] with this `get`'s last create
    /// error, or, for a `get` that made none (it waited for a create slot while others'
    /// creates failed), the pool's newest one not yet given to another caller.
    pub fn timed_out(self) -> Error<F::Error> {
        self.shared.timed_out();
        let last_create_error = self.last_create_error.or_else(|| self.shared.take_error());
        Error::Timeout { last_create_error }
    }

    /// For front ends: this `get` found no idle object at once and is about to wait or
    /// create. The first call reads the clock (the slow path's only extra cost for metrics).
    #[inline]
    pub fn slow(&mut self) {
        if self.began.is_none() {
            self.began = Some(time::now());
        }
    }

    /// For front ends: this `get` got its object; a `get` that went the slow way records how
    /// long it waited.
    #[inline]
    pub fn lent(&self) {
        if let Some(began) = self.began {
            self.shared.record_wait(time::now().saturating_sub(began));
        }
    }

    /// A create failed with `error`: how long to pause before trying again, or the error to
    /// return (`Create` without a deadline, `Timeout` once it has passed).
    ///
    /// # Errors
    ///
    /// The `get`'s final error, as above.
    pub fn create_failed(&mut self, error: F::Error) -> Result<Duration, Error<F::Error>> {
        self.shared.log_create_failure(&error, "get");
        self.shared.create_failed();
        // The circuit breaker (if set) is open after this failure: fail fast, with this error.
        if let Some(retry_in) = self.shared.breaker_failed(Some(&error)) {
            if let Some(older) = self.last_create_error.take() {
                self.shared.keep_error(older);
            }
            return Err(self.shared.refused(retry_in, Some(error)));
        }
        let deadline = self.deadline();
        if deadline == time::NEVER {
            return Err(Error::Create(error));
        }
        let left = time::until(deadline);
        if left.is_zero() {
            self.shared.timed_out();
            return Err(Error::Timeout { last_create_error: Some(error) });
        }
        // This get keeps its newest error; the older one goes to the pool, for a caller that
        // times out waiting for a create slot without an error of its own.
        if let Some(older) = self.last_create_error.replace(error) {
            self.shared.keep_error(older);
        }
        let (first, max) = self.shared.config.create_backoff;
        let pause = backoff(first, max, self.failures).min(left);
        self.failures = self.failures.saturating_add(1);
        Ok(pause)
    }
}

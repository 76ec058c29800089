//! Why `get` failed.

use core::fmt;

/// Why `get` failed.
///
/// # Examples
///
/// ```
/// use cenote_front::Error;
///
/// use std::error::Error as _;
///
/// let e: Error<std::io::Error> = Error::Timeout { last_create_error: None };
/// assert!(e.is_timeout() && !e.is_closed());
/// assert!(e.to_string().starts_with("timed out"));
///
/// // The manager's error is the source, not part of the message.
/// let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let e = Error::Create(refused);
/// assert_eq!(e.to_string(), "creating a pooled object failed");
/// assert_eq!(e.source().unwrap().to_string(), "connection refused");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<E> {
    /// `acquire_timeout` (or the `get_timeout` limit) passed before an object was free.
    Timeout {
        /// The last error from `create` during this wait, if creating kept failing: the
        /// likely reason the pool had nothing to give.
        last_create_error: Option<E>,
    },
    /// The pool is closed.
    Closed,
    /// The manager's `create` failed, and there was no deadline to keep retrying against
    /// (`acquire_timeout` is `None`, or so far off that it cannot be represented): the same
    /// in both front ends.
    Create(E),
    /// One `create` took longer than `create_timeout` (async front end).
    CreateTimeout,
    /// Load shedding (`Builder::max_waiters`): the `get` found nothing to lend and would have
    /// waited, but `max_waiters` callers were waiting already, so it failed at once instead
    /// of queueing into a timeout.
    Overloaded {
        /// The callers counted waiting (`status().waiting`) when this one was turned away.
        waiting: usize,
        /// The limit, `max_waiters`.
        max_waiters: usize,
    },
    /// The circuit breaker on creation is open (`Builder::circuit_breaker`): creates kept
    /// failing, no object was idle, and this `get` would have had to create one, so it
    /// failed at once instead of waiting out `acquire_timeout` against a backend that is down.
    Unavailable {
        /// The error of the create that opened the breaker (or of the latest failed probe).
        /// An error is not `Clone`: it goes to the first caller turned away after it (or to
        /// the `get` whose own create failed), the others get `None`; every failure is also
        /// logged with the pool's name.
        last_create_error: Option<E>,
        /// How long until the breaker lets one probe create through (half-open); zero when a
        /// probe is due or already under way (its outcome decides). Retry after this long,
        /// or use it for a `Retry-After` answer.
        retry_in: core::time::Duration,
    },
}

impl<E> Error<E> {
    /// Whether the wait timed out (including [`Error::CreateTimeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::CreateTimeout)
    }

    /// Whether the pool was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }

    /// Whether the `get` was turned away by load shedding ([`Error::Overloaded`]).
    ///
    /// ```
    /// let e: cenote_front::Error<std::io::Error> = cenote_front::Error::Overloaded { waiting: 8, max_waiters: 8 };
    /// assert!(e.is_overloaded() && !e.is_timeout());
    /// ```
    pub fn is_overloaded(&self) -> bool {
        matches!(self, Self::Overloaded { .. })
    }

    /// Whether the `get` failed fast because the circuit breaker is open
    /// ([`Error::Unavailable`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let e: cenote_front::Error<std::io::Error> =
    ///     cenote_front::Error::Unavailable { last_create_error: None, retry_in: Duration::from_secs(1) };
    /// assert!(e.is_unavailable() && !e.is_timeout());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// The manager's error, if this error carries one.
    pub fn create_error(&self) -> Option<&E> {
        match self {
            Self::Timeout { last_create_error } | Self::Unavailable { last_create_error, .. } => {
                last_create_error.as_ref()
            }
            Self::Create(e) => Some(e),
            _ => None,
        }
    }
}

/// `Display` says what went wrong at the pool's level; the manager's error is the
/// [`source`](std::error::Error::source), not repeated in the message (the std convention, so
/// that `anyhow`'s `{:#}` or a log of the chain prints each cause once).
impl<E> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { last_create_error: None } => f.write_str(
                "timed out waiting for a pooled object: none was returned or created in time; raise max_size or the timeout, return objects sooner, or check that create does not hang",
            ),
            Self::Timeout { last_create_error: Some(_) } => {
                f.write_str("timed out waiting for a pooled object while creating new ones kept failing")
            }
            Self::Closed => f.write_str("the pool is closed"),
            Self::Create(_) => f.write_str("creating a pooled object failed"),
            Self::CreateTimeout => f.write_str("creating a pooled object took longer than create_timeout"),
            Self::Overloaded { waiting, max_waiters } => write!(
                f,
                "the pool is overloaded: {waiting} callers were already waiting for an object (max_waiters {max_waiters}), so this get failed at once; shed or retry the request later, or raise max_waiters or max_size"
            ),
            Self::Unavailable { retry_in, .. } => write!(
                f,
                "the backend is unavailable: creates kept failing and the circuit breaker is open, so this get, which needed a new object, failed at once; the next probe is in {retry_in:?}: retry then"
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.create_error().map(|e| e as _)
    }
}

/// A pool's counts. Not a consistent snapshot: each figure is read on its own, while other
/// threads keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The current maximum number of objects.
    pub max_size: usize,
    /// Objects in existence (idle plus in use plus being created).
    pub size: usize,
    /// Objects ready to lend.
    pub idle: usize,
    /// Objects lent out or being created.
    pub in_use: usize,
    /// Callers inside `get` without an object that are not creating one: queued for a
    /// return, pausing between failed creates (`create_backoff`), or waiting for a create
    /// slot (`max_pending_creates`). (From the core alone, `From<CoreStatus>`: the queued
    /// ones only.)
    pub waiting: usize,
}

impl fmt::Display for Status {
    /// `max_size 4 size 3 idle 1 in_use 2 waiting 0`: one line, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "max_size {} size {} idle {} in_use {} waiting {}",
            self.max_size, self.size, self.idle, self.in_use, self.waiting
        )
    }
}

impl From<cenote_core::CoreStatus> for Status {
    fn from(s: cenote_core::CoreStatus) -> Self {
        Self {
            max_size: s.max_size,
            size: s.size,
            idle: s.idle,
            in_use: s.size.saturating_sub(s.idle),
            waiting: s.waiting,
        }
    }
}

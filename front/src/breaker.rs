//! The circuit breaker on creation (`Builder::circuit_breaker`), written once for both front
//! ends.
//!
//! # States
//!
//! | state | what a `get` that must create does | leaves it when |
//! |---|---|---|
//! | closed | creates (retrying within `acquire_timeout`, as without a breaker) | `failures` creates in a row fail: open |
//! | open | fails at once with [`Error::Unavailable`] | `open_for` has passed: half-open |
//! | half-open | the first one creates (the probe); the others fail at once (`retry_in`: when a hung probe would be given up on) | the probe succeeds: closed; it fails: open again; it runs `open_for` without an outcome: the next caller probes too |
//!
//! Idle objects are lent in every state (the fast path never looks at the breaker): only a
//! `get` that found nothing idle and room to create is turned away, and one that finds the
//! pool exhausted waits for a return as usual. Maintenance refills obey it too (no refill
//! while open; a refill may be the probe). `warm` is the user's explicit request: it is not
//! turned away, but its outcomes count. Any successful create closes the breaker (the backend
//! answered); every failed one counts.
//!
//! The state lives behind a `Mutex`: it is touched only by creates and by `get`s about to
//! create, both slow paths that cost far more than the lock. "Exactly one probe at a time"
//! is a probe number in that state, taken by the probing `get` or refill and given back by its
//! [`Probe`] guard when it ends however it ends (success, failure, panic, a cancelled future).

use core::fmt;
use core::time::Duration;
use std::sync::{Mutex, PoisonError};

use cenote_core::time;

use crate::front::{ticks, Front, Shared};
use crate::{Attempt, Error};

/// The circuit breaker's settings (`Builder::circuit_breaker`): `failures` consecutive failed
/// creates open it; after `open_for` one probe create is let through (half-open), whose
/// success closes it and whose failure opens it for another `open_for`.
///
/// While it is open, a `get` that would have to create an object fails at once with
/// [`Error::Unavailable`] (which says when the next probe is) instead of every caller waiting
/// out `acquire_timeout` against a backend that is down; idle objects are still lent. State
/// changes are logged with the pool's name (`warn` when it opens, `info` when it goes
/// half-open or closes).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_front::CircuitBreaker;
/// # #[derive(Debug)] struct Down; impl std::fmt::Display for Down {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("connection refused") } }
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = Down;
/// #     fn create(&self) -> Result<u8, Down> { Err(Down) } }
/// let pool = cenote_sync::Pool::builder(M)
///     .acquire_timeout(Some(Duration::from_secs(10)))
///     .circuit_breaker(CircuitBreaker { failures: 3, open_for: Duration::from_secs(5) })
///     .build()?;
/// // The first get retries until 3 creates in a row have failed, then the breaker opens ...
/// let first = pool.get().unwrap_err();
/// assert!(first.is_unavailable() && first.create_error().is_some());
/// // ... and the next one fails at once, long before the 10 s acquire_timeout.
/// let start = std::time::Instant::now();
/// match pool.get().unwrap_err() {
///     cenote_front::Error::Unavailable { retry_in, .. } => assert!(retry_in <= Duration::from_secs(5)),
///     other => panic!("{other}"),
/// }
/// assert!(start.elapsed() < Duration::from_secs(1));
/// # Ok::<(), cenote_sync::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Consecutive failed creates that open the breaker (at least 1; 0 is a
    /// [`BuildError`](crate::BuildError)).
    pub failures: u32,
    /// How long it stays open before one probe create is let through (non-zero).
    pub open_for: Duration,
}

impl CircuitBreaker {
    /// `failures` consecutive failed creates open it for `open_for`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let breaker = cenote_front::CircuitBreaker::new(5, Duration::from_secs(2));
    /// assert_eq!((breaker.failures, breaker.open_for), (5, Duration::from_secs(2)));
    /// ```
    pub const fn new(failures: u32, open_for: Duration) -> Self {
        Self { failures, open_for }
    }
}

/// The breaker's state (in [`Shared`], when the option is set).
#[derive(Debug)]
pub(crate) struct BreakerState<E> {
    settings: CircuitBreaker,
    /// Failed creates since the last success.
    failures: u32,
    /// `Some(t)`: open (no create before `t`, in ticks), half-open from `t` on. `None`: closed.
    open_until: Option<u64>,
    /// The probe in flight (0: none), and the number the next one takes.
    probe: u64,
    probes: u64,
    /// When the probe in flight began (ticks): one that has run `open_for` without an
    /// outcome (a create hanging on a backend that accepts and never answers) no longer
    /// blocks the next probe.
    probe_began: u64,
    /// The error of the failure that opened it (or of a later one) when no caller took it
    /// with it (a refill's): for the first caller turned away.
    kept: Option<E>,
}

pub(crate) type Breaker<E> = Mutex<BreakerState<E>>;

pub(crate) fn breaker<E>(settings: Option<CircuitBreaker>) -> Option<Breaker<E>> {
    settings.map(|settings| {
        Mutex::new(BreakerState {
            settings,
            failures: 0,
            open_until: None,
            probe: 0,
            probes: 0,
            probe_began: 0,
            kept: None,
        })
    })
}

/// The one probe create of a half-open breaker: hold it while the create runs. Dropping it
/// ends the probe (its outcome, if reported, already moved the breaker; a probe that ended
/// without one, cancelled or panicking, lets the next caller probe).
#[must_use = "dropping the probe ends it at once"]
pub struct Probe<'a, F: Front> {
    shared: &'a Shared<F>,
    id: u64,
}

impl<F: Front> Drop for Probe<'_, F> {
    fn drop(&mut self) {
        if let Some(breaker) = &self.shared.breaker {
            let mut state = breaker.lock().unwrap_or_else(PoisonError::into_inner);
            if state.probe == self.id {
                state.probe = 0;
            }
        }
    }
}

impl<F: Front> fmt::Debug for Probe<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").field("id", &self.id).finish()
    }
}

/// What the breaker says to a caller about to create.
pub(crate) enum Gate<'a, F: Front> {
    /// Closed (or no breaker): create.
    Create,
    /// Half-open: create, as the probe.
    Probe(Probe<'a, F>),
    /// Open, or half-open with the probe under way: fail at once.
    Refuse { retry_in: Duration, kept: Option<F::Error> },
}

impl<F: Front> Shared<F> {
    fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether a caller about to create may (and whether it is the probe).
    pub(crate) fn gate(&self) -> Gate<'_, F> {
        let Some(breaker) = &self.breaker else { return Gate::Create };
        let mut state = breaker.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(until) = state.open_until else { return Gate::Create };
        let now = time::now();
        if now < until {
            let retry_in = Duration::from_nanos(until - now);
            return Gate::Refuse { retry_in, kept: state.kept.take() };
        }
        let open_for = crate::front::ticks(state.settings.open_for);
        let stuck = state.probe != 0 && now.saturating_sub(state.probe_began) >= open_for;
        if state.probe != 0 && !stuck {
            // The probe's outcome decides; look again when a probe that hangs would be
            // given up on (never a zero pause: a caller honouring it would spin).
            let retry_in =
                Duration::from_nanos((state.probe_began + open_for).saturating_sub(now).max(1_000_000));
            return Gate::Refuse { retry_in, kept: state.kept.take() };
        }
        state.probes += 1;
        state.probe = state.probes;
        state.probe_began = now;
        let id = state.probe;
        drop(state);
        if stuck {
            log::warn!(
                "pool {}: circuit breaker: the probe create has run for open_for without an outcome; another probe is let through",
                self.name()
            );
        } else {
            log::info!("pool {}: circuit breaker half-open: one probe create is let through", self.name());
        }
        Gate::Probe(Probe { shared: self, id })
    }

    /// Whether a caller about to create would be turned away now (open, or a probe under
    /// way that has not hung for `open_for`), without taking a probe: for a sharded pool
    /// choosing the shard to create in. A hint: the breaker may change right after.
    pub fn breaker_refuses(&self) -> bool {
        let Some(breaker) = &self.breaker else { return false };
        let state = breaker.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(until) = state.open_until else { return false };
        let now = time::now();
        let open_for = crate::front::ticks(state.settings.open_for);
        now < until || (state.probe != 0 && now.saturating_sub(state.probe_began) < open_for)
    }

    /// A create failed (`error`, if there is one): counts it; `Some(retry_in)` if the breaker
    /// is open after it (it just opened, or a probe or a create begun before it opened
    /// failed: then it stays open another `open_for`).
    pub(crate) fn breaker_failed(&self, error: Option<&F::Error>) -> Option<Duration> {
        let breaker = self.breaker.as_ref()?;
        let mut state = breaker.lock().unwrap_or_else(PoisonError::into_inner);
        state.failures = state.failures.saturating_add(1);
        let was_open = state.open_until.is_some();
        if !was_open && state.failures < state.settings.failures {
            return None;
        }
        let open_for = state.settings.open_for;
        state.open_until = Some(time::after(open_for));
        let failures = state.failures;
        drop(state);
        let because = match error {
            Some(e) => format!(": {e}"),
            None => String::new(),
        };
        if was_open {
            log::warn!(
                "pool {}: circuit breaker stays open: a create failed again{because}; next probe in {open_for:?}",
                self.name()
            );
        } else {
            log::warn!(
                "pool {}: circuit breaker open after {failures} failed creates in a row{because}; gets that need a new object fail at once until a probe in {open_for:?} succeeds",
                self.name()
            );
        }
        Some(open_for)
    }

    /// Keeps a failed create's error for the first caller turned away (a refill's, which no
    /// caller receives otherwise).
    pub(crate) fn breaker_keep(&self, error: F::Error) {
        if let Some(breaker) = &self.breaker {
            breaker.lock().unwrap_or_else(PoisonError::into_inner).kept = Some(error);
        }
    }

    /// A create succeeded: the breaker closes (the backend answers).
    pub(crate) fn breaker_succeeded(&self) {
        let Some(breaker) = &self.breaker else { return };
        let mut state = breaker.lock().unwrap_or_else(PoisonError::into_inner);
        let was_open = state.open_until.take().is_some();
        state.failures = 0;
        state.probe = 0;
        state.kept = None;
        drop(state);
        if was_open {
            log::info!("pool {}: circuit breaker closed: a create succeeded", self.name());
        }
    }

    /// Counts a `get` turned away by the breaker.
    pub(crate) fn refused(&self, retry_in: Duration, last_create_error: Option<F::Error>) -> Error<F::Error> {
        self.books.unavailable.incr();
        Error::Unavailable { last_create_error, retry_in }
    }
}

impl<'a, F: Front> Attempt<'a, F> {
    /// For front ends: this `get` has a permit and is about to create. `Ok(None)`: go ahead;
    /// `Ok(Some(probe))`: go ahead as the half-open breaker's one probe (hold the guard while
    /// the create runs, and report its outcome as usual); `Err`: the breaker is open, give the
    /// permit back and return the error ([`Error::Unavailable`], with this `get`'s own last
    /// create error if it has one, else the one the pool kept, if any).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] while the breaker is open.
    pub fn may_create(&mut self) -> Result<Option<Probe<'a, F>>, Error<F::Error>> {
        match self.shared.gate() {
            Gate::Create => Ok(None),
            Gate::Probe(probe) => Ok(Some(probe)),
            Gate::Refuse { retry_in, kept } => {
                let error = match (self.take_last_create_error(), kept) {
                    (Some(own), Some(kept)) => {
                        self.shared.breaker_keep(kept); // for the next caller
                        Some(own)
                    }
                    (own, kept) => own.or(kept),
                };
                Err(self.shared.refused(retry_in, error))
            }
        }
    }
}

impl<F: Front> Shared<F> {
    /// For maintenance refills: whether one may create now (and the probe if it is one), or
    /// when to try again (ticks).
    pub(crate) fn refill_gate(&self) -> Result<Option<Probe<'_, F>>, u64> {
        match self.gate() {
            Gate::Create => Ok(None),
            Gate::Probe(probe) => Ok(Some(probe)),
            Gate::Refuse { retry_in, kept } => {
                if let Some(kept) = kept {
                    self.breaker_keep(kept); // not ours to take: for a caller
                }
                let again = if retry_in.is_zero() { self.config.create_backoff.0 } else { retry_in };
                Err(self.now().saturating_add(ticks(again)))
            }
        }
    }
}

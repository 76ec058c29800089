//! The clock of cenote's deadlines, with `std`: nanoseconds since a process-wide epoch.
//!
//! Every deadline in cenote is one `u64` in these ticks, from the moment a `get` fixes it to
//! the timer thread that fires it: the blocking wait ([`Core::acquire_blocking`]) parks until
//! it, the async wait ([`Core::acquire_until`]) records it in the wait node, the pool's timer
//! sleeps until the earliest one, and [`WeakCore::expire_waiters`] compares it with
//! [`now`]. [`NEVER`] means no deadline. Without `std` the core reads no clock: async waiters
//! bring deadlines in whatever ticks their timer uses (only their order matters to the core).
//!
//! [`Core::acquire_blocking`]: crate::Core::acquire_blocking
//! [`Core::acquire_until`]: crate::Core::acquire_until
//! [`WeakCore::expire_waiters`]: crate::WeakCore::expire_waiters
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use cenote_core::time;
//!
//! let deadline = time::after(Duration::from_millis(5));
//! assert!(deadline > time::now());
//! assert!(time::until(deadline) <= Duration::from_millis(5));
//! assert_eq!(time::after(Duration::MAX), time::NEVER); // too far to represent: never
//! ```

use core::time::Duration;

/// The deadline of a wait without one.
pub const NEVER: u64 = u64::MAX;

/// Now, in ticks: nanoseconds since the process-wide epoch (the first call).
#[cfg(feature = "std")]
#[inline]
pub fn now() -> u64 {
    ticks_since_epoch(std::time::Instant::now())
}

/// `instant` in ticks (0 if before the epoch): for callers that keep `Instant`s.
#[cfg(feature = "std")]
#[inline]
pub fn at(instant: std::time::Instant) -> u64 {
    ticks_since_epoch(instant)
}

#[cfg(feature = "std")]
fn ticks_since_epoch(at: std::time::Instant) -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    // Below `NEVER` always: `NEVER` is not a time (584 years in, it saturates one short).
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(NEVER - 1).min(NEVER - 1)
}

/// The deadline `d` from now ([`NEVER`] if too far to represent).
#[cfg(feature = "std")]
#[inline]
pub fn after(d: Duration) -> u64 {
    later(now(), d)
}

/// `d` after the tick `from` ([`NEVER`] if too far to represent, or if `from` is `NEVER`).
#[inline]
pub fn later(from: u64, d: Duration) -> u64 {
    match u64::try_from(d.as_nanos()) {
        Ok(ns) if from != NEVER => from.checked_add(ns).filter(|&t| t != NEVER).unwrap_or(NEVER),
        _ => NEVER,
    }
}

/// How long from now until `deadline` (zero if it has passed; `Duration::MAX` for `NEVER`).
#[cfg(feature = "std")]
#[inline]
pub fn until(deadline: u64) -> Duration {
    if deadline == NEVER {
        return Duration::MAX;
    }
    Duration::from_nanos(deadline.saturating_sub(now()))
}

/// A coarse clock for checks that need "about how long ago", not a deadline: milliseconds
/// since the epoch, as last stored by [`tick_coarse`] (0 until the first tick). Reading it is
/// one `Relaxed` load of a word written a few times a second, not a clock read: cheap enough
/// for the hot path (a lend compares it with the stamp its slot got on return). It is only as
/// fresh as the ticking thread makes it (the cenote front ends tick it every 100 ms while a
/// pool uses it), and wraps at `usize::MAX` ms (49 days on 32-bit targets: compare with
/// `wrapping_sub`).
///
/// ```
/// use cenote_core::time;
/// time::tick_coarse();
/// let a = time::coarse_now();
/// std::thread::sleep(std::time::Duration::from_millis(3));
/// time::tick_coarse();
/// assert!(time::coarse_now().wrapping_sub(a) >= 3);
/// ```
#[cfg(feature = "std")]
#[inline]
pub fn coarse_now() -> usize {
    // ORDERING: `Relaxed`: a time stamp orders nothing; a reader sees some recent tick.
    COARSE_MS.load(crate::sync::Ordering::Relaxed)
}

/// Stores the current time in the coarse clock ([`coarse_now`]); called by a ticking thread.
#[cfg(feature = "std")]
pub fn tick_coarse() {
    let ms = (now() / 1_000_000) as usize;
    // ORDERING: `Relaxed`: see `coarse_now`. `fetch_max` keeps it from going backwards when
    // two threads tick at once.
    COARSE_MS.fetch_max(ms, crate::sync::Ordering::Relaxed);
}

#[cfg(all(feature = "std", not(loom)))]
static COARSE_MS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

#[cfg(all(feature = "std", loom))]
loom::lazy_static! {
    static ref COARSE_MS: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
}

//! Priority classes of waiters, aging, and the reserve kept for `High`.
//!
//! # Classes
//!
//! The wait list (`waitlist.rs`) keeps one FIFO per [`Priority`] under its one lock. Whoever
//! serves a waiter (a return that finds the gate shut, a freed place, a wakeup passed on)
//! picks the class under that lock (`Locked::pick`) and serves the front of that class, so
//! the serve step stays one unlink and one store, as before: the highest class that has a
//! waiter, unless a lower class has aged.
//!
//! # Aging
//!
//! Each class below `High` has a counter, under the lock, of the serves that went to a higher
//! class while it had a waiter that could have been served (not kept out by the reserve). A
//! serve of the class itself, or the class emptying, sets it back to 0. When the counter has
//! reached [`AGE_AFTER`], the class is served next (if both `Normal` and `Low` have aged,
//! `Low` first). So:
//!
//! *A waiter at the front of its class is served after at most [`AGE_AFTER`] serves to higher
//! classes* (counted while the reserve lets its class be served), and `High` gives up at most
//! one serve in `AGE_AFTER + 1` to each lower class. For an async waiter (always served
//! directly) a serve is the object or place itself; a blocking waiter that is not yet direct
//! is woken to look and may be overtaken by a newcomer, at most [`STARVE_AFTER_MISSES`]
//! times (see `pool.rs`, "Fairness"), so its bound counts wakeups.
//!
//! # The reserve
//!
//! [`Core::set_reserve`](crate::Core::set_reserve)`(n)`: the last `n` of the pool's
//! *available* objects and places, `idle + (max_size - live)`, go only to `High`. A
//! `Normal` or `Low` caller may take one only while more than `n` are available; else it
//! waits (or its `try_` call answers exhausted). `High` callers take without a check.
//!
//! Two ways to decide, both exact:
//!
//! * *Check, then take, under the wait list's lock*: a waiter's look and a woken waiter's
//!   look (`try_take_locked`). The lock orders these among themselves, so at most one such
//!   take is between its check and its take at any time. Every serve is decided under the
//!   lock too (`serve_or_idle`, `release_place`, `wake_one` pass `open` to the list), but a
//!   serve gives what is being returned or freed, which is not counted as available yet (it
//!   is `extra`): it leaves at least `n` available.
//! * *Take, then check, lock-free*: `try_acquire_with` and `try_take_idle_with`, the callers
//!   that do not wait (`reserve_kept`). The caller pops (or wins a permit), then, after a
//!   `SeqCst` fence, reads `idle.len() + max_size - live`: of any two such takers the one
//!   whose fence comes later sees the other's take, so what it reads is short only of takes
//!   still to come, and of at most one locked take in flight. More than `n` left: it keeps
//!   what it took (even that one locked take leaves `n`). Fewer than `n`: it gives it back
//!   through the ordinary return path (which may serve a waiter) and answers exhausted.
//!   Exactly `n`: it decides again under the lock, where no locked take is in flight.
//!   Locked checkers fence before they read, so a lock-free take that a locked check misses
//!   sees that locked take, or is the one in flight that the margin above covers.
//!
//! Available objects are only added by returns and freed places, which reach the lock when
//! anyone waits (the gate), so a waiter kept out by the reserve is served by the one that
//! brings more than `n` available.
//!
//! A pool without a reserve pays nothing for it: the `RESERVED` bit lives in the `state`
//! word that `try_acquire` already loads to test `CLOSED`, so the fast path tests both bits
//! with the one instruction it had, and only a set bit sends a `Normal` or `Low` caller to
//! the take-then-check (`Inner::try_acquire_reserved`): a few loads more, no lock.
//!
//! [`STARVE_AFTER_MISSES`]: crate::STARVE_AFTER_MISSES

/// The class of a caller that waits for an object: waiters of a higher class are served
/// first, FIFO within a class, with aging so that lower classes are not starved (see
/// [`AGE_AFTER`]). `High` may also take the reserve ([`Core::set_reserve`](crate::Core::set_reserve)).
///
/// # Examples
///
/// ```
/// use cenote_core::{Core, Permit, Priority, TryAcquire};
///
/// let core = Core::<u32>::new(2, 2, ()).unwrap();
/// core.set_reserve(1).unwrap(); // the last object or place is for High
/// let held = Permit::fill(core.try_reserve().unwrap(), 1);
/// assert!(matches!(core.try_acquire_with(Priority::Normal), TryAcquire::Exhausted));
/// assert!(matches!(core.try_acquire_with(Priority::High), TryAcquire::Vacant(_)));
/// # drop(held);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Served first, and may take the reserve.
    High,
    /// The class of plain `get`.
    #[default]
    Normal,
    /// Served after `Normal`, within the aging bound.
    Low,
}

impl Priority {
    /// The class's index in the wait list: 0 for `High`.
    #[inline(always)]
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// How many classes the wait list keeps.
pub(crate) const CLASSES: usize = 3;

/// The aging bound: a waiter at the front of its class is served after at most this many
/// serves to higher classes (see [`Priority`]).
///
/// # Examples
///
/// ```
/// assert_eq!(cenote_core::AGE_AFTER, 8);
/// ```
pub const AGE_AFTER: u32 = 8;

use crate::error::{Closed, ConfigError};
use crate::lease::Lease;
use crate::pool::{Acquired, Core, Inner, TryAcquire, RESERVED};
use crate::sync::{fence, Ordering};

impl<T, E> Core<T, E> {
    /// Keeps the last `reserve` available objects and places (idle objects plus room to
    /// create, `idle + max_size - size`) for [`Priority::High`]: a `Normal` or `Low` caller
    /// that would take one of them waits instead (its `try_` call answers exhausted), and is
    /// served once more than `reserve` are available again. 0 (the default) turns it off.
    ///
    /// This is the overflow pool of a hierarchical pool: `High` callers can always get one of
    /// the last `reserve` objects while the others share the rest. A pool with a reserve pays
    /// for it on `Normal` and `Low` calls: each takes, then checks (a fence and a few loads,
    /// lock-free; under the wait list's lock only when exactly the reserve is left), so that
    /// two of them cannot both take the last unreserved object; `High` calls, and every call
    /// on a pool without a reserve, run the plain fast path.
    ///
    /// Meant to be set when the pool is built; lowering it later wakes waiters for the
    /// objects it frees up. [`resize`](Self::resize) refuses a `max_size` at or below it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ReserveNotBelowMaxSize`] if `reserve >= max_size` (lower it, or raise
    /// `max_size` first), [`ConfigError::Closed`] on a closed pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Core, Permit, Priority, TryAcquire};
    ///
    /// let core = Core::<u32>::new(3, 3, ()).unwrap();
    /// core.set_reserve(1).unwrap();
    /// assert_eq!(core.reserve(), 1);
    /// let a = Permit::fill(core.try_reserve().unwrap(), 1);
    /// let b = Permit::fill(core.try_reserve().unwrap(), 2);
    /// assert!(matches!(core.try_acquire(), TryAcquire::Exhausted)); // plain gets are Normal
    /// assert!(matches!(core.try_acquire_with(Priority::High), TryAcquire::Vacant(_)));
    /// # drop((a, b));
    /// ```
    pub fn set_reserve(&self, reserve: usize) -> Result<(), ConfigError> {
        let inner = self.inner();
        if inner.is_closed() {
            return Err(ConfigError::Closed);
        }
        let max_size = self.max_size();
        if reserve != 0 && reserve >= max_size {
            return Err(ConfigError::ReserveNotBelowMaxSize { reserve, max_size });
        }
        // ORDERING: `SeqCst`, as the other settings' stores (`resize`): the value before the
        // bit that sends callers to read it, so that a caller that sees the bit sees a reserve.
        let old = inner.counts.reserve.swap(reserve, Ordering::SeqCst);
        if reserve != 0 {
            inner.counts.state.fetch_or(RESERVED, Ordering::SeqCst);
        } else {
            inner.counts.state.fetch_and(!RESERVED, Ordering::SeqCst);
        }
        // ORDERING: `SeqCst`, as every read of `waiters`.
        if reserve < old && inner.waiters.load(Ordering::SeqCst) != 0 {
            for _ in reserve..old {
                if !inner.wake_one() {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The reserve kept for [`Priority::High`] (see [`set_reserve`](Self::set_reserve)).
    ///
    /// ```
    /// let core = cenote_core::Core::<u32>::new(2, 2, ()).unwrap();
    /// assert_eq!(core.reserve(), 0);
    /// ```
    #[inline]
    pub fn reserve(&self) -> usize {
        // ORDERING: a figure for the caller.
        self.inner().counts.reserve.load(Ordering::Relaxed)
    }
}

/// What a look found: an object or permit, or the news that the pool is closed.
pub(crate) type Found<T, E> = Result<Acquired<T, E>, Closed>;

impl<T, E> Inner<T, E> {
    /// Whether a `Normal` or `Low` caller may take one more object or place, with `extra`
    /// more available than the idle queue and `live` show (an object being returned, a place
    /// being freed): more than the reserve are available. Under the wait list's lock when it
    /// decides a take or a serve (see "The reserve" in the module docs).
    #[inline]
    pub(crate) fn reserve_open(&self, extra: usize) -> bool {
        // ORDERING: read-mostly; set before the pool is shared or by `set_reserve`.
        let reserve = self.counts.reserve.load(Ordering::Relaxed);
        if reserve == 0 {
            return true;
        }
        // ORDERING: `SeqCst` fence, then `SeqCst` loads: against the lock-free takers' fences
        // (`reserve_kept`); and this read of `live` stands in for `try_reserve`'s in the
        // waiter's half of the "freed place ↔ waiter" pair (see `pool.rs`).
        fence(Ordering::SeqCst);
        self.available() + extra > reserve
    }

    /// One look for something to take, made by a waiter of class `priority`: `Closed`, an
    /// idle object, or a permit (for `Normal` and `Low` only outside the reserve).
    ///
    /// The caller holds the wait list's lock if `priority` is not `High` and a reserve is set
    /// (or call [`try_take`](Self::try_take), which takes it then).
    pub(crate) fn try_take_locked(&self, priority: Priority) -> Option<Found<T, E>> {
        if self.is_closed() {
            return Some(Err(Closed));
        }
        if priority != Priority::High && !self.reserve_open(0) {
            return None;
        }
        if let Some(index) = self.idle.pop() {
            return Some(Ok(Acquired::Idle(self.lend(index))));
        }
        self.try_reserve().map(|p| Ok(Acquired::Vacant(p)))
    }

    /// [`try_take_locked`](Self::try_take_locked) for a caller that does not hold the wait
    /// list's lock: takes it when the reserve needs it.
    pub(crate) fn try_take(&self, priority: Priority) -> Option<Found<T, E>> {
        // ORDERING: as in `reserve_open`.
        if priority != Priority::High && self.counts.reserve.load(Ordering::Relaxed) != 0 {
            let list = self.waitlist.lock();
            let found = self.try_take_locked(priority);
            drop(list);
            return found;
        }
        self.try_take_locked(priority)
    }

    /// Available objects and places now: `idle + max_size - live`.
    #[inline]
    fn available(&self) -> usize {
        // ORDERING: `SeqCst` loads, after the caller's `SeqCst` fence (see the module docs).
        let live = self.counts.live.load(Ordering::SeqCst);
        let max = self.counts.max_size.load(Ordering::SeqCst);
        self.idle.len() + max.saturating_sub(live)
    }

    /// Whether a `Normal` or `Low` caller that has just taken an object or a place (without
    /// the wait list's lock) may keep it: the take-then-check of `try_acquire_reserved`, see
    /// "The reserve" in the module docs. More than the reserve left: yes, at once; exactly
    /// the reserve left: decided again under the lock; less: no.
    #[inline]
    fn reserve_kept(&self, reserve: usize) -> bool {
        // ORDERING: `SeqCst` fence after our take, before the loads: of any two takers, the
        // one whose fence is later sees the other's take.
        fence(Ordering::SeqCst);
        let left = self.available();
        if left != reserve {
            return left > reserve;
        }
        let list = self.waitlist.lock();
        // ORDERING: as above; under the lock no locked check-then-take is in flight.
        fence(Ordering::SeqCst);
        let kept = self.available() >= reserve;
        drop(list);
        kept
    }

    /// `Core::try_acquire_with` once `state` said closed or reserved. A `Normal` or `Low`
    /// caller takes first, lock-free, then checks that at least the reserve is left; if not,
    /// it gives back what it took (through the ordinary return paths) and is told exhausted.
    #[cold]
    pub(crate) fn try_acquire_reserved(&self, priority: Priority) -> TryAcquire<T, E> {
        if self.is_closed() {
            return TryAcquire::Closed;
        }
        // ORDERING: as in `reserve_open`.
        let reserve = self.counts.reserve.load(Ordering::Relaxed);
        if let Some(index) = self.idle.pop() {
            let mut lease = Lease::new(self, index);
            if priority == Priority::High || self.reserve_kept(reserve) {
                Lease::meta_mut(&mut lease).use_count += 1; // as `lend`
                return TryAcquire::Idle(lease);
            }
            drop(lease); // back to the idle queue, or to a waiter that may have it
            return TryAcquire::Exhausted;
        }
        match self.try_reserve() {
            Some(permit) if priority == Priority::High || self.reserve_kept(reserve) => {
                TryAcquire::Vacant(permit)
            }
            Some(permit) => {
                drop(permit); // the place goes back, to a waiter that may have it
                TryAcquire::Exhausted
            }
            None => TryAcquire::Exhausted,
        }
    }

    /// `Core::try_take_idle_with` once `state` said closed or reserved: as
    /// `try_acquire_reserved`, for idle objects only.
    #[cold]
    pub(crate) fn try_take_idle_reserved(&self, priority: Priority) -> Option<Lease<T, E>> {
        if self.is_closed() {
            return None;
        }
        // ORDERING: as in `reserve_open`.
        let reserve = self.counts.reserve.load(Ordering::Relaxed);
        let mut lease = Lease::new(self, self.idle.pop()?);
        if priority == Priority::High || self.reserve_kept(reserve) {
            Lease::meta_mut(&mut lease).use_count += 1; // as `lend`
            return Some(lease);
        }
        drop(lease);
        None
    }
}

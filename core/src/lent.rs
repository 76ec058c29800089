//! Who holds what since when: an optional record of each lend, for leak reports.
//!
//! A front end that reports objects held too long writes, through the [`Lease`], when and
//! where the object was lent ([`Lease::mark_lent`]) and clears it before giving the lease up
//! ([`Lease::clear_lent`]); another thread (a maintenance pass) reads every slot's record with
//! [`Core::for_each_lent`] while the holders keep working. The record is two atomics per slot,
//! so that this read races with no one; the core itself never writes them, and a front end that
//! does not call `mark_lent` pays nothing on its hot path (no clock, no store).
//!
//! # The record and its orderings
//!
//! `at` is the lend time in the front end's own unit (any clock, in at most
//! [`Lent::MAX_AT`]), 0 while nothing is recorded; its top bit is the "reported" flag a reader
//! may set ([`Core::for_each_lent`]'s callback returning `true`). `location` is where the
//! object was acquired.
//!
//! The writer (the holder) stores `location` and then `at` with `Release`, and clears `at`
//! to 0 (`Release`) before the lease goes; the reader loads `at` (`Acquire`), then `location`
//! (`Acquire`), then `at` again, and uses the pair only if both loads of `at` agree and are not
//! 0. A `location` written by a later lend comes after that lend's holder cleared `at` (program
//! order, published by the `Release` store of `location` that the reader's `Acquire` load
//! read), so the second load of `at` then sees 0 or the later lend's value: a mismatch, and the
//! pair is skipped, unless the later lend has the very same `at` (then the pair is still true:
//! the object has been held by someone since that instant). Marking "reported" is a CAS from
//! the value read, so it never lands on a later lend's record.

use core::panic::Location;

use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
use crate::{Core, Lease};

/// One slot's record of its current lend (see the module docs).
#[derive(Debug)]
pub(crate) struct LentRecord {
    at: AtomicUsize,
    location: AtomicPtr<Location<'static>>,
}

impl LentRecord {
    pub(crate) fn new() -> Self {
        Self { at: AtomicUsize::new(0), location: AtomicPtr::new(core::ptr::null_mut()) }
    }
}

/// The "reported" flag in a record's `at`.
const REPORTED: usize = 1 << (usize::BITS - 1);

/// A lend seen by [`Core::for_each_lent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lent {
    /// When the object was lent, as given to [`Lease::mark_lent`].
    pub at: usize,
    /// Where it was acquired.
    pub location: &'static Location<'static>,
    /// Whether a callback already returned `true` for this lend.
    pub reported: bool,
}

impl Lent {
    /// The largest `at` a record holds: a larger one is masked to this many bits (a clock in
    /// milliseconds wraps after 24 days on 32-bit targets; compare with
    /// `now.wrapping_sub(at) & Lent::MAX_AT`).
    pub const MAX_AT: usize = REPORTED - 1;
}

impl<T, E> Lease<T, E> {
    /// Records that this lease's object was lent at `at` (in the caller's clock, masked to
    /// [`Lent::MAX_AT`]; 0 is taken as 1) by the code at `location`, for
    /// [`Core::for_each_lent`]. Clear it with [`clear_lent`](Lease::clear_lent) before the
    /// lease is returned, retired or detached, or a later reader sees a stale record.
    #[inline]
    pub fn mark_lent(this: &Self, at: usize, location: &'static Location<'static>) {
        let record = &this.inner().slot(this.index()).lent;
        // ORDERING: `Release`, read by the reader's `Acquire` load of `location`: its second
        // load of `at` then sees this holder's (or a later) value (module docs).
        record.location.store(core::ptr::from_ref(location).cast_mut(), Ordering::Release);
        // ORDERING: `Release`: a reader that sees this `at` sees the `location` above.
        record.at.store((at & Lent::MAX_AT).max(1), Ordering::Release);
    }

    /// Clears the record written by [`mark_lent`](Lease::mark_lent): the object is no longer
    /// lent (call before returning, retiring or detaching the lease).
    #[inline]
    pub fn clear_lent(this: &Self) {
        // ORDERING: `Release`: ordered before the next holder's `location` store (module docs).
        this.inner().slot(this.index()).lent.at.store(0, Ordering::Release);
    }
}

impl<T, E> Core<T, E> {
    /// Calls `f` for each object whose lend is recorded ([`Lease::mark_lent`]) and not yet
    /// cleared, with when and where it was lent; if `f` returns `true`, the lend is marked
    /// reported ([`Lent::reported`] on later calls), unless it has ended meanwhile. Runs on the
    /// calling thread while holders keep working: a lend that starts or ends during the call
    /// may or may not be seen.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Core, Lease, Permit};
    ///
    /// let core = Core::<u8>::new(2, 2, ()).unwrap();
    /// let lease = Permit::fill(core.try_reserve().unwrap(), 7);
    /// Lease::mark_lent(&lease, 1_000, core::panic::Location::caller());
    /// let mut seen = Vec::new();
    /// core.for_each_lent(|lent| {
    ///     seen.push((lent.at, lent.reported));
    ///     true // report it once
    /// });
    /// core.for_each_lent(|lent| {
    ///     seen.push((lent.at, lent.reported));
    ///     false
    /// });
    /// assert_eq!(seen, [(1_000, false), (1_000, true)]);
    /// Lease::clear_lent(&lease);
    /// core.for_each_lent(|_| unreachable!("cleared"));
    /// ```
    pub fn for_each_lent(&self, mut f: impl FnMut(Lent) -> bool) {
        for slot in self.inner().slots.iter() {
            let record = &slot.lent;
            // ORDERING: `Acquire`, pairs with `mark_lent`'s `Release` store of `at`.
            let at = record.at.load(Ordering::Acquire);
            if at == 0 {
                continue;
            }
            // ORDERING: `Acquire`, pairs with `mark_lent`'s `Release` store of `location`, so
            // that the check below sees a later lend's clear (module docs).
            let location = record.location.load(Ordering::Acquire);
            // ORDERING: `Relaxed`: ordered after the `Acquire` load above; only compared.
            if record.at.load(Ordering::Relaxed) != at {
                continue; // the lend ended (or another began) meanwhile
            }
            // SAFETY: `location` is non-null: every `at != 0` was stored after a `location`
            // from a `&'static Location` (the `Acquire` load of `at` above sees that store),
            // and a `&'static` reference stays valid for ever.
            let Some(location) = (unsafe { location.as_ref() }) else { continue };
            let lent = Lent { at: at & Lent::MAX_AT, location, reported: at & REPORTED != 0 };
            if f(lent) && !lent.reported {
                // ORDERING: `Relaxed` CAS: a flag for this reader's later calls; it succeeds
                // only on this very lend's value, never on a later lend's record.
                let _ = record.at.compare_exchange(at, at | REPORTED, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use alloc::vec::Vec;
    use core::panic::Location;

    use crate::{Core, Lease, Permit, TryAcquire};

    #[track_caller]
    fn here() -> &'static Location<'static> {
        Location::caller()
    }

    fn seen(core: &Core<u8>) -> Vec<(usize, u32, bool)> {
        let mut seen = Vec::new();
        core.for_each_lent(|lent| {
            seen.push((lent.at, lent.location.line(), lent.reported));
            false
        });
        seen
    }

    /// A record is seen while set, with its location; reported once; cleared with the lend;
    /// a later lend of the same slot starts unreported; `at` is masked and never 0.
    #[test]
    fn records_are_seen_reported_once_and_cleared() {
        let core = Core::<u8>::new(2, 2, ()).unwrap();
        let (a, b) = (here(), here());
        let lease = Permit::fill(core.try_reserve().unwrap(), 1);
        let other = Permit::fill(core.try_reserve().unwrap(), 2);
        assert!(seen(&core).is_empty(), "nothing recorded yet");
        Lease::mark_lent(&lease, 5, a);
        assert_eq!(seen(&core), [(5, a.line(), false)]);
        let mut calls = 0;
        core.for_each_lent(|_| {
            calls += 1;
            true
        });
        assert_eq!((calls, seen(&core)), (1, [(5, a.line(), true)].into()));
        Lease::clear_lent(&lease);
        assert!(seen(&core).is_empty());
        drop(lease);
        let TryAcquire::Idle(again) = core.try_acquire() else { panic!("the idle object") };
        Lease::mark_lent(&again, 0, b);
        Lease::mark_lent(&other, usize::MAX, a);
        let mut all = seen(&core);
        all.sort_unstable();
        assert_eq!(all, [(1, b.line(), false), (super::Lent::MAX_AT, a.line(), false)]);
        Lease::clear_lent(&again);
        Lease::clear_lent(&other);
    }

    /// A reader racing holders that lend, mark, clear and return never sees a torn pair: each
    /// holder marks with its own location and `at`s of its own parity.
    #[cfg(feature = "std")]
    #[test]
    fn a_reader_racing_holders_sees_only_whole_records() {
        let core = Core::<u8>::new(2, 2, ()).unwrap();
        let (even, odd) = (here(), here());
        let rounds = if cfg!(miri) { 30 } else { 20_000 };
        std::thread::scope(|s| {
            for (parity, location) in [(0, even), (1, odd)] {
                let core = &core;
                s.spawn(move || {
                    for k in 0..rounds {
                        let lease = match core.try_acquire() {
                            TryAcquire::Idle(lease) => lease,
                            TryAcquire::Vacant(permit) => Permit::fill(permit, 0),
                            _ => continue,
                        };
                        Lease::mark_lent(&lease, 2 + 2 * k + parity, location);
                        Lease::clear_lent(&lease);
                        drop(lease);
                    }
                });
            }
            for _ in 0..rounds {
                core.for_each_lent(|lent| {
                    let want = if lent.at % 2 == 0 { even } else { odd };
                    assert_eq!(lent.location, want, "at {} paired with the wrong location", lent.at);
                    true
                });
            }
        });
        assert!(seen(&core).is_empty(), "every lend was cleared");
    }
}

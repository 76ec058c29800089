//! The one door through which the core reaches atomics, cells and spin hints.
//!
//! Under `--cfg loom` everything here is swapped for loom's instrumented version, so that the
//! models (in `loom-tests/` and the crate's own `loom_models`) explore the real protocol code,
//! the gated idle queue included. Only the vacant queue (crossbeam's `ArrayQueue`, which is
//! not loom-instrumented) has a loom stand-in (`queue.rs`).

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicPtr, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicUsize, Ordering};

/// For histogram sums, where the target has 64-bit atomics.
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::AtomicU64;

#[cfg(all(loom, target_has_atomic = "64"))]
pub(crate) use loom::sync::atomic::AtomicU64;

/// Threads, for blocking waits: parked and unparked by the wait list.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::thread::{current, park, park_timeout, Thread};

#[cfg(all(feature = "std", loom))]
pub(crate) use loom::thread::{current, park, Thread};

/// A `SeqCst` fence under loom, nothing otherwise.
///
/// The protocol's Dekker pairs are a `SeqCst` RMW followed by a `SeqCst` load, which the C++20
/// model orders through the single total order of `SeqCst` operations. Loom models `SeqCst`
/// accesses as acquire/release only and models just `SeqCst` fences, so under loom each such
/// pair gets an explicit fence between its halves: the model then checks the protocol's logic
/// under the same guarantee the real build has.
#[inline(always)]
pub(crate) fn seqcst_fence_for_loom() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// Exponential backoff for the queue's short waits on another thread: crossbeam-utils'
/// `Backoff` (spin a little longer each time, then, with `std`, yield the CPU, so that a thread
/// waiting for a preempted peer to finish its step gives the peer the CPU).
///
/// A thin wrapper, not a copy: its steps are out of line (`#[cold]`), so that the queue's
/// uncontended paths stay small enough to inline, and under loom the same interface yields to
/// loom's scheduler instead (a spin loop that loom cannot preempt would exhaust its branch
/// limit). `&mut self`, as the wait list's and blocking wait's callers use it.
#[derive(Debug, Default)]
pub(crate) struct Backoff(#[cfg(not(loom))] crossbeam_utils::Backoff);

impl Backoff {
    #[inline]
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Whether backing off has reached the point where the caller should block instead.
    #[cfg(all(feature = "std", not(loom)))]
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.0.is_completed()
    }

    /// Waits for a peer that is mid-operation on the same word (a failed CAS): spin only.
    #[cold]
    #[inline(never)]
    pub(crate) fn spin(&mut self) {
        #[cfg(not(loom))]
        self.0.spin();
        #[cfg(loom)]
        loom::thread::yield_now();
    }

    /// Waits for a peer that must finish a step before we can go on (a push or pop in
    /// flight): spin, then yield the CPU to it.
    #[cold]
    #[inline(never)]
    pub(crate) fn snooze(&mut self) {
        #[cfg(not(loom))]
        self.0.snooze();
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

/// An `UnsafeCell` with loom's closure-based interface, so that loom can check accesses.
#[derive(Debug)]
pub(crate) struct Cell<T>(
    #[cfg(not(loom))] core::cell::UnsafeCell<T>,
    #[cfg(loom)] loom::cell::UnsafeCell<T>,
);

impl<T> Cell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(loom))]
        return Self(core::cell::UnsafeCell::new(value));
        #[cfg(loom)]
        return Self(loom::cell::UnsafeCell::new(value));
    }

    /// Runs `f` with a mutable pointer to the value.
    ///
    /// The caller upholds the aliasing rules: the pointer is dereferenced only by the owner of
    /// the slot or queue cell (see `Slot` and `queue.rs`).
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(loom))]
        return f(self.0.get());
        #[cfg(loom)]
        return self.0.with_mut(f);
    }
}

/// Pads and aligns a value to the length of a cache line (per architecture), so that words
/// written by different threads do not share a line.
pub(crate) use crossbeam_utils::CachePadded;

//! The one door through which the core reaches atomics, cells and spin hints.
//!
//! Under `--cfg loom` everything here is swapped for loom's instrumented version, so that the
//! models in `loom-tests/` explore the real protocol code. The queues have loom stand-ins of
//! their own (`queue.rs`).

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicUsize, Ordering};

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

/// Exponential backoff for the queue's short waits on another thread, as crossbeam's
/// `Backoff`: spin a little longer each time, then (with `std`) yield the CPU, so that a
/// thread waiting for a preempted peer to finish its step gives the peer the CPU instead of
/// burning its time slice. (Under loom the queues that wait are stand-ins that do not.)
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

#[cfg(not(loom))]
impl Backoff {
    const SPIN_LIMIT: u32 = 6;
    #[cfg(feature = "std")]
    const YIELD_LIMIT: u32 = 10;

    /// Whether backing off has reached the point where the caller should block instead.
    #[cfg(feature = "std")]
    pub(crate) fn is_completed(&self) -> bool {
        self.step > Self::YIELD_LIMIT
    }

    /// Waits for a peer that is mid-operation on the same word (a failed CAS): spin only.
    /// Out of line, so that the queue's uncontended paths stay small enough to inline.
    #[cold]
    #[inline(never)]
    pub(crate) fn spin(&mut self) {
        for _ in 0..1u32 << self.step.min(Self::SPIN_LIMIT) {
            core::hint::spin_loop();
        }
        if self.step <= Self::SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Waits for a peer that must finish a step before we can go on (a push or pop in
    /// flight): spin, then yield the CPU to it. Out of line, as `spin`.
    #[cold]
    #[inline(never)]
    pub(crate) fn snooze(&mut self) {
        if self.step <= Self::SPIN_LIMIT {
            for _ in 0..1u32 << self.step {
                core::hint::spin_loop();
            }
        } else {
            #[cfg(feature = "std")]
            std::thread::yield_now();
            #[cfg(not(feature = "std"))]
            for _ in 0..1u32 << Self::SPIN_LIMIT {
                core::hint::spin_loop();
            }
        }
        #[cfg(feature = "std")]
        if self.step <= Self::YIELD_LIMIT {
            self.step += 1;
        }
        #[cfg(not(feature = "std"))]
        if self.step <= Self::SPIN_LIMIT {
            self.step += 1;
        }
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

/// Aligns a value to 128 bytes (two cache lines: adjacent-line prefetchers pull pairs), so
/// that words written by different threads do not share a line. As crossbeam's `CachePadded`.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> CachePadded<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

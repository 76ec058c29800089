//! Counters and gauges for the layers above the core (front ends, a keyed pool, metrics).
//!
//! All of the workspace's atomics live in this crate, where their orderings are reviewed
//! together; a front end that needs to count something on its own slow paths (callers sleeping
//! between create retries, creates in flight, objects dropped by reason) uses these instead of
//! its own atomics. Every operation is `Relaxed`: they count, they do not order anything. A
//! reader sees each one's own history in order, and nothing else is promised: a snapshot of
//! several of them is not taken at one instant. Nothing here is touched by the core's own hot
//! path.
//!
//! Values are `usize`: on 32-bit targets a [`Counter`] wraps after 2^32 events (use a rate or
//! read it often there); on 64-bit targets, never in practice.

use crate::sync::{AtomicUsize, Ordering};

/// A count of events that only goes up (wrapping at `usize::MAX`).
///
/// ```
/// let created = cenote_core::stats::Counter::new();
/// created.add(2);
/// created.incr();
/// assert_eq!(created.get(), 3);
/// ```
#[derive(Default)]
pub struct Counter(AtomicUsize);

impl Counter {
    /// A counter at 0.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// A counter at 0.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Adds one.
    #[inline]
    pub fn incr(&self) {
        self.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: usize) {
        // ORDERING: `Relaxed`: a count orders nothing; the RMW alone keeps it exact.
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count now.
    #[inline]
    pub fn get(&self) -> usize {
        // ORDERING: `Relaxed`: see the module docs (no snapshot across counters).
        self.0.load(Ordering::Relaxed)
    }
}

impl core::fmt::Debug for Counter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

/// A number that goes up and down (callers in a state, creates in flight).
///
/// [`Gauge::enter`] returns a guard that leaves on drop, so a panic or an early return
/// cannot leave the gauge high.
///
/// ```
/// let sleeping = cenote_core::stats::Gauge::new();
/// {
///     let _in = sleeping.enter();
///     assert_eq!(sleeping.get(), 1);
/// }
/// assert_eq!(sleeping.get(), 0);
/// assert!(sleeping.try_enter_below(1).is_some(), "0 < 1: entered");
/// ```
#[derive(Default)]
pub struct Gauge(AtomicUsize);

impl Gauge {
    /// A gauge at 0.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// A gauge at 0.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// Goes up by one until the guard is dropped.
    #[inline]
    pub fn enter(&self) -> GaugeGuard<'_> {
        // ORDERING: `Relaxed`: see the module docs.
        self.0.fetch_add(1, Ordering::Relaxed);
        GaugeGuard(self)
    }

    /// Goes up by one if it is below `limit` now (a CAS: concurrent callers never take it
    /// past `limit`), until the guard is dropped; `None` if it is at or above `limit`.
    pub fn try_enter_below(&self, limit: usize) -> Option<GaugeGuard<'_>> {
        // ORDERING: `Relaxed` loads and CAS: the CAS alone keeps the bound; whoever waits for
        // a place to free up is told so by other means (an event), not by this word.
        let mut now = self.0.load(Ordering::Relaxed);
        loop {
            if now >= limit {
                return None;
            }
            match self.0.compare_exchange_weak(now, now + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(GaugeGuard(self)),
                Err(actual) => now = actual,
            }
        }
    }

    /// The value now.
    #[inline]
    pub fn get(&self) -> usize {
        // ORDERING: `Relaxed`: see the module docs.
        self.0.load(Ordering::Relaxed)
    }
}

impl core::fmt::Debug for Gauge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Gauge").field(&self.get()).finish()
    }
}

/// Holds one unit of a [`Gauge`]; gives it back on drop.
#[must_use = "the gauge goes down again when the guard is dropped"]
pub struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // ORDERING: `Relaxed`: see the module docs.
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl core::fmt::Debug for GaugeGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("GaugeGuard").field(self.0).finish()
    }
}

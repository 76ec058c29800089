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

    /// Adds one and returns the count before: a ticket number, each caller's distinct (for
    /// handing out indices round-robin, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::stats::Counter;
    ///
    /// static NEXT: Counter = Counter::new();
    /// assert_eq!((NEXT.fetch_incr(), NEXT.fetch_incr()), (0, 1));
    /// assert_eq!(NEXT.get(), 2);
    /// ```
    #[inline]
    pub fn fetch_incr(&self) -> usize {
        // ORDERING: `Relaxed`: a ticket orders nothing; the RMW alone makes each one distinct.
        self.0.fetch_add(1, Ordering::Relaxed)
    }

    /// Raises the count to `value` if it is below; returns the count after (the larger).
    /// For a value that must never go down although it is derived from several counters
    /// read at slightly different times (a high-water mark).
    #[inline]
    pub fn raise_to(&self, value: usize) -> usize {
        // ORDERING: `Relaxed`: see the module docs; the RMW keeps it monotonic.
        self.0.fetch_max(value, Ordering::Relaxed).max(value)
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

    /// Sets the value: for a gauge that one writer recomputes (a maintenance pass's count),
    /// not one kept with [`enter`](Gauge::enter) guards.
    #[inline]
    pub fn set(&self, value: usize) {
        // ORDERING: `Relaxed`: see the module docs.
        self.0.store(value, Ordering::Relaxed);
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

/// Sub-buckets per power of two in a [`Histogram`]: 4, so a bucket's upper bound is at most
/// 25% above any value in it.
const SUB_BITS: u32 = 2;
const SUB: usize = 1 << SUB_BITS;
/// Values at or above 2^`TOP_EXP` (about 13 days in nanoseconds: long enough for connection
/// lifetimes) share the last bucket.
const TOP_EXP: u32 = 50;

/// Buckets in a [`Histogram`].
pub const HISTOGRAM_BUCKETS: usize = SUB + (TOP_EXP as usize - SUB_BITS as usize) * SUB + 1;

/// A lock-free log-linear histogram of `u64` values (the front ends record nanoseconds), in
/// the style of HdrHistogram: fixed memory (one word per bucket), no allocation, one
/// `Relaxed` increment per record plus one for the sum.
///
/// Values below 4 have a bucket each; above, each power of two is split into 4 buckets, so
/// a bucket's upper bound is within 25% of every value in it; values of 2^50 and more (13
/// days in nanoseconds) share the last bucket.
///
/// ```
/// use cenote_core::stats::Histogram;
/// let h = Histogram::new();
/// for v in [1_000, 2_000, 3_000, 1_000_000] {
///     h.record(v);
/// }
/// assert_eq!(h.count(), 4);
/// let counts = h.counts();
/// let median = Histogram::quantile_of(&counts, 0.5);
/// assert!((2_000..=2_500).contains(&median), "{median}");
/// assert!(Histogram::quantile_of(&counts, 1.0) >= 1_000_000);
/// ```
pub struct Histogram {
    buckets: [AtomicUsize; HISTOGRAM_BUCKETS],
    #[cfg(target_has_atomic = "64")]
    sum: crate::sync::AtomicU64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            buckets: core::array::from_fn(|_| AtomicUsize::new(0)),
            #[cfg(target_has_atomic = "64")]
            sum: crate::sync::AtomicU64::new(0),
        }
    }

    /// The bucket a value falls in.
    #[inline]
    pub fn bucket_of(value: u64) -> usize {
        if value < SUB as u64 {
            return value as usize;
        }
        let exp = u64::BITS - 1 - value.leading_zeros();
        if exp >= TOP_EXP {
            return HISTOGRAM_BUCKETS - 1;
        }
        let sub = ((value >> (exp - SUB_BITS)) as usize) & (SUB - 1);
        SUB + (exp - SUB_BITS) as usize * SUB + sub
    }

    /// The largest value in bucket `index` (`u64::MAX` for the last).
    pub fn upper_bound(index: usize) -> u64 {
        if index < SUB {
            return index as u64;
        }
        if index >= HISTOGRAM_BUCKETS - 1 {
            return u64::MAX;
        }
        let exp = (index - SUB) / SUB + SUB_BITS as usize;
        let sub = ((index - SUB) % SUB) as u64;
        let width = 1u64 << (exp - SUB_BITS as usize);
        (1u64 << exp) + (sub + 1) * width - 1
    }

    /// Records one value.
    #[inline]
    pub fn record(&self, value: u64) {
        // ORDERING: `Relaxed`: counts (module docs); a snapshot is not taken at one instant.
        self.buckets[Self::bucket_of(value)].fetch_add(1, Ordering::Relaxed);
        #[cfg(target_has_atomic = "64")]
        // ORDERING: as above.
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Values recorded.
    pub fn count(&self) -> usize {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).fold(0, usize::wrapping_add)
    }

    /// The sum of the values recorded (wrapping). On targets without 64-bit atomics, each
    /// bucket's count times its upper bound (an upper estimate).
    pub fn sum(&self) -> u64 {
        #[cfg(target_has_atomic = "64")]
        {
            // ORDERING: `Relaxed`, as every read here.
            self.sum.load(Ordering::Relaxed)
        }
        #[cfg(not(target_has_atomic = "64"))]
        {
            // The last bucket has no upper bound: count it at its lower one, 2^TOP_EXP.
            self.counts()
                .iter()
                .enumerate()
                .map(|(i, &n)| (n as u64).saturating_mul(Self::upper_bound(i).min(1 << TOP_EXP)))
                .fold(0, u64::saturating_add)
        }
    }

    /// Each bucket's count now (bucket `i` holds values up to [`upper_bound(i)`]).
    ///
    /// [`upper_bound(i)`]: Histogram::upper_bound
    pub fn counts(&self) -> [usize; HISTOGRAM_BUCKETS] {
        // ORDERING: `Relaxed`: see the module docs.
        core::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
    }

    /// The value at quantile `q` (0.0..=1.0) of bucket counts (from [`counts`]): the upper
    /// bound of the bucket holding it, so within 25% above the true value. 0 when empty.
    ///
    /// [`counts`]: Histogram::counts
    pub fn quantile_of(counts: &[usize; HISTOGRAM_BUCKETS], q: f64) -> u64 {
        let total: u64 = counts.iter().map(|&n| n as u64).sum();
        if total == 0 {
            return 0;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // The nearest rank, 1-based: the smallest rank whose share reaches `q`.
        // (`f64::ceil` is not in `core`: round up by hand.)
        let share = q * total as f64;
        let floor = share as u64;
        let rank = (if (floor as f64) < share { floor + 1 } else { floor }).clamp(1, total);
        let mut seen = 0u64;
        for (i, &n) in counts.iter().enumerate() {
            seen += n as u64;
            if seen >= rank {
                return Self::upper_bound(i);
            }
        }
        Self::upper_bound(HISTOGRAM_BUCKETS - 1)
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Histogram").field("count", &self.count()).field("sum", &self.sum()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut last_upper = None;
        for i in 0..HISTOGRAM_BUCKETS {
            let upper = Histogram::upper_bound(i);
            if let Some(last) = last_upper {
                assert!(upper > last, "bucket {i}: {upper} after {last}");
                assert_eq!(Histogram::bucket_of(last + 1), i, "the value after bucket {} starts {i}", i - 1);
            }
            assert_eq!(Histogram::bucket_of(upper), i, "bucket {i}'s upper bound {upper}");
            last_upper = Some(upper);
        }
        assert_eq!(last_upper, Some(u64::MAX));
        for v in [4u64, 5, 7, 8, 100, 1_000_000, (1 << 50) - 1] {
            let upper = Histogram::upper_bound(Histogram::bucket_of(v));
            assert!(upper >= v && (upper - v) * 4 <= v, "{v} in a bucket up to {upper}: within 25%");
        }
    }

    #[test]
    fn quantiles_and_sum() {
        let h = Histogram::new();
        assert_eq!(Histogram::quantile_of(&h.counts(), 0.99), 0);
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 100);
        #[cfg(target_has_atomic = "64")]
        assert_eq!(h.sum(), 5_050_000);
        let counts = h.counts();
        let p50 = Histogram::quantile_of(&counts, 0.5);
        assert!((50_000..=62_500).contains(&p50), "{p50}");
        let p99 = Histogram::quantile_of(&counts, 0.99);
        assert!((99_000..=123_750).contains(&p99), "{p99}");
        // Nearest rank: the median of three is the middle one; p99 of ten sees the outlier.
        let h = Histogram::new();
        for v in [10, 1000, 100_000] {
            h.record(v);
        }
        let median = Histogram::quantile_of(&h.counts(), 0.5);
        assert!((1000..=1250).contains(&median), "{median}");
        let h = Histogram::new();
        for _ in 0..9 {
            h.record(1_000_000);
        }
        h.record(1_000_000_000);
        assert!(Histogram::quantile_of(&h.counts(), 0.99) >= 1_000_000_000);
        assert_eq!(Histogram::quantile_of(&counts, 0.0), Histogram::upper_bound(Histogram::bucket_of(1000)));
        assert!(Histogram::quantile_of(&counts, f64::NAN) >= 100_000);
    }
}

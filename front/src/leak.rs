//! `leak_detection_threshold`: where and when each object was lent, kept in the core's
//! per-slot record ([`cenote_core::Lease::mark_lent`]) only while the option is set, and the
//! maintenance pass's report of objects held past it.
//!
//! Lend times are kept in milliseconds of the pool's clock ([`Shared::now`]), masked to the
//! record's width ([`Lent::MAX_AT`]; on 32-bit targets that wraps after 24 days, and ages are
//! computed with a wrapping difference, so only a hold longer than that is misjudged).

use core::panic::Location;
use core::time::Duration;

use cenote_core::{Lease, Lent};

use crate::front::{ticks, Front, LeaseOf, Shared};

const NANOS_PER_MS: u64 = 1_000_000;

impl<F: Front> Shared<F> {
    /// Whether lends are recorded (`leak_detection_threshold` is set).
    #[inline]
    pub(crate) fn records_lends(&self) -> bool {
        self.config.leak_detection_threshold.is_some()
    }

    /// Now, in the record's milliseconds, counted from 1 (a record's 0 means "not lent").
    fn lent_clock(&self) -> usize {
        #[allow(clippy::cast_possible_truncation)] // masked: the record holds this many bits
        let ms = (self.now() / NANOS_PER_MS) as usize;
        ms.wrapping_add(1) & Lent::MAX_AT
    }

    /// Records that `lease` is being lent by the code at `location` (only when the option is
    /// set: otherwise nothing, not even a clock read).
    #[inline]
    pub(crate) fn mark_lent(&self, lease: &LeaseOf<F>, location: &'static Location<'static>) {
        if self.records_lends() {
            Lease::mark_lent(lease, self.lent_clock(), location);
        }
    }

    /// Clears `lease`'s record before it is given up (returned, retired, detached).
    #[inline]
    pub(crate) fn clear_lent(&self, lease: &LeaseOf<F>) {
        if self.records_lends() {
            Lease::clear_lent(lease);
        }
    }
}

impl<F: Front> crate::Handle<F> {
    /// Counts the objects held longer than `leak_detection_threshold` and logs each one not
    /// reported before (once per lend); returns the count and when the next lend seen here
    /// passes the threshold (pool ticks, `u64::MAX`: none), or `(0, u64::MAX)` when off.
    pub(crate) fn scan_leaks(&self) -> (usize, u64) {
        let shared = self.shared();
        let Some(threshold) = shared.config.leak_detection_threshold else { return (0, u64::MAX) };
        let limit_ms = u64::try_from(threshold.as_millis()).unwrap_or(u64::MAX);
        let now_ns = shared.now();
        let now = shared.lent_clock();
        // A lend made after this pass passes the threshold one threshold from now at the
        // earliest: the next pass is due by then.
        let mut next = now_ns.saturating_add(ticks(threshold));
        let mut leaked = 0;
        self.core().for_each_lent(|lent| {
            let held = now.wrapping_sub(lent.at) & Lent::MAX_AT;
            // A lend stamped after `now` was read (another thread, a moment later): held 0.
            let held_ms = if held > Lent::MAX_AT / 2 { 0 } else { held as u64 };
            if held_ms < limit_ms {
                let due = now_ns.saturating_add((limit_ms - held_ms).saturating_mul(NANOS_PER_MS));
                next = next.min(due);
                return false;
            }
            leaked += 1;
            if !lent.reported {
                let held = Duration::from_millis(held_ms);
                log::warn!(
                    "pool {}: an object has been held for {held:?}, longer than leak_detection_threshold ({threshold:?}); it was acquired at {}",
                    shared.config.name,
                    lent.location
                );
            }
            true
        });
        (leaked, next)
    }
}

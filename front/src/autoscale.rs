//! Autoscaling (the patterns document's dynamic pool): maintenance passes sample how busy the
//! pool is and, at most once per `cooldown`, move `max_size` within `min..=max` through
//! [`resize`](crate::Handle::resize).
//!
//! # How it decides
//!
//! Each pass records a sample: objects in use and `max_size` at that instant, and the wait
//! histogram's counts. Passes come at least every `cooldown / 8` while autoscaling is on. Once
//! `cooldown` has passed since the last change and the samples span at least half of it, the
//! pass looks at the window:
//!
//! * *utilization*: the mean of `in_use / max_size` over the samples;
//! * *wait p99*: the 99th percentile of the waits recorded since the window's first sample
//!   (a `get` that found no idle object and waited for a return or a create).
//!
//! It **grows** when utilization is at least `scale_up_at`, or when some `get` waited and the
//! wait p99 is above `max_wait_p99`: to `max(max_size + step, ⌈mean in use ÷
//! target_utilization⌉)`, at most `max`. It **shrinks** when utilization is at most
//! `scale_down_at` and no `get` waited: by `step`, but not below `⌈mean in use ÷
//! target_utilization⌉` nor below `min`. A shrink drops idle extras at once and in-use ones
//! as they come back. Each change is logged (`log::info!`, with the pool's name and the
//! figures it was decided on) and reported in [`Maintenance::scaled`](crate::Maintenance::scaled);
//! the window then starts again.
//!
//! Autoscaling moves `max_size` only; `min_idle` stays as set (it must not exceed `min`).

use core::time::Duration;
use std::sync::Mutex;

use cenote_core::stats::{Histogram, HISTOGRAM_BUCKETS};

use crate::front::ticks;
use crate::{BuildError, Front, Handle};

/// How a pool sizes itself (`Builder::autoscale`); see the [module docs](crate::autoscale).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use cenote_front::Autoscale;
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// let pool = cenote_sync::Pool::builder(M)
///     .max_size(4) // where it starts
///     .autoscale(Some(Autoscale { min: 2, max: 32, cooldown: Duration::from_secs(10), ..Autoscale::default() }))
///     .build()?;
/// assert_eq!(pool.status().max_size, 4);
/// # Ok::<(), cenote_sync::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Autoscale {
    /// The smallest `max_size` it shrinks to (at least 1, and at least `min_idle`).
    pub min: usize,
    /// The largest `max_size` it grows to (slots are allocated for it at build time).
    pub max: usize,
    /// The utilization a change aims for: the new size is at least the mean number in use
    /// divided by this (0 < target ≤ 1). Default: 0.7.
    pub target_utilization: f64,
    /// Grow when the mean utilization over the window is at least this. Default: 0.85.
    pub scale_up_at: f64,
    /// Shrink when the mean utilization over the window is at most this and nobody waited.
    /// Default: 0.3.
    pub scale_down_at: f64,
    /// The window, and the least time between two changes. Default: 30 s.
    pub cooldown: Duration,
    /// How much one change moves `max_size` at least (growing) or at most (shrinking).
    /// Default: 1.
    pub step: usize,
    /// Also grow when callers waited and the wait p99 over the window is above this.
    /// Default: 10 ms.
    pub max_wait_p99: Duration,
}

impl Default for Autoscale {
    /// `min` 1, `max` [`DEFAULT_MAX_SIZE`](crate::DEFAULT_MAX_SIZE), and the defaults above.
    fn default() -> Self {
        Self {
            min: 1,
            max: crate::DEFAULT_MAX_SIZE,
            target_utilization: 0.7,
            scale_up_at: 0.85,
            scale_down_at: 0.3,
            cooldown: Duration::from_secs(30),
            step: 1,
            max_wait_p99: Duration::from_millis(10),
        }
    }
}

// `validate` rejects NaN thresholds, the one value for which `==` is not reflexive; `Config`
// (which holds an `Autoscale`) is `Eq`.
impl Eq for Autoscale {}

impl Autoscale {
    /// Checks the values against each other and against the pool's `max_size`, `min_idle` and
    /// slot count.
    pub(crate) fn validate(&self, max_size: usize, min_idle: usize, slots: usize) -> Result<(), BuildError> {
        let bad = |why: &'static str| Err(BuildError::Autoscale { why });
        let fraction = |x: f64| x > 0.0 && x <= 1.0;
        if self.min == 0 {
            return bad("min is 0: a pool needs room for at least one object");
        }
        if self.min > self.max {
            return bad("min is larger than max: swap them");
        }
        if !(self.min..=self.max).contains(&max_size) {
            return bad(
                "max_size (where the pool starts) is outside min..=max: set max_size within the range",
            );
        }
        if min_idle > self.min {
            return bad(
                "min_idle is larger than min: a shrink to min could not keep min_idle idle; lower min_idle",
            );
        }
        if slots < self.max {
            return bad(
                "capacity is smaller than max: leave capacity unset (it then follows max) or raise it",
            );
        }
        if !fraction(self.target_utilization)
            || !fraction(self.scale_up_at)
            || !(0.0..1.0).contains(&self.scale_down_at)
        {
            return bad("target_utilization and scale_up_at must be in (0, 1], scale_down_at in [0, 1)");
        }
        if self.scale_down_at >= self.scale_up_at {
            return bad(
                "scale_down_at is not below scale_up_at: the pool would grow and shrink on the same load",
            );
        }
        if self.step == 0 {
            return bad("step is 0: a change must move max_size by at least 1");
        }
        if self.cooldown.is_zero() {
            return bad("cooldown is zero: give the window a positive length (say 30 s)");
        }
        Ok(())
    }

    /// The longest pause between passes while autoscaling: an eighth of the window.
    fn sample_every(&self) -> u64 {
        (ticks(self.cooldown) / 8).max(1_000_000)
    }
}

/// Samples kept: a window of `cooldown` sampled every `cooldown / 8`, with room to spare.
const SAMPLES: usize = 16;

/// What a pass saw. The wait counts are cumulative (since the pool was built), so that the
/// window's are the difference between its newest and oldest sample.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    at: u64,
    in_use: usize,
    max_size: usize,
    /// Waits recorded so far.
    waits: usize,
    /// Of those, the ones certainly longer than `max_wait_p99` (their histogram bucket lies
    /// wholly above it).
    slow_waits: usize,
}

/// The window of samples, and when `max_size` last changed.
#[derive(Debug)]
struct Window {
    samples: [Sample; SAMPLES],
    /// Samples recorded, in `samples[..len]`, oldest first.
    len: usize,
    /// When `max_size` last changed (or autoscaling began), in ticks.
    changed_at: u64,
}

/// An autoscaling pool's state, in its `Shared`.
#[derive(Debug)]
pub(crate) struct Scaler {
    pub(crate) config: Autoscale,
    /// The first wait-histogram bucket whose values are all above `max_wait_p99`.
    slow_bucket: usize,
    window: Mutex<Window>,
}

impl Scaler {
    pub(crate) fn new(config: Autoscale) -> Self {
        let limit = ticks(config.max_wait_p99);
        // Bucket `i` holds values above `upper_bound(i - 1)`.
        let slow_bucket = (1..HISTOGRAM_BUCKETS)
            .find(|&i| Histogram::upper_bound(i - 1) >= limit)
            .unwrap_or(HISTOGRAM_BUCKETS);
        let window =
            Window { samples: [Sample::default(); SAMPLES], len: 0, changed_at: cenote_core::time::now() };
        Self { config, slow_bucket, window: Mutex::new(window) }
    }
}

impl<F: Front> Handle<F> {
    /// One autoscaling step of a maintenance pass at `now`: records a sample and, when due,
    /// resizes. Returns the change made (`(from, to)`), if any, and when the next sample is
    /// due (ticks).
    pub(crate) fn autoscale(&self, scaler: &Scaler, now: u64) -> (Option<(usize, usize)>, u64) {
        let a = &scaler.config;
        let next = now.saturating_add(a.sample_every());
        let window = ticks(a.cooldown);
        let status = self.status();
        let counts = self.shared().books.wait_counts();
        let sample = Sample {
            at: now,
            in_use: status.in_use,
            max_size: status.max_size,
            waits: counts.iter().fold(0, |n, &c| n.saturating_add(c)),
            slow_waits: counts[scaler.slow_bucket.min(HISTOGRAM_BUCKETS)..]
                .iter()
                .fold(0, |n, &c| n.saturating_add(c)),
        };
        let mut w = scaler.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Keep the last `cooldown` (and never more than `SAMPLES`).
        while w.len > 0 && (w.len == SAMPLES || now.saturating_sub(w.samples[0].at) > window) {
            w.samples.copy_within(1.., 0);
            w.len -= 1;
        }
        let len = w.len;
        w.samples[len] = sample;
        w.len += 1;
        let samples = &w.samples[..w.len];
        let span = now.saturating_sub(samples[0].at);
        if now.saturating_sub(w.changed_at) < window || span < window / 2 {
            return (None, next);
        }
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let (utilization, mean_in_use) = {
            let n = samples.len() as f64;
            let util = samples.iter().map(|s| s.in_use as f64 / s.max_size.max(1) as f64).sum::<f64>() / n;
            (util, samples.iter().map(|s| s.in_use as f64).sum::<f64>() / n)
        };
        let waits = sample.waits.saturating_sub(samples[0].waits);
        let slow = sample.slow_waits.saturating_sub(samples[0].slow_waits);
        // More than 1% of the window's waits above the limit: its p99 is above it.
        let slow_p99 = waits > 0 && slow.saturating_mul(100) > waits;
        let current = status.max_size;
        // The size that would run at `target_utilization`, rounded up (a float cast saturates:
        // a huge value cannot wrap).
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small, positive
        let wanted = (mean_in_use / a.target_utilization).ceil() as usize;
        let grow = utilization >= a.scale_up_at || slow_p99;
        let shrink = waits == 0 && utilization <= a.scale_down_at;
        let target = if grow {
            current.saturating_add(a.step).max(wanted).min(a.max)
        } else if shrink {
            current.saturating_sub(a.step).max(wanted).max(a.min)
        } else {
            current
        };
        if target == current {
            return (None, next);
        }
        if let Err(e) = self.resize(target) {
            log::warn!("pool {}: autoscale could not resize {current} -> {target}: {e}", self.config().name);
            return (None, next);
        }
        log::info!(
            "pool {}: autoscale max_size {current} -> {target} (utilization {utilization:.2} over {:?}, {waits} waits, {slow} longer than {:?})",
            self.config().name,
            Duration::from_nanos(span),
            a.max_wait_p99,
        );
        w.len = 0;
        w.changed_at = now;
        (Some((current, target)), next)
    }
}

//! One timer per pool for its waiters' deadlines.
//!
//! A `get` that has to wait does not register a timer of its own: it gives its deadline to
//! the core with the wait ([`Core::acquire_until`](cenote_core::Core::acquire_until)), and the
//! pool's [`Watch`] keeps one sleep with the shared timer thread, for the earliest deadline
//! the core has asked for. When it fires, the timer thread calls
//! [`WeakCore::expire_waiters`], which wakes the waiters whose deadline has passed (they see
//! the clock and give up) and names the next deadline to sleep for. Waiters served before
//! their deadline, the common case, cost the timer nothing.
//!
//! The watch holds a [`WeakCore`]: it never keeps a pool open, and a pool dropped while the
//! watch sleeps is freed when that sleep ends (its objects are dropped at once, as always).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};
use core::time::Duration;
use std::sync::Arc;
use std::task::Wake;
use std::time::Instant;

use cenote_core::WeakCore;
use parking_lot::Mutex;

use crate::timer::{sleep_until, Sleep};

/// The pool's one sleep for its waiters' deadlines.
pub(crate) struct Watch<T, E> {
    core: WeakCore<T, E>,
    /// The instant the pool's ticks count from.
    epoch: Instant,
    /// Registered with the timer thread, waking this watch, for the earliest deadline asked
    /// for; `None` when no deadline is pending.
    sleep: Mutex<Option<Sleep>>,
}

impl<T: Send + 'static, E: Send + Sync + 'static> Watch<T, E> {
    pub(crate) fn new(core: WeakCore<T, E>, epoch: Instant) -> Arc<Self> {
        Arc::new(Self { core, epoch, sleep: Mutex::new(None) })
    }

    /// Makes sure [`WeakCore::expire_waiters`] runs once the clock reaches `due` (pool
    /// ticks). Called by a waiter whose deadline is the earliest one pending.
    pub(crate) fn arm(self: &Arc<Self>, due: u64) {
        let mut due = due;
        loop {
            // Too far to represent: nobody waits that long.
            let Some(at) = self.epoch.checked_add(Duration::from_nanos(due)) else { return };
            let mut slot = self.sleep.lock();
            if slot.as_ref().is_some_and(|sleep| sleep.deadline() <= at) {
                return; // an earlier (or the same) sleep is pending; it re-arms when it fires
            }
            let mut sleep = sleep_until(at);
            let waker = Waker::from(Arc::clone(self));
            if Pin::new(&mut sleep).poll(&mut Context::from_waker(&waker)).is_pending() {
                // The replaced sleep, if any, deregisters as it drops (after the lock).
                let replaced = slot.replace(sleep);
                drop(slot);
                drop(replaced);
                return;
            }
            // Already due: expire now, and arm for whatever is next.
            drop(slot);
            match self.expire() {
                Some(next) => due = next,
                None => return,
            }
        }
    }

    /// Wakes the waiters due now; returns the next deadline, if any.
    fn expire(&self) -> Option<u64> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.core.expire_waiters(now)
    }

    /// The timer thread's wakeup: if our sleep is over, expire and re-arm.
    fn fire(self: &Arc<Self>) {
        let mut slot = self.sleep.lock();
        let Some(sleep) = slot.as_mut() else { return };
        let waker = Waker::from(Arc::clone(self));
        if Pin::new(sleep).poll(&mut Context::from_waker(&waker)).is_pending() {
            return; // spurious, or an earlier sleep replaced the one that fired
        }
        let done = slot.take();
        drop(slot);
        drop(done);
        if let Some(next) = self.expire() {
            self.arm(next);
        }
    }
}

impl<T: Send + 'static, E: Send + Sync + 'static> Wake for Watch<T, E> {
    fn wake(self: Arc<Self>) {
        self.fire();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fire();
    }
}

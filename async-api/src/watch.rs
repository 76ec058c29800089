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
//! The watch holds a [`WeakCore`], so it never keeps a pool open, and the pool's handles hold
//! the watch while the timer thread holds only a weak reference to it: when the last handle
//! goes, the watch goes too, taking its sleep off the timer, and the pool's memory and
//! manager are freed as soon as no object is out (not when the sleep would have ended).
//!
//! One panicking waker must not stop the pool's timeouts: the core still wakes the others due
//! with it, and the watch looks again a millisecond later for those not reached and for the
//! next deadline.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};
use core::time::Duration;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::task::Wake;

use cenote_core::{time, WeakCore};
use parking_lot::Mutex;

use crate::timer::{sleep_until, Sleep};

/// How soon the watch looks again after a waiter's waker panicked.
const RETRY_AFTER_PANIC: Duration = Duration::from_millis(1);

/// The pool's one sleep for its waiters' deadlines. Held by the pool's handles.
pub(crate) struct Watch<T, E> {
    core: WeakCore<T, E>,
    /// Registered with the timer thread, waking `waker`, for the earliest deadline asked
    /// for; `None` when no deadline is pending.
    sleep: Mutex<Option<Sleep>>,
    /// Wakes this watch through a weak reference: the timer thread does not keep it alive.
    waker: Waker,
}

/// What the timer thread holds of a [`Watch`].
struct WatchWaker<T, E>(Weak<Watch<T, E>>);

impl<T: Send + 'static, E: Send + Sync + 'static> Wake for WatchWaker<T, E> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(watch) = self.0.upgrade() {
            watch.fire();
        }
    }
}

impl<T: Send + 'static, E: Send + Sync + 'static> Watch<T, E> {
    pub(crate) fn new(core: WeakCore<T, E>) -> Arc<Self> {
        Arc::new_cyclic(|weak| Self {
            core,
            sleep: Mutex::new(None),
            waker: Waker::from(Arc::new(WatchWaker(Weak::clone(weak)))),
        })
    }

    /// Makes sure [`WeakCore::expire_waiters`] runs once the clock reaches `due` (ticks of
    /// [`cenote_core::time`], the same the waiter gave the core and the timer sleeps on).
    /// Called by a waiter whose deadline is the earliest one pending.
    pub(crate) fn arm(&self, mut due: u64) {
        loop {
            if due == time::NEVER {
                return;
            }
            let at = due;
            let mut slot = self.sleep.lock();
            if slot.as_ref().is_some_and(|sleep| sleep.deadline() <= at) {
                return; // an earlier (or the same) sleep is pending; it re-arms when it fires
            }
            let mut sleep = sleep_until(at);
            if Pin::new(&mut sleep).poll(&mut Context::from_waker(&self.waker)).is_pending() {
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

    /// Wakes the waiters due now; returns when to look next, if at all.
    fn expire(&self) -> Option<u64> {
        let now = time::now();
        match catch_unwind(AssertUnwindSafe(|| self.core.expire_waiters(now))) {
            Ok(next) => next,
            // A waiter's waker panicked (in its executor's code, not ours); the others due in
            // its batch were woken. Look again shortly for the rest and the next deadline.
            Err(_) => Some(now.saturating_add(RETRY_AFTER_PANIC.as_nanos() as u64)),
        }
    }

    /// The timer thread's wakeup: if our sleep is over, expire and re-arm.
    fn fire(&self) {
        let mut slot = self.sleep.lock();
        let Some(sleep) = slot.as_mut() else { return };
        if Pin::new(sleep).poll(&mut Context::from_waker(&self.waker)).is_pending() {
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

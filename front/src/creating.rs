//! `max_pending_creates`: at most that many `create` calls in flight per pool, across `get`,
//! `warm` and maintenance refills, and the wait of a `get` that found room in the pool but no
//! free create slot.
//!
//! A create slot is a unit of [`Shared`]'s `pending` gauge, taken with a compare-and-swap
//! below the limit ([`Gauge::try_enter_below`]), so concurrent callers never exceed it. A
//! `get` keeps its slot across the pause between failed creates: during an outage at most
//! `max_pending_creates` callers retry, and the others wait for their outcome instead of each
//! running its own retries.
//!
//! # Waking a caller waiting for a slot
//!
//! A waiter listens on `slot_freed` (an `event_listener::Event`), then looks again (a slot
//! free), then sleeps: the event is notified when a slot is given back (a create finished,
//! well or badly). A freed place is not notified: a waiter already had a place (it gave its
//! permit back because no slot was free, which itself frees a place: waking the other waiters
//! for that would have them wake each other in a loop). A return to the idle queue is not
//! notified either: that is the core's hot path, which calls nothing (and after the return the
//! pool may be gone, so nothing could be notified safely). A waiter looks again at least every
//! [`RECHECK`], which bounds how late it takes a returned object, and also covers a wake
//! missed because the gauge is relaxed. Everything here is the slow path: `get` of an idle
//! object never touches it.

use core::fmt;
use core::time::Duration;

use cenote_core::stats::GaugeGuard;

use crate::front::{Front, Shared};

/// The longest a caller waiting for a create slot sleeps before it looks again (see the
/// module docs).
pub const RECHECK: Duration = Duration::from_millis(10);

/// Most errors kept for callers that time out without a create error of their own.
const KEEP_ERRORS: usize = 64;

/// One `create` in flight, counted against `max_pending_creates`: dropping it gives the slot
/// back and wakes the callers waiting for one.
#[must_use = "dropping a create slot gives it back at once"]
pub struct CreateSlot<'a, F: Front> {
    shared: &'a Shared<F>,
    pending: Option<GaugeGuard<'a>>,
}

impl<F: Front> Drop for CreateSlot<'_, F> {
    fn drop(&mut self) {
        drop(self.pending.take());
        self.shared.slot_freed.notify(usize::MAX);
    }
}

impl<F: Front> fmt::Debug for CreateSlot<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateSlot").finish_non_exhaustive()
    }
}

/// A caller waiting for a create slot or a return (from [`Shared::wait_for_create_slot`]):
/// counted in `status().waiting` while it lives. Wait on [`listener`](SlotWait::listener)
/// (woken when a create ends) for at most [`RECHECK`] (and never past the `get`'s deadline),
/// then try again.
#[must_use = "a slot wait does nothing unless waited on"]
pub struct SlotWait<'a> {
    /// Woken when a slot may be free or an object was returned.
    pub listener: event_listener::EventListener,
    /// Counted in `status().waiting` (a `get`; not a `warm`).
    _waiting: Option<GaugeGuard<'a>>,
}

impl fmt::Debug for SlotWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotWait").finish_non_exhaustive()
    }
}

impl<F: Front> Shared<F> {
    /// For front ends: a create slot, if fewer than `max_pending_creates` creates are in
    /// flight; hold it while `create` runs (and, in `get`, across the pause after a failure).
    #[inline]
    pub fn try_create_slot(&self) -> Option<CreateSlot<'_, F>> {
        let pending = self.pending.try_enter_below(self.config.max_pending_creates)?;
        Some(CreateSlot { shared: self, pending: Some(pending) })
    }

    /// For front ends: every create slot is taken; a wait for one (or for an object to be
    /// returned), or `None` if one is free by now (try again at once). Listens before it
    /// looks, so a slot freed in between is not missed.
    pub fn wait_for_create_slot(&self) -> Option<SlotWait<'_>> {
        let listener = self.slot_freed.listen();
        if self.pending.get() < self.config.max_pending_creates {
            return None;
        }
        Some(SlotWait { listener, _waiting: Some(self.waiting()) })
    }

    /// For `warm`: a wait for the fills of others in flight to end (woken when their create
    /// slots are given back). Made under the fill lock, before the fills it waits for can end.
    pub(crate) fn wait_for_fills(&self) -> SlotWait<'_> {
        SlotWait { listener: self.slot_freed.listen(), _waiting: None }
    }

    /// Creates in flight now (a `Relaxed` read, for counts).
    pub fn pending_creates(&self) -> usize {
        self.pending.get()
    }

    /// Keeps a failed create's error for a caller that times out without one of its own (a
    /// caller that waited for a create slot while others' creates failed).
    pub(crate) fn keep_error(&self, error: F::Error) {
        if let Ok(mut health) = self.create_health.lock() {
            if health.errors.len() == KEEP_ERRORS {
                health.errors.pop_front();
            }
            health.errors.push_back(error);
        }
    }

    /// The newest kept create error, taken (an error is not `Clone`: each goes to one caller).
    pub(crate) fn take_error(&self) -> Option<F::Error> {
        self.create_health.lock().ok()?.errors.pop_back()
    }

    /// A create succeeded: the kept errors are stale (a later timeout is not for them).
    pub(crate) fn create_succeeded(&self) {
        if let Ok(mut health) = self.create_health.lock() {
            health.errors.clear();
        }
        self.breaker_succeeded();
    }
}

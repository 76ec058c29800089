//! Giving slots back: returns, hand-offs to waiters, freed places, draining a closed pool.
//!
//! See `pool.rs` for the protocol these paths implement and the memory-ordering argument.

use event_listener::IntoNotification;

use crate::pool::{Core, CLOSED, PERMIT, STARVING_ONE};
use crate::slot::SlotMeta;
use crate::sync::{seqcst_fence_for_loom, Ordering};

/// Tag of a notification that hands the woken waiter an entry of the hand-off queue.
pub(crate) const HANDED: bool = true;
/// Tag of a notification that only says "look again" (the idle queue or a free place).
pub(crate) const HINT: bool = false;

impl<T, E> Core<T, E> {
    /// Returns an occupied slot owned by the caller: to a waiter, to the idle queue, or out of
    /// the pool (closed, or over `max_size` after a shrink).
    #[inline]
    pub(crate) fn release_slot(&self, index: u32) {
        // ORDERING: `Relaxed` pre-checks only choose the slow path; the slow path re-reads
        // with `SeqCst`. A shrink seen late retires one return later, which `resize` allows.
        if self.state.load(Ordering::Relaxed) != 0
            || self.live.load(Ordering::Relaxed) > self.max_size.load(Ordering::Relaxed)
        {
            return self.release_slot_slow(index);
        }
        self.push_idle(index);
    }

    /// Pushes an owned, occupied slot to the idle queue and wakes a waiter if there is one.
    #[inline]
    fn push_idle(&self, index: u32) {
        if let Err(index) = self.idle.push(index) {
            // Unreachable: the idle queue has room for every slot twice over. Never lose the
            // object's place if it happens anyway.
            self.retire_slot(index);
            debug_assert!(false, "idle queue full");
            return;
        }
        seqcst_fence_for_loom();
        // ORDERING: `SeqCst` loads after the push's `SeqCst` CAS on the queue's tail: the
        // returner's half of the Dekker pairs with waiters and with `close` (see `pool.rs`).
        if self.waiters.load(Ordering::SeqCst) != 0 || self.state.load(Ordering::SeqCst) != 0 {
            self.after_push_slow();
        }
    }

    #[cold]
    fn release_slot_slow(&self, index: u32) {
        // ORDERING: `SeqCst`, to take part in the total order with `close` and waiters.
        let state = self.state.load(Ordering::SeqCst);
        if state & CLOSED != 0 || self.over_max() {
            // Closed, or shrinking and this object is one too many. Two returners may both see
            // the excess and both retire; that frees one place more than needed, never too few.
            return self.retire_slot(index);
        }
        if state >= STARVING_ONE && self.waiters.load(Ordering::SeqCst) != 0 {
            return self.hand_off(index);
        }
        self.push_idle(index);
    }

    /// Whether more objects exist than `max_size` allows (after a shrink).
    fn over_max(&self) -> bool {
        // ORDERING: `SeqCst`, ordered with `resize`'s swap and the `live` RMWs.
        self.live.load(Ordering::SeqCst) > self.max_size.load(Ordering::SeqCst)
    }

    /// After a push to the idle queue found waiters or a non-zero state.
    #[cold]
    fn after_push_slow(&self) {
        let state = self.state.load(Ordering::SeqCst);
        if state & CLOSED != 0 {
            self.drain();
        } else if state >= STARVING_ONE {
            // Someone starves: an idle object goes to the oldest starving waiter directly.
            if let Some(index) = self.idle.pop() {
                self.hand_off(index);
            }
        } else {
            self.notify_hint();
        }
    }

    /// Wakes one more waiter (one not already woken) to look again.
    pub(crate) fn notify_hint(&self) {
        if self.event.notify(1.additional().tag(HINT)) == 0 {
            self.priority.notify(1.additional().tag(HINT));
        }
    }

    /// Reserves `entry` (a slot index or `PERMIT`) for a woken waiter: the oldest starving
    /// waiter if there is one, else the oldest waiter.
    #[cold]
    pub(crate) fn hand_off(&self, entry: u32) {
        if let Err(entry) = self.handoff.push(entry) {
            // Unreachable: entries are objects or permits, fewer than `capacity`.
            self.undo_hand_off(entry);
            debug_assert!(false, "hand-off queue full");
            return;
        }
        let woken = match self.priority.notify(1.additional().tag(HANDED)) {
            0 => self.event.notify(1.additional().tag(HANDED)),
            n => n,
        };
        if woken == 0 {
            // Every waiter is already woken (or gone): nobody new to give it to. Take one
            // entry back (any: they are interchangeable, one per outstanding `HANDED`
            // notification) and return it the ordinary way; woken waiters look in the idle
            // queue too.
            if let Some(entry) = self.handoff.pop() {
                self.undo_hand_off(entry);
            }
        }
        seqcst_fence_for_loom();
        // ORDERING: `SeqCst` after the push's `SeqCst` CAS pairs with `close`, as for idle.
        if self.state.load(Ordering::SeqCst) & CLOSED != 0 {
            self.drain();
        }
    }

    /// Returns a hand-off entry through the non-hand-off path: the idle queue and a plain
    /// wakeup. Never hands off again, so a hand-off that finds every waiter already woken
    /// cannot loop.
    fn undo_hand_off(&self, entry: u32) {
        if entry == PERMIT {
            return self.release_live();
        }
        if let Err(index) = self.idle.push(entry) {
            self.retire_slot(index);
            debug_assert!(false, "idle queue full");
            return;
        }
        seqcst_fence_for_loom();
        // ORDERING: as in `push_idle`.
        if self.state.load(Ordering::SeqCst) & CLOSED != 0 {
            self.drain();
        } else if self.waiters.load(Ordering::SeqCst) != 0 {
            self.notify_hint();
        }
    }

    /// Passes on a notification that a cancelled waiter received but will not act on. Its
    /// tag is unknown (event-listener's `discard` does not return it), so take a hand-off
    /// entry if there is one, else pass a hint on. Taking an entry meant for another woken
    /// waiter only makes that waiter look again; nothing is lost.
    #[cold]
    pub(crate) fn pass_on(&self) {
        match self.handoff.pop() {
            Some(PERMIT) => self.release_place(),
            Some(index) => self.release_slot(index),
            None => self.notify_hint(),
        }
    }

    /// Drops the object in an owned slot and frees its place.
    pub(crate) fn retire_slot(&self, index: u32) {
        let value = self.vacate(index);
        self.release_place();
        // User code last: if the object's `drop` panics, the pool is already consistent.
        drop(value);
    }

    /// Takes the object out of an owned slot and pushes the slot to the vacant queue. The
    /// caller then calls `release_place` and only after that drops the object (user code,
    /// which may panic, runs last).
    pub(crate) fn vacate(&self, index: u32) -> Option<T> {
        let slot = self.slot(index);
        // SAFETY: the caller owns `index`; no one else touches the slot until it is pushed.
        let value = slot.value.with_mut(|value| unsafe { (*value).take() });
        // SAFETY: as above.
        slot.meta.with_mut(|meta| unsafe { *meta = SlotMeta::default() });
        // Cannot fail: at most `capacity` indices exist. Pushed before `live` drops (invariant
        // of `vacant`).
        let _ = self.vacant.push(index);
        value
    }

    /// Frees one place: hands it as a permit to a starving waiter, or decrements `live`.
    /// A place that is one too many after a shrink is never handed on.
    pub(crate) fn release_place(&self) {
        // ORDERING: `SeqCst` reads, to see a starving waiter registered before them.
        let state = self.state.load(Ordering::SeqCst);
        if state >= STARVING_ONE
            && state & CLOSED == 0
            && !self.over_max()
            && self.waiters.load(Ordering::SeqCst) != 0
        {
            return self.hand_off(PERMIT);
        }
        self.release_live();
    }

    /// `live - 1`, then wake a waiter to use the freed place.
    pub(crate) fn release_live(&self) {
        // ORDERING: `SeqCst` RMW then `SeqCst` load of `waiters`: the freer's half of the
        // "freed place ↔ waiter" Dekker pair (the waiter increments `waiters`, then reads
        // `live` with `SeqCst` in `try_reserve`). Its release half publishes the vacant push.
        self.live.fetch_sub(1, Ordering::SeqCst);
        seqcst_fence_for_loom();
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.notify_hint();
        }
    }

    /// Drops every idle and handed-off object (closed pool).
    pub(crate) fn drain(&self) {
        while let Some(index) = self.idle.pop() {
            self.retire_slot(index);
        }
        while let Some(entry) = self.handoff.pop() {
            if entry == PERMIT {
                self.release_live();
            } else {
                self.retire_slot(entry);
            }
        }
    }
}

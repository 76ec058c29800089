//! Giving slots back: returns, hand-offs to waiters, freed places, draining a closed pool.
//!
//! See `pool.rs` for the protocol these paths implement and the memory-ordering argument.

use event_listener::{Event, IntoNotification};

use core::ptr::NonNull;

use crate::pool::{Inner, CLOSED, ORPHAN, PERMIT, STARVING_ONE};
use crate::slot::SlotMeta;
use crate::sync::{seqcst_fence_for_loom, Ordering};

/// What a notification says. event-listener supports tags only with `std`; without it every
/// notification may carry a hand-off, and any woken waiter may take one (fairness then
/// depends on who looks first, not on who was woken for it).
#[cfg(feature = "std")]
pub(crate) type Tag = bool;
/// What a notification says (see the `std` version).
#[cfg(not(feature = "std"))]
pub(crate) type Tag = ();

/// Tag of a notification that hands the woken waiter an entry of the hand-off queue.
#[cfg(feature = "std")]
pub(crate) const HANDED: Tag = true;
/// Tag of a notification that only says "look again" (the idle queue or a free place).
#[cfg(feature = "std")]
pub(crate) const HINT: Tag = false;
/// Without `std` there are no tags.
#[cfg(not(feature = "std"))]
pub(crate) const HANDED: Tag = ();
/// Without `std` there are no tags.
#[cfg(not(feature = "std"))]
pub(crate) const HINT: Tag = ();

/// An event whose notifications carry a `Tag`.
pub(crate) fn tagged_event() -> Event<Tag> {
    #[cfg(feature = "std")]
    return Event::with_tag();
    #[cfg(not(feature = "std"))]
    return Event::new();
}

/// Wakes `count` more listeners of `event` (ones not already woken) with `tag`; returns how
/// many were woken.
#[inline]
pub(crate) fn notify(event: &Event<Tag>, count: usize, tag: Tag) -> usize {
    #[cfg(feature = "std")]
    return event.notify(count.additional().tag(tag));
    #[cfg(not(feature = "std"))]
    {
        let () = tag;
        event.notify(count.additional())
    }
}

/// Whether a waiter woken with `tag` may take from the hand-off queue.
#[inline]
pub(crate) fn may_take_hand_off(tag: Tag) -> bool {
    #[cfg(feature = "std")]
    return tag == HANDED;
    #[cfg(not(feature = "std"))]
    {
        let () = tag;
        true
    }
}

impl<T, E> Inner<T, E> {
    /// Returns an occupied slot owned by the caller (a lease): to the idle queue, to a
    /// waiter, or out of the pool (closed, or over `max_size` after a shrink).
    ///
    /// The fast path is one gated push (see `queue.rs`): it succeeds only while nobody waits
    /// and the pool is open, and touches nothing after it. The caller's lease may be the last
    /// thing keeping the pool alive, so after a successful push the pool may already be gone.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this` of a live pool, and the caller owns `index`, an occupied slot,
    /// with its count of `live`, which it gives up here.
    #[inline]
    pub(crate) unsafe fn release_slot(this: NonNull<Self>, index: u32) {
        // SAFETY: alive while we hold the slot's count (caller's contract); the reference is
        // not used after the push gives that count away.
        let inner = unsafe { this.as_ref() };
        // ORDERING: `Relaxed` loads only choose the path: a shrink seen late retires one
        // return later, which `resize` allows. After the last handle, `live` has `ORPHAN` set
        // and this is always true, so orphaned returns take the slow path.
        let shrinking =
            inner.counts.live.load(Ordering::Relaxed) > inner.counts.max_size.load(Ordering::Relaxed);
        if !shrinking && inner.idle.push_open(index).is_ok() {
            return;
        }
        // SAFETY: as for this function.
        unsafe { Self::release_slot_slow(this, index) };
    }

    /// # Safety
    ///
    /// As for `release_slot`.
    #[cold]
    unsafe fn release_slot_slow(this: NonNull<Self>, index: u32) {
        // SAFETY: as for `release_slot`.
        if !unsafe { Self::with_handle(this, |inner| inner.release_slot_held(index)) } {
            // SAFETY: as for `release_slot`; no handle is left.
            unsafe { Self::retire_orphaned(this, index) };
        }
    }

    /// `release_slot` for a caller that holds a handle: everything after the push is safe.
    pub(crate) fn release_slot_held(&self, index: u32) {
        // ORDERING: `SeqCst`, to take part in the total order with `close` and waiters.
        let state = self.counts.state.load(Ordering::SeqCst);
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

    /// Drops the object of a lease whose pool has no handle left (closed and drained), then
    /// gives up the lease's count of `live` as the very last access.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this`; the caller owns `index` with its count of `live`, and does not
    /// touch the pool afterwards.
    pub(crate) unsafe fn retire_orphaned(this: NonNull<Self>, index: u32) {
        /// Gives up the count even if the object's `drop` panics.
        struct Release<T, E>(NonNull<Inner<T, E>>);
        impl<T, E> Drop for Release<T, E> {
            fn drop(&mut self) {
                // SAFETY: the caller's count of `live`, given up once, as the last access.
                unsafe { Inner::release_orphaned(self.0) };
            }
        }
        // SAFETY: alive while we hold the count; the reference ends with this statement.
        let value = unsafe { this.as_ref() }.vacate(index);
        let release = Release(this);
        // The object goes first (see `retire_slot`); the pool's memory is alive meanwhile.
        drop(value);
        drop(release);
    }

    /// Pushes an owned, occupied slot to the idle queue ignoring the gate, then wakes a waiter
    /// or drains, as the state requires. The caller holds a handle.
    fn push_idle(&self, index: u32) {
        if let Err(index) = self.idle.push(index) {
            // Unreachable: the idle queue has room for every slot twice over. Never lose the
            // object's place if it happens anyway.
            self.retire_slot(index);
            debug_assert!(false, "idle queue full");
            return;
        }
        seqcst_fence_for_loom();
        // ORDERING: `SeqCst` loads after the push's `SeqCst` CAS: the returner's half of the
        // Dekker pairs with waiters and with `close` (see `pool.rs`).
        if self.waiters.load(Ordering::SeqCst) != 0 || self.counts.state.load(Ordering::SeqCst) != 0 {
            self.after_push_slow();
        }
    }

    /// After a push to the idle queue found waiters or a non-zero state.
    #[cold]
    fn after_push_slow(&self) {
        let state = self.counts.state.load(Ordering::SeqCst);
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
        if notify(&self.event, 1, HINT) == 0 {
            notify(&self.priority, 1, HINT);
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
        let woken = match notify(&self.priority, 1, HANDED) {
            0 => notify(&self.event, 1, HANDED),
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
        if self.counts.state.load(Ordering::SeqCst) & CLOSED != 0 {
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
        if self.counts.state.load(Ordering::SeqCst) & CLOSED != 0 {
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
            Some(index) => self.release_slot_held(index),
            None => self.notify_hint(),
        }
    }

    /// Drops the object in an owned slot and frees its place. The caller holds a handle.
    ///
    /// The object is dropped first, so that `max_size` bounds the objects in existence even
    /// while a slow `drop` (closing a connection) runs; a guard frees the place even if that
    /// `drop` panics.
    pub(crate) fn retire_slot(&self, index: u32) {
        struct FreePlace<'a, T, E>(&'a Inner<T, E>);
        impl<T, E> Drop for FreePlace<'_, T, E> {
            fn drop(&mut self) {
                self.0.release_place();
            }
        }
        let value = self.vacate(index);
        let place = FreePlace(self);
        drop(value);
        drop(place);
    }

    /// Takes the object out of an owned slot and pushes the slot to the vacant queue; the
    /// caller then frees the place (`release_place`, or `release_orphaned`).
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
    /// A place that is one too many after a shrink is never handed on. The caller holds a
    /// handle.
    pub(crate) fn release_place(&self) {
        // ORDERING: `SeqCst` reads, to see a starving waiter registered before them.
        let state = self.counts.state.load(Ordering::SeqCst);
        if state >= STARVING_ONE
            && state & CLOSED == 0
            && !self.over_max()
            && self.waiters.load(Ordering::SeqCst) != 0
        {
            return self.hand_off(PERMIT);
        }
        self.release_live();
    }

    /// `live - 1`, then wake a waiter to use the freed place. The caller holds a handle (or
    /// is the last handle's teardown, before `ORPHAN` is set), so the pool stays alive.
    pub(crate) fn release_live(&self) {
        // ORDERING: `SeqCst` RMW then `SeqCst` load of `waiters`: the freer's half of the
        // "freed place ↔ waiter" Dekker pair (the waiter increments `waiters`, then reads
        // `live` with `SeqCst` in `try_reserve`). Its release half publishes the vacant push.
        let previous = self.counts.live.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(previous & ORPHAN == 0 && previous > 0);
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

//! Giving slots back: returns, serving waiters, freed places, draining a closed pool.
//!
//! See `pool.rs` for the protocol these paths implement and the memory-ordering argument.

use core::ptr::NonNull;

use crate::pool::{Inner, Vacated, CLOSED, ORPHAN};
use crate::queue::{IdleQueue, GATE_SHRINK};
use crate::slot::SlotMeta;
use crate::sync::{seqcst_fence_for_loom, Ordering};
use crate::waitlist::{Wake, CLOSED_NODE, GIVEN_PERMIT, GIVEN_SLOT, WOKEN};

/// Wakes the waiter a server picked, if any, after the lock is released.
#[inline]
fn wake(wake: Option<Wake>) {
    if let Some(wake) = wake {
        wake.wake();
    }
}

impl<T, E> Inner<T, E> {
    /// Returns an occupied slot owned by the caller (a lease): to the idle queue, to a
    /// waiter, or out of the pool (closed, or over `max_size` after a shrink).
    ///
    /// The fast path is one gated push (see `queue.rs`): it succeeds only while nobody waits,
    /// no shrink is pending and the pool is open, and touches nothing after it. The caller's
    /// lease may be the last thing keeping the pool alive, so after a successful push the pool
    /// may already be gone: the push gets a raw pointer to the queue, and no reference into the
    /// pool is live across it.
    ///
    /// Orphaned returns (no handle left) always take the slow path: the last handle's
    /// teardown sets `GATE_CLOSED`, which is never cleared, before it adds `ORPHAN` to `live`.
    /// So do returns while a shrink is pending (`GATE_SHRINK`, see `settle_shrink`): whether
    /// an object is one too many is decided past the gate, never from loads made before it.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this` of a live pool, and the caller owns `index`, an occupied slot,
    /// with its count of `live`, which it gives up here.
    #[inline]
    pub(crate) unsafe fn release_slot(this: NonNull<Self>, index: u32) {
        // SAFETY: alive while we hold the slot's count (caller's contract). A place projection
        // through the raw pointer: no reference to the pool is made.
        let idle = unsafe { &raw const (*this.as_ptr()).idle };
        // SAFETY: alive until the push succeeds (it gives our count away); we return at once.
        if unsafe { IdleQueue::push_open(idle, index) }.is_ok() {
            return;
        }
        // SAFETY: as for this function: the push failed, we still hold the count.
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
            unsafe { Self::retire_orphaned(this, index, Vacated::Closed) };
        }
    }

    /// `release_slot` for a caller that holds a handle: everything after the push is safe.
    pub(crate) fn release_slot_held(&self, index: u32) {
        // ORDERING: `SeqCst`, to take part in the total order with `close` and waiters.
        let state = self.counts.state.load(Ordering::SeqCst);
        if state & CLOSED != 0 {
            return self.retire_slot(index, Vacated::Closed);
        }
        if self.over_max() {
            // Shrinking and this object is one too many. Two returners may both see the excess
            // and both retire; that frees one place more than needed, never too few.
            self.retire_slot(index, Vacated::Shrunk);
        } else {
            self.serve_or_idle(index);
        }
        self.settle_shrink();
    }

    /// While a shrink is pending (`GATE_SHRINK`): retires idle extras, and opens the gate
    /// again once the pool is within `max_size`. Called after every slow-path return and by
    /// `resize`. The caller holds a handle.
    ///
    /// # Who shuts and who opens the gate
    ///
    /// The invariant: once every operation in flight has finished, `live > max_size` implies
    /// `GATE_SHRINK` is set, so no return can leave an extra object idle. `live` can only go
    /// over `max_size` by `resize` lowering it (`try_reserve` gives back a place it won
    /// against a maximum that was lowered meanwhile), and `resize` shuts the gate after its
    /// swap whenever it then sees `live` over the limit, then retires idle extras: a return
    /// whose gated CAS came before the gate is in the queue by then. Shutting it when not
    /// needed only sends returns the slow way, which opens it again here.
    ///
    /// Opening races a new shrink: we may have seen the pool within its limit just before a
    /// `resize` swapped in a lower maximum and shut the gate, and our clear would then open it
    /// behind that `resize`. So the opener re-checks *after* its clear: if the shrink's
    /// `GATE_SHRINK` RMW came before our clear in the tail word's order, our clear (an RMW)
    /// synchronises with it and our re-read sees the new maximum; we shut the gate again and
    /// retire what a fast return pushed while it was briefly open (that push's CAS precedes
    /// our second RMW on the word, so our pops see it). If it came after, the gate is shut.
    /// (The waiters' gate is cleared under the wait list's lock for the same reason; here the
    /// re-check does it without a lock, since a spurious shut gate is harmless.)
    pub(crate) fn settle_shrink(&self) {
        if self.idle.gate() & GATE_SHRINK == 0 {
            return;
        }
        self.retire_idle_extras();
        if self.over_max() {
            // Extras are still lent out: their returns find the gate shut and retire them.
            return;
        }
        self.idle.clear_gate(GATE_SHRINK);
        seqcst_fence_for_loom();
        if self.over_max() {
            self.idle.set_gate(GATE_SHRINK);
            self.retire_idle_extras();
        }
    }

    /// Retires idle objects while more exist than `max_size` allows. The caller holds a
    /// handle.
    pub(crate) fn retire_idle_extras(&self) {
        while self.over_max() {
            match self.idle.pop() {
                Some(index) => self.retire_slot(index, Vacated::Shrunk),
                None => break,
            }
        }
    }

    /// Drops the object of a lease whose pool has no handle left (closed and drained), then
    /// gives up the lease's count of `live` as the very last access.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this`; the caller owns `index` with its count of `live`, and does not
    /// touch the pool afterwards.
    pub(crate) unsafe fn retire_orphaned(this: NonNull<Self>, index: u32, why: Vacated) {
        /// Gives up the count even if the object's `drop` panics.
        struct Release<T, E>(NonNull<Inner<T, E>>);
        impl<T, E> Drop for Release<T, E> {
            fn drop(&mut self) {
                // SAFETY: the caller's count of `live`, given up once, as the last access.
                unsafe { Inner::release_orphaned(self.0) };
            }
        }
        // SAFETY: alive while we hold the count; the reference ends with this statement.
        let (value, meta) = unsafe { this.as_ref() }.vacate(index);
        let release = Release(this);
        // SAFETY: alive until `release` gives up our count (after this).
        unsafe { this.as_ref() }.call_vacated(value.as_ref(), &meta, why);
        // The object goes first (see `retire_slot`); the pool's memory is alive meanwhile.
        drop(value);
        drop(release);
    }

    /// Gives an owned, occupied slot to the oldest waiter if it is served directly, else
    /// pushes it to the idle queue (ignoring the gate) and wakes the oldest waiter, if any, to
    /// look. Both under the wait list's lock, so that a waiter either sees the object in its
    /// look under that lock or is linked and served here. The caller holds a handle.
    ///
    /// "Oldest" is of the class the list picks (see `priority.rs`): with a reserve set, the
    /// object goes to a `Normal` or `Low` waiter only if more than the reserve are available
    /// with it; else it goes to a `High` waiter, or to the idle queue with nobody woken.
    pub(crate) fn serve_or_idle(&self, index: u32) {
        let mut list = self.waitlist.lock();
        // Under the lock, where every `Normal` and `Low` take is decided (`try_take_locked`).
        let open = self.reserve_open(1);
        let woken = if list.front_is_direct(open) == Some(true) {
            list.serve_front(GIVEN_SLOT + index as usize, open)
        } else {
            if let Err(index) = self.idle.push(index) {
                // Unreachable: the idle queue has room for every slot twice over. Never lose
                // the object's place if it happens anyway.
                drop(list);
                self.retire_slot(index, Vacated::Retired);
                debug_assert!(false, "idle queue full");
                return;
            }
            list.serve_front(WOKEN, open)
        };
        drop(list);
        wake(woken.flatten());
        seqcst_fence_for_loom();
        // ORDERING: `SeqCst`, after our lock and push: `close` sets `CLOSED` before it takes
        // the lock to wake everyone and then drains. Either our push came before that lock
        // (and its drain sees it) or our lock came after it (and we see `CLOSED`).
        if self.counts.state.load(Ordering::SeqCst) & CLOSED != 0 {
            self.drain();
        }
    }

    /// Wakes the oldest waiter, if any, to look again; returns whether there was one. (Of the
    /// class the list picks: only `High` if what is available is all in the reserve.)
    pub(crate) fn wake_one(&self) -> bool {
        let mut list = self.waitlist.lock();
        let open = self.reserve_open(0);
        let served = list.serve_front(WOKEN, open);
        drop(list);
        let any = served.is_some();
        wake(served.flatten());
        any
    }

    /// Passes on what a cancelled waiter was given (`state`, not `WAITING`) but will not act
    /// on: an object or a permit goes back through the ordinary paths (to the next waiter, or
    /// to the pool), a wakeup to the next waiter. The caller holds a handle.
    #[cold]
    pub(crate) fn pass_on(&self, state: usize) {
        match state {
            CLOSED_NODE => {}
            WOKEN => {
                // ORDERING: `SeqCst`, as every read of `waiters` (we are still counted).
                if self.waiters.load(Ordering::SeqCst) > 1 {
                    self.wake_one();
                }
            }
            GIVEN_PERMIT => self.release_place(),
            given => self.release_slot_held((given - GIVEN_SLOT) as u32),
        }
    }

    /// Drops the object in an owned slot and frees its place. The caller holds a handle.
    ///
    /// The object is dropped first, so that `max_size` bounds the objects in existence even
    /// while a slow `drop` (closing a connection) runs; a guard frees the place even if that
    /// `drop` panics.
    pub(crate) fn retire_slot(&self, index: u32, why: Vacated) {
        struct FreePlace<'a, T, E>(&'a Inner<T, E>);
        impl<T, E> Drop for FreePlace<'_, T, E> {
            fn drop(&mut self) {
                self.0.release_place();
            }
        }
        let (value, meta) = self.vacate(index);
        // Armed before the hook: a panicking hook (or object drop) still frees the place.
        let place = FreePlace(self);
        self.call_vacated(value.as_ref(), &meta, why);
        drop(value);
        drop(place);
    }

    /// Takes the object and its metadata out of an owned slot and pushes the slot to the
    /// vacant queue; the caller then arms its guard that frees the place (`release_place`, or
    /// `release_orphaned`), calls [`call_vacated`](Self::call_vacated), and drops the object.
    pub(crate) fn vacate(&self, index: u32) -> (Option<T>, SlotMeta) {
        let slot = self.slot(index);
        // SAFETY: the caller owns `index`; no one else touches the slot until it is pushed.
        let value = slot.value.with_mut(|value| unsafe { (*value).take() });
        // SAFETY: as above.
        let meta = slot.meta.with_mut(|meta| unsafe { core::mem::take(&mut *meta) });
        // Cannot fail: at most `capacity` indices exist. Pushed before `live` drops (invariant
        // of `vacant`).
        let _ = self.vacant.push(index);
        (value, meta)
    }

    /// Runs the `vacated` hook on an object just taken out of its slot. The caller has armed
    /// the guard that frees its place, so a panicking hook loses nothing: the unwind drops
    /// the object and frees the place.
    #[inline]
    pub(crate) fn call_vacated(&self, value: Option<&T>, meta: &SlotMeta, why: Vacated) {
        if let (Some(vacated), Some(value)) = (self.hooks.vacated, value) {
            vacated(self.ext(), value, meta, why);
        }
    }

    /// Frees one place: gives it as a permit to the oldest waiter if it is served directly,
    /// else decrements `live` (and wakes a waiter to use the place). A place that is one too
    /// many after a shrink is never handed on. The caller holds a handle.
    pub(crate) fn release_place(&self) {
        // ORDERING: `SeqCst` reads, ordered with waiters' increments and `close`.
        if self.waiters.load(Ordering::SeqCst) != 0
            && self.counts.state.load(Ordering::SeqCst) & CLOSED == 0
            && !self.over_max()
        {
            let mut list = self.waitlist.lock();
            // The place being freed is still counted in `live`: one more is available.
            let open = self.reserve_open(1);
            if list.front_is_direct(open) == Some(true) {
                let woken = list.serve_front(GIVEN_PERMIT, open);
                drop(list);
                return wake(woken.flatten());
            }
        }
        self.release_live();
    }

    /// `live - 1`, then wake a waiter to use the freed place. The caller holds a handle (or
    /// is the last handle's teardown, before `ORPHAN` is set), so the pool stays alive.
    pub(crate) fn release_live(&self) {
        // ORDERING: `SeqCst` RMW then `SeqCst` load of `waiters`: the freer's half of the
        // "freed place ↔ waiter" Dekker pair (the waiter increments `waiters`, then reads
        // `live` with `SeqCst` in `try_reserve`, under the wait list's lock). Its release half
        // publishes the vacant push.
        let previous = self.counts.live.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(previous & ORPHAN == 0 && previous > 0);
        seqcst_fence_for_loom();
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        if let Some(place_freed) = self.hooks.place_freed {
            place_freed(self.ext());
        }
    }

    /// Drops every idle object (closed pool).
    pub(crate) fn drain(&self) {
        while let Some(index) = self.idle.pop() {
            self.retire_slot(index, Vacated::Closed);
        }
    }
}

//! The idle queue: a bounded MPMC FIFO of slot indices whose tail word also carries a *gate*.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue, as in crossbeam's `ArrayQueue`: every cell has a
//! stamp; `head` and `tail` are positions (`lap * one_lap + index`); a pusher claims the
//! tail position with a CAS, writes the value and stores the cell's stamp (`Release`); a
//! popper claims the head position when the stamp says the cell is full, reads the value and
//! stores the next lap's stamp.
//!
//! The difference: the low [`GATE_BITS`] bits of `tail` are a gate. [`IdleQueue::push_open`]
//! only succeeds while the gate is 0: its CAS both publishes the value and checks that nobody
//! waits, no shrink is pending and the pool is not closed, in one atomic step. So an
//! uncontended return is one CAS and one store, and the returner touches nothing after it.
//! That is what lets a lease skip reference counting: after its last store the pool may be
//! freed (see `handle.rs`), and a popper that takes the value synchronises with that store
//! first. `push_open` therefore takes a raw pointer, not `&self`: a reference argument would
//! still be live (and, to the aliasing model, protected) when the pool is freed.
//!
//! When the gate is not 0, the returner takes the slow path: [`IdleQueue::push`] ignores the
//! gate, and the caller then reads the pool's state and wakes waiters, holding a handle.
//!
//! ```text
//! tail:  [ position (usize::BITS - 3 bits) | SHRINK | WAITERS | CLOSED ]
//! head:  [ 0 0 0 | position (usize::BITS - 3 bits)                      ]
//! ```
//!
//! # Positions and the wrap
//!
//! A position has `usize::BITS - GATE_BITS` bits: 61 on 64-bit targets, 29 on 32-bit ones.
//! `head`, `tail` and every stamp use that one modulus: [`IdleQueue::next`] wraps the last
//! lap to position 0, and a cell's next-lap stamp wraps the same way, so `head == tail` means
//! empty and the stamp comparisons hold across the wrap exactly as within a lap. (An earlier
//! version let `head` wrap at `2^usize::BITS` while `tail`'s shift wrapped it at
//! `2^(usize::BITS - 2)`: after one wrap the two never met again and every push spun.)
//!
//! # Why a wrapped position is safe (ABA)
//!
//! Positions repeat once per wrap, so a CAS that compares a stale `tail` (or `head`) could
//! succeed on the same word a wrap later. For that, a pusher would have to stall between its
//! load of `tail` and its CAS while the others move the tail round the whole position range,
//! back to the very same word, gate bits included: `2^61 / one_lap * cap` pushes on 64-bit,
//! `2^29 / one_lap * cap` (at least 2^28, since `cap >= one_lap / 2`) on 32-bit, all while one
//! thread sits between two instructions. The same holds for a stalled popper and `head`. That
//! is the bound crossbeam's `ArrayQueue` relies on at `2^64` (`2^32`); ours is 8 times
//! smaller. Tests (and loom models) seed queues just before the wrap and cross it many times;
//! under `cfg(test)` the range can be made tiny (`IdleQueue::with_positions`).

use alloc::{boxed::Box, collections::TryReserveError, vec::Vec};

use crate::sync::{AtomicUsize, Backoff, CachePadded, Cell, Ordering};

/// Gate bit: the pool is closed. Never cleared.
pub(crate) const GATE_CLOSED: usize = 1;
/// Gate bit: someone may be waiting (see `Inner::waiters` for the exact count).
pub(crate) const GATE_WAITERS: usize = 2;
/// Gate bit: a shrink is pending: more objects may exist than `max_size` allows, so every
/// return must take the slow path, which retires extras (see `Inner::settle_shrink`).
pub(crate) const GATE_SHRINK: usize = 4;
/// Bits of `tail` taken by the gate.
pub(crate) const GATE_BITS: u32 = 3;
const GATE_MASK: usize = (1 << GATE_BITS) - 1;
/// The largest position: positions wrap modulo `POS_MASK + 1`.
const POS_MASK: usize = usize::MAX >> GATE_BITS;

/// One cell of the buffer.
struct Slot {
    /// Position + 1 when full, position (of the next lap) when empty.
    stamp: AtomicUsize,
    value: Cell<u32>,
}

/// A bounded MPMC FIFO of `u32`s with a gate in its tail word.
pub(crate) struct IdleQueue {
    /// Position of the next pop.
    head: CachePadded<AtomicUsize>,
    /// Position of the next push, shifted left by `GATE_BITS`, with the gate in the low bits.
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot]>,
    cap: usize,
    /// A power of two greater than `cap`: `index = position & (one_lap - 1)`.
    one_lap: usize,
    /// Positions wrap modulo `pos_mask + 1`, a multiple of `one_lap` with room for at least
    /// two laps. `POS_MASK`, except in tests that seed a tiny range.
    pos_mask: usize,
    /// Under loom, for models about something else: a mutex-backed stand-in that every
    /// operation defers to (see `StandIn`).
    #[cfg(loom)]
    stand_in: Option<StandIn>,
}

// SAFETY: the cells' values (`u32`, `Copy`) are written only by the pusher that claimed the
// cell's position with its CAS and read only by the popper that claimed it after the stamp
// says full; the stamp's release/acquire orders the two. Everything else is atomics.
unsafe impl Sync for IdleQueue {}
// SAFETY: the queue owns plain `u32`s and atomics.
unsafe impl Send for IdleQueue {}

/// [`IdleQueue::push_open`] did not push: the gate is not 0, or the queue is full.
#[derive(Debug)]
pub(crate) struct NotPushed;

/// What one try of a pop found.
enum PopTry {
    /// Popped this value.
    Popped(u32),
    /// Empty: no push claimed the position.
    Empty,
    /// Try again: from this head (a failed CAS read it), or (`None`) after a pause and a
    /// fresh load.
    Again(Option<usize>),
}

/// What one try of a push found.
enum PushTry {
    /// Pushed: the queue may be freed from now on.
    Pushed,
    /// Not pushed, for good: the gate is shut (`only_open`) or the queue is full.
    Refused,
    /// Try again: from this tail (a failed CAS read it), or (`None`) after a pause and a
    /// fresh load.
    Again(Option<usize>),
}

/// The bytes `IdleQueue::try_new(cap)` allocates.
pub(crate) fn idle_queue_bytes(cap: usize) -> u64 {
    (cap.max(1) as u64).saturating_mul(core::mem::size_of::<Slot>() as u64)
}

impl IdleQueue {
    /// A queue of `cap` cells, or the allocator's refusal.
    pub(crate) fn try_new(cap: usize) -> Result<Self, TryReserveError> {
        Self::build(cap, POS_MASK, 0)
    }

    /// A queue whose positions wrap modulo `2^pos_bits` and that starts, empty, at the first
    /// position of lap `start_lap`: for tests of the wrap.
    #[cfg(test)]
    pub(crate) fn with_positions(cap: usize, pos_bits: u32, start_lap: usize) -> Self {
        assert!(pos_bits <= usize::BITS - GATE_BITS);
        let pos_mask = if pos_bits == usize::BITS - GATE_BITS { POS_MASK } else { (1 << pos_bits) - 1 };
        Self::build(cap, pos_mask, start_lap).expect("a small test queue")
    }

    fn build(cap: usize, pos_mask: usize, start_lap: usize) -> Result<Self, TryReserveError> {
        let cap = cap.max(1);
        let one_lap = (cap + 1).next_power_of_two();
        assert!(pos_mask / one_lap >= 1, "at least two laps of positions");
        let start = start_lap * one_lap;
        assert!(start <= pos_mask - (one_lap - 1), "the start lap is within the range");
        let mut buffer = Vec::new();
        buffer.try_reserve_exact(cap)?;
        buffer.extend((0..cap).map(|i| Slot { stamp: AtomicUsize::new(start + i), value: Cell::new(0) }));
        Ok(Self {
            head: CachePadded::new(AtomicUsize::new(start)),
            tail: CachePadded::new(AtomicUsize::new(start << GATE_BITS)),
            buffer: buffer.into_boxed_slice(),
            cap,
            one_lap,
            pos_mask,
            #[cfg(loom)]
            stand_in: None,
        })
    }

    /// Under loom: a queue whose operations all go to a mutex-backed stand-in.
    #[cfg(loom)]
    pub(crate) fn stand_in(cap: usize) -> Result<Self, TryReserveError> {
        let mut q = Self::build(cap, POS_MASK, 0)?;
        q.stand_in = Some(StandIn::new(cap));
        Ok(q)
    }

    /// The position after `pos`: the next index of the lap, or the next lap's first position,
    /// which after the last lap is 0 (the one modulus of the module docs).
    #[inline]
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.one_lap - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            // No overflow: `lap <= pos_mask + 1 - one_lap`, and `pos_mask < usize::MAX / 2`.
            ((pos & !(self.one_lap - 1)) + self.one_lap) & self.pos_mask
        }
    }

    /// `pos` one lap on (the same cell's position, or stamp, in the next lap).
    #[inline]
    fn lap_after(&self, pos: usize) -> usize {
        // No overflow: `pos <= pos_mask + 1`, and `pos_mask < usize::MAX / 2`.
        (pos + self.one_lap) & self.pos_mask
    }

    /// Pushes `value` if the gate is 0. On success nothing of the queue is touched, and no
    /// reference into it is live, after the cell's `Release` stamp store: the queue may be
    /// freed by another thread from that store on.
    ///
    /// # Safety
    ///
    /// `this` points to a live queue (it may be freed once the push succeeded).
    #[inline]
    pub(crate) unsafe fn push_open(this: *const Self, value: u32) -> Result<(), NotPushed> {
        // SAFETY: live on entry (caller's contract).
        unsafe { Self::push_inner(this, value, true) }
    }

    /// Pushes `value` whatever the gate says, leaving the gate as it is.
    #[inline]
    pub(crate) fn push(&self, value: u32) -> Result<(), u32> {
        // SAFETY: `self` is live for the whole call.
        unsafe { Self::push_inner(self, value, false) }.map_err(|_| value)
    }

    /// # Safety
    ///
    /// As for `push_open`.
    ///
    /// One try inline (what a get + drop with nobody else on the queue takes), the retries
    /// out of line: the loop's backoff state and calls would otherwise make every push save
    /// and restore a handful of registers.
    #[inline]
    unsafe fn push_inner(this: *const Self, value: u32, only_open: bool) -> Result<(), NotPushed> {
        // SAFETY: live on entry (caller's contract). A local, not an argument: an argument's
        // reference would stay protected until we return, past the store that may let the
        // queue be freed. `q` is not used after `push_once` succeeds.
        let q = unsafe { &*this };
        #[cfg(loom)]
        if let Some(stand_in) = &q.stand_in {
            return stand_in.push(value, only_open);
        }
        // ORDERING: `Acquire` loads of `tail` (here and on retries): a pusher that finds a gate
        // bit set synchronises with the `SeqCst` RMW that set it, so it then sees what the
        // setter did before (a waiter's `waiters` increment, `close`'s `CLOSED` state, a
        // shrink's new `max_size`).
        let tail = q.tail.load(Ordering::Acquire);
        // SAFETY: live until the push succeeds (caller's contract).
        match unsafe { Self::push_once(this, value, only_open, tail) } {
            PushTry::Pushed => Ok(()),
            PushTry::Refused => Err(NotPushed),
            // SAFETY: as above: not pushed yet, so still live.
            PushTry::Again(seen) => unsafe { Self::push_contended(this, value, only_open, seen) },
        }
    }

    /// The retries of [`push_inner`](Self::push_inner), after its first try found the cell
    /// or the tail moved on (`seen`: the tail a failed CAS read, `None`: wait, then reload).
    ///
    /// # Safety
    ///
    /// As for `push_open`.
    #[cold]
    #[inline(never)]
    unsafe fn push_contended(
        this: *const Self,
        value: u32,
        only_open: bool,
        mut seen: Option<usize>,
    ) -> Result<(), NotPushed> {
        let mut backoff = Backoff::new();
        #[cfg(test)]
        let mut rounds = 0;
        loop {
            #[cfg(test)]
            bound_spin(&mut rounds, "push");
            let tail = match seen {
                Some(tail) => {
                    backoff.spin();
                    tail
                }
                None => {
                    // The cell is busy (a popper mid-pop, or our tail was stale): spin, then
                    // yield to the thread we wait for (spinning alone would keep the CPU from
                    // it).
                    backoff.snooze();
                    // SAFETY: not pushed yet, so the queue is live (caller's contract).
                    // ORDERING: `Acquire`, as the first load (see `push_inner`).
                    unsafe { &*this }.tail.load(Ordering::Acquire)
                }
            };
            // SAFETY: as above.
            match unsafe { Self::push_once(this, value, only_open, tail) } {
                PushTry::Pushed => return Ok(()),
                PushTry::Refused => return Err(NotPushed),
                PushTry::Again(again) => seen = again,
            }
        }
    }

    /// One try to push `value` at the position `tail` names.
    ///
    /// # Safety
    ///
    /// As for `push_open`; on [`PushTry::Pushed`] the queue may already be freed.
    #[inline(always)]
    unsafe fn push_once(this: *const Self, value: u32, only_open: bool, tail: usize) -> PushTry {
        // SAFETY: live on entry (caller's contract); `q` and `slot` are not used after the
        // store that may let the queue be freed.
        let q = unsafe { &*this };
        let gate = tail & GATE_MASK;
        if only_open && gate != 0 {
            return PushTry::Refused;
        }
        let pos = tail >> GATE_BITS;
        let index = pos & (q.one_lap - 1);
        debug_assert!(index < q.cap);
        // (Bounds-checked: `index < cap == buffer.len()` by construction of positions.)
        let slot = &q.buffer[index];
        // ORDERING: `Acquire` pairs with the popper's `Release` stamp store, so the
        // popper's read of the old value happens-before our write of the new one.
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp == pos {
            let new_tail = (q.next(pos) << GATE_BITS) | gate;
            // ORDERING: `SeqCst`: the CAS is the returner's half of the Dekker pairs with
            // waiters (who set `GATE_WAITERS` with a `SeqCst` RMW on this word before
            // looking), with `resize` (`GATE_SHRINK`) and with `close`; on the same word,
            // RMWs are totally ordered, so either our CAS sees their bit and fails, or
            // their later pop sees our push. `Acquire` on failure, as the loads above.
            match q.tail.compare_exchange_weak(tail, new_tail, Ordering::SeqCst, Ordering::Acquire) {
                Ok(_) => {
                    // SAFETY: the CAS gave us exclusive use of this cell until its stamp
                    // says full; no popper reads it before the `Release` store below.
                    slot.value.with_mut(|v| unsafe { *v = value });
                    let stamp: *const AtomicUsize = &slot.stamp;
                    // ORDERING: `Release` publishes the value to the popper that
                    // `Acquire`-loads this stamp. From here on the queue may be freed:
                    // the store goes through a raw pointer, and nothing is read after it.
                    // SAFETY: the cell is alive until this store lets a popper take the
                    // value (only then can the pool be drained and freed).
                    unsafe { (*stamp).store(pos + 1, Ordering::Release) };
                    #[cfg(all(any(test, cenote_hooks), feature = "std", not(loom)))]
                    hook::after_push();
                    PushTry::Pushed
                }
                Err(actual) => PushTry::Again(Some(actual)),
            }
        } else if q.lap_after(stamp) == pos + 1 {
            // The cell still holds last lap's value: full, or a popper is mid-pop.
            // ORDERING: as crossbeam: a `SeqCst` fence before reading `head`, so that a
            // pop that completed before our stamp load is seen.
            crate::sync::fence(Ordering::SeqCst);
            // ORDERING: `Relaxed` after the fence, as crossbeam.
            let head = q.head.load(Ordering::Relaxed);
            if q.lap_after(head) == pos {
                return PushTry::Refused;
            }
            // A popper claimed this cell a lap ago and has not released it: it may have
            // been preempted: wait for it.
            PushTry::Again(None)
        } else {
            // Our `tail` is stale (another pusher moved on) or a popper of last lap has
            // not finished with this cell; wait for it.
            PushTry::Again(None)
        }
    }

    /// Pops the oldest value, if any.
    ///
    /// One try inline (what a get with nobody else on the queue takes), the retries out of
    /// line, as for `push_inner`.
    #[inline]
    pub(crate) fn pop(&self) -> Option<u32> {
        #[cfg(loom)]
        if let Some(stand_in) = &self.stand_in {
            return stand_in.pop();
        }
        // ORDERING: `Relaxed` loads of `head` (here and on retries): a position to try; the
        // cell's stamp (`Acquire`) and the CAS decide.
        let head = self.head.load(Ordering::Relaxed);
        match self.pop_once(head) {
            PopTry::Popped(value) => Some(value),
            PopTry::Empty => None,
            PopTry::Again(seen) => self.pop_contended(seen),
        }
    }

    /// The retries of [`pop`](Self::pop) (`seen`: the head a failed CAS read, `None`: wait,
    /// then reload).
    #[cold]
    #[inline(never)]
    fn pop_contended(&self, mut seen: Option<usize>) -> Option<u32> {
        let mut backoff = Backoff::new();
        #[cfg(test)]
        let mut rounds = 0;
        loop {
            #[cfg(test)]
            bound_spin(&mut rounds, "pop");
            let head = match seen {
                Some(head) => {
                    backoff.spin();
                    head
                }
                None => {
                    // A push claimed the cell and has not stored its stamp yet, our head is
                    // stale, or a popper of last lap has not finished with the cell: it may
                    // have been preempted, so spin, then yield to it.
                    backoff.snooze();
                    // ORDERING: `Relaxed`, as the first load (see `pop`).
                    self.head.load(Ordering::Relaxed)
                }
            };
            match self.pop_once(head) {
                PopTry::Popped(value) => return Some(value),
                PopTry::Empty => return None,
                PopTry::Again(again) => seen = again,
            }
        }
    }

    /// One try to pop at the position `head` names.
    #[inline(always)]
    fn pop_once(&self, head: usize) -> PopTry {
        let index = head & (self.one_lap - 1);
        debug_assert!(index < self.cap);
        let slot = &self.buffer[index];
        // ORDERING: `Acquire` pairs with the pusher's `Release` stamp store: the value
        // (and, through the slot index, the slot's contents) is visible to us.
        let stamp = slot.stamp.load(Ordering::Acquire);
        if head + 1 == stamp {
            let new_head = self.next(head);
            // ORDERING: `SeqCst`, as crossbeam; the claim itself needs only `Relaxed`
            // (the stamp carries the data), `SeqCst` keeps the pops in the same total
            // order as the pushes' CAS for the Dekker arguments. `Relaxed` on failure: we
            // only retry.
            match self.head.compare_exchange_weak(head, new_head, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    // SAFETY: the CAS gave us this full cell; the pusher's `Release`
                    // stamp store happens-before our `Acquire` load above.
                    let value = slot.value.with_mut(|v| unsafe { *v });
                    // ORDERING: `Release` hands the cell back to the next lap's pusher.
                    slot.stamp.store(self.lap_after(head), Ordering::Release);
                    PopTry::Popped(value)
                }
                Err(actual) => PopTry::Again(Some(actual)),
            }
        } else if stamp == head {
            // The cell is empty. It is truly empty only if no push claimed this position.
            // ORDERING: `SeqCst` fence, then the tail: a push whose `SeqCst` CAS precedes
            // this fence in the total order is seen here (C++20 [atomics.fences]), so
            // "empty" is never reported past a completed or in-flight push.
            crate::sync::fence(Ordering::SeqCst);
            // ORDERING: `Relaxed` after the fence (above).
            let tail = self.tail.load(Ordering::Relaxed) >> GATE_BITS;
            if tail == head {
                PopTry::Empty
            } else {
                // A push claimed this cell and has not stored its stamp yet.
                PopTry::Again(None)
            }
        } else {
            // Our `head` is stale, or a popper of last lap has not finished with this cell.
            PopTry::Again(None)
        }
    }

    /// The number of values in the queue (not a snapshot).
    pub(crate) fn len(&self) -> usize {
        #[cfg(loom)]
        if let Some(stand_in) = &self.stand_in {
            return stand_in.inner.lock().unwrap().0.len();
        }
        loop {
            // ORDERING: `SeqCst` loads and a re-check of `tail`, as crossbeam's `len`.
            let tail = self.tail.load(Ordering::SeqCst) >> GATE_BITS;
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) >> GATE_BITS == tail {
                let hix = head & (self.one_lap - 1);
                let tix = tail & (self.one_lap - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if tail == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    /// The gate bits now (not a snapshot).
    #[inline]
    pub(crate) fn gate(&self) -> usize {
        #[cfg(loom)]
        if let Some(stand_in) = &self.stand_in {
            return stand_in.inner.lock().unwrap().1;
        }
        // ORDERING: `Acquire`, as the pushes' loads: a reader that sees a bit sees what its
        // setter did before setting it.
        self.tail.load(Ordering::Acquire) & GATE_MASK
    }

    /// Sets `bits` in the gate; returns the gate before.
    pub(crate) fn set_gate(&self, bits: usize) -> usize {
        debug_assert!(bits & !GATE_MASK == 0);
        #[cfg(loom)]
        if let Some(stand_in) = &self.stand_in {
            return stand_in.update_gate(|gate| gate | bits);
        }
        // ORDERING: `SeqCst` RMW on the tail word: ordered with every push's CAS (see
        // `push_inner`) and in the total order with the setter's later loads.
        self.tail.fetch_or(bits, Ordering::SeqCst) & GATE_MASK
    }

    /// Clears `bits` in the gate; returns the gate before.
    pub(crate) fn clear_gate(&self, bits: usize) -> usize {
        debug_assert!(bits & !GATE_MASK == 0);
        #[cfg(loom)]
        if let Some(stand_in) = &self.stand_in {
            return stand_in.update_gate(|gate| gate & !bits);
        }
        // ORDERING: as `set_gate`.
        self.tail.fetch_and(!bits, Ordering::SeqCst) & GATE_MASK
    }
}

impl core::fmt::Debug for IdleQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdleQueue").field("len", &self.len()).field("cap", &self.cap).finish_non_exhaustive()
    }
}

/// Test builds bound every spin loop of the queue, so that a livelock fails the test (with a
/// panic naming the loop) instead of hanging it. No real wait comes near the bound: every
/// spin waits for another thread's next step, and backoff yields to it.
#[cfg(test)]
#[inline]
fn bound_spin(rounds: &mut u32, what: &str) {
    const BOUND: u32 = if cfg!(miri) { 1 << 12 } else { 1 << 20 };
    *rounds += 1;
    assert!(*rounds < BOUND, "the queue's {what} spun {BOUND} times: livelock");
}

/// The vacant queue needs no gate: crossbeam's `ArrayQueue`.
#[cfg(not(loom))]
pub(crate) type PlainQueue = crossbeam_queue::ArrayQueue<u32>;

/// The bytes `try_plain_queue(cap)` allocates: `ArrayQueue<u32>`'s cells are a stamp (a 64-bit
/// atomic where the target has one, else `usize`) and the value, 16 bytes at most.
pub(crate) fn plain_queue_bytes(cap: usize) -> u64 {
    (cap.max(1) as u64).saturating_mul(16)
}

/// A vacant queue of `cap` cells, or the allocator's refusal.
///
/// `ArrayQueue::new` allocates infallibly, so first a buffer of the same size is reserved
/// fallibly and released: a size the allocator refuses is an error here. (An allocation
/// that fails in the instant between the two still aborts, as any allocation would.)
#[cfg(not(loom))]
pub(crate) fn try_plain_queue(cap: usize) -> Result<PlainQueue, TryReserveError> {
    let cap = cap.max(1);
    let mut probe: Vec<[u64; 2]> = Vec::new();
    probe.try_reserve_exact(cap)?;
    drop(probe);
    Ok(PlainQueue::new(cap))
}

/// Under loom: the stand-in below.
#[cfg(loom)]
pub(crate) fn try_plain_queue(cap: usize) -> Result<PlainQueue, TryReserveError> {
    Ok(PlainQueue::new(cap))
}

/// Under loom: a `Mutex<VecDeque>` with a `SeqCst` fence standing for `ArrayQueue`'s `SeqCst`
/// CAS (push) and fence (pop), since `ArrayQueue` is not loom-instrumented. The gated idle
/// queue is the real one under loom too.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct PlainQueue {
    items: loom::sync::Mutex<alloc::collections::VecDeque<u32>>,
    cap: usize,
}

#[cfg(loom)]
impl PlainQueue {
    pub(crate) fn new(cap: usize) -> Self {
        Self { items: loom::sync::Mutex::new(alloc::collections::VecDeque::new()), cap: cap.max(1) }
    }

    pub(crate) fn push(&self, value: u32) -> Result<(), u32> {
        let mut items = self.items.lock().unwrap();
        if items.len() == self.cap {
            return Err(value);
        }
        items.push_back(value);
        drop(items);
        // ORDERING (loom stand-in): for `ArrayQueue::push`'s `SeqCst` CAS.
        crate::sync::fence(Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn pop(&self) -> Option<u32> {
        // ORDERING (loom stand-in): for `ArrayQueue::pop`'s `SeqCst` fence.
        crate::sync::fence(Ordering::SeqCst);
        self.items.lock().unwrap().pop_front()
    }
}

/// Under loom, for models about something else: the gated queue as a `Mutex<VecDeque>` plus
/// the gate, where every operation that the real queue does as an RMW on its tail word
/// (push, gate changes) takes the lock, so they are totally ordered as RMWs on one word are;
/// `SeqCst` fences stand for the real queue's `SeqCst` CAS and fence.
///
/// Why models need it: the real queue's pop waits (yielding) for a push in flight, and its
/// push for a pop in flight. Loom's scheduler is not fair: with two threads spinning on one
/// in-flight step it explores the schedule that alternates between the two spinners forever,
/// and the model fails on its branch limit although no real scheduler starves the third thread.
/// Models with one such waiter at a time use the real queue.
#[cfg(loom)]
#[derive(Debug)]
struct StandIn {
    inner: loom::sync::Mutex<(alloc::collections::VecDeque<u32>, usize)>,
    cap: usize,
}

#[cfg(loom)]
impl StandIn {
    fn new(cap: usize) -> Self {
        Self { inner: loom::sync::Mutex::new((alloc::collections::VecDeque::new(), 0)), cap: cap.max(1) }
    }

    // ORDERING (loom stand-in): the lock orders pushes and gate changes as RMWs on one word
    // are ordered; the fences stand for the real queue's `SeqCst` CAS and fence.
    fn push(&self, value: u32, only_open: bool) -> Result<(), NotPushed> {
        let mut inner = self.inner.lock().unwrap();
        if (only_open && inner.1 != 0) || inner.0.len() == self.cap {
            return Err(NotPushed);
        }
        inner.0.push_back(value);
        drop(inner);
        crate::sync::fence(Ordering::SeqCst);
        Ok(())
    }

    fn pop(&self) -> Option<u32> {
        crate::sync::fence(Ordering::SeqCst);
        self.inner.lock().unwrap().0.pop_front()
    }

    fn update_gate(&self, f: impl FnOnce(usize) -> usize) -> usize {
        let mut inner = self.inner.lock().unwrap();
        let before = inner.1;
        inner.1 = f(before);
        drop(inner);
        crate::sync::fence(Ordering::SeqCst);
        before
    }
}

/// A test-only hook run by a pusher right after its last store (see
/// `tests::lease_return_races_last_handle_drop`, and `tests/tests/last_handle_race.rs`, which
/// reaches it through [`crate::__hooks`] when built with `--cfg cenote_hooks`).
#[cfg(all(any(test, cenote_hooks), feature = "std", not(loom)))]
pub(crate) mod hook {
    std::thread_local! {
        pub(crate) static AFTER_PUSH: core::cell::Cell<Option<fn()>> = const { core::cell::Cell::new(None) };
    }

    pub(crate) fn after_push() {
        if let Some(f) = AFTER_PUSH.with(core::cell::Cell::take) {
            f();
        }
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::*;
    use alloc::vec;
    use core::sync::atomic::{AtomicBool, AtomicUsize as StdAtomic, Ordering as O};

    fn queue(cap: usize) -> IdleQueue {
        IdleQueue::try_new(cap).unwrap()
    }

    /// `push_open` on a live queue.
    fn push_open(q: &IdleQueue, value: u32) -> Result<(), NotPushed> {
        // SAFETY: `q` is borrowed, so alive, for the whole call.
        unsafe { IdleQueue::push_open(q, value) }
    }

    #[test]
    fn fifo_and_gate() {
        let q = queue(2);
        assert!(push_open(&q, 1).is_ok());
        q.set_gate(GATE_WAITERS);
        assert!(push_open(&q, 2).is_err());
        assert!(q.push(2).is_ok());
        assert!(q.push(3).is_err(), "full");
        assert_eq!(q.len(), 2);
        q.clear_gate(GATE_WAITERS);
        q.set_gate(GATE_SHRINK);
        assert_eq!(q.gate(), GATE_SHRINK);
        assert!(push_open(&q, 3).is_err(), "full, and shrinking");
        q.clear_gate(GATE_SHRINK);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(1), Some(2), None));
        assert!(push_open(&q, 4).is_ok());
        assert_eq!(q.pop(), Some(4));
    }

    /// Issue 9: a queue seeded one lap (and then a few laps) before its positions wrap moves
    /// values across the wrap, lap after lap, through every fill level, with the gate in use:
    /// FIFO holds and nothing spins. With the full position range, this is the real wrap of
    /// the target (2^61 positions on 64-bit; under Miri for i686, 2^29). Before the fix, the
    /// first push after the wrap spun forever (the spin bound turns that into a panic).
    #[test]
    fn positions_wrap() {
        let caps: &[usize] = if cfg!(miri) { &[1, 3] } else { &[1, 2, 3, 4, 7] };
        for &cap in caps {
            for pos_bits in [usize::BITS - GATE_BITS, 6] {
                let one_lap = (cap + 1usize).next_power_of_two();
                // Laps in the position range: `2^pos_bits / one_lap`.
                let laps = 1usize << (pos_bits - one_lap.trailing_zeros());
                for before_wrap in [1, 2, 3] {
                    if before_wrap > laps {
                        continue;
                    }
                    let q = IdleQueue::with_positions(cap, pos_bits, laps - before_wrap);
                    cross_the_wrap(&q, cap);
                }
            }
        }
    }

    /// Pushes and pops `10 * cap` values at each fill level (fewer under Miri), so that the
    /// positions go round the wrap several times, checking FIFO and `len`.
    fn cross_the_wrap(q: &IdleQueue, cap: usize) {
        let mut next_in = 0u32;
        let mut next_out = 0u32;
        for fill in 0..cap {
            for _ in 0..fill {
                q.push(next_in).unwrap();
                next_in += 1;
            }
            for round in 0..if cfg!(miri) { 2 * cap + 1 } else { 10 * cap } {
                let pushed =
                    if round % 2 == 0 { push_open(q, next_in).is_ok() } else { q.push(next_in).is_ok() };
                assert!(pushed, "cap {cap}, fill {fill}: a queue with room took the value");
                next_in += 1;
                assert_eq!(q.pop(), Some(next_out), "FIFO across the wrap");
                next_out += 1;
                assert_eq!(q.len(), fill);
            }
            while let Some(v) = q.pop() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
            assert_eq!((next_in, q.len()), (next_out, 0));
        }
        // Full and empty are still told apart after the wrap.
        for v in 0..cap as u32 {
            q.push(v).unwrap();
        }
        assert!(q.push(99).is_err(), "full");
        assert!(push_open(q, 99).is_err(), "full");
        assert_eq!(q.len(), cap);
        for v in 0..cap as u32 {
            assert_eq!(q.pop(), Some(v));
        }
        assert_eq!(q.pop(), None);
    }

    /// Threads move a fixed set of values through the queue while others flip the gate:
    /// nothing is lost or duplicated, and nobody hangs. Once on a fresh queue, once on one
    /// that starts two laps before its positions wrap (the real range, so that it crosses
    /// the wrap under contention).
    ///
    /// Not on a tiny range: with 32 positions a thread preempted between its tail load and
    /// its head load can see the positions come round again (an ABA of 24 operations, which
    /// a descheduled thread on a loaded machine misses easily) and take a queue of 3 values
    /// for full. The real range needs 2^61 operations (2^30 on 32-bit targets) for that;
    /// `positions_wrap` covers the tiny range's arithmetic single-threaded.
    #[test]
    fn concurrent_values_are_conserved() {
        concurrent_values_conserved(IdleQueue::try_new(6).unwrap());
        let one_lap = (6usize + 1).next_power_of_two();
        let laps = (POS_MASK / one_lap) + 1;
        let start = (laps - 2) * one_lap;
        let q = concurrent_values_conserved(IdleQueue::with_positions(6, usize::BITS - GATE_BITS, laps - 2));
        assert!(q.head.load(O::Relaxed) < start, "the positions wrapped");
    }

    fn concurrent_values_conserved(q: IdleQueue) -> IdleQueue {
        let rounds = if cfg!(miri) { 50 } else { 100_000 };
        let values = 3u32;
        for v in 0..values {
            q.push(v).unwrap();
        }
        let held = [const { AtomicBool::new(false) }; 3];
        let stop = AtomicBool::new(false);
        let moved = StdAtomic::new(0);
        std::thread::scope(|s| {
            let mut movers = vec![];
            for t in 0..3 {
                let (q, held, moved) = (&q, &held, &moved);
                movers.push(s.spawn(move || {
                    for i in 0..rounds {
                        if let Some(v) = q.pop() {
                            assert!(!held[v as usize].swap(true, O::Relaxed), "value {v} popped twice");
                            held[v as usize].store(false, O::Relaxed);
                            if (i + t) % 2 == 0 || push_open(q, v).is_err() {
                                q.push(v).unwrap();
                            }
                            moved.fetch_add(1, O::Relaxed);
                        }
                    }
                }));
            }
            s.spawn(|| {
                while !stop.load(O::Relaxed) {
                    q.set_gate(GATE_WAITERS);
                    std::thread::yield_now();
                    q.clear_gate(GATE_WAITERS);
                }
            });
            // Stop the gate flipper even if a mover failed, then report the failure (else
            // the scope would wait for the flipper for ever).
            let joined: alloc::vec::Vec<_> = movers.into_iter().map(|mover| mover.join()).collect();
            stop.store(true, O::Relaxed);
            for result in joined {
                if let Err(panic) = result {
                    std::panic::resume_unwind(panic);
                }
            }
        });
        assert!(moved.load(O::Relaxed) > 0);
        let mut left: alloc::vec::Vec<u32> = core::iter::from_fn(|| q.pop()).collect();
        left.sort_unstable();
        assert_eq!(left, [0, 1, 2]);
        q
    }
}

/// Loom models of the real gated queue (tokio-style, in the crate): run with
/// `RUSTFLAGS="--cfg loom" cargo test -p cenote-core --lib --release` (`scripts/loom.sh`).
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// `push_open` on a live queue.
    fn push_open(q: &IdleQueue, value: u32) -> Result<(), NotPushed> {
        // SAFETY: `q` is borrowed, so alive, for the whole call.
        unsafe { IdleQueue::push_open(q, value) }
    }

    /// A gated push races a gate being set: either the push went through before the gate
    /// (and the setter's look, a pop, sees it), or it failed and the value is still ours.
    /// This is the return ↔ wait Dekker pair on one word.
    #[test]
    fn push_open_races_set_gate() {
        loom::model(|| {
            let q = Arc::new(IdleQueue::with_positions(2, 3, 0));
            let pusher = {
                let q = q.clone();
                thread::spawn(move || push_open(&q, 7).is_ok())
            };
            q.set_gate(GATE_WAITERS);
            let seen = q.pop();
            let pushed = pusher.join().unwrap();
            if pushed {
                // Pushed: before the gate, so our look sees it, or it is still there.
                assert_eq!(seen.or_else(|| q.pop()), Some(7));
                assert_eq!(seen, Some(7), "a push before the gate is seen by the look after it");
            } else {
                assert_eq!(seen, None);
                assert_eq!(q.pop(), None);
            }
        });
    }

    /// Two pushers (one gated, one not) and a popper on a two-cell queue seeded one lap before
    /// its positions wrap (two laps in all): values are neither lost nor duplicated, FIFO per
    /// pusher holds, and nobody spins forever across the wrap.
    #[test]
    fn push_pop_across_the_wrap() {
        loom::model(|| {
            let q = Arc::new(IdleQueue::with_positions(2, 3, 1));
            q.push(1).unwrap();
            assert_eq!(q.pop(), Some(1));
            let a = {
                let q = q.clone();
                thread::spawn(move || push_open(&q, 2).is_ok())
            };
            let b = {
                let q = q.clone();
                thread::spawn(move || q.push(3).is_ok())
            };
            let first = q.pop();
            let a = a.join().unwrap();
            let b = b.join().unwrap();
            assert!(a && b, "two cells, two values: both fit");
            let mut got: alloc::vec::Vec<u32> =
                first.into_iter().chain(core::iter::from_fn(|| q.pop())).collect();
            got.sort_unstable();
            assert_eq!(got, [2, 3]);
            assert_eq!(q.len(), 0);
        });
    }

    /// A gated push, a gate that is set and cleared again, and a popper, on a full-then-empty
    /// single cell crossing the wrap: the push either lands (and is popped once) or is refused
    /// while the gate is shut.
    #[test]
    fn push_open_vs_gate_flip_vs_pop() {
        loom::model(|| {
            let q = Arc::new(IdleQueue::with_positions(1, 2, 1));
            let pusher = {
                let q = q.clone();
                thread::spawn(move || push_open(&q, 5).is_ok())
            };
            let flipper = {
                let q = q.clone();
                thread::spawn(move || {
                    q.set_gate(GATE_SHRINK);
                    q.clear_gate(GATE_SHRINK);
                })
            };
            let popped = q.pop();
            let pushed = pusher.join().unwrap();
            flipper.join().unwrap();
            let rest = q.pop();
            assert_eq!(q.gate(), 0);
            if pushed {
                assert!((popped == Some(5)) ^ (rest == Some(5)), "popped once: {popped:?} {rest:?}");
            } else {
                assert_eq!((popped, rest), (None, None));
            }
        });
    }
}

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
//! waits and the pool is not closed, in one atomic step. So an uncontended
//! return is one CAS and one store, and the returner touches nothing after it. That is what
//! lets a lease skip reference counting: after its last store the pool may be freed (see
//! `handle.rs`), and a popper that takes the value synchronises with that store first.
//!
//! When the gate is not 0, the returner takes the slow path: [`IdleQueue::push`] ignores the
//! gate, and the caller then reads the pool's state and wakes waiters, holding a handle.
//!
//! ```text
//! tail:  [ position (usize::BITS - 2 bits) | WAITERS | CLOSED ]
//! ```
//!
//! Positions have 62 bits on 64-bit targets (30 on 32-bit ones). A position is reused only
//! after a full wrap of that many pushes, so a pusher would have to stall between its load and
//! its CAS for 2^62 pushes (2^30 on 32-bit) for the CAS to succeed wrongly.

#[cfg(not(loom))]
use alloc::{boxed::Box, vec::Vec};

use crate::sync::Ordering;
#[cfg(not(loom))]
use crate::sync::{AtomicUsize, Backoff, CachePadded, Cell};

/// Gate bit: the pool is closed.
pub(crate) const GATE_CLOSED: usize = 1;
/// Gate bit: someone may be waiting (see `Inner::waiters` for the exact count).
pub(crate) const GATE_WAITERS: usize = 2;
/// Bits of `tail` taken by the gate.
#[cfg(not(loom))]
const GATE_BITS: u32 = 2;
#[cfg(not(loom))]
const GATE_MASK: usize = (1 << GATE_BITS) - 1;

/// One cell of the buffer.
#[cfg(not(loom))]
struct Slot {
    /// Position + 1 when full, position (of the next lap) when empty.
    stamp: AtomicUsize,
    value: Cell<u32>,
}

/// A bounded MPMC FIFO of `u32`s with a gate in its tail word.
#[cfg(not(loom))]
pub(crate) struct IdleQueue {
    /// Position of the next pop.
    head: CachePadded<AtomicUsize>,
    /// Position of the next push, shifted left by `GATE_BITS`, with the gate in the low bits.
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot]>,
    cap: usize,
    /// A power of two greater than `cap`: `index = position & (one_lap - 1)`.
    one_lap: usize,
}

// SAFETY: the cells' values (`u32`, `Copy`) are written only by the pusher that claimed the
// cell's position with its CAS and read only by the popper that claimed it after the stamp
// says full; the stamp's release/acquire orders the two. Everything else is atomics.
#[cfg(not(loom))]
unsafe impl Sync for IdleQueue {}
// SAFETY: the queue owns plain `u32`s and atomics.
#[cfg(not(loom))]
unsafe impl Send for IdleQueue {}

/// [`IdleQueue::push_open`] did not push: the gate is not 0, or the queue is full.
#[derive(Debug)]
pub(crate) struct NotPushed;

#[cfg(not(loom))]
impl IdleQueue {
    pub(crate) fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        let one_lap = (cap + 1).next_power_of_two();
        let buffer: Vec<Slot> =
            (0..cap).map(|i| Slot { stamp: AtomicUsize::new(i), value: Cell::new(0) }).collect();
        Self {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer: buffer.into_boxed_slice(),
            cap,
            one_lap,
        }
    }

    /// The position after `pos`.
    #[inline]
    fn next(&self, pos: usize) -> usize {
        let index = pos & (self.one_lap - 1);
        let lap = pos & !(self.one_lap - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            lap.wrapping_add(self.one_lap)
        }
    }

    /// Pushes `value` if the gate is 0. On success nothing of `self` is touched after the
    /// cell's `Release` stamp store.
    #[inline]
    pub(crate) fn push_open(&self, value: u32) -> Result<(), NotPushed> {
        self.push_inner(value, true)
    }

    /// Pushes `value` whatever the gate says, leaving the gate as it is.
    #[inline]
    pub(crate) fn push(&self, value: u32) -> Result<(), u32> {
        self.push_inner(value, false).map_err(|_| value)
    }

    #[inline]
    fn push_inner(&self, value: u32, only_open: bool) -> Result<(), NotPushed> {
        // ORDERING: `Acquire` loads of `tail` (here and on retries): a pusher that finds a gate
        // bit set synchronises with the `SeqCst` RMW that set it, so it then sees what the
        // setter did before (a waiter's `waiters` increment, `close`'s `CLOSED` state).
        let mut tail = self.tail.load(Ordering::Acquire);
        let mut backoff = Backoff::default();
        loop {
            let gate = tail & GATE_MASK;
            if only_open && gate != 0 {
                return Err(NotPushed);
            }
            let pos = tail >> GATE_BITS;
            let index = pos & (self.one_lap - 1);
            debug_assert!(index < self.cap);
            // SAFETY (bounds): `index < cap == buffer.len()` by construction of positions.
            let slot = &self.buffer[index];
            // ORDERING: `Acquire` pairs with the popper's `Release` stamp store, so the
            // popper's read of the old value happens-before our write of the new one.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == pos {
                let new_tail = (self.next(pos) << GATE_BITS) | gate;
                // ORDERING: `SeqCst`: the CAS is the returner's half of the Dekker pairs with
                // waiters (who set `GATE_WAITERS` with a `SeqCst` RMW on this word before
                // looking) and with `close`; on the same word, RMWs are totally ordered, so
                // either our CAS sees their bit and fails, or their later pop sees our push.
                match self.tail.compare_exchange_weak(tail, new_tail, Ordering::SeqCst, Ordering::Acquire) {
                    Ok(_) => {
                        // SAFETY: the CAS gave us exclusive use of this cell until its stamp
                        // says full; no popper reads it before the `Release` store below.
                        slot.value.with_mut(|v| unsafe { *v = value });
                        // ORDERING: `Release` publishes the value to the popper that
                        // `Acquire`-loads this stamp.
                        slot.stamp.store(pos + 1, Ordering::Release);
                        return Ok(());
                    }
                    Err(actual) => {
                        tail = actual;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == pos + 1 {
                // The cell still holds last lap's value: full, or a popper is mid-pop.
                // ORDERING: as crossbeam: a `SeqCst` fence before reading `head`.
                crate::sync::fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == pos {
                    return Err(NotPushed);
                }
                // A popper claimed this cell a lap ago and has not released it: it may have
                // been preempted, so spin, then yield to it (spinning alone would keep the
                // CPU from the very thread we wait for).
                backoff.snooze();
                // ORDERING: `Acquire`, as the first load (see above).
                tail = self.tail.load(Ordering::Acquire);
            } else {
                // Our `tail` is stale (another pusher moved on) or a popper of last lap has
                // not finished with this cell; wait for it.
                backoff.snooze();
                tail = self.tail.load(Ordering::Acquire);
            }
        }
    }

    /// Pops the oldest value, if any.
    #[inline]
    pub(crate) fn pop(&self) -> Option<u32> {
        // ORDERING: `Relaxed` loads of `head` (here and on retries): a position to try; the
        // cell's stamp (`Acquire`) and the CAS decide.
        let mut head = self.head.load(Ordering::Relaxed);
        let mut backoff = Backoff::default();
        loop {
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
                // order as the pushes' CAS for the Dekker arguments.
                match self.head.compare_exchange_weak(head, new_head, Ordering::SeqCst, Ordering::Relaxed) {
                    Ok(_) => {
                        // SAFETY: the CAS gave us this full cell; the pusher's `Release`
                        // stamp store happens-before our `Acquire` load above.
                        let value = slot.value.with_mut(|v| unsafe { *v });
                        // ORDERING: `Release` hands the cell back to the next lap's pusher.
                        slot.stamp.store(head.wrapping_add(self.one_lap), Ordering::Release);
                        return Some(value);
                    }
                    Err(actual) => {
                        head = actual;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // The cell is empty. It is truly empty only if no push claimed this position.
                // ORDERING: `SeqCst` fence, then the tail: a push whose `SeqCst` CAS precedes
                // this fence in the total order is seen here (C++20 [atomics.fences]), so
                // "empty" is never reported past a completed or in-flight push.
                crate::sync::fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed) >> GATE_BITS;
                if tail == head {
                    return None;
                }
                // A push claimed this cell and has not stored its stamp yet: it may have been
                // preempted, so spin, then yield to it.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            } else {
                // Our `head` is stale, or a popper of last lap has not finished with this cell.
                backoff.snooze();
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// The number of values in the queue (not a snapshot).
    pub(crate) fn len(&self) -> usize {
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

    /// Sets `bits` in the gate; returns the gate before.
    pub(crate) fn set_gate(&self, bits: usize) -> usize {
        debug_assert!(bits & !GATE_MASK == 0);
        // ORDERING: `SeqCst` RMW on the tail word: ordered with every push's CAS (see
        // `push_inner`) and in the total order with the setter's later loads.
        self.tail.fetch_or(bits, Ordering::SeqCst) & GATE_MASK
    }

    /// Clears `bits` in the gate; returns the gate before.
    pub(crate) fn clear_gate(&self, bits: usize) -> usize {
        debug_assert!(bits & !GATE_MASK == 0);
        // ORDERING: as `set_gate`.
        self.tail.fetch_and(!bits, Ordering::SeqCst) & GATE_MASK
    }
}

#[cfg(not(loom))]
impl core::fmt::Debug for IdleQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdleQueue").field("len", &self.len()).field("cap", &self.cap).finish_non_exhaustive()
    }
}

/// The vacant queue: the same queue without a gate. Under loom they are a
/// mutex-backed stand-in, which keeps the models small enough to explore; the gated idle
/// queue, where the protocol's subtle steps are, stays the real one under loom.
#[cfg(not(loom))]
pub(crate) type PlainQueue = IdleQueue;

/// Under loom: a `Mutex<VecDeque>` with a `SeqCst` fence standing for the real queue's
/// `SeqCst` CAS (push) and fence (pop).
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
        crate::sync::fence(Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn pop(&self) -> Option<u32> {
        crate::sync::fence(Ordering::SeqCst);
        self.items.lock().unwrap().pop_front()
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicBool, AtomicUsize as StdAtomic, Ordering as O};

    #[test]
    fn fifo_and_gate() {
        let q = IdleQueue::new(2);
        assert!(q.push_open(1).is_ok());
        q.set_gate(GATE_WAITERS);
        assert!(q.push_open(2).is_err());
        assert!(q.push(2).is_ok());
        assert!(q.push(3).is_err(), "full");
        assert_eq!(q.len(), 2);
        q.clear_gate(GATE_WAITERS);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(1), Some(2), None));
        assert!(q.push_open(4).is_ok());
        assert_eq!(q.pop(), Some(4));
    }

    /// Threads move a fixed set of values through the queue while others flip the gate:
    /// nothing is lost or duplicated, and nobody hangs.
    #[test]
    fn concurrent_values_are_conserved() {
        let rounds = if cfg!(miri) { 50 } else { 100_000 };
        let values = 3u32;
        let q = IdleQueue::new(2 * values as usize);
        for v in 0..values {
            q.push(v).unwrap();
        }
        let held = [const { AtomicBool::new(false) }; 3];
        let stop = AtomicBool::new(false);
        let moved = StdAtomic::new(0);
        std::thread::scope(|s| {
            for t in 0..3 {
                let (q, held, moved) = (&q, &held, &moved);
                s.spawn(move || {
                    for i in 0..rounds {
                        if let Some(v) = q.pop() {
                            assert!(!held[v as usize].swap(true, O::Relaxed), "value {v} popped twice");
                            held[v as usize].store(false, O::Relaxed);
                            if (i + t) % 2 == 0 || q.push_open(v).is_err() {
                                q.push(v).unwrap();
                            }
                            moved.fetch_add(1, O::Relaxed);
                        }
                    }
                });
            }
            s.spawn(|| {
                while !stop.load(O::Relaxed) {
                    q.set_gate(GATE_WAITERS);
                    std::thread::yield_now();
                    q.clear_gate(GATE_WAITERS);
                }
            });
            std::thread::sleep(core::time::Duration::from_millis(if cfg!(miri) { 1 } else { 200 }));
            stop.store(true, O::Relaxed);
        });
        assert!(moved.load(O::Relaxed) > 0);
        let mut left: alloc::vec::Vec<u32> = core::iter::from_fn(|| q.pop()).collect();
        left.sort_unstable();
        assert_eq!(left, [0, 1, 2]);
    }
}

/// Under loom: the gated queue as a `Mutex<VecDeque>` plus the gate, where every operation
/// that the real queue does as an RMW on its tail word (push, gate changes) takes the lock, so
/// they are totally ordered as RMWs on one word are; `SeqCst` fences stand for the real
/// queue's `SeqCst` CAS and fence. The real queue itself is checked by its own concurrent
/// test and by Miri; loom explores the protocol around it.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct IdleQueue {
    inner: loom::sync::Mutex<(alloc::collections::VecDeque<u32>, usize)>,
    cap: usize,
}

#[cfg(loom)]
impl IdleQueue {
    pub(crate) fn new(cap: usize) -> Self {
        Self { inner: loom::sync::Mutex::new((alloc::collections::VecDeque::new(), 0)), cap: cap.max(1) }
    }

    // ORDERING (loom stand-in): the lock orders pushes and gate changes as RMWs on one word
    // are ordered; the fences stand for the real queue's `SeqCst` CAS and fence.
    fn push_inner(&self, value: u32, only_open: bool) -> Result<(), NotPushed> {
        let mut inner = self.inner.lock().unwrap();
        if (only_open && inner.1 != 0) || inner.0.len() == self.cap {
            return Err(NotPushed);
        }
        inner.0.push_back(value);
        drop(inner);
        crate::sync::fence(Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn push_open(&self, value: u32) -> Result<(), NotPushed> {
        self.push_inner(value, true)
    }

    pub(crate) fn push(&self, value: u32) -> Result<(), u32> {
        self.push_inner(value, false).map_err(|_| value)
    }

    pub(crate) fn pop(&self) -> Option<u32> {
        crate::sync::fence(Ordering::SeqCst);
        self.inner.lock().unwrap().0.pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.lock().unwrap().0.len()
    }

    pub(crate) fn set_gate(&self, bits: usize) -> usize {
        let mut inner = self.inner.lock().unwrap();
        let before = inner.1;
        inner.1 |= bits;
        drop(inner);
        crate::sync::fence(Ordering::SeqCst);
        before
    }

    pub(crate) fn clear_gate(&self, bits: usize) -> usize {
        let mut inner = self.inner.lock().unwrap();
        let before = inner.1;
        inner.1 &= !bits;
        drop(inner);
        crate::sync::fence(Ordering::SeqCst);
        before
    }
}

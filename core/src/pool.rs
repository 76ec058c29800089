//! The pool's state and its lock-free protocol.
//!
//! # Algorithm
//!
//! `capacity` slots are allocated once. Each slot index is always in exactly one place (see
//! [`Slot`]): three bounded MPMC queues (crossbeam's `ArrayQueue`, Vyukov's bounded queue)
//! hold the indices of *idle* slots (an object ready to lend), *vacant* slots (no object) and
//! *handed-off* slots (an object, or a permit, reserved for a waiter that was woken for it).
//! `live` counts objects plus permits to create one; a permit is taken with a CAS that keeps
//! `live <= max_size`, so creating and resizing never lock.
//!
//! Waiters sleep on an `event_listener::Event` with stack- or future-embedded listeners, so
//! waiting allocates nothing. A waiter first increments `waiters`, then registers its listener,
//! then looks again; a returner first publishes (pushes the index), then reads `waiters`, and
//! if it saw a waiter, notifies. One of the two always sees the other (see "Memory ordering"
//! below). If the returner's notification comes before the listener is in the list, it reaches
//! nobody, but then the push happens-before the waiter's second look: event-listener's list
//! lock orders the notify before the insert. So no wakeup is lost in the gap between "nothing
//! idle" and "start waiting". Notifications are tagged: `HANDED` (take an entry from the
//! hand-off queue) or `HINT` (look again).
//!
//! # Fairness
//!
//! Returns normally go to the idle queue and wake one waiter, and a newcomer may take the
//! object first (barging keeps threads out of a lock convoy). Each time a woken waiter finds
//! nothing it counts a *miss*; after [`STARVE_AFTER_MISSES`] misses it declares itself
//! starving and from then on listens on a second event, `priority`. While any waiter starves,
//! newcomers neither take idle objects nor create (they line up), and every returned object or
//! freed place is pushed to the hand-off queue and a `HANDED` notification sent for it: to the
//! oldest starving waiter first, else to the oldest waiter (event-listener's lists are FIFO).
//! Only waiters woken with `HANDED` pop the hand-off queue. A starving waiter is therefore
//! served by one of the next returns, behind only the waiters that started starving before it.
//!
//! A woken waiter that is cancelled (its future dropped, its thread timing out) discards its
//! notification and passes it on: it takes one entry from the hand-off queue, if any, and
//! returns it through the normal return path, which hands it to the next waiter or makes it
//! idle. Nothing handed off is lost, whoever is last.
//!
//! # Memory ordering
//!
//! Two Dekker-style pairs must never both miss each other:
//!
//! * return ↔ wait: the returner does `idle.push` then `waiters.load(SeqCst)`; the waiter does
//!   `waiters.fetch_add(SeqCst)` then `idle.pop`. crossbeam's `push` publishes with a `SeqCst`
//!   CAS on `tail`, and `pop` decides "empty" only after a `SeqCst` fence followed by a load
//!   of `tail`. In the single total order of `SeqCst` operations, either the waiter's
//!   increment precedes the returner's load (the returner sees a waiter and notifies), or the
//!   returner's CAS precedes the waiter's fence (so the waiter's `tail` load sees the push and
//!   `pop` does not report empty). The same argument covers `close` (`state.fetch_or`) against
//!   a push, and a freed place (`live.fetch_sub`) against a waiter's permit CAS.
//! * Under loom the queues are mutex-backed; the models in `loom-tests/` check the protocol.
//!
//! Slot contents travel with their index: crossbeam's queue writes the value, then stores the
//! slot stamp with `Release`, and `pop` reads the stamp with `Acquire`, so whatever the previous
//! owner wrote to the slot happens-before the next owner reads it.

use core::fmt;
use core::marker::PhantomData;

use alloc::boxed::Box;
use alloc::vec::Vec;
use event_listener::{listener, Event, IntoNotification};

use crate::error::ConfigError;
use crate::lease::{Lease, Permit};
use crate::slot::{Slot, SlotMeta};
use crate::sync::{Arc, AtomicUsize, Ordering, Queue};

/// Bit 0 of `state`: the pool is closed.
pub(crate) const CLOSED: usize = 1;
/// `state` counts starving waiters in the bits above `CLOSED`.
pub(crate) const STARVING_ONE: usize = 2;
/// A hand-off queue entry that carries a permit (a freed place) rather than an object.
pub(crate) const PERMIT: u32 = u32::MAX;
/// How many fruitless wakeups a waiter takes before it declares itself starving.
#[cfg(not(loom))]
pub const STARVE_AFTER_MISSES: u32 = 2;
/// How many fruitless wakeups a waiter takes before it declares itself starving (1 under
/// loom, so that the small models reach the hand-off paths).
#[cfg(loom)]
pub const STARVE_AFTER_MISSES: u32 = 1;

/// The lock-free core of a cenote pool: slots, queues, permits and wakeups.
///
/// `Core` is what the `cenote-sync` and `cenote-async` front ends are built on, and what
/// another pooling crate can build its own pool on. It lends objects of type `T` and carries
/// an extension value `E` (a front end keeps its manager and configuration there, so that
/// everything lives in one allocation). It never allocates after [`Core::new`], has no clock
/// and no runtime, and works under `#![no_std]`.
///
/// Handles are `Arc<Core<T, E>>`: a [`Lease`] (a lent object) and a [`Permit`] (the right to
/// create one) each keep the core alive, so they are `'static`.
///
/// The core never creates objects: [`try_acquire`](Core::try_acquire) answers with an idle
/// object, a permit to create one into a vacant slot, or "exhausted"; the caller creates the
/// object and [`fills`](Permit::fill) the permit. A permit dropped unfilled (a failed,
/// panicking or cancelled create) gives its place back.
///
/// # Examples
///
/// A minimal pool of byte buffers, built on the core alone:
///
/// ```
/// use std::sync::Arc;
/// use cenote_core::{Acquire, Core};
///
/// let core = Arc::new(Core::<Vec<u8>>::new(4, 2, ()).unwrap());
///
/// let mut lease = match core.try_acquire() {
///     Acquire::Idle(lease) => lease,
///     Acquire::Vacant(permit) => cenote_core::Permit::fill(permit, Vec::with_capacity(1024)),
///     Acquire::Exhausted | Acquire::Closed => unreachable!(),
/// };
/// lease.extend_from_slice(b"hello");
/// drop(lease); // back to the idle queue
///
/// let status = core.status();
/// assert_eq!((status.size, status.idle), (1, 1));
/// match core.try_acquire() {
///     Acquire::Idle(lease) => assert_eq!(&lease[..], b"hello"),
///     _ => unreachable!(),
/// }
/// ```
///
/// # Memory ordering
///
/// Everything a holder writes to an object before returning it happens-before the next
/// holder's access. Status figures are read with relaxed loads: they are not a consistent
/// snapshot.
pub struct Core<T, E = ()> {
    pub(crate) slots: Box<[Slot<T>]>,
    /// Indices of slots holding an idle object, oldest return first.
    pub(crate) idle: Queue,
    /// Indices of vacant slots. Invariant: pushed *before* `live` is decremented, so whoever
    /// wins a permit finds a vacant slot.
    pub(crate) vacant: Queue,
    /// Objects and permits reserved for woken waiters (see "Fairness").
    pub(crate) handoff: Queue,
    /// Objects in existence plus permits handed out. Never exceeds `max_size` through
    /// `try_reserve`; may exceed it after a shrink until the extras return.
    pub(crate) live: AtomicUsize,
    pub(crate) max_size: AtomicUsize,
    /// `CLOSED` bit and `STARVING_ONE` × the number of starving waiters.
    pub(crate) state: AtomicUsize,
    /// Waiters between "I will wait" and "I am done waiting".
    pub(crate) waiters: AtomicUsize,
    /// Waiters that are not starving. Tags: `HANDED` or `HINT` (see `release.rs`).
    pub(crate) event: Event<bool>,
    /// Starving waiters: served first by `hand_off`.
    pub(crate) priority: Event<bool>,
    ext: E,
    _owns: PhantomData<T>,
}

// SAFETY: `Core` is `Sync` when `T: Send` and `E: Sync`:
// - the only unsynchronised state is each slot's `Cell`s, and a slot is touched only by the
//   owner of its index (see `Slot`), which is one thread at a time; ownership moves between
//   threads through the queues' release/acquire. Moving a `T` between threads that way needs
//   `T: Send`, and no `&T` is ever shared through `&Core` alone, so `T: Sync` is not needed;
// - `E` is reachable through `&Core` (`Core::ext`), so it must be `Sync`;
// - everything else is atomics, queues and an `Event`, which are `Sync`.
unsafe impl<T: Send, E: Sync> Sync for Core<T, E> {}
// SAFETY: sending the core sends its objects (`T: Send`) and its extension (`E: Send`).
unsafe impl<T: Send, E: Send> Send for Core<T, E> {}

/// What [`Core::try_acquire`] found.
#[derive(Debug)]
#[must_use = "dropping a lease returns it and dropping a permit gives its place back"]
pub enum Acquire<T, E = ()> {
    /// An idle object, now lent to the caller.
    Idle(Lease<T, E>),
    /// No idle object, but room for one more: create it and [`Permit::fill`] the permit.
    Vacant(Permit<T, E>),
    /// Neither: wait with [`Core::acquire`] or [`Core::acquire_blocking`].
    Exhausted,
    /// The pool is closed.
    Closed,
}

/// What a wait produced: an object or a permit to create one.
#[derive(Debug)]
#[must_use = "dropping a lease returns it and dropping a permit gives its place back"]
pub enum Acquired<T, E = ()> {
    /// An idle object, now lent to the caller.
    Idle(Lease<T, E>),
    /// Room for one more object: create it and [`Permit::fill`] the permit.
    Vacant(Permit<T, E>),
}

/// Counts read from a [`Core`]. Not a consistent snapshot: each field is read on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoreStatus {
    /// The current maximum number of objects.
    pub max_size: usize,
    /// The number of slots allocated at construction; the limit for `resize`.
    pub capacity: usize,
    /// Objects in existence plus permits to create one.
    pub size: usize,
    /// Objects ready to lend: idle, or handed to a waiter that has not picked it up yet (a
    /// freed place being handed to a waiter counts here too, for that moment).
    pub idle: usize,
    /// Callers currently waiting.
    pub waiting: usize,
    /// Whether the pool is closed.
    pub closed: bool,
}

impl<T, E> Core<T, E> {
    /// The largest capacity a core supports.
    pub const MAX_CAPACITY: usize = (u32::MAX - 1) as usize;

    /// Builds a core with `capacity` slots (allocated now, once) of which at most `max_size`
    /// hold objects, and the extension value `ext`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `max_size` is 0, `max_size > capacity`, or `capacity` exceeds
    /// [`MAX_CAPACITY`](Self::MAX_CAPACITY).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{ConfigError, Core};
    ///
    /// assert!(Core::<u32>::new(8, 4, ()).is_ok());
    /// assert_eq!(Core::<u32>::new(8, 0, ()).err(), Some(ConfigError::ZeroMaxSize));
    /// ```
    pub fn new(capacity: usize, max_size: usize, ext: E) -> Result<Self, ConfigError> {
        if max_size == 0 {
            return Err(ConfigError::ZeroMaxSize);
        }
        if capacity > Self::MAX_CAPACITY {
            return Err(ConfigError::CapacityTooLarge { capacity });
        }
        if max_size > capacity {
            return Err(ConfigError::MaxSizeAboveCapacity { max_size, capacity });
        }
        let slots: Vec<Slot<T>> = (0..capacity).map(|_| Slot::new()).collect();
        // The idle queue gets twice the room it can ever need: in a Vyukov queue whose
        // capacity equals its item count, a popper preempted mid-operation stalls every pusher
        // that wraps around to its cell; spare cells keep pushers off it.
        let idle = Queue::new(capacity.saturating_mul(2));
        let vacant = Queue::new(capacity);
        for index in 0..capacity {
            // Cannot fail: the queue has `capacity` cells. `u32` fits: capacity <= MAX_CAPACITY.
            let _ = vacant.push(index as u32);
        }
        let core = Self {
            slots: slots.into_boxed_slice(),
            idle,
            vacant,
            handoff: Queue::new(capacity),
            live: AtomicUsize::new(0),
            max_size: AtomicUsize::new(max_size),
            state: AtomicUsize::new(0),
            waiters: AtomicUsize::new(0),
            event: Event::with_tag(),
            priority: Event::with_tag(),
            ext,
            _owns: PhantomData,
        };
        // An `Event` allocates its shared state on first use; do it now, so that nothing
        // allocates after construction.
        for event in [&core.event, &core.priority] {
            listener!(event => _listener);
        }
        Ok(core)
    }

    /// The extension value given to [`Core::new`].
    #[inline]
    pub fn ext(&self) -> &E {
        &self.ext
    }

    /// The number of slots, fixed at construction.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The current maximum number of objects.
    #[inline]
    pub fn max_size(&self) -> usize {
        self.max_size.load(Ordering::Relaxed)
    }

    /// Whether [`close`](Self::close) has been called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        // ORDERING: a flag read; callers that need to order against `close` synchronise
        // through the queues or the event.
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Counts of the pool's objects and waiters.
    pub fn status(&self) -> CoreStatus {
        // ORDERING: statistics only; `Relaxed` reads, documented as not a snapshot.
        let handoff = self.handoff.len();
        CoreStatus {
            max_size: self.max_size.load(Ordering::Relaxed),
            capacity: self.slots.len(),
            size: self.live.load(Ordering::Relaxed),
            idle: self.idle.len() + handoff,
            waiting: self.waiters.load(Ordering::Relaxed),
            closed: self.is_closed(),
        }
    }

    /// Lends an idle object, or hands out a permit to create one, without waiting.
    ///
    /// While a waiter is starving (see the module docs) this neither takes idle objects nor
    /// creates: it answers [`Acquire::Exhausted`] so that the caller lines up behind the
    /// waiters.
    #[inline]
    pub fn try_acquire(self: &Arc<Self>) -> Acquire<T, E> {
        // ORDERING: `Relaxed` is enough: `CLOSED` and starving are hints here. A caller that
        // misses a just-set `CLOSED` linearises before `close`; one that misses a starving
        // waiter barges once, which the fairness bound allows for.
        let state = self.state.load(Ordering::Relaxed);
        if state != 0 {
            return if state & CLOSED != 0 { Acquire::Closed } else { Acquire::Exhausted };
        }
        if let Some(index) = self.idle.pop() {
            return Acquire::Idle(self.lend(index));
        }
        match self.try_reserve() {
            Some(permit) => Acquire::Vacant(permit),
            None => Acquire::Exhausted,
        }
    }

    /// Lends an idle object now, or returns `None`. Never creates, never waits.
    #[inline]
    pub fn try_take_idle(self: &Arc<Self>) -> Option<Lease<T, E>> {
        // ORDERING: as in `try_acquire`.
        if self.state.load(Ordering::Relaxed) != 0 {
            return None;
        }
        self.idle.pop().map(|index| self.lend(index))
    }

    /// Takes a permit to create one more object, if `live < max_size`. For warming the pool
    /// (fill the permit with [`Permit::fill_idle`]).
    pub fn try_reserve(self: &Arc<Self>) -> Option<Permit<T, E>> {
        if self.is_closed() {
            return None;
        }
        // ORDERING: `SeqCst` load pairs with `resize`'s `SeqCst` swap followed by its
        // `waiters` load: a waiter that registered before looking here either sees the new
        // maximum or is woken by `resize`.
        let max = self.max_size.load(Ordering::SeqCst);
        // ORDERING: `SeqCst`, the waiter's half of the "freed place ↔ waiter" Dekker pair: a
        // waiter incremented `waiters` before this look, and a freer decrements `live` before
        // reading `waiters`; one of them sees the other. (A failed CAS below re-reads.)
        let mut live = self.live.load(Ordering::SeqCst);
        loop {
            if live >= max {
                return None;
            }
            // ORDERING: `SeqCst` success, whose acquire half synchronises with the release half
            // of the decrement that made room, so the vacant index pushed before that
            // decrement is visible to our pop.
            match self.live.compare_exchange_weak(live, live + 1, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => live = actual,
            }
        }
        self.take_vacant()
    }

    /// Turns a won permit into a vacant slot index.
    fn take_vacant(self: &Arc<Self>) -> Option<Permit<T, E>> {
        // The vacant queue holds at least one index per outstanding permit: vacant indices
        // are pushed before `live` is decremented, `live <= capacity`, and the permit's CAS
        // (or the hand-off it came through) happens-after that push. crossbeam's `pop` does
        // not report empty while a push is in flight, so this cannot fail.
        if let Some(index) = self.vacant.pop() {
            debug_assert!((index as usize) < self.slots.len());
            return Some(Permit::new(Arc::clone(self), index));
        }
        // Should it fail anyway, give the place back rather than leak it (plainly: never as
        // a hand-off, which could come straight back to this waiter).
        self.release_live();
        debug_assert!(false, "a permit found no vacant slot");
        None
    }

    #[inline]
    pub(crate) fn slot(&self, index: u32) -> &Slot<T> {
        debug_assert!((index as usize) < self.slots.len());
        &self.slots[index as usize]
    }

    /// Wraps an owned, occupied slot index into a lease.
    #[inline]
    pub(crate) fn lend(self: &Arc<Self>, index: u32) -> Lease<T, E> {
        // SAFETY: the caller owns `index` (it just popped it), so no one else touches the slot.
        self.slot(index).meta.with_mut(|meta| unsafe { (*meta).use_count += 1 });
        Lease::new(Arc::clone(self), index)
    }

    /// Closes the pool: wakes every waiter (they get [`Closed`](crate::Closed)), drops idle
    /// objects now and in-use ones when they return. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cenote_core::{Acquire, Core};
    ///
    /// let core = Arc::new(Core::<u8>::new(1, 1, ()).unwrap());
    /// core.close();
    /// assert!(core.is_closed());
    /// assert!(matches!(core.try_acquire(), Acquire::Closed));
    /// ```
    pub fn close(&self) {
        // ORDERING: `SeqCst` RMW: the closer's half of the Dekker pair with returners, who
        // push then read `state`; whatever this drain misses, they see `CLOSED` and drain.
        self.state.fetch_or(CLOSED, Ordering::SeqCst);
        crate::sync::seqcst_fence_for_loom();
        self.event.notify(usize::MAX.tag(crate::release::HINT));
        self.priority.notify(usize::MAX.tag(crate::release::HINT));
        self.drain();
    }

    /// Changes `max_size` within `1..=capacity`. Growing wakes waiters now; shrinking drops
    /// idle extras now and retires in-use extras as they return.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for 0, a size above capacity, or a closed pool.
    pub fn resize(&self, max_size: usize) -> Result<(), ConfigError> {
        if max_size == 0 {
            return Err(ConfigError::ZeroMaxSize);
        }
        if max_size > self.slots.len() {
            return Err(ConfigError::MaxSizeAboveCapacity { max_size, capacity: self.slots.len() });
        }
        if self.is_closed() {
            return Err(ConfigError::Closed);
        }
        // ORDERING: `SeqCst` swap then `SeqCst` load of `waiters`: pairs with a waiter's
        // increment followed by its `SeqCst` read of `max_size` in `try_reserve`.
        let old = self.max_size.swap(max_size, Ordering::SeqCst);
        crate::sync::seqcst_fence_for_loom();
        if max_size > old {
            if self.waiters.load(Ordering::SeqCst) != 0 {
                let more = max_size - old;
                self.priority.notify(more.additional().tag(crate::release::HINT));
                self.event.notify(more.additional().tag(crate::release::HINT));
            }
        } else {
            while self.live.load(Ordering::SeqCst) > self.max_size.load(Ordering::SeqCst) {
                match self.idle.pop() {
                    Some(index) => self.retire_slot(index),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// Visits idle objects once each (oldest first) and drops those for which `keep` returns
    /// `false`, freeing their places. Returns how many were dropped.
    ///
    /// Objects being visited are briefly not idle: a concurrent `try_acquire` may see none and
    /// create a new object or wait. A panic in `keep` returns the visited object to the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cenote_core::Core;
    ///
    /// let core = Arc::new(Core::<u32>::new(4, 4, ()).unwrap());
    /// for n in 0..3 {
    ///     cenote_core::Permit::fill_idle(core.try_reserve().unwrap(), n);
    /// }
    /// assert_eq!(core.retain(|n, _meta| *n != 1), 1);
    /// assert_eq!(core.status().idle, 2);
    /// ```
    pub fn retain(self: &Arc<Self>, mut keep: impl FnMut(&mut T, &SlotMeta) -> bool) -> usize {
        let mut dropped = 0;
        for _ in 0..self.idle.len() {
            let Some(index) = self.idle.pop() else { break };
            // Not `lend`: a visit is not a use.
            let mut lease = Lease::new(Arc::clone(self), index);
            let meta = *Lease::meta(&lease);
            if keep(&mut lease, &meta) {
                drop(lease);
            } else {
                Lease::retire(lease);
                dropped += 1;
            }
        }
        dropped
    }

    /// Declares one more or one fewer starving waiter.
    pub(crate) fn set_starving(&self, starving: bool) {
        // ORDERING: `SeqCst` so that returners' `SeqCst` reads of `state` order with it;
        // being seen late only delays fairness by a return or two.
        if starving {
            self.state.fetch_add(STARVING_ONE, Ordering::SeqCst);
        } else {
            self.state.fetch_sub(STARVING_ONE, Ordering::SeqCst);
        }
    }

    /// One look for something to take, made by a registered waiter. `woken` is the tag of
    /// the notification that woke it (`None` on the first look): only `HANDED` may take from
    /// the hand-off queue.
    pub(crate) fn try_acquire_waiting(
        self: &Arc<Self>,
        woken: Option<bool>,
    ) -> Option<Result<Acquired<T, E>, crate::Closed>> {
        let handed = woken == Some(crate::release::HANDED);
        if self.is_closed() {
            if handed {
                self.pass_on();
            }
            return Some(Err(crate::Closed));
        }
        if handed {
            match self.handoff.pop() {
                Some(PERMIT) => return self.take_vacant().map(|p| Ok(Acquired::Vacant(p))),
                Some(index) => return Some(Ok(Acquired::Idle(self.lend(index)))),
                None => {}
            }
        }
        if let Some(index) = self.idle.pop() {
            return Some(Ok(Acquired::Idle(self.lend(index))));
        }
        self.try_reserve().map(|p| Ok(Acquired::Vacant(p)))
    }
}

impl<T, E: fmt::Debug> fmt::Debug for Core<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core").field("status", &self.status()).field("ext", &self.ext).finish_non_exhaustive()
    }
}

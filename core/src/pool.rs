//! The pool's state, its handle, and the acquiring half of its lock-free protocol.
//!
//! # Algorithm
//!
//! `capacity` slots are allocated once. Each slot index is always in exactly one place (see
//! [`Slot`]): two bounded MPMC queues (Vyukov's bounded queue, `queue.rs`) hold the indices
//! of *idle* slots (an object ready to lend) and *vacant* slots (no object); a lent index is
//! in a [`Lease`], and one given to a waiter is in that waiter's node. `live` counts objects
//! plus permits to create one; a permit is taken with a CAS that keeps `live <= max_size`, so
//! creating and resizing never lock.
//!
//! The idle queue's tail word carries a *gate* (`queue.rs`): `GATE_WAITERS` while anyone may
//! wait, `GATE_CLOSED` once closed. A return is one CAS that publishes the index only if the
//! gate is 0, so an uncontended return touches nothing after it. Otherwise the returner takes
//! the slow path under the wait list's lock.
//!
//! # Waiting
//!
//! Waiters queue in an intrusive FIFO (`waitlist.rs`) of nodes that live in the waiting
//! future or on the blocked thread's stack, behind one short lock, so waiting allocates
//! nothing. A waiter increments `waiters`, sets `GATE_WAITERS` (a `SeqCst` RMW on the tail
//! word), then, under the lock, looks once more (idle queue, free place, closed) and, finding
//! nothing, links its node. A slow-path return decides under the same lock: it gives the
//! object to the oldest waiter (stored in the node, which is unlinked and woken), or pushes it
//! to the idle queue and wakes the oldest waiter to look. So a waiter either sees the object
//! in its look or is linked when the returner looks at the list: no wakeup is lost in the gap
//! between "nothing idle" and "start waiting". A gated push that went through before the
//! waiter's gate RMW is before it in the tail word's modification order, so the look sees
//! it. The last waiter to leave clears the gate, then looks at `waiters` again; if someone
//! arrived meanwhile it sets the gate again and wakes the oldest waiter, covering any push
//! that went through while the gate was briefly clear.
//!
//! A served waiter reads what it was given from its node without the lock (the server's
//! `Release` store is its last access to the node). A waiter that is cancelled (its future
//! dropped, its thread timing out) unlinks its node under the lock; if a server got there
//! first, it passes on what it was given: an object or a permit goes back through the
//! ordinary return path (to the next waiter, or to the pool), a wakeup to the next waiter.
//! Nothing given is lost, whoever is last.
//!
//! # Fairness
//!
//! Async waiters are served *directly*: while one is at the front, returns and freed places
//! go to it, in FIFO order, and a newcomer finds nothing idle and lines up. Waking a task is
//! cheap, and this makes every wakeup useful and the wait of each task bounded by the ones
//! ahead of it. (While a blocking waiter that is not yet direct is at the front, returns go
//! to the idle queue for it, and a newcomer may take one first; a place freed by `resize` or a
//! failed create wakes the front waiter to look, with the same caveat.)
//!
//! Blocking waiters start *indirect*: a return goes to the idle queue and wakes the oldest of
//! them, and a newcomer (or a thread still in its short pre-park spin) may take the object
//! first. That barging keeps threads out of a lock convoy (an object reserved for a thread
//! that is not running is an object nobody uses). Each time a woken waiter finds nothing it
//! counts a *miss* and links again at the front; after [`STARVE_AFTER_MISSES`] misses it
//! becomes direct, so the next return is its. (Several such waiters relink at the front in
//! the order they missed, newest first; only waiters already served once can move up.)
//!
//! # Priority classes and the reserve
//!
//! Waiters carry a class ([`Priority`]); the wait list keeps one FIFO per class and the serve
//! step above ("gives the object to the oldest waiter") picks the class first, under the
//! same lock: the highest class with a waiter, unless a lower class has aged (see
//! `priority.rs` for the rule and the bound). With a reserve set, a `Normal` or `Low` waiter's
//! look (and a woken waiter's) checks the reserve and takes under the wait list's lock, every
//! serve checks it there too, and a `try_acquire` that sees `RESERVED` takes lock-free and
//! then checks (`priority.rs`, "The reserve", for why the two together are exact). Nothing
//! else changes: the Dekker pairs below are the same, the reserve check's `SeqCst` read of
//! `live` standing in for `try_reserve`'s in the waiter's half of "freed place ↔ waiter". A
//! waiter kept out by the reserve is served by the return or freed place that makes more than
//! the reserve available (each reaches the lock, since the waiter shut the gate).
//!
//! # Lifetime without reference counts on the hot path
//!
//! A [`Lease`] or [`Permit`] holds a raw pointer to the pool, not a counted reference: taking
//! and returning an idle object touches no reference count. What keeps the pool alive for them
//! is `live`, which counts them. [`Core`] handles are counted in `handles`; when the last one
//! goes, the pool is closed and drained, and the `ORPHAN` bit is added to `live`; whoever then
//! takes `live` to `ORPHAN` exactly (the last lease or permit, or the last handle if none is
//! out) frees the allocation. A lease whose return needs more than the gated push first takes
//! a temporary handle, so everything it touches after giving up its object stays alive; if no
//! handle is left, the pool is closed, and it drops its object and releases its count as its
//! very last step.
//!
//! # Memory ordering
//!
//! The Dekker-style pairs (a publish, then a look at the other side's flag) are:
//!
//! * return ↔ wait: the gated CAS on the idle queue's tail against the waiter's `SeqCst` RMW of
//!   `GATE_WAITERS` on the same word (above); past the gate, both sides decide under the wait
//!   list's lock;
//! * close ↔ return: `close` sets `CLOSED` in `state` then in the gate, then takes the wait
//!   list's lock to wake everyone, then drains; a returner that sees the gate bit (its tail
//!   loads are `Acquire`) sees `state`; one that pushed under the lock before `close` took it
//!   is drained by `close`, one after it sees `CLOSED` and drains;
//! * freed place ↔ waiter: `live.fetch_sub(SeqCst)` then `waiters.load(SeqCst)`, against
//!   `waiters.fetch_add(SeqCst)` then `live.load(SeqCst)` (in the waiter's look under the
//!   lock); a freer that sees a waiter wakes the oldest under the lock.
//!
//! In the single total order of `SeqCst` operations one side of each pair sees the other.
//! Loom models only `SeqCst` fences, so under loom `seqcst_fence_for_loom` adds one between
//! the halves (see `sync.rs`).
//!
//! Slot contents travel with their index: the queue writes the index, then stores the cell's
//! stamp with `Release`, and `pop` reads the stamp with `Acquire`, so whatever the previous
//! owner wrote to the slot happens-before the next owner reads it.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::error::ConfigError;
use crate::lease::{Lease, Permit};
use crate::priority::Priority;
use crate::queue::{
    idle_queue_bytes, plain_queue_bytes, try_plain_queue, IdleQueue, PlainQueue, GATE_CLOSED, GATE_SHRINK,
};
use crate::slot::{Slot, SlotMeta};
use crate::sync::{seqcst_fence_for_loom, AtomicUsize, CachePadded, Ordering};
use crate::waitlist::{wake_all, WaitList, Wake, CLOSED_NODE, WAKE_BATCH};

/// Bit 0 of `state`: the pool is closed.
pub(crate) const CLOSED: usize = 1;
/// Bit 1 of `state`: a reserve is set (`Counts::reserve > 0`), so `Normal` and `Low` callers
/// take under the wait list's lock (see `priority.rs`). Tested with `CLOSED` in one
/// instruction on the fast path.
pub(crate) const RESERVED: usize = 2;
/// Added to `live` when the last handle is gone: the pool is freed when `live == ORPHAN`.
pub(crate) const ORPHAN: usize = 1 << (usize::BITS - 1);
/// How many fruitless wakeups a blocking waiter takes before it is served directly (see
/// "Fairness" in the crate's protocol notes): the next return or freed place is then its.
#[cfg(not(loom))]
pub const STARVE_AFTER_MISSES: u32 = 2;
/// How many fruitless wakeups a blocking waiter takes before it is served directly (1 under
/// loom, so that the small models reach the direct paths).
#[cfg(loom)]
pub const STARVE_AFTER_MISSES: u32 = 1;

/// A handle to the lock-free core of a cenote pool: slots, queues, permits and wakeups.
///
/// `Core` is what the `cenote-sync` and `cenote-async` front ends are built on, and what
/// another pooling crate can build its own pool on. It lends objects of type `T` and carries
/// an extension value `E` (a front end keeps its manager and configuration there, so that
/// everything lives in one allocation). It never allocates after [`Core::new`], has no clock
/// and no runtime, and works under `#![no_std]`.
///
/// `Core` is a cheap handle, like an `Arc`: clones share one pool. When the last handle is
/// dropped the pool is [closed](Core::close); its memory is freed once the last [`Lease`] and
/// [`Permit`] are gone too. Leases and permits do not count as handles, and taking or
/// returning one touches no reference count.
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
/// use cenote_core::{Core, Permit, TryAcquire};
///
/// let core = Core::<Vec<u8>>::new(4, 2, ()).unwrap();
///
/// let mut lease = match core.try_acquire() {
///     TryAcquire::Idle(lease) => lease,
///     TryAcquire::Vacant(permit) => Permit::fill(permit, Vec::with_capacity(1024)),
///     TryAcquire::Exhausted | TryAcquire::Closed => unreachable!(),
/// };
/// lease.extend_from_slice(b"hello");
/// drop(lease); // back to the idle queue
///
/// let status = core.status();
/// assert_eq!((status.size, status.idle), (1, 1));
/// match core.try_acquire() {
///     TryAcquire::Idle(lease) => assert_eq!(&lease[..], b"hello"),
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
    pub(crate) inner: NonNull<Inner<T, E>>,
    pub(crate) _owns: PhantomData<Inner<T, E>>,
}

/// The shared state behind every [`Core`] handle, lease and permit.
pub(crate) struct Inner<T, E> {
    /// This allocation, as returned by `Box::into_raw`: leases, permits and temporary handles
    /// copy this pointer (not one derived from a `&Inner`), so that whoever frees the
    /// allocation holds a pointer allowed to.
    pub(crate) this: NonNull<Inner<T, E>>,
    /// [`WeakCore`](crate::WeakCore)s alive, plus one for the pool itself (its handles, leases
    /// and permits together): the allocation is freed when this reaches 0. Written only when
    /// a weak handle is made or dropped and once at teardown, never on the hot path.
    pub(crate) weak: AtomicUsize,
    pub(crate) slots: Box<[Slot<T>]>,
    /// Indices of slots holding an idle object, oldest return first; its tail carries the
    /// gate.
    pub(crate) idle: IdleQueue,
    /// Indices of vacant slots. Invariant: pushed *before* `live` is decremented, so whoever
    /// wins a permit finds a vacant slot.
    pub(crate) vacant: PlainQueue,
    pub(crate) counts: CachePadded<Counts>,
    /// Waiters between "I will wait" and "I am done waiting".
    pub(crate) waiters: CachePadded<AtomicUsize>,
    /// `Core` handles alive, including temporary ones taken by slow paths.
    pub(crate) handles: CachePadded<AtomicUsize>,
    /// Linked waiters, oldest first (see "Waiting" and "Fairness").
    /// (On lines of its own: its lock and links are written under contention, and must not
    /// share a line with the pointers every get and return reads.)
    pub(crate) waitlist: CachePadded<WaitList>,
    /// Read only on slow paths (a place freed), never on the hot path.
    pub(crate) hooks: Hooks<T, E>,
    ext: E,
}

/// Functions a pool calls on its slow paths, given to [`Core::new_with_hooks`]. Each gets the
/// pool's extension value; each must be quick and must not block (they run on the thread
/// that returned or retired an object, or closed the pool), and none runs under the wait
/// list's lock. None runs on the hot path: a lend or a return to the idle queue calls nothing.
///
/// A hook that panics loses nothing: `vacated` runs after the object left its slot and with
/// the guard that frees its place armed, so the unwind drops the object and frees the place.
/// (`place_freed` runs inside that guard's drop: a panic there while already unwinding from a
/// panicking object `drop` aborts the process, as any double panic does; keep it panic-free.)
#[non_exhaustive]
pub struct Hooks<T, E> {
    /// Called after a place in the pool is freed (`size` went down by one: an object was
    /// retired, dropped on a closed pool's return, detached, or a permit given back), once
    /// the new size can be seen by [`Core::status`]. Not called when the place goes straight
    /// to a waiter, nor for places freed after the last [`Core`] handle is gone (a return to
    /// an orphaned pool: nobody can wait on it any more), nor when a permit won against a
    /// maximum lowered at that instant is given back at once.
    pub place_freed: Option<fn(&E)>,
    /// Called when an object leaves the pool (is dropped, or detached), with the object, its
    /// metadata and the reason, just before it is taken out of its slot: for books kept by
    /// reason (objects dropped as broken, expired, on close) and object-lifetime histograms.
    pub vacated: Option<fn(&E, &T, &SlotMeta, Vacated)>,
}

/// Why an object left the pool (see [`Hooks::vacated`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Vacated {
    /// [`Lease::retire`](crate::Lease::retire): the layer above dropped it (broken, expired,
    /// failed a check; that layer knows which).
    Retired,
    /// [`Lease::detach`](crate::Lease::detach): taken out of the pool for good.
    Detached,
    /// One too many after [`Core::resize`] lowered `max_size`.
    Shrunk,
    /// The pool was closed (or its last handle dropped).
    Closed,
}

impl<T, E> Hooks<T, E> {
    /// No hooks.
    pub const fn new() -> Self {
        Self { place_freed: None, vacated: None }
    }

    /// Sets [`Hooks::vacated`].
    #[must_use]
    pub const fn vacated(mut self, f: fn(&E, &T, &SlotMeta, Vacated)) -> Self {
        self.vacated = Some(f);
        self
    }

    /// Sets [`Hooks::place_freed`].
    #[must_use]
    pub const fn place_freed(mut self, f: fn(&E)) -> Self {
        self.place_freed = Some(f);
        self
    }
}

impl<T, E> Default for Hooks<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Clone for Hooks<T, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, E> Copy for Hooks<T, E> {}

impl<T, E> core::fmt::Debug for Hooks<T, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hooks")
            .field("place_freed", &self.place_freed.is_some())
            .field("vacated", &self.vacated.is_some())
            .finish()
    }
}

/// The words read on the hot path, on one cache line.
pub(crate) struct Counts {
    /// Objects in existence plus permits handed out, plus `ORPHAN` once the last handle is
    /// gone. Never exceeds `max_size` through `try_reserve`; may exceed it after a shrink
    /// until the extras return.
    pub(crate) live: AtomicUsize,
    pub(crate) max_size: AtomicUsize,
    /// `CLOSED` and `RESERVED` bits.
    pub(crate) state: AtomicUsize,
    /// How many available objects and places only `High` may take (see `priority.rs`).
    /// Read-mostly: written by `Core::set_reserve`.
    pub(crate) reserve: AtomicUsize,
}

// SAFETY: `Core` shares an `Inner` between threads and may drop it (and with it `E` and any
// `T` still stored) on whichever thread lets go last:
// - the only unsynchronised state is each slot's `Cell`s, touched only by the owner of the
//   slot's index (see `Slot`), one thread at a time, ownership moving between threads through
//   the queues' release/acquire: that moves `T`s between threads, so `T: Send`; no `&T` is
//   shared through a `Core`, so `T: Sync` is not needed;
// - `E` is reachable through `&Core` from any thread (`Core::ext`), so `E: Sync`, and is
//   dropped by the last user, so `E: Send`;
// - everything else is atomics, queues and the wait list, which are `Send + Sync`.
unsafe impl<T: Send, E: Send + Sync> Send for Core<T, E> {}
// SAFETY: as for `Send`: `&Core` gives access to the same things a `Core` does.
unsafe impl<T: Send, E: Send + Sync> Sync for Core<T, E> {}
// SAFETY: `&Inner` is what `&Core`, a waiting future and a lease use; the argument for `Core`
// applies (`E: Send` because a holder of `&Inner` may run the teardown that drops it).
unsafe impl<T: Send, E: Send + Sync> Sync for Inner<T, E> {}
// SAFETY: as for `Core`.
unsafe impl<T: Send, E: Send + Sync> Send for Inner<T, E> {}

/// What [`Core::try_acquire`] found.
#[derive(Debug)]
#[must_use = "dropping a lease returns it and dropping a permit gives its place back"]
pub enum TryAcquire<T, E = ()> {
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
    /// Objects ready to lend (not counting one just given to a waiter that has not picked it
    /// up yet).
    pub idle: usize,
    /// Callers currently waiting.
    pub waiting: usize,
    /// Whether the pool is closed.
    pub closed: bool,
}

impl<T, E> Core<T, E> {
    /// The largest capacity a core supports.
    pub const MAX_CAPACITY: usize = (u32::MAX - 1) as usize;

    /// Builds a pool with `capacity` slots (allocated now, once) of which at most `max_size`
    /// hold objects, and the extension value `ext`, and returns the first handle to it.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] if `max_size` is 0, `max_size > capacity`, `capacity` exceeds
    /// [`MAX_CAPACITY`](Self::MAX_CAPACITY), or the slots and queues for `capacity` cannot be
    /// allocated ([`ConfigError::OutOfMemory`]; nothing aborts).
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
        Self::build(capacity, max_size, ext, Hooks::new(), IdleQueue::try_new)
    }

    /// [`Core::new`] with [`Hooks`]: functions the pool calls on its slow paths, for an
    /// embedder that waits on pool events of its own (a graceful shutdown waiting for lent
    /// objects to come back, a keyed pool whose global cap spans several cores).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use cenote_core::{Core, Hooks, TryAcquire, Permit};
    ///
    /// fn freed(count: &AtomicUsize) {
    ///     count.fetch_add(1, Ordering::Relaxed);
    /// }
    /// let core: Core<u32, AtomicUsize> =
    ///     Core::new_with_hooks(2, 2, AtomicUsize::new(0), Hooks::new().place_freed(freed))?;
    /// let TryAcquire::Vacant(permit) = core.try_acquire() else { unreachable!() };
    /// let lease = Permit::fill(permit, 7);
    /// cenote_core::Lease::retire(lease); // the object is dropped, its place freed
    /// assert_eq!(core.ext().load(Ordering::Relaxed), 1);
    /// # Ok::<(), cenote_core::ConfigError>(())
    /// ```
    pub fn new_with_hooks(
        capacity: usize,
        max_size: usize,
        ext: E,
        hooks: Hooks<T, E>,
    ) -> Result<Self, ConfigError> {
        Self::build(capacity, max_size, ext, hooks, IdleQueue::try_new)
    }

    /// Under loom only: [`Core::new`] with a mutex-backed stand-in for the gated idle queue,
    /// for models about something else (see `queue.rs` for why some need it).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn new_with_idle_stand_in(capacity: usize, max_size: usize, ext: E) -> Result<Self, ConfigError> {
        Self::build(capacity, max_size, ext, Hooks::new(), IdleQueue::stand_in)
    }

    fn build(
        capacity: usize,
        max_size: usize,
        ext: E,
        hooks: Hooks<T, E>,
        idle_queue: fn(usize) -> Result<IdleQueue, alloc::collections::TryReserveError>,
    ) -> Result<Self, ConfigError> {
        if max_size == 0 {
            return Err(ConfigError::ZeroMaxSize);
        }
        if capacity > Self::MAX_CAPACITY {
            return Err(ConfigError::CapacityTooLarge { capacity });
        }
        if max_size > capacity {
            return Err(ConfigError::MaxSizeAboveCapacity { max_size, capacity });
        }
        // Every allocation the pool will ever make, made now and fallibly: a capacity the
        // machine cannot hold is an error naming the bytes, not an abort.
        // Twice the room the idle queue can ever need: in a Vyukov queue whose capacity equals
        // its item count, every push wraps onto the cell of the oldest pop, and a popper
        // preempted mid-pop stalls the pusher behind it at once; spare cells put a lap of
        // slack between them.
        let idle_cells = capacity.saturating_mul(2);
        let out_of_memory = || ConfigError::OutOfMemory {
            capacity,
            bytes: (capacity as u64)
                .saturating_mul(core::mem::size_of::<Slot<T>>() as u64)
                .saturating_add(idle_queue_bytes(idle_cells))
                .saturating_add(plain_queue_bytes(capacity)),
        };
        let mut slots: Vec<Slot<T>> = Vec::new();
        slots.try_reserve_exact(capacity).map_err(|_| out_of_memory())?;
        slots.extend((0..capacity).map(|_| Slot::new()));
        let idle = idle_queue(idle_cells).map_err(|_| out_of_memory())?;
        let vacant = try_plain_queue(capacity).map_err(|_| out_of_memory())?;
        for index in 0..capacity {
            // Cannot fail: the queue has `capacity` cells. `u32` fits: capacity <= MAX_CAPACITY.
            let _ = vacant.push(index as u32);
        }
        let inner = Inner {
            this: NonNull::dangling(),
            weak: AtomicUsize::new(1),
            slots: slots.into_boxed_slice(),
            idle,
            vacant,
            counts: CachePadded::new(Counts {
                live: AtomicUsize::new(0),
                max_size: AtomicUsize::new(max_size),
                state: AtomicUsize::new(0),
                reserve: AtomicUsize::new(0),
            }),
            waiters: CachePadded::new(AtomicUsize::new(0)),
            handles: CachePadded::new(AtomicUsize::new(1)),
            waitlist: CachePadded::new(WaitList::new()),
            hooks,
            ext,
        };
        // SAFETY: `Box::into_raw` never returns null.
        let inner = unsafe { NonNull::new_unchecked(Box::into_raw(Box::new(inner))) };
        // SAFETY: just allocated and not shared yet: the only access.
        unsafe { (*inner.as_ptr()).this = inner };
        Ok(Self { inner, _owns: PhantomData })
    }

    #[inline(always)]
    pub(crate) fn inner(&self) -> &Inner<T, E> {
        // SAFETY: a handle is counted in `handles`, and the allocation is freed only after
        // `handles` reached 0 (see `Drop`), so it is alive for as long as `self` is.
        unsafe { self.inner.as_ref() }
    }

    /// Uses counted with [`Lease::count_use`] since the pool was built, over every slot
    /// (wrapping at `usize::MAX`). Reads one word per slot (`capacity` loads): for metrics,
    /// not for the hot path. Only grows, though a count made on another thread an instant ago
    /// may not be in it yet.
    ///
    /// ```
    /// use cenote_core::{Core, Lease, Permit, TryAcquire};
    /// let core: Core<u8> = Core::new(2, 2, ())?;
    /// let TryAcquire::Vacant(permit) = core.try_acquire() else { unreachable!() };
    /// let mut lease = Permit::fill(permit, 1);
    /// Lease::count_use(&mut lease);
    /// drop(lease);
    /// let TryAcquire::Idle(mut lease) = core.try_acquire() else { unreachable!() };
    /// Lease::count_use(&mut lease);
    /// assert_eq!(core.uses(), 2);
    /// # Ok::<(), cenote_core::ConfigError>(())
    /// ```
    pub fn uses(&self) -> usize {
        // ORDERING: `Relaxed`: see `Lease::count_use`.
        self.inner().slots.iter().map(|slot| slot.uses.load(Ordering::Relaxed)).fold(0, usize::wrapping_add)
    }

    /// The extension value given to [`Core::new`].
    #[inline]
    pub fn ext(&self) -> &E {
        &self.inner().ext
    }

    /// The number of slots, fixed at construction.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.inner().slots.len()
    }

    /// The current maximum number of objects.
    #[inline]
    pub fn max_size(&self) -> usize {
        // ORDERING: a figure for the caller; nothing is published through it.
        self.inner().counts.max_size.load(Ordering::Relaxed)
    }

    /// Whether [`close`](Self::close) has been called.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.inner().is_closed()
    }

    /// Counts of the pool's objects and waiters.
    pub fn status(&self) -> CoreStatus {
        self.inner().status()
    }

    /// Lends an idle object, or hands out a permit to create one, without waiting.
    ///
    /// While waiters are served directly (see the module docs), returns and freed places go
    /// to them and not to the idle queue, so this answers [`TryAcquire::Exhausted`] and the
    /// caller lines up behind them.
    ///
    /// This is [`try_acquire_with`](Self::try_acquire_with)`(Priority::Normal)`.
    #[inline]
    pub fn try_acquire(&self) -> TryAcquire<T, E> {
        self.try_acquire_with(Priority::Normal)
    }

    /// [`try_acquire`](Self::try_acquire) for a caller of class `priority`: a `Normal` or
    /// `Low` caller takes an object or a place only while more than the
    /// [reserve](Self::set_reserve) are available, else it is told
    /// [`TryAcquire::Exhausted`]; `High` may take the reserve.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Core, Permit, Priority, TryAcquire};
    ///
    /// let core = Core::<u32>::new(2, 2, ()).unwrap();
    /// core.set_reserve(1).unwrap();
    /// Permit::fill_idle(core.try_reserve().unwrap(), 1);
    /// let TryAcquire::Idle(lease) = core.try_acquire_with(Priority::Low) else { unreachable!() };
    /// // One place is left, and it is the reserve.
    /// assert!(matches!(core.try_acquire_with(Priority::Normal), TryAcquire::Exhausted));
    /// assert!(matches!(core.try_acquire_with(Priority::High), TryAcquire::Vacant(_)));
    /// # drop(lease);
    /// ```
    #[inline]
    pub fn try_acquire_with(&self, priority: Priority) -> TryAcquire<T, E> {
        let inner = self.inner();
        // `High` ignores the reserve; the others take the locked path when one is set.
        let slow = if priority == Priority::High { CLOSED } else { CLOSED | RESERVED };
        // ORDERING: `Relaxed` is enough: `CLOSED` is a hint here. A caller that misses a
        // just-set `CLOSED` linearises before `close`. `RESERVED` is set before the pool is
        // shared, or by `set_reserve`, which linearises the change at its store.
        if inner.counts.state.load(Ordering::Relaxed) & slow != 0 {
            return inner.try_acquire_reserved(priority);
        }
        if let Some(index) = inner.idle.pop() {
            return TryAcquire::Idle(inner.lend(index));
        }
        match inner.try_reserve() {
            Some(permit) => TryAcquire::Vacant(permit),
            None => TryAcquire::Exhausted,
        }
    }

    /// Lends an idle object now, or returns `None`. Never creates, never waits.
    ///
    /// This is [`try_take_idle_with`](Self::try_take_idle_with)`(Priority::Normal)`.
    #[inline]
    pub fn try_take_idle(&self) -> Option<Lease<T, E>> {
        self.try_take_idle_with(Priority::Normal)
    }

    /// [`try_take_idle`](Self::try_take_idle) for a caller of class `priority`: as
    /// [`try_acquire_with`](Self::try_acquire_with), a `Normal` or `Low` caller does not take
    /// one of the [reserve](Self::set_reserve).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Core, Permit, Priority};
    ///
    /// let core = Core::<u32>::new(2, 2, ()).unwrap();
    /// core.set_reserve(2).unwrap_err(); // the reserve must leave room for Normal
    /// core.set_reserve(1).unwrap();
    /// let held = Permit::fill(core.try_reserve().unwrap(), 1);
    /// Permit::fill_idle(core.try_reserve().unwrap(), 2);
    /// assert!(core.try_take_idle_with(Priority::Normal).is_none()); // the last one is reserved
    /// assert!(core.try_take_idle_with(Priority::High).is_some());
    /// # drop(held);
    /// ```
    #[inline]
    pub fn try_take_idle_with(&self, priority: Priority) -> Option<Lease<T, E>> {
        let inner = self.inner();
        let slow = if priority == Priority::High { CLOSED } else { CLOSED | RESERVED };
        // ORDERING: as in `try_acquire_with`.
        if inner.counts.state.load(Ordering::Relaxed) & slow != 0 {
            return inner.try_take_idle_reserved(priority);
        }
        inner.idle.pop().map(|index| inner.lend(index))
    }

    /// Takes a permit to create one more object, if `live < max_size`. For warming the pool
    /// (fill the permit with [`Permit::fill_idle`]).
    pub fn try_reserve(&self) -> Option<Permit<T, E>> {
        self.inner().try_reserve()
    }

    /// Closes the pool: wakes every waiter (they get [`Closed`](crate::Closed)), drops idle
    /// objects now and in-use ones when they return. Idempotent. Dropping the last handle
    /// closes the pool too.
    ///
    /// # Panics
    ///
    /// If a waiter's waker panics: the other waiters of its batch are woken first, and the
    /// panic goes on to the caller. Waiters not reached yet, and idle objects, are left for
    /// the next call (`close` again finishes the job).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Core, TryAcquire};
    ///
    /// let core = Core::<u8>::new(1, 1, ()).unwrap();
    /// core.close();
    /// assert!(core.is_closed());
    /// assert!(matches!(core.try_acquire(), TryAcquire::Closed));
    /// ```
    pub fn close(&self) {
        self.inner().close();
    }

    /// Changes `max_size` within `1..=capacity`. Growing wakes waiters now; shrinking drops
    /// idle extras now and retires in-use extras as they return.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for 0, a size above capacity, or a closed pool.
    pub fn resize(&self, max_size: usize) -> Result<(), ConfigError> {
        let inner = self.inner();
        if max_size == 0 {
            return Err(ConfigError::ZeroMaxSize);
        }
        if max_size > inner.slots.len() {
            return Err(ConfigError::MaxSizeAboveCapacity { max_size, capacity: inner.slots.len() });
        }
        if inner.is_closed() {
            return Err(ConfigError::Closed);
        }
        // ORDERING: a read-mostly setting; see `set_reserve`.
        let reserve = inner.counts.reserve.load(Ordering::Relaxed);
        if reserve != 0 && reserve >= max_size {
            return Err(ConfigError::ReserveNotBelowMaxSize { reserve, max_size });
        }
        // ORDERING: `SeqCst` swap then `SeqCst` loads of `waiters` and `live`: pairs with a
        // waiter's increment followed by its `SeqCst` read of `max_size` in `try_reserve`, and
        // with `try_reserve`'s increment of `live` followed by its re-read of `max_size`.
        let old = inner.counts.max_size.swap(max_size, Ordering::SeqCst);
        seqcst_fence_for_loom();
        if max_size > old {
            if inner.waiters.load(Ordering::SeqCst) != 0 {
                // One waiter per new place, until nobody is left to wake.
                for _ in old..max_size {
                    if !inner.wake_one() {
                        break;
                    }
                }
            }
        } else if inner.over_max() {
            // Shut the fast return path while extras exist: every return now takes the slow
            // path, which retires extras (see `Inner::settle_shrink`). A return whose gated CAS
            // came first is in the idle queue and is retired below. A `try_reserve` that read
            // the old maximum sees the new one after its increment and gives the place back,
            // or its increment is seen here.
            inner.idle.set_gate(GATE_SHRINK);
            inner.retire_idle_extras();
        }
        // Opens the gate if the pool is within its limit (now, or after growing).
        inner.settle_shrink();
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
    /// use cenote_core::{Core, Permit};
    ///
    /// let core = Core::<u32>::new(4, 4, ()).unwrap();
    /// for n in 0..3 {
    ///     Permit::fill_idle(core.try_reserve().unwrap(), n);
    /// }
    /// assert_eq!(core.retain(|n, _meta| *n != 1), 1);
    /// assert_eq!(core.status().idle, 2);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&mut T, &SlotMeta) -> bool) -> usize {
        let inner = self.inner();
        let mut dropped = 0;
        for _ in 0..inner.idle.len() {
            let Some(index) = inner.idle.pop() else { break };
            // Not `lend`: a visit is not a use.
            let mut lease = Lease::new(inner, index);
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
}

impl<T, E> Inner<T, E> {
    /// Counts of the pool's objects and waiters: [`Core::status`] and [`Lease::status`].
    pub(crate) fn status(&self) -> CoreStatus {
        let inner = self;
        // ORDERING: statistics only; `Relaxed` reads, documented as not a snapshot.
        CoreStatus {
            max_size: inner.counts.max_size.load(Ordering::Relaxed),
            capacity: inner.slots.len(),
            size: inner.counts.live.load(Ordering::Relaxed),
            idle: inner.idle.len(),
            waiting: inner.waiters.load(Ordering::Relaxed),
            closed: inner.is_closed(),
        }
    }

    #[inline]
    pub(crate) fn ext(&self) -> &E {
        &self.ext
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        // ORDERING: a flag read; callers that need to order against `close` synchronise
        // through the queues or the wait list's lock.
        self.counts.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Whether more objects exist than `max_size` allows (after a shrink).
    pub(crate) fn over_max(&self) -> bool {
        // ORDERING: `SeqCst`, ordered with `resize`'s swap and the `live` RMWs.
        self.counts.live.load(Ordering::SeqCst) > self.counts.max_size.load(Ordering::SeqCst)
    }

    /// The slot at `index`, which must be one of this pool's indices (`0..capacity`).
    ///
    /// Unchecked: every index the core handles comes from its own queues or a lease, and
    /// those hold only `0..capacity` (the queues are filled with exactly those at
    /// construction and `slots` never changes size), so a bounds check on each of the half
    /// dozen slot accesses of a get + drop would only cost instructions.
    #[inline]
    pub(crate) fn slot(&self, index: u32) -> &Slot<T> {
        debug_assert!((index as usize) < self.slots.len());
        // SAFETY: `index < slots.len()`: indices come only from this pool's queues and leases
        // (see above), which hold `0..capacity`, and `slots.len() == capacity` for life.
        unsafe { self.slots.get_unchecked(index as usize) }
    }

    /// Wraps an owned, occupied slot index into a lease.
    #[inline]
    pub(crate) fn lend(&self, index: u32) -> Lease<T, E> {
        // SAFETY: the caller owns `index` (it just popped it), so no one else touches the slot.
        self.slot(index).meta.with_mut(|meta| unsafe { (*meta).use_count += 1 });
        Lease::new(self, index)
    }

    /// Takes a permit to create one more object, if `live < max_size`.
    pub(crate) fn try_reserve(&self) -> Option<Permit<T, E>> {
        if self.is_closed() {
            return None;
        }
        // ORDERING: `SeqCst` load pairs with `resize`'s `SeqCst` swap followed by its
        // `waiters` load: a waiter that registered before looking here either sees the new
        // maximum or is woken by `resize`.
        let max = self.counts.max_size.load(Ordering::SeqCst);
        // ORDERING: `SeqCst`, the waiter's half of the "freed place ↔ waiter" Dekker pair: a
        // waiter incremented `waiters` before this look, and a freer decrements `live` before
        // reading `waiters`; one of them sees the other. (A failed CAS below re-reads.)
        let mut live = self.counts.live.load(Ordering::SeqCst);
        loop {
            if live >= max {
                return None;
            }
            // ORDERING: `SeqCst` success, whose acquire half synchronises with the release half
            // of the decrement that made room, so the vacant index pushed before that
            // decrement is visible to our pop.
            match self.counts.live.compare_exchange_weak(live, live + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => live = actual,
            }
        }
        seqcst_fence_for_loom();
        // ORDERING: `SeqCst` re-read after the increment, against `resize`'s swap followed by
        // its read of `live`: either `resize` sees our increment (and shuts the return gate
        // for the extra), or we see the new maximum here. A shrink that came between our read
        // of `max_size` and our increment would otherwise leave one object too many, whose
        // returns take the fast path.
        if live >= self.counts.max_size.load(Ordering::SeqCst) {
            // Give the place back. Nobody to wake: with the new maximum there was no room.
            // ORDERING: `SeqCst`, as every RMW of `live`.
            self.counts.live.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        self.take_vacant()
    }

    /// Turns a won permit into a vacant slot index.
    pub(crate) fn take_vacant(&self) -> Option<Permit<T, E>> {
        // The vacant queue holds at least one index per outstanding permit: vacant indices
        // are pushed before `live` is decremented, `live <= capacity`, and the permit's CAS
        // (or the server's store that gave it to a waiter) happens-after that push. `pop` does
        // not report empty while a push is in flight, so this cannot fail.
        if let Some(index) = self.vacant.pop() {
            debug_assert!((index as usize) < self.slots.len());
            return Some(Permit::new(self, index));
        }
        debug_assert!(false, "a permit found no vacant slot");
        // Should it fail anyway, give the place back rather than leak it. Without waking
        // anyone: a waiter may be calling this under the wait list's lock.
        // ORDERING: as `release_live`'s decrement.
        self.counts.live.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Closes the pool: `CLOSED` in `state`, then in the idle queue's gate; wakes everyone;
    /// drains.
    pub(crate) fn close(&self) {
        // ORDERING: `SeqCst` RMWs: the closer's half of the Dekker pair with returners (module
        // docs). `state` first, so that a returner that sees the gate bit sees `state` too.
        self.counts.state.fetch_or(CLOSED, Ordering::SeqCst);
        self.idle.set_gate(GATE_CLOSED);
        seqcst_fence_for_loom();
        // A batch of waiters per lock, their wakers collected on the stack and woken after
        // unlocking (if one panics, the rest of its batch is still woken). A waiter linking
        // meanwhile sees `CLOSED` in its look.
        loop {
            let mut batch: [Option<Wake>; WAKE_BATCH] = [const { None }; WAKE_BATCH];
            let mut list = self.waitlist.lock();
            let (served, emptied) = list.serve_batch(CLOSED_NODE, &mut batch);
            drop(list);
            wake_all(&mut batch[..served]);
            if emptied {
                break;
            }
        }
        self.drain();
    }
}

impl<T, E: fmt::Debug> fmt::Debug for Core<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("status", &self.status())
            .field("ext", self.ext())
            .finish_non_exhaustive()
    }
}

//! The waiters' queue: an intrusive FIFO of wait nodes behind one short lock, with hand-off
//! into the node.
//!
//! Each waiter owns a [`WaitNode`] that lives in its future (async) or on its stack
//! (blocking), pinned for as long as it may be linked. The list links nodes through raw
//! pointers; everything about a node except its `state` is touched only under the list's
//! lock. Whoever serves a waiter does it in one step under the lock: unlink the node, take
//! its waker, store what it is given in `state` (`Release`); and wakes it after unlocking.
//! The store is the server's last access to the node, so a waiter that reads a non-waiting
//! `state` (`Acquire`) owns its node again and may free it at once, without the lock.
//!
//! Per wait that is two lock acquisitions (link, serve), none when the woken waiter picks up
//! what it was given, and none when a cancelled waiter was already served (it reads `state`
//! and passes on what it got). The lock is held for a few pointer writes plus, in the pool's
//! slow paths, one pop or push on a lock-free queue (which may briefly wait for a preempted
//! peer's store), and never while running foreign code: wakers are cloned before locking,
//! woken and dropped after unlocking.
//!
//! A timed waiter's node also carries its deadline. `expire` (run by the pool's one timer,
//! through `WeakCore::expire_waiters`) takes the wakers of the nodes due and wakes them after
//! unlocking; such a node stays linked, without a waker, until its waiter leaves, so whoever
//! serves it meanwhile wakes nobody (the waiter is awake already) and must not take "no
//! waker" for "no node". `watch_at` records the earliest time someone has promised to run
//! `expire`, so that only a waiter due earlier than that asks for a timer.
//!
//! Waiters are in classes (`Priority`): the list is one FIFO per class under the one lock,
//! and a node carries its class so that unlinking finds its FIFO. A server asks `pick` which
//! class to serve (the highest with a waiter, unless a lower one has aged past `AGE_AFTER`
//! serves, or only `High` if what is given is in the reserve: `open == false`) and serves
//! that class's front, counting the serve for aging; `front_is_direct` looks at the same
//! node, so both decide on one pick under one lock. See `priority.rs`.
//!
//! The lock is std's mutex with `std`, a spin lock without it, loom's mutex under loom
//! (`rawlock.rs`).

use core::marker::{PhantomData, PhantomPinned};
use core::ptr;
use core::task::Waker;

use crate::priority::{Priority, AGE_AFTER, CLASSES};
use crate::rawlock::{RawGuard, RawLock};
use crate::sync::{AtomicUsize, Cell, Ordering};
pub(crate) use crate::wake::{wake_all, Wake, WAKE_BATCH};

/// `WaitNode::state`: linked (or about to be), nothing given yet.
pub(crate) const WAITING: usize = 0;
/// `WaitNode::state`: unlinked and woken to look again (an object went to the idle queue, a
/// place was freed, the pool grew, or a wakeup was passed on).
pub(crate) const WOKEN: usize = 1;
/// `WaitNode::state`: unlinked because the pool closed.
pub(crate) const CLOSED_NODE: usize = 2;
/// `WaitNode::state`: unlinked and given a permit (a place, `live` already counted).
pub(crate) const GIVEN_PERMIT: usize = 3;
/// `WaitNode::state`: unlinked and given the object in slot `state - GIVEN_SLOT`.
pub(crate) const GIVEN_SLOT: usize = 4;

/// `WaitNode::deadline` of a waiter with no deadline (or one already told it passed).
pub(crate) const NO_DEADLINE: u64 = u64::MAX;

/// One waiter's place in the list. Pinned while linked; see the module docs for who may
/// touch what. The fields marked "under the lock" are reached only through
/// [`Locked::node`], whose contract says when that is sound.
pub(crate) struct WaitNode {
    /// `WAITING`, or what the waiter was given (`WOKEN`, `CLOSED_NODE`, `GIVEN_*`).
    state: AtomicUsize,
    /// Neighbours in the list (null at the ends). Under the lock.
    prev: Cell<*const WaitNode>,
    next: Cell<*const WaitNode>,
    /// Whether the node is in the list. Under the lock (or owned by the waiter when not
    /// linked).
    linked: Cell<bool>,
    /// Whether returns go to this waiter directly (`GIVEN_SLOT`), rather than to the idle
    /// queue with a `WOKEN` for it. Under the lock.
    direct: Cell<bool>,
    /// The waiter's class (`Priority::index`): which of the list's FIFOs it is in. Under the
    /// lock.
    class: Cell<usize>,
    /// How to wake the waiter; taken by whoever serves it, or by `expire`. Under the lock.
    wake: Cell<Option<Wake>>,
    /// When the waiter gives up, in the caller's clock ticks (see `Core::acquire_until`);
    /// `NO_DEADLINE` if never, or once `expire` has woken it for its deadline. Under the lock.
    deadline: Cell<u64>,
    /// Linked nodes are pointed to: they must not move.
    _pinned: PhantomPinned,
}

// SAFETY: the raw pointers and cells are accessed only under the list's lock, or by the
// waiter that owns the node once it is unlinked (see the module docs); `Wake` is `Send`.
unsafe impl Send for WaitNode {}
// SAFETY: as for `Send`.
unsafe impl Sync for WaitNode {}

impl WaitNode {
    /// A node that is not linked.
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(WAITING),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
            direct: Cell::new(false),
            class: Cell::new(Priority::Normal.index()),
            wake: Cell::new(None),
            deadline: Cell::new(NO_DEADLINE),
            _pinned: PhantomPinned,
        }
    }

    /// What the node was given, or `WAITING`.
    #[inline]
    pub(crate) fn state(&self) -> usize {
        // ORDERING: `Acquire` pairs with the server's `Release` store in `serve_front`:
        // whatever it did before (pushing a vacant index, writing the object's slot, unlinking
        // this node) happens-before the waiter acts on the state or reuses the node.
        self.state.load(Ordering::Acquire)
    }

    /// Makes an unlinked, served node ready to be linked again.
    pub(crate) fn rearm(&self) {
        // ORDERING: only the owner touches an unlinked node's state; the next server's
        // `Release` store comes after a lock that orders it after this.
        self.state.store(WAITING, Ordering::Relaxed);
    }
}

/// The FIFOs of waiting nodes, one per class.
pub(crate) struct WaitList {
    lock: RawLock,
    /// Objects or permits given to blocking waiters and not yet picked up. A thread that was
    /// parked takes a while to run; while one such hand-off is in flight, returns do not
    /// reserve more objects for parked threads (see `front_is_direct`), so that objects keep
    /// circulating among running threads instead of queueing for sleeping ones (a lock
    /// convoy). Incremented under the lock, decremented by the thread when it picks up.
    threads_served: AtomicUsize,
    /// Oldest node of each class, `High` first (null when empty). Under the lock.
    head: [Cell<*const WaitNode>; CLASSES],
    /// Newest node of each class (null when empty). Under the lock.
    tail: [Cell<*const WaitNode>; CLASSES],
    /// Per class, serves that went to a higher class while this one could have been served,
    /// since it was last served or empty (see "Aging" in `priority.rs`). Under the lock.
    bypassed: [Cell<u32>; CLASSES],
    /// A time by which someone has promised to call `expire` (the earliest deadline any
    /// waiter announced, or the earliest left after the last `expire`); `NO_DEADLINE` if no
    /// such promise is pending. Every linked node's deadline is at or after it. Under the
    /// lock.
    watch_at: Cell<u64>,
}

// SAFETY: the pointers are touched only under the lock; the nodes they point to are `Sync`.
unsafe impl Send for WaitList {}
// SAFETY: as for `Send`.
unsafe impl Sync for WaitList {}

impl WaitList {
    pub(crate) fn new() -> Self {
        Self {
            lock: RawLock::new(),
            threads_served: AtomicUsize::new(0),
            head: core::array::from_fn(|_| Cell::new(ptr::null())),
            tail: core::array::from_fn(|_| Cell::new(ptr::null())),
            bypassed: core::array::from_fn(|_| Cell::new(0)),
            watch_at: Cell::new(NO_DEADLINE),
        }
    }

    /// A blocking waiter picked up (or passed on) what was given to it.
    pub(crate) fn thread_picked_up(&self) {
        // ORDERING: a throttle, read under the lock by servers: a stale (higher) value only
        // sends one more return through the idle queue with a wakeup, which is always safe.
        self.threads_served.fetch_sub(1, Ordering::Relaxed);
    }

    /// Takes the lock.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked { list: self, _guard: self.lock.lock(), _not_sync: PhantomData }
    }
}

/// The list, locked: the proof that its lock is held. The list's own fields, and those of the
/// nodes linked in it (through [`Locked::node`]), are read and written only through it.
pub(crate) struct Locked<'a> {
    list: &'a WaitList,
    _guard: RawGuard<'a>,
    /// Not `Sync`: the accessors below write the guarded cells through `&self`, which must
    /// then stay with the one thread that holds the lock.
    _not_sync: PhantomData<core::cell::Cell<()>>,
}

/// The fields of one node that its list's lock guards (all but `state`), read and written
/// through a [`Locked`] guard of that list.
///
/// Made only by [`Locked::node`], whose contract (the node is linked in that list, or is not
/// linked and is the caller's own) is what makes these accessors safe: nobody else touches
/// the fields while the view exists, and the view borrows the guard, so it cannot outlive the
/// lock.
#[derive(Clone, Copy)]
struct Node<'l>(&'l WaitNode);

impl Node<'_> {
    #[inline(always)]
    fn linked(self) -> bool {
        // SAFETY: no one else accesses the field while the view exists (see `Node`).
        self.0.linked.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_linked(self, linked: bool) {
        // SAFETY: as in `linked`; a `bool` has nothing to drop.
        self.0.linked.with_mut(|p| unsafe { *p = linked });
    }

    #[inline(always)]
    fn prev(self) -> *const WaitNode {
        // SAFETY: as in `linked`.
        self.0.prev.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_prev(self, prev: *const WaitNode) {
        // SAFETY: as in `linked`; a pointer has nothing to drop.
        self.0.prev.with_mut(|p| unsafe { *p = prev });
    }

    #[inline(always)]
    fn next(self) -> *const WaitNode {
        // SAFETY: as in `linked`.
        self.0.next.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_next(self, next: *const WaitNode) {
        // SAFETY: as in `set_prev`.
        self.0.next.with_mut(|p| unsafe { *p = next });
    }

    #[inline(always)]
    fn direct(self) -> bool {
        // SAFETY: as in `linked`.
        self.0.direct.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_direct(self, direct: bool) {
        // SAFETY: as in `set_linked`.
        self.0.direct.with_mut(|p| unsafe { *p = direct });
    }

    #[inline(always)]
    fn class(self) -> usize {
        // SAFETY: as in `linked`.
        self.0.class.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_class(self, class: usize) {
        // SAFETY: as in `linked`; a `usize` has nothing to drop.
        self.0.class.with_mut(|p| unsafe { *p = class });
    }

    #[inline(always)]
    fn deadline(self) -> u64 {
        // SAFETY: as in `linked`.
        self.0.deadline.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_deadline(self, deadline: u64) {
        // SAFETY: as in `linked`; a `u64` has nothing to drop.
        self.0.deadline.with_mut(|p| unsafe { *p = deadline });
    }

    /// Replaces the waker (`None`: takes it); returns the old one, to drop or wake after
    /// unlocking.
    #[inline(always)]
    fn replace_wake(self, wake: Option<Wake>) -> Option<Wake> {
        // SAFETY: as in `linked`. The old value is moved out, not dropped here.
        self.0.wake.with_mut(|p| unsafe { core::mem::replace(&mut *p, wake) })
    }

    /// Whether the waiter is a parked thread. (A node without a waker is a task's, woken by
    /// `expire`.)
    #[inline(always)]
    fn is_thread(self) -> bool {
        #[cfg(feature = "std")]
        // SAFETY: as in `linked`.
        return self.0.wake.with_mut(|p| matches!(unsafe { &*p }, Some(Wake::Thread(_))));
        #[cfg(not(feature = "std"))]
        false
    }

    /// Whether the waiter would be woken through `waker` (the same task).
    #[inline(always)]
    fn wakes(self, waker: &Waker) -> bool {
        // SAFETY: as in `linked`; the reference ends with the closure.
        self.0
            .wake
            .with_mut(|p| matches!(unsafe { &*p }, Some(Wake::Task(current)) if current.will_wake(waker)))
    }
}

impl Locked<'_> {
    /// The guarded fields of `node`.
    ///
    /// # Safety
    ///
    /// `node` points to a live node that is linked in this list, or that is not linked and is
    /// the caller's own. (A linked node stays alive until it is unlinked, which needs this
    /// lock; an unlinked node's fields are touched by its owner only.)
    #[inline(always)]
    unsafe fn node(&self, node: *const WaitNode) -> Node<'_> {
        debug_assert!(!node.is_null());
        // SAFETY: live (the caller's contract), and only shared: a node's fields are cells.
        Node(unsafe { &*node })
    }

    #[inline(always)]
    fn head(&self, class: usize) -> *const WaitNode {
        // SAFETY: the list's fields are guarded by its lock, which `self` holds, on this
        // thread only (`Locked` is not `Sync`): nobody else accesses them meanwhile.
        self.list.head[class].with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_head(&self, class: usize, head: *const WaitNode) {
        // SAFETY: as in `head`; a pointer has nothing to drop.
        self.list.head[class].with_mut(|p| unsafe { *p = head });
    }

    #[inline(always)]
    fn tail(&self, class: usize) -> *const WaitNode {
        // SAFETY: as in `head`.
        self.list.tail[class].with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_tail(&self, class: usize, tail: *const WaitNode) {
        // SAFETY: as in `set_head`.
        self.list.tail[class].with_mut(|p| unsafe { *p = tail });
    }

    #[inline(always)]
    fn bypassed(&self, class: usize) -> u32 {
        // SAFETY: as in `head`.
        self.list.bypassed[class].with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_bypassed(&self, class: usize, count: u32) {
        // SAFETY: as in `head`; a `u32` has nothing to drop.
        self.list.bypassed[class].with_mut(|p| unsafe { *p = count });
    }

    /// Whether no node is linked.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        (0..CLASSES).all(|class| self.head(class).is_null())
    }

    /// The class to serve next (see "Classes" and "Aging" in `priority.rs`), or `None` if no
    /// node may be served: the list is empty, or only `Normal` and `Low` wait and `open` is
    /// `false` (what is being given is in the reserve, for `High` only).
    #[inline]
    pub(crate) fn pick(&self, open: bool) -> Option<usize> {
        let eligible = |class: usize| !self.head(class).is_null() && (class == 0 || open);
        // Aged classes first, the lowest first.
        if let Some(class) = (1..CLASSES).rev().find(|&c| eligible(c) && self.bypassed(c) >= AGE_AFTER) {
            return Some(class);
        }
        (0..CLASSES).find(|&c| eligible(c))
    }

    #[inline(always)]
    fn watch_at(&self) -> u64 {
        // SAFETY: as in `head`.
        self.list.watch_at.with_mut(|p| unsafe { *p })
    }

    #[inline(always)]
    fn set_watch_at(&self, at: u64) {
        // SAFETY: as in `head`; a `u64` has nothing to drop.
        self.list.watch_at.with_mut(|p| unsafe { *p = at });
    }

    /// Whether the node `serve_front(_, open)` would serve is to be given returns directly
    /// now: it wants them, and it is a task, or a thread while no other thread has a hand-off
    /// in flight. `None` if there is no such node (see `pick`).
    #[inline]
    pub(crate) fn front_is_direct(&self, open: bool) -> Option<bool> {
        let head = self.head(self.pick(open)?);
        // SAFETY: `head` is linked in this list.
        let node = unsafe { self.node(head) };
        if !node.direct() {
            return Some(false);
        }
        // ORDERING: see `threads_served`.
        Some(!node.is_thread() || self.list.threads_served.load(Ordering::Relaxed) == 0)
    }

    /// Links `node` at the back of its `class` (or, if `front`, at the front), to be woken
    /// through `wake`.
    /// Returns the node's previous waker, if it still had one, to drop after unlocking.
    ///
    /// # Safety
    ///
    /// `node` is not linked, is the caller's own, its state is `WAITING`, and it stays alive
    /// and in place until it is unlinked: by `unlink`, or by a server, after which it is not
    /// touched again by the list.
    pub(crate) unsafe fn link(
        &mut self,
        node: &WaitNode,
        class: usize,
        front: bool,
        direct: bool,
        wake: Wake,
    ) -> Option<Wake> {
        debug_assert!(class < CLASSES);
        let this: *const WaitNode = node;
        // SAFETY: not linked and the caller's own (the caller's contract).
        let node = unsafe { self.node(this) };
        debug_assert!(!node.linked());
        node.set_direct(direct);
        node.set_class(class);
        let old = node.replace_wake(Some(wake));
        node.set_linked(true);
        let (head, tail) = (self.head(class), self.tail(class));
        if front {
            node.set_prev(ptr::null());
            node.set_next(head);
            if head.is_null() {
                self.set_tail(class, this);
            } else {
                // SAFETY: `head` is linked in this list.
                unsafe { self.node(head) }.set_prev(this);
            }
            self.set_head(class, this);
        } else {
            node.set_next(ptr::null());
            node.set_prev(tail);
            if tail.is_null() {
                self.set_head(class, this);
            } else {
                // SAFETY: `tail` is linked in this list.
                unsafe { self.node(tail) }.set_next(this);
            }
            self.set_tail(class, this);
        }
        old
    }

    /// Unlinks `node` if it is linked; returns whether it was (if not, a server got to it
    /// first and its state says what it was given).
    ///
    /// # Safety
    ///
    /// `node` is linked in this list, or is not linked and is the caller's own.
    pub(crate) unsafe fn unlink(&mut self, node: &WaitNode) -> bool {
        // SAFETY: the caller's contract.
        let node = unsafe { self.node(node) };
        if !node.linked() {
            return false;
        }
        let (prev, next, class) = (node.prev(), node.next(), node.class());
        if prev.is_null() {
            self.set_head(class, next);
        } else {
            // SAFETY: a neighbour of a linked node is linked in this list.
            unsafe { self.node(prev) }.set_next(next);
        }
        if next.is_null() {
            self.set_tail(class, prev);
            if prev.is_null() {
                // The class emptied: its aging starts afresh with its next waiter.
                self.set_bypassed(class, 0);
            }
        } else {
            // SAFETY: as above.
            unsafe { self.node(next) }.set_prev(prev);
        }
        node.set_linked(false);
        true
    }

    /// Unlinks the oldest node of the class `pick(open)` chooses and gives it `state`, and
    /// counts the serve for aging. Returns `None` if no node may be served, else how to wake
    /// the node's waiter (after unlocking): `Some(None)` if it has no waker (`expire` took it,
    /// and has woken or is about to wake the waiter, which then finds what it was given).
    pub(crate) fn serve_front(&mut self, state: usize, open: bool) -> Option<Option<Wake>> {
        debug_assert!(state != WAITING);
        let class = self.pick(open)?;
        let head = self.head(class);
        // Aging: a serve to `class` bypasses every lower class that could have been served.
        self.set_bypassed(class, 0);
        if open {
            for lower in class + 1..CLASSES {
                if !self.head(lower).is_null() {
                    self.set_bypassed(lower, self.bypassed(lower).saturating_add(1));
                }
            }
        }
        // SAFETY: `head` is linked in this list, so alive until the store below, our last
        // access (the waiter may free the node once it sees it, without the lock).
        let node = unsafe { &*head };
        // SAFETY: linked in this list.
        unsafe { self.unlink(node) };
        // SAFETY: unlinked by us, and its waiter does not touch it before the store below: the
        // node is ours until then.
        let wake = unsafe { self.node(node) }.replace_wake(None);
        #[cfg(feature = "std")]
        if state >= GIVEN_PERMIT && matches!(wake, Some(Wake::Thread(_))) {
            // ORDERING: see `threads_served`.
            self.list.threads_served.fetch_add(1, Ordering::Relaxed);
        }
        // ORDERING: `Release`: publishes everything before it (the unlinking, what is given)
        // to the waiter's `Acquire` load in `WaitNode::state`. Last access to the node: the
        // waiter may free it as soon as it sees this.
        node.state.store(state, Ordering::Release);
        Some(wake)
    }

    /// Serves up to `batch.len()` nodes from the front with `state`, as `serve_front`, and puts
    /// how to wake each into `batch` (`None` for a node without a waker, whose waiter is awake
    /// already: it is served all the same, so that the nodes behind it are reached). Returns
    /// how many it served, and whether that emptied the list (`false`: the batch filled
    /// first; call again).
    pub(crate) fn serve_batch(&mut self, state: usize, batch: &mut [Option<Wake>]) -> (usize, bool) {
        for (served, slot) in batch.iter_mut().enumerate() {
            match self.serve_front(state, true) {
                Some(wake) => *slot = wake,
                None => return (served, true),
            }
        }
        (batch.len(), self.is_empty())
    }

    /// Gives a just-linked node the deadline of its waiter. Returns `Some(deadline)` if no
    /// earlier call to `expire` is promised: the caller must then see to it that `expire`
    /// runs once the deadline has passed (and its promise is recorded here).
    ///
    /// # Safety
    ///
    /// `node` is linked in this list.
    pub(crate) unsafe fn set_deadline(&mut self, node: &WaitNode, deadline: u64) -> Option<u64> {
        // SAFETY: the caller's contract.
        let node = unsafe { self.node(node) };
        debug_assert!(node.linked());
        node.set_deadline(deadline);
        if deadline < self.watch_at() {
            self.set_watch_at(deadline);
            return Some(deadline);
        }
        None
    }

    /// Takes the wakers of up to `batch.len()` linked nodes whose deadline is at or before
    /// `now`, to be woken after unlocking: they stay linked, and their deadline is cleared so
    /// that each is woken for it once. Returns how many were taken, and, once it got through
    /// the whole list, the earliest deadline left (`NO_DEADLINE` if none), which becomes the
    /// next promise (`None` if the batch filled first: call again).
    pub(crate) fn expire(&mut self, now: u64, batch: &mut [Option<Wake>]) -> (usize, Option<u64>) {
        let mut taken = 0;
        let mut next = NO_DEADLINE;
        let mut cursor: *const WaitNode = ptr::null();
        let mut class = 0;
        loop {
            while cursor.is_null() && class < CLASSES {
                cursor = self.head(class);
                class += 1;
            }
            if cursor.is_null() {
                break;
            }
            // SAFETY: reached from `head` through `next` links: linked in this list.
            let node = unsafe { self.node(cursor) };
            let deadline = node.deadline();
            if deadline != NO_DEADLINE && deadline <= now {
                if taken == batch.len() {
                    return (taken, None);
                }
                node.set_deadline(NO_DEADLINE);
                // The node stays linked without a waker: whoever serves it wakes nobody, and
                // its waiter, woken by us, finds what it was given.
                batch[taken] = node.replace_wake(None);
                taken += 1;
            } else if deadline < next {
                next = deadline;
            }
            cursor = node.next();
        }
        self.set_watch_at(next);
        (taken, Some(next))
    }

    /// Whether a linked node would be woken through `waker` (the same task).
    ///
    /// # Safety
    ///
    /// `node` is linked in this list.
    pub(crate) unsafe fn wakes(&self, node: &WaitNode, waker: &Waker) -> bool {
        // SAFETY: the caller's contract.
        let node = unsafe { self.node(node) };
        debug_assert!(node.linked());
        node.wakes(waker)
    }

    /// Replaces a linked node's waker; returns the old one, to drop after unlocking.
    ///
    /// # Safety
    ///
    /// `node` is linked in this list.
    pub(crate) unsafe fn set_wake(&mut self, node: &WaitNode, wake: Wake) -> Option<Wake> {
        // SAFETY: the caller's contract.
        let node = unsafe { self.node(node) };
        debug_assert!(node.linked());
        node.replace_wake(Some(wake))
    }
}

//! Waiting for an object: the async wait ([`Acquire`], a named future) and the blocking one.
//!
//! Both are the same protocol (see `pool.rs`): count ourselves in `waiters` (which closes the
//! idle queue's gate), then, under the wait list's lock, look once more and link our node;
//! then sleep until a server stores in the node what we were given. The node lives inside the
//! future or on the blocking call's stack, so waiting allocates nothing.
//!
//! # Pinning
//!
//! A linked node is pointed to by its neighbours and the list, so it must not move, nor be
//! freed, until it is unlinked. It lives in a [`Wait`], which is pinned from the moment it is
//! made (in an [`Acquire`] future, or with `pin!` on the blocking call's stack) and whose
//! `Drop` unlinks the node (or passes on what it was given) before the node goes. `node` is
//! the only structurally pinned field of `Wait`, and `wait` the only one of `Acquire`; both
//! are reached only through their type's `project`, and neither type moves them in `Drop`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use crate::error::Closed;
use crate::pool::{Acquired, Core, Inner, TryAcquire, STARVE_AFTER_MISSES};
use crate::priority::{Found, Priority};
use crate::queue::GATE_WAITERS;
use crate::sync::{seqcst_fence_for_loom, Ordering};
use crate::waitlist::{WaitNode, Wake, CLOSED_NODE, GIVEN_PERMIT, GIVEN_SLOT, NO_DEADLINE, WAITING, WOKEN};
pub use crate::watch::{NoWatch, Watch};

/// A caller between "I will wait" and "I am done waiting": keeps `waiters` right on every
/// exit, including a panic or a dropped future, and decides where its node goes.
pub(crate) struct Waiter<'a, T, E> {
    core: &'a Inner<T, E>,
    misses: u32,
    /// Served directly (returns go to us, not to the idle queue) and linked at the front after
    /// a fruitless wakeup. Async waiters always are (a task's wakeup is cheap, so strict FIFO
    /// costs little); blocking waiters are once they starve.
    direct: bool,
    /// A blocking waiter (a parked thread), whose direct hand-offs are counted while in
    /// flight (see `WaitList::threads_served`).
    thread: bool,
    /// When an async waiter gives up, for `expire` to wake it then (`NO_DEADLINE`: never, or
    /// it keeps its own time, as blocking waiters do).
    deadline: u64,
    /// The waiter's class: which FIFO it lines up in, and whether it may take the reserve.
    class: Priority,
}

/// What a look under the lock did.
pub(crate) enum Looked<T, E> {
    /// Found an object, a permit, or a closed pool.
    Found(Found<T, E>),
    /// Linked the node; `Some(deadline)`: the caller must see to it that
    /// [`WeakCore::expire_waiters`](crate::WeakCore::expire_waiters) runs once it has passed.
    Linked(Option<u64>),
}

impl<'a, T, E> Waiter<'a, T, E> {
    fn new(core: &'a Inner<T, E>, thread: bool) -> Self {
        // ORDERING: `SeqCst`, ordered with the last leaver's re-read under the lock (`drop`)
        // and with freers' reads (`release_live`).
        core.waiters.fetch_add(1, Ordering::SeqCst);
        Self { core, misses: 0, direct: !thread, thread, deadline: NO_DEADLINE, class: Priority::Normal }
    }

    /// A wakeup that found nothing.
    fn missed(&mut self) {
        self.misses += 1;
        if self.misses >= STARVE_AFTER_MISSES {
            self.direct = true;
        }
    }

    /// Under the wait list's lock: one more look, else link `node` (at the front if we were
    /// already served once and missed, as a direct waiter). Returns what the look found, or
    /// `None` once linked.
    /// `wake` is made by the caller before the lock is taken (cloning a waker runs the
    /// executor's code) and dropped after it is released if not needed.
    pub(crate) fn look_or_link(&self, node: &WaitNode, wake: Wake) -> Looked<T, E> {
        let mut list = self.core.waitlist.lock();
        // ORDERING: the `SeqCst` RMW that sets the gate, under the lock: the waiter's half of
        // the return ↔ wait pair (see `pool.rs`). Every gated push after it fails and takes
        // the slow path, which takes this lock; every push before it is seen by our look
        // below. The gate is cleared only under this lock and only when no waiter is counted,
        // so it cannot be cleared behind us while we are.
        self.core.idle.set_gate(GATE_WAITERS);
        seqcst_fence_for_loom();
        if let Some(found) = self.core.try_take_locked(self.class) {
            drop(list);
            drop(wake);
            return Looked::Found(found);
        }
        // A waiter that was served and missed keeps its place at the front.
        let front = self.misses > 0;
        // SAFETY: `node` is ours, unlinked and `WAITING` (new or rearmed), pinned in its
        // `Wait`, which unlinks it before it goes (see "Pinning").
        let old = unsafe { list.link(node, self.class.index(), front, self.direct, wake) };
        let watch = if self.deadline == NO_DEADLINE {
            None
        } else {
            // SAFETY: `node` was linked in this list just above, under this lock.
            unsafe { list.set_deadline(node, self.deadline) }
        };
        drop(list);
        // A served node's waker was taken by its server: nothing to drop (and nothing that
        // could panic between linking and arming the guard).
        debug_assert!(old.is_none());
        drop(old);
        Looked::Linked(watch)
    }

    /// Takes `node` (ours) out of the list if it is still in it; returns whether it was.
    fn unlink(&self, node: &WaitNode) -> bool {
        let mut list = self.core.waitlist.lock();
        // SAFETY: our node is only ever linked in `core.waitlist` (by `look_or_link`); else it
        // is not linked, and ours.
        let unlinked = unsafe { list.unlink(node) };
        drop(list);
        unlinked
    }

    /// Acts on what a server gave our node (`state`, not `WAITING`); `None` means look again.
    pub(crate) fn on_served(&mut self, node: &WaitNode, state: usize) -> Option<Found<T, E>> {
        match state {
            CLOSED_NODE => Some(Err(Closed)),
            WOKEN => {
                let found = self.core.try_take(self.class);
                if found.is_none() {
                    self.missed();
                    node.rearm();
                }
                found
            }
            given => {
                if self.thread {
                    self.core.waitlist.thread_picked_up();
                }
                let found = self.core.take_given(given);
                if found.is_none() {
                    node.rearm();
                }
                found
            }
        }
    }
}

impl<T, E> Drop for Waiter<'_, T, E> {
    fn drop(&mut self) {
        // ORDERING: `SeqCst` decrement, then, under the wait list's lock, a `SeqCst` re-read:
        // the last waiter to leave opens the gate only if nobody is counted now. A waiter
        // counted after our re-read sets the gate again under the lock before it looks, and
        // its look sees any push made while the gate was open; one counted before it keeps
        // the gate shut.
        if self.core.waiters.fetch_sub(1, Ordering::SeqCst) == 1 {
            let list = self.core.waitlist.lock();
            seqcst_fence_for_loom();
            if self.core.waiters.load(Ordering::SeqCst) == 0 {
                self.core.idle.clear_gate(GATE_WAITERS);
            }
            drop(list);
        }
    }
}

/// A caller that waits: its count in `waiters`, its node, and whether the node needs
/// seeing to before it goes. Pinned (see "Pinning" in the module docs).
///
/// Dropped while armed (the future dropped, the thread timed out or panicked), it unlinks the
/// node or, if a server got there first, passes on what the node was given, so that nothing
/// is lost; then, and also if passing on panics, the count is given up (`waiter`'s drop).
pub(crate) struct Wait<'a, T, E> {
    /// The node is linked, or was served and what it was given is not acted on yet.
    armed: bool,
    /// Structurally pinned: linked by address while `armed`.
    node: WaitNode,
    /// Declared after `node`: dropped after `Drop::drop` unlinked the node, and after the node
    /// itself, as the last thing.
    waiter: Waiter<'a, T, E>,
}

impl<'a, T, E> Wait<'a, T, E> {
    /// Counts a new waiter (a blocking one if `thread`) of class `class` that gives up at
    /// `deadline`.
    pub(crate) fn new(core: &'a Inner<T, E>, thread: bool, deadline: u64, class: Priority) -> Self {
        let mut waiter = Waiter::new(core, thread);
        waiter.deadline = deadline;
        waiter.class = class;
        Self { armed: false, node: WaitNode::new(), waiter }
    }

    /// What the node was given, or `WAITING`.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn state(&self) -> usize {
        self.node.state()
    }

    /// The node (pinned, so only shared) and the fields that are not pinned.
    #[inline]
    pub(crate) fn project(self: Pin<&mut Self>) -> (&WaitNode, &mut bool, &mut Waiter<'a, T, E>) {
        // SAFETY: nothing pinned is moved: `node` is handed out only as `&WaitNode` (through
        // which it cannot be moved), and `armed` and `waiter` are not structurally pinned, so
        // `&mut` to them is fine.
        let this = unsafe { self.get_unchecked_mut() };
        (&this.node, &mut this.armed, &mut this.waiter)
    }

    /// Takes the node out of the list if it is still in it: `true` if it was (nothing was
    /// given; the node is disarmed), `false` if it was served (its state says with what).
    /// (For a blocking waiter that times out.)
    #[cfg(all(feature = "std", not(loom)))]
    pub(crate) fn unlink(self: Pin<&mut Self>) -> bool {
        let (node, armed, waiter) = self.project();
        let unlinked = waiter.unlink(node);
        if unlinked {
            *armed = false;
        }
        unlinked
    }

    /// One step of an async wait, polled until it is ready: look (or act on what a server
    /// gave us) and link the node if nothing was found, asking `watch` for a call to
    /// `expire_waiters` if our deadline is the earliest.
    fn poll_wait(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        watch: &mut impl Watch,
    ) -> Poll<Found<T, E>> {
        loop {
            let (node, armed, waiter) = self.as_mut().project();
            if *armed {
                let state = node.state();
                if state == WAITING {
                    // Polled before being served (spuriously, by a timeout around us, or woken
                    // for our deadline): make sure the latest waker is the one that gets woken.
                    // The waker is cloned outside the lock (that runs the executor's code).
                    let list = waiter.core.waitlist.lock();
                    if node.state() == WAITING {
                        // SAFETY: armed and still `WAITING` under the lock: linked in this list
                        // (a server unlinks a node and stores its state under this lock).
                        if unsafe { list.wakes(node, cx.waker()) } {
                            return Poll::Pending;
                        }
                        drop(list);
                        let waker = Wake::Task(cx.waker().clone());
                        let mut list = waiter.core.waitlist.lock();
                        if node.state() == WAITING {
                            // SAFETY: as for `wakes` above.
                            let old = unsafe { list.set_wake(node, waker) };
                            drop(list);
                            drop(old);
                            return Poll::Pending;
                        }
                    }
                    continue;
                }
                *armed = false;
                if let Some(found) = waiter.on_served(node, state) {
                    return Poll::Ready(found);
                }
            }
            match waiter.look_or_link(node, Wake::Task(cx.waker().clone())) {
                Looked::Found(found) => return Poll::Ready(found),
                Looked::Linked(promise) => {
                    *armed = true;
                    if let Some(at) = promise {
                        watch.watch(at);
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<T, E> Drop for Wait<'_, T, E> {
    fn drop(&mut self) {
        // (`self` is pinned: `node` is only borrowed here, never moved.)
        if !self.armed {
            return;
        }
        if self.node.state() == WAITING && self.waiter.unlink(&self.node) {
            return;
        }
        // Served, and we will not act on it: pass it on.
        let state = self.node.state();
        if self.waiter.thread && state >= GIVEN_PERMIT {
            self.waiter.core.waitlist.thread_picked_up();
        }
        self.waiter.core.pass_on(state);
    }
}

impl<T, E> Inner<T, E> {
    /// Takes what a server gave a waiter (`GIVEN_SLOT + index` or `GIVEN_PERMIT`). If the
    /// pool closed meanwhile, passes it back and answers `Closed`.
    fn take_given(&self, given: usize) -> Option<Found<T, E>> {
        if self.is_closed() {
            self.pass_on(given);
            return Some(Err(Closed));
        }
        if given == GIVEN_PERMIT {
            return self.take_vacant().map(|p| Ok(Acquired::Vacant(p)));
        }
        debug_assert!(given >= GIVEN_SLOT);
        Some(Ok(Acquired::Idle(self.lend((given - GIVEN_SLOT) as u32))))
    }
}

/// The future of [`Core::acquire`] and [`Core::acquire_until`]: an idle object or a permit to
/// create one, or [`Closed`].
///
/// The first poll tries at once, as [`Core::try_acquire`]; if the pool is exhausted, the
/// future counts itself as a waiter and links a node that lives inside it (so it allocates
/// nothing) into the pool's FIFO of waiters, where a return or a freed place is handed to it
/// directly. `W` is how a timed waiter asks for its wakeup ([`Watch`]; [`NoWatch`] for
/// `acquire`).
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future at any point loses nothing. Between polls it holds
/// nothing but its place in the queue; if it is dropped after an object or a freed place was
/// handed to it, it passes that on to the next waiter (or back to the pool), and a wakeup to
/// the next waiter.
///
/// Once it is at the front of the queue, the next return is handed to it: a future kept
/// alive but no longer polled (say, the losing branch of a `select!` that is not dropped)
/// holds that object until it is polled or dropped. Drop wait futures you no longer poll.
///
/// # Leaking
///
/// A future polled once and then leaked (`mem::forget`, a reference cycle) is never dropped,
/// so it never passes on what it was handed: it keeps that object or place for good, and if
/// it is still in the queue, the next one handed to it (the pool counts it in use, and as a
/// waiter; [`Core::close`] does not get it back), as with tokio's futures. Its node stays in
/// the future's memory, which a leak never frees, so this is safe, only wasteful.
///
/// # Auto traits
///
/// `Send` when `T: Send`, `E: Send + Sync` and `W: Send` (the conditions of [`Core`]'s
/// `Sync`, as it holds a `&Core`, plus the watch it carries): its node is reached by other
/// threads only under the wait list's lock. `Sync` under the same conditions with `W: Sync`;
/// that is sound because `&Acquire` gives access to nothing but `Debug`, which reads two
/// plain fields written only through `Pin<&mut Self>`. Not `Unpin`: the node is linked by
/// address while the future waits.
///
/// # Examples
///
/// ```
/// use cenote_core::{Acquire, Acquired, Core, Permit};
///
/// let core = Core::<u32>::new(1, 1, ()).unwrap();
/// let held = Permit::fill(core.try_reserve().unwrap(), 7);
/// # futures_lite::future::block_on(async {
/// let mut wait: std::pin::Pin<&mut Acquire<'_, u32>> = std::pin::pin!(core.acquire());
/// assert!(futures_lite::future::poll_once(wait.as_mut()).await.is_none()); // waits in line
/// assert_eq!(core.status().waiting, 1);
/// drop(held); // handed straight to the waiter
/// match wait.await.unwrap() {
///     Acquired::Idle(lease) => assert_eq!(*lease, 7),
///     Acquired::Vacant(_) => unreachable!(),
/// }
/// # });
/// assert_eq!(core.status().waiting, 0);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a, T, E = (), W = NoWatch> {
    /// Structurally pinned. `None` until the first poll finds the pool exhausted (the caller
    /// is not counted as a waiter yet), and again once the future is ready. Declared first:
    /// dropped (its node unlinked) before the other fields.
    wait: Option<Wait<'a, T, E>>,
    core: &'a Core<T, E>,
    /// In the caller's ticks; `NO_DEADLINE` for `acquire`.
    deadline: u64,
    watch: W,
    /// The future returned `Ready`.
    done: bool,
    /// The class it waits in (`Normal` unless set by `with_priority`).
    priority: Priority,
}

/// An [`Acquire`], projected: the wait pinned, the other fields not.
struct AcquireProj<'p, 'a, T, E, W> {
    wait: Pin<&'p mut Option<Wait<'a, T, E>>>,
    core: &'a Core<T, E>,
    deadline: u64,
    watch: &'p mut W,
    done: &'p mut bool,
    priority: Priority,
}

impl<'a, T, E, W> Acquire<'a, T, E, W> {
    #[inline]
    fn project(self: Pin<&mut Self>) -> AcquireProj<'_, 'a, T, E, W> {
        // SAFETY: nothing pinned is moved: `wait` is handed out only pinned (and `Acquire` has
        // no `Drop` of its own that could move it: the drop glue drops it in place), and
        // `core`, `deadline`, `watch` and `done` are not structurally pinned, so `&mut` to
        // them is fine.
        let this = unsafe { self.get_unchecked_mut() };
        AcquireProj {
            // SAFETY: `wait` is part of a pinned value and is never moved (see above).
            wait: unsafe { Pin::new_unchecked(&mut this.wait) },
            core: this.core,
            deadline: this.deadline,
            watch: &mut this.watch,
            done: &mut this.done,
            priority: this.priority,
        }
    }
}

impl<T, E, W> Acquire<'_, T, E, W> {
    /// Waits in class `priority` instead of `Normal`: served after waiting waiters of higher
    /// classes and before those of lower ones, within the aging bound
    /// ([`AGE_AFTER`](crate::AGE_AFTER)); a `Normal` or `Low` waiter does not take the
    /// [reserve](Core::set_reserve). Set it before the first poll.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Acquired, Core, Permit, Priority};
    ///
    /// let core = Core::<u32>::new(1, 1, ()).unwrap();
    /// let held = Permit::fill(core.try_reserve().unwrap(), 7);
    /// # futures_lite::future::block_on(async {
    /// let mut low = std::pin::pin!(core.acquire().with_priority(Priority::Low));
    /// let mut high = std::pin::pin!(core.acquire().with_priority(Priority::High));
    /// assert!(futures_lite::future::poll_once(low.as_mut()).await.is_none());
    /// assert!(futures_lite::future::poll_once(high.as_mut()).await.is_none());
    /// drop(held); // High came later, but is served first
    /// let Ok(Acquired::Idle(lease)) = high.await else { unreachable!() };
    /// assert!(futures_lite::future::poll_once(low.as_mut()).await.is_none());
    /// drop(lease); // and then Low
    /// assert!(matches!(low.await, Ok(Acquired::Idle(_))));
    /// # });
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub fn with_priority(mut self, priority: Priority) -> Self {
        debug_assert!(self.wait.is_none(), "set the priority before the first poll");
        self.priority = priority;
        self
    }
}

impl<T, E, W: Watch> Future for Acquire<'_, T, E, W> {
    type Output = Result<Acquired<T, E>, Closed>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let AcquireProj { mut wait, core, deadline, watch, done, priority } = self.project();
        if wait.is_none() {
            assert!(!*done, "`Acquire` polled after completion");
            let found = match core.try_acquire_with(priority) {
                TryAcquire::Idle(lease) => Ok(Acquired::Idle(lease)),
                TryAcquire::Vacant(permit) => Ok(Acquired::Vacant(permit)),
                TryAcquire::Closed => Err(Closed),
                TryAcquire::Exhausted => {
                    wait.set(Some(Wait::new(core.inner(), false, deadline, priority)));
                    return poll_wait(wait, cx, watch, done);
                }
            };
            *done = true;
            return Poll::Ready(found);
        }
        poll_wait(wait, cx, watch, done)
    }
}

/// Polls the wait; once it is ready, drops it in place (giving up the count of `waiters`
/// now, not when the future goes) and marks the future done.
#[inline]
fn poll_wait<T, E>(
    mut wait: Pin<&mut Option<Wait<'_, T, E>>>,
    cx: &mut Context<'_>,
    watch: &mut impl Watch,
    done: &mut bool,
) -> Poll<Found<T, E>> {
    let Some(waiting) = wait.as_mut().as_pin_mut() else { unreachable!("the caller made the wait") };
    let found = ready!(waiting.poll_wait(cx, watch));
    wait.set(None);
    *done = true;
    Poll::Ready(found)
}

impl<T, E, W> fmt::Debug for Acquire<'_, T, E, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("deadline", &(self.deadline != NO_DEADLINE).then_some(self.deadline))
            .field("waiting", &self.wait.is_some())
            .finish_non_exhaustive()
    }
}

impl<T, E> Core<T, E> {
    /// Waits for an idle object or a permit to create one, for as long as it takes.
    ///
    /// Put a timeout around it with whatever timer you have; dropping the future at any
    /// point is safe (see below). The future ([`Acquire`]) allocates nothing.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the pool is closed before or during the wait.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the future holds nothing but its place in the wait queue between polls.
    /// If it is dropped after an object or a freed place was handed to it, it passes that on
    /// to the next waiter (or back to the pool), so no object, permit or wakeup is lost.
    ///
    /// Once the future is at the front of the queue, the next return is handed to it: a
    /// future kept alive but no longer polled (say, the losing branch of a `select!` that is
    /// not dropped) holds that object until it is polled or dropped. Drop wait futures you no
    /// longer poll.
    ///
    /// A future polled once and then leaked (`mem::forget`) keeps what it was handed for
    /// good: see [`Acquire`]'s "Leaking".
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Acquired, Core};
    ///
    /// let core = Core::<u32>::new(1, 1, ()).unwrap();
    /// # futures_lite::future::block_on(async {
    /// let lease = match core.acquire().await.unwrap() {
    ///     Acquired::Idle(lease) => lease,
    ///     Acquired::Vacant(permit) => cenote_core::Permit::fill(permit, 7),
    /// };
    /// assert_eq!(*lease, 7);
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> Acquire<'_, T, E> {
        self.acquire_until(NO_DEADLINE, NoWatch)
    }

    /// [`acquire`](Core::acquire) for a waiter that gives up at `deadline`, with one timer
    /// per pool instead of one per waiter.
    ///
    /// `deadline` is in the ticks of the caller's monotonic clock (say, nanoseconds since the
    /// pool was built; `u64::MAX`: never). The future does not time out by itself: whoever
    /// polls it checks the clock when it returns `Pending` and drops it once the deadline has
    /// passed (dropping is cancel-safe, see [`acquire`](Core::acquire)). What this adds is the
    /// wakeup: the pool wakes its timed waiters whose deadline has passed when
    /// [`WeakCore::expire_waiters`](crate::WeakCore::expire_waiters) is called, and asks for
    /// that call through `watch` (a closure `FnMut(u64)`, or a [`Watch`] of your own):
    /// `watch(t)` runs (outside any lock, on the waiter's task) when this waiter's deadline
    /// `t` is earlier than any call already promised; the caller must then see to it that
    /// `expire_waiters(now)` runs once `now >= t`, and again at each time it returns.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the pool is closed before or during the wait.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Core::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use cenote_core::{Acquired, Core, Permit};
    ///
    /// let core = Core::<u32>::new(1, 1, ()).unwrap();
    /// let weak = core.downgrade();
    /// let lease = Permit::fill(core.try_reserve().unwrap(), 7);
    /// let promised = AtomicU64::new(u64::MAX);
    /// # futures_lite::future::block_on(async {
    /// let mut wait = std::pin::pin!(core.acquire_until(100, |t| promised.store(t, Ordering::Relaxed)));
    /// assert!(futures_lite::future::poll_once(wait.as_mut()).await.is_none());
    /// assert_eq!(promised.load(Ordering::Relaxed), 100); // the pool's timer must fire at 100
    /// assert_eq!(weak.expire_waiters(99), Some(100)); // too early: nobody woken, 100 is next
    /// assert_eq!(weak.expire_waiters(100), None); // our waiter was woken; no deadline is left
    /// drop(lease);
    /// assert!(matches!(wait.await, Ok(Acquired::Idle(_)))); // served all the same
    /// # });
    /// ```
    #[inline]
    pub fn acquire_until<W: Watch>(&self, deadline: u64, watch: W) -> Acquire<'_, T, E, W> {
        Acquire { wait: None, core: self, deadline, watch, done: false, priority: Priority::Normal }
    }
}

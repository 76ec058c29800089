//! Waiting for an object: the async and the blocking wait loops.
//!
//! Both loops are the same protocol (see `pool.rs`): count ourselves in `waiters` (which
//! closes the idle queue's gate), then, under the wait list's lock, look once more and link
//! our node; then sleep until a server stores in the node what we were given. The node lives
//! inside the async future or on the blocking call's stack, so waiting allocates nothing.

use core::future::poll_fn;
use core::pin::pin;
use core::task::{Context, Poll};

use crate::error::Closed;
use crate::pool::{Acquired, Core, Inner, TryAcquire, STARVE_AFTER_MISSES};
use crate::queue::GATE_WAITERS;
use crate::sync::{seqcst_fence_for_loom, Ordering};
use crate::waitlist::{WaitNode, Wake, CLOSED_NODE, GIVEN_PERMIT, GIVEN_SLOT, NO_DEADLINE, WAITING, WOKEN};

/// A caller between "I will wait" and "I am done waiting": keeps `waiters` right on every
/// exit, including a panic or a dropped future, and decides where its node goes.
struct Waiter<'a, T, E> {
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
}

/// What a look under the lock did.
enum Looked<T, E> {
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
        Self { core, misses: 0, direct: !thread, thread, deadline: NO_DEADLINE }
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
    fn look_or_link(&self, node: &WaitNode, wake: Wake) -> Looked<T, E> {
        let mut list = self.core.waitlist.lock();
        // ORDERING: the `SeqCst` RMW that sets the gate, under the lock: the waiter's half of
        // the return ↔ wait pair (see `pool.rs`). Every gated push after it fails and takes
        // the slow path, which takes this lock; every push before it is seen by our look
        // below. The gate is cleared only under this lock and only when no waiter is counted,
        // so it cannot be cleared behind us while we are.
        self.core.idle.set_gate(GATE_WAITERS);
        seqcst_fence_for_loom();
        if let Some(found) = self.core.try_take() {
            drop(list);
            drop(wake);
            return Looked::Found(found);
        }
        // A waiter that was served and missed keeps its place at the front.
        let front = self.misses > 0;
        // SAFETY: `node` is unlinked and `WAITING` (new or rearmed), pinned in the caller's
        // future or stack frame, and its `Linked` guard unlinks it before it goes.
        let old = unsafe { list.link(node, front, self.direct, wake) };
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

    /// Acts on what a server gave our node (`state`, not `WAITING`); `None` means look again.
    fn on_served(&mut self, node: &WaitNode, state: usize) -> Option<Found<T, E>> {
        match state {
            CLOSED_NODE => Some(Err(Closed)),
            WOKEN => {
                let found = self.core.try_take();
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

/// What a look found: an object or permit, or the news that the pool is closed.
type Found<T, E> = Result<Acquired<T, E>, Closed>;

/// A node that may be linked: if dropped while armed (the future dropped, the thread timed
/// out or panicked), unlinks it, or, if a server got there first, passes on what it was
/// given, so that nothing is lost.
struct Linked<'a, T, E> {
    core: &'a Inner<T, E>,
    node: &'a WaitNode,
    armed: bool,
    /// The node is a blocking waiter's (see `Waiter::thread`).
    thread: bool,
}

impl<T, E> Linked<'_, T, E> {
    /// Takes the node out of the list if it is still in it: `true` if it was (nothing was
    /// given), `false` if it was served (its state says with what).
    fn unlink(&mut self) -> bool {
        let mut list = self.core.waitlist.lock();
        // SAFETY: our node is only ever linked in `core.waitlist` (by `look_or_link`); else it
        // is not linked, and ours.
        let unlinked = unsafe { list.unlink(self.node) };
        drop(list);
        if unlinked {
            self.armed = false;
        }
        unlinked
    }
}

impl<T, E> Drop for Linked<'_, T, E> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.node.state() == WAITING && self.unlink() {
            return;
        }
        // Served, and we will not act on it: pass it on.
        let state = self.node.state();
        if self.thread && state >= GIVEN_PERMIT {
            self.core.waitlist.thread_picked_up();
        }
        self.core.pass_on(state);
    }
}

impl<T, E> Inner<T, E> {
    /// One look for something to take, made by a waiter: `Closed`, an idle object, or a
    /// permit.
    fn try_take(&self) -> Option<Found<T, E>> {
        if self.is_closed() {
            return Some(Err(Closed));
        }
        if let Some(index) = self.idle.pop() {
            return Some(Ok(Acquired::Idle(self.lend(index))));
        }
        self.try_reserve().map(|p| Ok(Acquired::Vacant(p)))
    }

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

impl<T, E> Core<T, E> {
    /// Waits for an idle object or a permit to create one, for as long as it takes.
    ///
    /// Put a timeout around it with whatever timer you have; dropping the future at any
    /// point is safe (see below). The future allocates nothing.
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
    /// not dropped) holds that object until it is polled or dropped, and one that is leaked
    /// holds it for good. Drop wait futures you no longer poll.
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
    pub async fn acquire(&self) -> Result<Acquired<T, E>, Closed> {
        self.acquire_until(NO_DEADLINE, |_| {}).await
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
    /// that call through `watch`: `watch(t)` runs (outside any lock, on the waiter's task) when
    /// this waiter's deadline `t` is earlier than any call already promised; the caller must
    /// then see to it that `expire_waiters(now)` runs once `now >= t`, and again at each time
    /// it returns.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the pool is closed before or during the wait.
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
    pub async fn acquire_until(
        &self,
        deadline: u64,
        mut watch: impl FnMut(u64),
    ) -> Result<Acquired<T, E>, Closed> {
        match self.try_acquire() {
            TryAcquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
            TryAcquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
            TryAcquire::Closed => return Err(Closed),
            TryAcquire::Exhausted => {}
        }
        let inner = self.inner();
        let mut waiter = Waiter::new(inner, false);
        waiter.deadline = deadline;
        let node = pin!(WaitNode::new());
        let node = node.into_ref().get_ref();
        let mut linked = Linked { core: inner, node, armed: false, thread: false };
        poll_fn(|cx: &mut Context<'_>| loop {
            if linked.armed {
                let state = node.state();
                if state == WAITING {
                    // Polled before being served (spuriously, by a timeout around us, or woken
                    // for our deadline): make sure the latest waker is the one that gets woken.
                    // The waker is cloned outside the lock (that runs the executor's code).
                    let list = inner.waitlist.lock();
                    if node.state() == WAITING {
                        // SAFETY: armed and still `WAITING` under the lock: linked in this list
                        // (a server unlinks a node and stores its state under this lock).
                        if unsafe { list.wakes(node, cx.waker()) } {
                            return Poll::Pending;
                        }
                        drop(list);
                        let waker = Wake::Task(cx.waker().clone());
                        let mut list = inner.waitlist.lock();
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
                linked.armed = false;
                if let Some(found) = waiter.on_served(node, state) {
                    return Poll::Ready(found);
                }
            }
            match waiter.look_or_link(node, Wake::Task(cx.waker().clone())) {
                Looked::Found(found) => return Poll::Ready(found),
                Looked::Linked(promise) => {
                    linked.armed = true;
                    if let Some(at) = promise {
                        watch(at);
                    }
                    return Poll::Pending;
                }
            }
        })
        .await
    }

    /// Waits for an idle object or a permit to create one, parking the thread, until
    /// `deadline` (`None`: no limit).
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`](crate::WaitError::Timeout) when the deadline passes first,
    /// [`WaitError::Closed`](crate::WaitError::Closed) if the pool is closed.
    ///
    /// # Blocking
    ///
    /// Parks the calling thread until an object is returned, a place is freed, the pool is
    /// closed, or the deadline passes. Do not call it on an async executor's thread.
    #[cfg(feature = "std")]
    pub fn acquire_blocking(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Acquired<T, E>, crate::WaitError> {
        match self.try_acquire() {
            TryAcquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
            TryAcquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
            TryAcquire::Closed => return Err(crate::WaitError::Closed),
            TryAcquire::Exhausted => {}
        }
        // A short, bounded backoff before parking (a few µs of spinning, then a few yields):
        // with objects held briefly, one is usually back by then, and a thread that parks and
        // is unparked pays two context switches for it. Once waiters are served directly,
        // returns skip the idle queue and this only finds freed places.
        // (Not under loom: a bounded loop of retries only multiplies the states to explore.)
        #[cfg(not(loom))]
        let mut backoff = crate::sync::Backoff::default();
        #[cfg(not(loom))]
        while !backoff.is_completed() {
            backoff.snooze();
            match self.try_acquire() {
                TryAcquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
                TryAcquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
                TryAcquire::Closed => return Err(crate::WaitError::Closed),
                TryAcquire::Exhausted => {}
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                break;
            }
        }
        let inner = self.inner();
        let mut waiter = Waiter::new(inner, true);
        let node = pin!(WaitNode::new());
        let node = node.into_ref().get_ref();
        let mut linked = Linked { core: inner, node, armed: false, thread: true };
        let found = loop {
            if let Looked::Found(found) = waiter.look_or_link(node, Wake::Thread(crate::sync::current())) {
                break found;
            }
            linked.armed = true;
            let state = loop {
                let state = node.state();
                if state != WAITING {
                    break state;
                }
                match deadline {
                    None => crate::sync::park(),
                    Some(deadline) => {
                        #[cfg(loom)]
                        {
                            let _ = deadline;
                            crate::sync::park();
                        }
                        #[cfg(not(loom))]
                        {
                            let now = std::time::Instant::now();
                            if now < deadline {
                                crate::sync::park_timeout(deadline - now);
                                continue;
                            }
                            if linked.unlink() {
                                // Timed out before anyone served us. One last look.
                                return match inner.try_take() {
                                    Some(found) => found.map_err(|Closed| crate::WaitError::Closed),
                                    None => Err(crate::WaitError::Timeout),
                                };
                            }
                            // Served as the deadline passed: act on it.
                        }
                    }
                }
            };
            linked.armed = false;
            if let Some(found) = waiter.on_served(node, state) {
                break found;
            }
        };
        found.map_err(|Closed| crate::WaitError::Closed)
    }
}

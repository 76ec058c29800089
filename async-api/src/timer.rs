//! A runtime-agnostic timer.
//!
//! `cenote-async` must let acquisitions time out on any executor (tokio's
//! multi- and current-thread runtimes, smol, or a bare
//! `futures_lite::future::block_on`) without depending on any of them. This
//! module provides that with a single global timer thread, named
//! `cenote-timer`, started lazily on the first registration and kept for the
//! rest of the process.
//!
//! Design, in short:
//!
//! - The shared state is split in [`SHARDS`] shards, each a slab
//!   (`Vec<Option<Entry>>`) plus a free list of vacant indices behind its own
//!   `parking_lot::Mutex`. A thread registers in "its" shard (assigned round
//!   robin on its first registration), so executor threads registering and
//!   deregistering timers at once do not contend on one lock. Capacity is
//!   reused, so once the high-water mark of simultaneously registered timers
//!   has been reached, registering and deregistering allocate nothing.
//! - A [`Sleep`] registers only on the first poll that would return
//!   `Pending`. A timeout around a future that completes on its first poll
//!   therefore never touches the lock at all.
//! - Deregistration (on completion or drop) is O(1): the `Sleep` remembers its
//!   slab index and a generation number.
//! - The timer thread waits on a `Condvar` until the earliest deadline. It
//!   scans every shard on each wakeup (O(n), which is fine: it only wakes
//!   when something is due or when an earlier deadline shows up), wakes every
//!   expired entry's waker outside the lock and marks the entry fired. Each
//!   shard records the time by which the thread will look at it again; a
//!   registration earlier than that (rare: a shard found empty, or a shorter
//!   timeout) kicks the thread through a separate small mutex.
//! - The clock, not the timer thread, is the source of truth: `Sleep::poll`
//!   checks the clock (`cenote_core::time::now()`) first, so a late or spurious wakeup never
//!   produces a wrong answer, only (at worst) an extra poll.

use cenote_core::time;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};
use std::sync::Once;

use parking_lot::{Condvar, Mutex, MutexGuard};

/// Runs `fut` until it completes or `deadline` passes; returns `None` on
/// timeout.
///
/// `fut` is polled before the deadline is checked, so a future that is ready
/// wins over a deadline that has already expired. On timeout `fut` is dropped
/// before this function returns. No heap allocation happens per call once the
/// timer is warmed up, and if `fut` completes on its first poll the timer is
/// not touched at all.
///
/// The returned future is `Send` whenever `F` is.
pub(crate) async fn timeout_at<F: Future>(deadline: u64, fut: F) -> Option<F::Output> {
    // Pinned on the async fn's own (already pinned) state: no boxing.
    let mut fut = pin!(fut);
    // `Sleep` is `Unpin` and registers nothing until it is polled, so creating
    // it up front is free.
    let mut sleep = sleep_until(deadline);
    poll_fn(|cx| {
        // The inner future goes first: if it is ready we never poll (and thus
        // never register) the sleep, even when the deadline has passed.
        if let Poll::Ready(output) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
    // `fut` and `sleep` are dropped here; dropping `sleep` deregisters it.
}

/// Returns a [`Sleep`] that completes at `deadline`.
///
/// Nothing is registered with the timer thread until the returned future is
/// first polled before its deadline.
pub(crate) const fn sleep_until(deadline: u64) -> Sleep {
    Sleep { deadline, registration: None, unexpired: false }
}

/// Like [`sleep_until`], for a caller that has just read the clock and found
/// `deadline` in the future: the first poll skips its own clock read.
pub(crate) const fn sleep_until_unexpired(deadline: u64) -> Sleep {
    Sleep { deadline, registration: None, unexpired: true }
}

/// A future that completes once `deadline` has passed.
///
/// Created by [`sleep_until`]. It is `Unpin`, `Send` and `Sync`. Dropping it
/// deregisters it from the timer thread in O(1).
pub(crate) struct Sleep {
    /// When this future becomes ready, in [`time`] ticks (`NEVER`: never).
    deadline: u64,
    /// Where this sleep lives in the timer slab, if it is registered.
    registration: Option<Registration>,
    /// The creator saw the clock before `deadline` just now: the next poll
    /// need not read it again.
    unexpired: bool,
}

/// The handle a registered [`Sleep`] keeps to find its slab entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Registration {
    /// Index into [`Timer::shards`].
    shard: usize,
    /// Index into [`State::slots`].
    index: usize,
    /// Generation stamped on the entry when it was inserted.
    generation: u64,
}

impl Sleep {
    /// When this sleep completes.
    pub(crate) fn deadline(&self) -> u64 {
        self.deadline
    }

    /// Removes this sleep's entry from the timer slab, if it has one.
    fn deregister(&mut self) {
        if let Some(registration) = self.registration.take() {
            // Drop the removed entry (and the waker it may hold) after the
            // lock is released: dropping a waker runs foreign code.
            let removed = TIMER.shards[registration.shard].lock().remove(registration);
            drop(removed);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();

        // The clock is the source of truth. This also covers an already
        // expired deadline on the first poll: Ready without registering.
        if !core::mem::take(&mut this.unexpired) && time::now() >= this.deadline {
            this.deregister();
            return Poll::Ready(());
        }

        match this.registration {
            None => {
                // First Pending poll: register now. Start the thread before
                // taking the lock (`call_once` is a single atomic load once
                // the thread exists).
                ensure_thread_started();
                // Clone outside the lock: it runs the executor's code.
                let waker = cx.waker().clone();
                let shard = my_shard();
                let mut state = TIMER.shards[shard].lock();
                let registration = state.insert(shard, this.deadline, waker);
                this.registration = Some(registration);

                // Only disturb the timer thread if it would otherwise look
                // at this shard again after our deadline. Record our deadline
                // as the new bound so that a burst of later registrations
                // does not kick again; the thread recomputes the real bound
                // when it rescans.
                let kick = state.rescan_by.is_none_or(|at| this.deadline < at);
                if kick {
                    state.rescan_by = Some(this.deadline);
                }
                drop(state);
                if kick {
                    *TIMER.kicked.lock() = true;
                    TIMER.wakeup.notify_one();
                }
                Poll::Pending
            }
            Some(registration) => {
                let mut state = TIMER.shards[registration.shard].lock();
                let entry = state.get_mut(registration);
                if let Some(waker) = &mut entry.waker {
                    // Polled again, possibly from another task or executor:
                    // make sure the waker that gets woken is the latest one.
                    // `will_wake` avoids a clone (and a refcount bump) in the
                    // common unchanged case.
                    if !waker.will_wake(cx.waker()) {
                        let old = core::mem::replace(waker, cx.waker().clone());
                        drop(state);
                        // Dropping a waker may run foreign code: do it
                        // outside the lock.
                        drop(old);
                    }
                    Poll::Pending
                } else {
                    // The timer thread fired this entry between our clock
                    // read above and taking the lock, so the deadline has
                    // passed by now. Returning Ready (rather than Pending
                    // with a waker nobody will call) is what prevents a lost
                    // wakeup here.
                    drop(state);
                    this.deregister();
                    Poll::Ready(())
                }
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        // An unregistered sleep (never polled, or completed) does not touch
        // the lock.
        self.deregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

/// One registered timer in the slab.
struct Entry {
    /// When the entry expires.
    deadline: u64,
    /// The waker to call at `deadline`; `None` once the timer thread has
    /// taken it and woken it ("fired"). A fired entry stays in the slab until
    /// its `Sleep` completes or is dropped, so the index stays owned by that
    /// `Sleep` and is never reused behind its back.
    waker: Option<Waker>,
    /// Stamp distinguishing this entry from earlier users of the same slot.
    generation: u64,
}

/// One shard of the timer: everything guarded by its mutex.
struct State {
    /// The slab of registered timers. Vacant slots are `None` and listed in
    /// `free`.
    slots: Vec<Option<Entry>>,
    /// Indices of vacant slots in `slots`. Its capacity never needs to exceed
    /// the slab's length, so it stops allocating with the slab.
    free: Vec<usize>,
    /// Generation given to the next inserted entry. A `u64` incremented once
    /// per registration cannot realistically wrap.
    next_generation: u64,
    /// The latest instant by which the timer thread is guaranteed to rescan
    /// this shard without being kicked; `None` means it may wait forever.
    /// A registration kicks the thread only when its deadline is earlier.
    rescan_by: Option<u64>,
}

impl State {
    /// An empty state; `const` so that the timer can be a plain `static`.
    const fn new() -> Self {
        Self { slots: Vec::new(), free: Vec::new(), next_generation: 0, rescan_by: None }
    }

    /// Stores a new entry and returns its handle. Allocates only while the
    /// slab grows past its previous high-water mark.
    fn insert(&mut self, shard: usize, deadline: u64, waker: Waker) -> Registration {
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = Some(Entry { deadline, waker: Some(waker), generation });
        let index = if let Some(index) = self.free.pop() {
            debug_assert!(self.slots[index].is_none(), "free slot is occupied");
            self.slots[index] = entry;
            index
        } else {
            self.slots.push(entry);
            self.slots.len() - 1
        };
        Registration { shard, index, generation }
    }

    /// The live entry behind `registration`.
    ///
    /// Panics if it is gone: only the owning `Sleep` removes its entry, and
    /// it forgets the registration when it does, so that would be a bug here.
    fn get_mut(&mut self, registration: Registration) -> &mut Entry {
        match &mut self.slots[registration.index] {
            Some(entry) if entry.generation == registration.generation => entry,
            _ => unreachable!("cenote timer: registration lost its slab entry"),
        }
    }

    /// Removes the entry behind `registration` in O(1) and returns it, so
    /// that the caller can drop it (and its waker) outside the lock.
    fn remove(&mut self, registration: Registration) -> Option<Entry> {
        let slot = &mut self.slots[registration.index];
        // The generation check is a safety net: the owning `Sleep` is the only
        // one that ever removes its entry, so a mismatch cannot happen, but
        // if it did we must not free someone else's slot.
        match slot {
            Some(entry) if entry.generation == registration.generation => {
                let entry = slot.take();
                self.free.push(registration.index);
                entry
            }
            _ => {
                debug_assert!(false, "cenote timer: stale registration");
                None
            }
        }
    }
}

/// One shard's lock and slab, on cache lines of its own (128 bytes: adjacent-line
/// prefetchers pull pairs), so that threads registering in different shards do not bounce a
/// shared line between their CPUs.
#[repr(align(128))]
struct Shard(Mutex<State>);

impl core::ops::Deref for Shard {
    type Target = Mutex<State>;

    fn deref(&self) -> &Mutex<State> {
        &self.0
    }
}

/// How many shards the timer's state is split into.
const SHARDS: usize = 16;

/// The global timer: its shards, and what its thread sleeps on.
struct Timer {
    /// The slabs, one lock each; a thread uses the one [`my_shard`] names.
    shards: [Shard; SHARDS],
    /// Set (then signalled) by a registration earlier than its shard's
    /// `rescan_by`; cleared by the thread when it rescans.
    kicked: Mutex<bool>,
    /// What the timer thread waits on, with `kicked`'s lock.
    wakeup: Condvar,
}

/// The one timer shared by the whole process. A plain `static` (everything in
/// it is `const`-constructible); only the thread is started lazily.
static TIMER: Timer = Timer {
    shards: [const { Shard(Mutex::new(State::new())) }; SHARDS],
    kicked: Mutex::new(false),
    wakeup: Condvar::new(),
};

/// The shard this thread registers in: assigned round robin on first use, so
/// that an executor's worker threads each get their own.
fn my_shard() -> usize {
    static NEXT: Mutex<usize> = Mutex::new(0);
    std::thread_local! {
        static SHARD: core::cell::Cell<usize> = const { core::cell::Cell::new(usize::MAX) };
    }
    SHARD.with(|shard| {
        if shard.get() == usize::MAX {
            let mut next = NEXT.lock();
            shard.set(*next % SHARDS);
            *next = next.wrapping_add(1);
        }
        shard.get()
    })
}

/// Guards the one-time start of the timer thread.
static THREAD_STARTED: Once = Once::new();

/// Starts the `cenote-timer` thread if it is not running yet.
///
/// Panics if the OS refuses to spawn the thread, like `std::thread::spawn`:
/// without the thread no timer could ever fire.
fn ensure_thread_started() {
    THREAD_STARTED.call_once(|| {
        // The handle is dropped: the thread is detached and lives for the
        // rest of the process, parked on the condvar when idle.
        let _detached = std::thread::Builder::new()
            .name("cenote-timer".into())
            .spawn(run_timer_thread)
            .expect("cenote-async: failed to spawn the cenote-timer thread");
    });
}

/// Body of the timer thread: fire expired entries, then sleep until the
/// earliest pending deadline (or until notified of an earlier one).
fn run_timer_thread() {
    // Wakers to call, collected under a shard's lock and called outside it.
    // Owned by this thread alone, so it can simply be reused across
    // iterations: after warm-up its capacity covers the largest batch and
    // firing allocates nothing.
    let mut to_wake: Vec<Waker> = Vec::new();
    loop {
        // Cleared before the scan: a kick that comes during the scan is seen
        // below and makes us scan again.
        *TIMER.kicked.lock() = false;
        let now = time::now();
        let mut earliest: Option<u64> = None;
        let mut fired = false;
        for shard in &TIMER.shards {
            let mut state = shard.lock();
            let mut shard_earliest: Option<u64> = None;
            for entry in state.slots.iter_mut().flatten() {
                if entry.waker.is_none() {
                    // Already fired; waiting for its `Sleep` to remove it.
                    continue;
                }
                if entry.deadline <= now {
                    // Mark fired by taking the waker.
                    to_wake.extend(entry.waker.take());
                } else if shard_earliest.is_none_or(|at| entry.deadline < at) {
                    shard_earliest = Some(entry.deadline);
                }
            }
            // We look at this shard again by its earliest deadline (or
            // sooner): a registration earlier than that must kick us.
            state.rescan_by = shard_earliest;
            if let Some(at) = shard_earliest {
                earliest = Some(earliest.map_or(at, |e| e.min(at)));
            }
            if !to_wake.is_empty() {
                fired = true;
                wake_unlocked(&mut state, &mut to_wake);
            }
        }
        if fired {
            // Time has passed and the slabs may have changed: rescan.
            continue;
        }
        let mut kicked = TIMER.kicked.lock();
        if *kicked {
            continue;
        }
        match earliest {
            // Timeouts, kicks and spurious wakeups are all handled the same
            // way: rescan.
            Some(at) => {
                let _ = TIMER.wakeup.wait_for(&mut kicked, time::until(at));
            }
            None => TIMER.wakeup.wait(&mut kicked),
        }
    }
}

/// Wakes (and empties) `to_wake` with the shard's lock released.
///
/// Wakers run foreign code: they may poll the woken future inline and so
/// re-enter `Sleep::poll`, which takes the lock. A panicking waker is
/// contained so that it cannot kill the timer thread, which would silently
/// stall every timer in the process.
fn wake_unlocked(state: &mut MutexGuard<'_, State>, to_wake: &mut Vec<Waker>) {
    MutexGuard::unlocked(state, || {
        for waker in to_wake.drain(..) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
        }
    });
}

/// Number of entries currently in the timer slab, fired or not.
#[cfg(test)]
fn registered_count() -> usize {
    TIMER
        .shards
        .iter()
        .map(|shard| {
            let state = shard.lock();
            state.slots.len() - state.free.len()
        })
        .sum()
}

#[cfg(test)]
mod tests;

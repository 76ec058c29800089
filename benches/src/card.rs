//! A bench-only pool built exactly as the design card describes it: a
//! `crossbeam_queue::ArrayQueue` of idle slot indices, a fixed array of slots, an atomic permit
//! counter (objects in existence ≤ `max`, created on demand with a CAS), `event_listener::Event`
//! for wakeups, and leases that hold an [`Arc`] of the pool (a reference count: cloned on every
//! get, dropped on every return).
//!
//! It is here so that the bench table can show what cenote's own idle queue (the gate fused into
//! the tail CAS, no reference count) and intrusive wait list (direct hand-off) buy, measured
//! beside this, rather than asserted. It is correct (no lost wakeup: a waiter listens, then
//! checks again, then waits; every return pushes, then notifies one *additional* listener) but
//! makes no attempt at fairness: a woken waiter competes with every thread that arrives at the
//! same moment, and if it loses it listens again at the back.
//!
//! Per get + drop of an idle object, the hot path is: `ArrayQueue::pop`, an `Arc` clone (one
//! shared read-modify-write on the pool's reference count), on drop `ArrayQueue::push`, then
//! `Event::notify` (event-listener 5.4 emits a full fence and takes its list's mutex on every
//! call, whether or not anyone listens), then the `Arc` drop (a second RMW on the same count).
//! The permit counter is touched only when the queue is empty: a load, and a CAS to create. On
//! the wait path `Event::listen` boxes the listener (one heap allocation per wait).
//!
//! Its tests run under Miri too (fewer rounds there):
//! `MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-many-seeds=0..4" CARGO_TARGET_DIR=target/miri
//! cargo +nightly miri test -p cenote-benches --lib card`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use event_listener::{Event, IntoNotification, Listener};

use crate::pools::{AsyncPool, BlockingPool};

/// How long a blocking [`CardPool::get`] waits before it gives up, the same default as
/// cenote's `acquire_timeout` (30 s), so that both read the clock only once they have to wait.
pub const CARD_TIMEOUT: Duration = Duration::from_secs(30);

/// The shared state: everything a lease's `Arc` keeps alive.
struct Inner<T> {
    /// Indices of the slots whose objects are idle (capacity `max`: every index fits at once).
    idle: ArrayQueue<u32>,
    /// The objects. Slot `i` is `None` until the creator that took permit `i` fills it.
    slots: Box<[UnsafeCell<Option<T>>]>,
    /// Permits to create: `max` minus the objects created (or being created). The creator that
    /// takes the permit counter from `p` to `p - 1` owns slot `max - p`.
    permits: AtomicUsize,
    /// How many objects may exist.
    max: usize,
    /// Makes a new object.
    create: fn() -> T,
    /// Wakes waiters: every return notifies one additional listener.
    event: Event,
}

// SAFETY: `Inner` is shared by `&` between the pool handle and every lease, on any thread.
// Everything but `slots` is `Sync` on its own. A slot's `UnsafeCell` is only ever accessed by
// the one party that owns its index, and an index is owned by exactly one party at a time: the
// creator that took its permit (then the lease it makes), or the idle queue, or the lease that
// popped it from the queue; the queue's push (release) and pop (acquire) order one owner's
// accesses before the next one's. So a slot is used by one thread at a time, which needs only
// `T: Send` (as `Mutex<T>: Sync` does).
unsafe impl<T: Send> Sync for Inner<T> {}

/// The card-design pool (see the [module docs](self)). Cloning the handle clones the `Arc`.
pub struct CardPool<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for CardPool<T> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

impl<T> fmt::Debug for CardPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardPool")
            .field("max", &self.inner.max)
            // ORDERING: a snapshot for display; nothing is ordered by it.
            .field("permits", &self.inner.permits.load(Ordering::Relaxed))
            .field("idle", &self.inner.idle.len())
            .finish()
    }
}

/// A lent object: holds a counted reference to the pool, and gives the object back (push +
/// notify) when dropped.
pub struct CardLease<T> {
    pool: Arc<Inner<T>>,
    index: u32,
    /// A lease hands out `&T` and `&mut T`: it is `Sync` only if `T` is (the `Arc` alone would
    /// be `Sync` for any `T: Send`).
    _object: PhantomData<T>,
}

impl<T> fmt::Debug for CardLease<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardLease").field("index", &self.index).finish()
    }
}

impl<T> CardPool<T> {
    /// A pool of at most `max` objects, each made by `create` when no idle object is there and
    /// a permit is left. None is made before the first `get`.
    ///
    /// # Panics
    /// If `max` is 0 or does not fit in a `u32`.
    pub fn new(max: usize, create: fn() -> T) -> Self {
        assert!(max > 0 && u32::try_from(max).is_ok(), "CardPool: max must be in 1..=u32::MAX");
        let slots = (0..max).map(|_| UnsafeCell::new(None)).collect();
        Self {
            inner: Arc::new(Inner {
                idle: ArrayQueue::new(max),
                slots,
                permits: AtomicUsize::new(max),
                max,
                create,
                event: Event::new(),
            }),
        }
    }

    /// An idle object, or a new one if a permit is left, or `None` at once.
    #[inline]
    pub fn try_get(&self) -> Option<CardLease<T>> {
        if let Some(index) = self.inner.idle.pop() {
            return Some(self.lease(index));
        }
        self.try_create()
    }

    #[cold]
    fn try_create(&self) -> Option<CardLease<T>> {
        let inner = &*self.inner;
        // ORDERING: the permit counter orders nothing but itself: the CAS only decides which
        // creator owns which slot (each value is taken once), and the slot's contents reach
        // later holders through the idle queue's release/acquire.
        let mut permits = inner.permits.load(Ordering::Relaxed);
        while permits > 0 {
            // ORDERING: as above; `Relaxed` on failure too (we only retry with the new value).
            match inner.permits.compare_exchange_weak(
                permits,
                permits - 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let index = inner.max - permits;
                    let object = (inner.create)();
                    // SAFETY: we took the permit counter from `permits`, which no other CAS can
                    // take from that value again (it only decreases), so slot `max - permits` is
                    // ours alone: no lease has it and its index is not in the idle queue. If
                    // `create` panicked we never get here and the slot stays `None` (that index
                    // is lost, as is fine for a bench pool).
                    unsafe { *inner.slots[index].get() = Some(object) };
                    // `index < max ≤ u32::MAX` (checked in `new`).
                    return Some(self.lease(index as u32));
                }
                Err(now) => permits = now,
            }
        }
        None
    }

    #[inline]
    fn lease(&self, index: u32) -> CardLease<T> {
        CardLease { pool: Arc::clone(&self.inner), index, _object: PhantomData }
    }

    /// Waits until an object is free, blocking the thread, for at most `timeout` (`None`: for
    /// ever). The clock is read only once the pool is found exhausted.
    pub fn get_timeout(&self, timeout: Option<Duration>) -> Option<CardLease<T>> {
        if let Some(lease) = self.try_get() {
            return Some(lease);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let listener = self.inner.event.listen();
            // Checked again after listening: a return that pushed before we listened is seen
            // here; one that pushes after notifies us.
            if let Some(lease) = self.try_get() {
                return Some(lease);
            }
            match deadline {
                None => listener.wait(),
                Some(deadline) => {
                    if listener.wait_deadline(deadline).is_none() {
                        return self.try_get();
                    }
                }
            }
            if let Some(lease) = self.try_get() {
                return Some(lease);
            }
        }
    }

    /// Waits until an object is free, blocking the thread, for at most [`CARD_TIMEOUT`].
    ///
    /// # Panics
    /// If no object came free in time.
    pub fn get(&self) -> CardLease<T> {
        match self.get_timeout(Some(CARD_TIMEOUT)) {
            Some(lease) => lease,
            None => panic!("CardPool: no object came free in {CARD_TIMEOUT:?}"),
        }
    }

    /// Waits until an object is free, awaiting event-listener's listener (works on any
    /// executor; no timeout: event-listener has no timer of its own).
    pub async fn get_async(&self) -> CardLease<T> {
        loop {
            if let Some(lease) = self.try_get() {
                return lease;
            }
            let listener = self.inner.event.listen();
            if let Some(lease) = self.try_get() {
                return lease;
            }
            listener.await;
        }
    }
}

impl<T> Deref for CardLease<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this lease owns slot `index` (see `Inner`'s `Sync`): nobody else reads or
        // writes it until the lease's drop pushes the index back, and `&self` keeps the lease
        // alive for as long as the returned reference.
        let slot = unsafe { &*self.pool.slots[self.index as usize].get() };
        match slot {
            Some(object) => object,
            None => unreachable!("a leased slot always holds an object"),
        }
    }
}

impl<T> DerefMut for CardLease<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the reference unique.
        let slot = unsafe { &mut *self.pool.slots[self.index as usize].get() };
        match slot {
            Some(object) => object,
            None => unreachable!("a leased slot always holds an object"),
        }
    }
}

impl<T> Drop for CardLease<T> {
    #[inline]
    fn drop(&mut self) {
        // Cannot fail: the queue holds `max` indices and every index is in at most one place.
        let _ = self.pool.idle.push(self.index);
        // One *additional* listener: with a plain `notify(1)` (at least one notified), two
        // returns in a row while one waiter is already notified but not yet running would wake
        // nobody for the second object. The notify emits a full fence first, so the push above
        // is seen by any waiter that listens after it.
        self.pool.event.notify(1.additional());
        // Then the `Arc` field drops: the second RMW on the reference count.
    }
}

impl BlockingPool for CardPool<u64> {
    type Guard<'a> = CardLease<u64>;

    #[inline]
    fn get(&self) -> CardLease<u64> {
        CardPool::get(self)
    }
}

impl AsyncPool for CardPool<u64> {
    type Guard<'a> = CardLease<u64>;

    #[inline]
    async fn get(&self) -> CardLease<u64> {
        self.get_async().await
    }
}

/// The card-design pool of `u64`s with at most `n` objects, all created and idle.
pub fn card(n: usize) -> CardPool<u64> {
    let pool = CardPool::new(n, || 0);
    card_fill(&pool, n);
    pool
}

/// The card-design pool of at most `n` objects, none created yet (for the memory table).
pub fn card_empty(n: usize) -> CardPool<u64> {
    CardPool::new(n, || 0)
}

fn card_fill(pool: &CardPool<u64>, n: usize) {
    let held: Vec<_> = (0..n).map(|_| CardPool::get(pool)).collect();
    drop(held);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_up_to_max_then_reuses() {
        let pool = CardPool::new(2, || 7u64);
        let a = pool.try_get().expect("first");
        let mut b = pool.try_get().expect("second");
        assert!(pool.try_get().is_none());
        *b += 1;
        assert_eq!((*a, *b), (7, 8));
        drop(b);
        let c = pool.try_get().expect("reused");
        assert_eq!(*c, 8);
        drop((a, c));
        assert_eq!(pool.inner.idle.len(), 2);
    }

    #[test]
    fn zero_timeout_on_exhausted_pool_returns_none() {
        let pool = CardPool::new(1, || 0u64);
        let held = pool.get();
        assert!(pool.get_timeout(Some(Duration::ZERO)).is_none());
        drop(held);
        assert!(pool.get_timeout(Some(Duration::ZERO)).is_some());
    }

    /// Many threads on few objects, blocking and async: every get is eventually served (a lost
    /// wakeup would hang here) and no object is lent twice at once.
    #[test]
    fn threads_and_tasks_all_served() {
        use std::sync::atomic::AtomicBool;
        let pool = CardPool::new(2, || AtomicBool::new(false));
        std::thread::scope(|s| {
            for t in 0..6 {
                let pool = pool.clone();
                s.spawn(move || {
                    for _ in 0..if cfg!(miri) { 20 } else { 2_000 } {
                        let lease = if t % 2 == 0 {
                            pool.get_timeout(None).expect("no timeout")
                        } else {
                            futures_lite::future::block_on(pool.get_async())
                        };
                        // ORDERING: a test flag; the pool's queue orders the holders.
                        assert!(!lease.swap(true, Ordering::Relaxed), "lent twice");
                        std::thread::yield_now();
                        // ORDERING: as above.
                        lease.store(false, Ordering::Relaxed);
                    }
                });
            }
        });
    }
}

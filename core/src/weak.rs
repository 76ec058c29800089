//! `WeakCore`: a handle that keeps the pool's memory alive, not the pool.
//!
//! A timer that must reach a pool's waiters (to wake those whose deadline passed) may outlive
//! every user of the pool: it holds a `WeakCore`, which neither keeps the pool open nor stops
//! its teardown; it only delays freeing the allocation, so that the timer's access to the
//! wait list stays valid. Counted in `Inner::weak`, like `Arc`'s weak count: the pool itself
//! (all its handles, leases and permits together) holds one count, given up when the last of
//! them is gone.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::handle::count_one_more;
use crate::pool::{Core, Inner};
use crate::sync::Ordering;
use crate::waitlist::{wake_all, Wake, NO_DEADLINE, WAKE_BATCH};

/// A handle to a pool's memory that does not keep the pool open: made by
/// [`Core::downgrade`]. The pool closes when its last [`Core`] handle goes, whatever weak
/// handles are left; its memory (the slots and the wait list, not the objects) is freed when
/// the last weak handle goes too.
///
/// It lets a timer wake the pool's timed-out waiters ([`WeakCore::expire_waiters`]) without
/// keeping the pool alive.
///
/// # Examples
///
/// ```
/// use cenote_core::Core;
///
/// let core = Core::<u8>::new(1, 1, ()).unwrap();
/// let weak = core.downgrade();
/// drop(core); // closes the pool
/// assert_eq!(weak.expire_waiters(0), None); // nobody waits in a closed pool
/// ```
pub struct WeakCore<T, E = ()> {
    inner: NonNull<Inner<T, E>>,
    _owns: PhantomData<Inner<T, E>>,
}

// SAFETY: a `WeakCore` may free the allocation (dropping `E` and any `T` left in it) on
// whichever thread drops it last, and reads the wait list, which is `Sync`: the same
// conditions as `Core` (see there).
unsafe impl<T: Send, E: Send + Sync> Send for WeakCore<T, E> {}
// SAFETY: as for `Send`; `&WeakCore` only reads the wait list under its lock.
unsafe impl<T: Send, E: Send + Sync> Sync for WeakCore<T, E> {}

impl<T, E> Core<T, E> {
    /// A weak handle to this pool: see [`WeakCore`].
    pub fn downgrade(&self) -> WeakCore<T, E> {
        // Our handle keeps the pool's own count of `weak`, so the allocation stays alive.
        count_one_more(&self.inner().weak, "WeakCore");
        WeakCore { inner: self.inner().this(), _owns: PhantomData }
    }
}

impl<T, E> WeakCore<T, E> {
    /// A handle to the pool if it is still open to handles: `None` once its last [`Core`]
    /// handle has gone (the pool is closed and being, or already, torn down; a weak handle
    /// never brings it back). A background task holding a `WeakCore` upgrades for each round
    /// of work and drops the handle before it sleeps, so that it never keeps the pool open.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::Core;
    ///
    /// let core = Core::<u8>::new(1, 1, ()).unwrap();
    /// let weak = core.downgrade();
    /// let again = weak.upgrade().expect("a handle is alive");
    /// drop(core);
    /// assert!(weak.upgrade().is_some(), "`again` keeps the pool open");
    /// drop(again);
    /// assert!(weak.upgrade().is_none(), "the last handle is gone: the pool is closed for good");
    /// ```
    pub fn upgrade(&self) -> Option<Core<T, E>> {
        let handles = &self.inner().handles;
        // ORDERING: `Relaxed`: only the CAS below decides, and it re-reads on failure.
        let mut count = handles.load(Ordering::Relaxed);
        loop {
            if count == 0 {
                return None;
            }
            // ORDERING: `Relaxed` on success, as `Arc::clone` and `Weak::upgrade`: a count
            // above 0 means the pool is not torn down, and our `weak` count keeps its memory;
            // the new handle publishes nothing. From 0 it never goes up again (teardown has
            // begun), which the CAS from a non-zero value guarantees. `Relaxed` on failure:
            // we only retry.
            match handles.compare_exchange_weak(count, count + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(Core { inner: self.inner, _owns: PhantomData }),
                Err(actual) => count = actual,
            }
        }
    }

    /// The extension value given to [`Core::new`]: alive for as long as the pool's memory,
    /// so for as long as this weak handle, even after the pool is closed.
    #[inline]
    pub fn ext(&self) -> &E {
        self.inner().ext()
    }

    /// The pool's shared state. Alive as long as `self` is (our count of `weak`).
    #[inline]
    pub(crate) fn inner(&self) -> &Inner<T, E> {
        // SAFETY: our count of `weak` keeps the allocation from being freed.
        unsafe { self.inner.as_ref() }
    }
}

impl<T, E> WeakCore<T, E> {
    /// Wakes every waiter of [`Core::acquire_until`] whose deadline is at or before `now` (in
    /// the ticks those waiters used), once each; they find their deadline passed and give up.
    /// Returns the earliest deadline of the waiters left, when this must run again (`None`:
    /// no timed waiter is left; a new one will ask through its `watch`).
    ///
    /// Works on a closed pool too (which has no waiters). Wakes outside any lock.
    ///
    /// # Panics
    ///
    /// If a waiter's waker panics: the other waiters due in the same batch are woken first,
    /// and those not reached yet keep their deadline; call again (soon) to wake them and to
    /// learn the next deadline.
    pub fn expire_waiters(&self, now: u64) -> Option<u64> {
        self.inner().expire(now)
    }
}

impl<T, E> Inner<T, E> {
    /// See [`WeakCore::expire_waiters`].
    pub(crate) fn expire(&self, now: u64) -> Option<u64> {
        loop {
            let mut batch: [Option<Wake>; WAKE_BATCH] = [const { None }; WAKE_BATCH];
            let mut list = self.waitlist.lock();
            let (taken, next) = list.expire(now, &mut batch);
            drop(list);
            // A panicking waker: the rest of the batch is woken, and due waiters not taken yet
            // keep their deadline, for the next call.
            wake_all(&mut batch[..taken]);
            if let Some(next) = next {
                return (next != NO_DEADLINE).then_some(next);
            }
        }
    }
}

impl<T, E> Clone for WeakCore<T, E> {
    fn clone(&self) -> Self {
        count_one_more(&self.inner().weak, "WeakCore");
        Self { inner: self.inner, _owns: PhantomData }
    }
}

impl<T, E> Drop for WeakCore<T, E> {
    fn drop(&mut self) {
        // SAFETY: `inner` is `Inner::this` (copied in `downgrade`); we hold one count of
        // `weak`, given up here, and do not touch the pool afterwards.
        unsafe { Inner::release_weak(self.inner) };
    }
}

impl<T, E> fmt::Debug for WeakCore<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakCore").finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::boxed::Box;
    use alloc::rc::Rc;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::cell::Cell;
    use core::future::Future;
    use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use core::task::{Context, Poll, Waker};

    use crate::{Acquired, Core, Permit};

    /// Counts its drops: the extension value, dropped when the allocation is freed.
    struct Freed(Rc<Cell<u32>>);
    impl Drop for Freed {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn weak_handle_keeps_the_memory_not_the_pool() {
        let freed = Rc::new(Cell::new(0));
        let core: Core<u8, Freed> = Core::new(2, 2, Freed(Rc::clone(&freed))).unwrap();
        let weak = core.downgrade();
        let weak2 = weak.clone();
        drop(core);
        assert_eq!(freed.get(), 0, "weak handles keep the allocation");
        assert_eq!(weak.expire_waiters(u64::MAX - 1), None, "a closed pool has no waiters");
        drop(weak);
        assert_eq!(freed.get(), 0);
        drop(weak2);
        assert_eq!(freed.get(), 1, "freed with the last weak handle");

        // A lease outliving the handles and the weak handle frees it on its return.
        let freed = Rc::new(Cell::new(0));
        let core: Core<u8, Freed> = Core::new(1, 1, Freed(Rc::clone(&freed))).unwrap();
        let lease = Permit::fill(core.try_reserve().unwrap(), 1);
        let weak = core.downgrade();
        drop(core);
        drop(weak);
        assert_eq!(freed.get(), 0, "the lease keeps the allocation");
        drop(lease);
        assert_eq!(freed.get(), 1);
    }

    struct CountingWaker(AtomicUsize);
    impl alloc::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// Timed waiters: the earliest deadline is asked for through `watch`, `expire_waiters`
    /// wakes exactly those due (more than one batch of them), once each, and says when to
    /// run next; a waiter woken for its deadline but still there is served all the same.
    #[test]
    fn expire_wakes_each_due_waiter_once() {
        let core: Core<u32> = Core::new(1, 1, ()).unwrap();
        let weak = core.downgrade();
        let held = Permit::fill(core.try_reserve().unwrap(), 7);
        let promised: Rc<Cell<Option<u64>>> = Rc::new(Cell::new(None));
        let mut waiters = Vec::new();
        // Deadlines 10..=29, then 5: promises for 10 (the first) and 5 (earlier than 10).
        for deadline in (10..30).chain([5]) {
            let p = Rc::clone(&promised);
            let mut fut = Box::pin(core.acquire_until(deadline, move |t| p.set(Some(t))));
            let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
            assert!(fut
                .as_mut()
                .poll(&mut Context::from_waker(&Waker::from(Arc::clone(&waker))))
                .is_pending());
            let expected = (deadline == 10 || deadline == 5).then_some(deadline);
            assert_eq!(promised.take(), expected, "promise for deadline {deadline}");
            waiters.push((deadline, fut, waker));
        }
        let woken = |waiters: &[(u64, _, Arc<CountingWaker>)]| -> Vec<u64> {
            waiters.iter().filter(|(_, _, w)| w.0.load(SeqCst) > 0).map(|(d, _, _)| *d).collect()
        };
        assert_eq!(weak.expire_waiters(4), Some(5));
        assert!(woken(&waiters).is_empty());
        assert_eq!(weak.expire_waiters(12), Some(13));
        assert_eq!(woken(&waiters), [10, 11, 12, 5]);
        assert_eq!(weak.expire_waiters(100), None, "every deadline passed");
        assert_eq!(woken(&waiters).len(), 21);
        assert_eq!(weak.expire_waiters(100), None);
        assert!(waiters.iter().all(|(_, _, w)| w.0.load(SeqCst) == 1), "each woken once");
        // Woken for its deadline but not gone yet: the oldest waiter still gets the return.
        let noop = &mut Context::from_waker(Waker::noop());
        assert!(waiters[0].1.as_mut().poll(noop).is_pending());
        drop(held);
        match waiters[0].1.as_mut().poll(noop) {
            Poll::Ready(Ok(Acquired::Idle(lease))) => assert_eq!(*lease, 7),
            other => panic!("expected the returned object, got {other:?}"),
        }
        drop(waiters);
        assert_eq!(core.status().waiting, 0);
    }

    /// A waiter woken for its deadline keeps its place until it leaves, without a waker:
    /// closing the pool still reaches every waiter behind it.
    #[test]
    fn close_reaches_waiters_behind_one_woken_for_its_deadline() {
        let core: Core<u32> = Core::new(1, 1, ()).unwrap();
        let weak = core.downgrade();
        let _held = Permit::fill(core.try_reserve().unwrap(), 7);
        let noop = &mut Context::from_waker(Waker::noop());
        let mut timed = Box::pin(core.acquire_until(5, |_| {}));
        assert!(timed.as_mut().poll(noop).is_pending());
        let mut plain = Box::pin(core.acquire());
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        assert!(plain.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::clone(&waker)))).is_pending());
        assert_eq!(weak.expire_waiters(5), None);
        core.close();
        assert_eq!(waker.0.load(SeqCst), 1, "the waiter behind is woken by close");
        assert!(matches!(plain.as_mut().poll(noop), Poll::Ready(Err(crate::Closed))));
        assert!(matches!(timed.as_mut().poll(noop), Poll::Ready(Err(crate::Closed))));
    }
}

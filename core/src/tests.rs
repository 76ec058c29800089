//! Unit tests of the core's protocol, single-threaded and small enough for Miri.
#![cfg(not(loom))]

use alloc::string::ToString;
use alloc::vec::Vec;
use core::future::Future;

use crate::{Acquired, ConfigError, Core, Lease, Permit, TryAcquire};

fn core(capacity: usize, max: usize) -> Core<u32> {
    Core::new(capacity, max, ()).unwrap()
}

fn take(core: &Core<u32>, fresh: u32) -> Lease<u32> {
    match core.try_acquire() {
        TryAcquire::Idle(lease) => lease,
        TryAcquire::Vacant(permit) => Permit::fill(permit, fresh),
        other => panic!("expected an object, got {other:?}"),
    }
}

fn into_lease<T: Default>(acquired: Acquired<T>) -> Lease<T> {
    match acquired {
        Acquired::Idle(lease) => lease,
        Acquired::Vacant(permit) => Permit::fill(permit, T::default()),
    }
}

#[test]
fn new_rejects_bad_sizes() {
    assert_eq!(Core::<u32>::new(4, 0, ()).err(), Some(ConfigError::ZeroMaxSize));
    assert_eq!(
        Core::<u32>::new(2, 3, ()).err(),
        Some(ConfigError::MaxSizeAboveCapacity { max_size: 3, capacity: 2 })
    );
}

#[test]
fn lends_creates_and_reuses_fifo() {
    let core = core(3, 3);
    let a = take(&core, 1);
    let b = take(&core, 2);
    assert_eq!((*a, *b), (1, 2));
    drop(a);
    drop(b);
    // FIFO: the object returned first is lent first.
    let a = take(&core, 9);
    assert_eq!(*a, 1);
    assert_eq!(Lease::meta(&a).use_count, 2);
    let s = core.status();
    assert_eq!((s.size, s.idle, s.waiting), (2, 1, 0));
}

#[test]
fn max_size_is_a_hard_limit() {
    let core = core(2, 2);
    let held: Vec<_> = (0..2).map(|n| take(&core, n)).collect();
    assert!(matches!(core.try_acquire(), TryAcquire::Exhausted));
    assert!(core.try_reserve().is_none());
    drop(held);
    assert_eq!(core.status().idle, 2);
}

#[test]
fn unfilled_permit_gives_its_place_back() {
    let core = core(1, 1);
    let TryAcquire::Vacant(permit) = core.try_acquire() else { panic!() };
    assert_eq!(core.status().size, 1);
    drop(permit);
    assert_eq!(core.status().size, 0);
    assert!(matches!(core.try_acquire(), TryAcquire::Vacant(_)));
}

#[test]
fn retire_and_detach_free_the_place() {
    let core = core(1, 1);
    let lease = take(&core, 5);
    Lease::retire(lease);
    assert_eq!(core.status().size, 0);
    let lease = take(&core, 6);
    assert_eq!(Lease::detach(lease), 6);
    assert_eq!(core.status().size, 0);
    assert_eq!(*take(&core, 7), 7);
}

#[test]
fn try_take_idle_never_creates() {
    let core = core(1, 1);
    assert!(core.try_take_idle().is_none());
    assert_eq!(core.status().size, 0);
    drop(take(&core, 1));
    assert_eq!(core.try_take_idle().map(|l| *l), Some(1));
}

#[test]
fn close_drops_idle_now_and_in_use_on_return() {
    let core = core(2, 2);
    let a = take(&core, 1);
    drop(take(&core, 2));
    assert_eq!(core.status().idle, 1);
    core.close();
    assert!(core.is_closed());
    assert_eq!(core.status().idle, 0);
    assert_eq!(core.status().size, 1);
    drop(a);
    assert_eq!(core.status().size, 0);
    assert!(matches!(core.try_acquire(), TryAcquire::Closed));
    assert_eq!(core.resize(1), Err(ConfigError::Closed));
}

#[test]
fn resize_within_capacity() {
    let core = core(4, 2);
    let held: Vec<_> = (0..2).map(|n| take(&core, n)).collect();
    assert!(matches!(core.try_acquire(), TryAcquire::Exhausted));
    core.resize(3).unwrap();
    let third = take(&core, 3);
    assert_eq!(core.resize(5), Err(ConfigError::MaxSizeAboveCapacity { max_size: 5, capacity: 4 }));
    assert_eq!(core.resize(0), Err(ConfigError::ZeroMaxSize));
    // Shrink below what is in use: extras are retired as they return.
    core.resize(1).unwrap();
    drop(held);
    assert_eq!(core.status().size, 1);
    drop(third);
    assert_eq!(core.status().size, 1);
    assert_eq!(core.status().idle, 1);
}

#[test]
fn retain_drops_rejected_idle_objects() {
    let core = core(4, 4);
    for n in 0..4 {
        Permit::fill_idle(core.try_reserve().unwrap(), n);
    }
    assert_eq!(core.retain(|n, _| *n % 2 == 0), 2);
    let s = core.status();
    assert_eq!((s.size, s.idle), (2, 2));
}

#[test]
fn async_acquire_waits_for_a_return() {
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    let core = core(1, 1);
    let held = take(&core, 1);
    let mut fut = pin!(core.acquire());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(core.status().waiting, 1);
    drop(held);
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(Acquired::Idle(lease))) => assert_eq!(*lease, 1),
        other => panic!("expected the returned object, got {other:?}"),
    }
}

/// A waker that counts its wakes (std `Wake`, so Miri checks its refcounting too).
#[cfg(feature = "std")]
struct CountingWaker(core::sync::atomic::AtomicUsize);

#[cfg(feature = "std")]
impl alloc::task::Wake for CountingWaker {
    fn wake(self: alloc::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &alloc::sync::Arc<Self>) {
        self.0.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    }
}

/// The wait list itself: waiters served oldest first, one unlinked from the middle, a waiter
/// re-polled with a new waker woken through that one, nobody woken twice.
#[cfg(feature = "std")]
#[test]
fn async_waiters_are_served_in_order() {
    use alloc::sync::Arc;
    use core::sync::atomic::Ordering::SeqCst;
    use core::task::{Context, Poll, Waker};

    let counting = || Arc::new(CountingWaker(core::sync::atomic::AtomicUsize::new(0)));
    let (wa, wa2, wb, wc) = (counting(), counting(), counting(), counting());
    let core = core(2, 2);
    let (x, y) = (take(&core, 1), take(&core, 2));
    let mut a = alloc::boxed::Box::pin(core.acquire());
    let mut b = alloc::boxed::Box::pin(core.acquire());
    let mut c = alloc::boxed::Box::pin(core.acquire());
    for (fut, w) in [(&mut a, &wa), (&mut b, &wb), (&mut c, &wc)] {
        assert!(fut.as_mut().poll(&mut Context::from_waker(&Waker::from(w.clone()))).is_pending());
    }
    // A moves to another task: the new waker replaces the old one.
    assert!(a.as_mut().poll(&mut Context::from_waker(&Waker::from(wa2.clone()))).is_pending());
    drop(b); // unlinked from the middle
    assert_eq!(core.status().waiting, 2);
    drop(x); // goes to A, the oldest
    assert_eq!((wa.0.load(SeqCst), wa2.0.load(SeqCst), wc.0.load(SeqCst)), (0, 1, 0));
    drop(y); // goes to C
    assert_eq!((wb.0.load(SeqCst), wc.0.load(SeqCst)), (0, 1));
    let noop = &mut Context::from_waker(Waker::noop());
    let got_a = match a.as_mut().poll(noop) {
        Poll::Ready(Ok(Acquired::Idle(lease))) => lease,
        other => panic!("A: {other:?}"),
    };
    let got_c = match c.as_mut().poll(noop) {
        Poll::Ready(Ok(Acquired::Idle(lease))) => lease,
        other => panic!("C: {other:?}"),
    };
    assert_eq!((*got_a, *got_c), (1, 2));
    assert_eq!(core.status().waiting, 0);
}

/// A parked thread is unparked by a return and gets it.
#[cfg(feature = "std")]
#[test]
fn blocking_waiter_is_unparked_by_a_return() {
    let core = core(1, 1);
    let held = take(&core, 7);
    std::thread::scope(|s| {
        let waiter = s.spawn(|| into_lease(core.acquire_blocking(crate::time::NEVER).expect("not closed")));
        while core.status().waiting == 0 {
            std::thread::yield_now();
        }
        drop(held);
        assert_eq!(*waiter.join().expect("waiter"), 7);
    });
}

#[test]
fn cancelled_woken_waiter_passes_the_object_on() {
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    let core = core(1, 1);
    let held = take(&core, 1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut first = alloc::boxed::Box::pin(core.acquire());
    let mut second = pin!(core.acquire());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    drop(held); // wakes `first`
    drop(first); // cancelled after being woken: must pass the wakeup on
    assert!(matches!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(Acquired::Idle(_)))));
}

#[test]
fn cancelled_last_waiter_leaves_the_object_in_the_pool() {
    use core::task::{Context, Waker};

    let core = core(1, 1);
    let held = take(&core, 1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut waiter = alloc::boxed::Box::pin(core.acquire());
    assert!(waiter.as_mut().poll(&mut cx).is_pending());
    drop(held);
    drop(waiter);
    let s = core.status();
    assert_eq!((s.idle, s.waiting), (1, 0));
    assert!(core.try_take_idle().is_some());
}

#[test]
fn close_wakes_waiters_with_closed() {
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    let core = core(1, 1);
    let _held = take(&core, 1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(core.acquire());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    core.close();
    assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Err(crate::Closed))));
}

#[cfg(feature = "std")]
#[test]
fn blocking_acquire_times_out() {
    let core = core(1, 1);
    let _held = take(&core, 1);
    let deadline = std::time::Instant::now() + core::time::Duration::from_millis(20);
    assert!(matches!(core.acquire_blocking(crate::time::at(deadline)), Err(crate::WaitError::Timeout)));
    assert_eq!(core.status().waiting, 0);
}

/// Threads share two objects through blocking waits; no object is ever lent twice at once.
#[cfg(feature = "std")]
#[test]
fn threads_never_share_an_object() {
    use core::sync::atomic::{AtomicBool, Ordering};

    let rounds = if cfg!(miri) { 20 } else { 2_000 };
    let core: Core<AtomicBool> = Core::new(2, 2, ()).unwrap();
    let start = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (core, start) = (&core, &start);
            s.spawn(move || {
                start.wait();
                for _ in 0..rounds {
                    let lease = match core.acquire_blocking(crate::time::NEVER).unwrap() {
                        Acquired::Idle(lease) => lease,
                        Acquired::Vacant(permit) => Permit::fill(permit, AtomicBool::new(false)),
                    };
                    assert!(!lease.swap(true, Ordering::Relaxed), "lent twice at once");
                    lease.store(false, Ordering::Relaxed);
                }
            });
        }
    });
    let s = core.status();
    assert_eq!((s.waiting, s.idle), (0, s.size), "{s:?}");
    assert!((1..=2).contains(&s.size), "{s:?}");
}

/// Async waiters polled from several threads, some cancelled mid-wait: nothing is lost.
#[cfg(feature = "std")]
#[test]
fn cancelled_async_waiters_lose_nothing() {
    use core::task::{Context, Waker};

    let rounds = if cfg!(miri) { 10 } else { 1_000 };
    let core = core(1, 1);
    std::thread::scope(|s| {
        for t in 0..3u32 {
            let core = &core;
            s.spawn(move || {
                let mut cx = Context::from_waker(Waker::noop());
                for round in 0..rounds {
                    let mut fut = alloc::boxed::Box::pin(core.acquire());
                    // Poll a few times, then either finish or cancel.
                    let mut done = false;
                    for _ in 0..3 {
                        if let core::task::Poll::Ready(found) = fut.as_mut().poll(&mut cx) {
                            drop(into_lease(found.unwrap()));
                            done = true;
                            break;
                        }
                        std::thread::yield_now();
                    }
                    if done || (round + t) % 2 == 0 {
                        drop(fut); // cancelled, maybe after being woken
                    } else {
                        drop(into_lease(futures_lite::future::block_on(fut).unwrap()));
                    }
                }
            });
        }
    });
    let s = core.status();
    assert_eq!((s.waiting, s.size, s.idle), (0, 1, 1), "{s:?}");
}

/// The last handle can go while leases and permits are out: the pool closes, drops idle
/// objects at once, drops the others as they come back, and frees itself after the last one.
#[test]
fn pool_outlives_its_last_handle_until_the_last_lease() {
    use alloc::rc::Rc;
    use core::cell::Cell;

    struct Counted(Rc<Cell<u32>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    let dropped = Rc::new(Cell::new(0));
    let core: Core<Counted, Rc<Cell<u32>>> = Core::new(3, 3, Rc::clone(&dropped)).unwrap();
    let fill = |core: &Core<Counted, Rc<Cell<u32>>>| {
        Permit::fill(core.try_reserve().unwrap(), Counted(Rc::clone(&dropped)))
    };
    let a = fill(&core);
    let b = fill(&core);
    drop(fill(&core)); // idle
    let permit = core.try_reserve();
    assert!(permit.is_none(), "max_size reached");
    let second = core.clone();
    drop(core);
    assert!(!second.is_closed(), "one handle is left");
    drop(second);
    assert_eq!(dropped.get(), 1, "the idle object is dropped when the last handle goes");
    // The extension value is alive while leases are out.
    assert_eq!(Rc::strong_count(Lease::ext(&a)), 4, "ours, the extension, a and b");
    drop(a);
    assert_eq!(dropped.get(), 2);
    Lease::retire(b);
    assert_eq!(dropped.get(), 3);
    // Everything, the extension value included, is gone: only our own `Rc` is left.
    assert_eq!(Rc::strong_count(&dropped), 1);
}

/// A permit outliving the last handle gives its count back and frees the pool.
#[test]
fn permit_outlives_last_handle() {
    let core = core(1, 1);
    let permit = core.try_reserve().unwrap();
    drop(core);
    let lease = Permit::fill(permit, 3);
    assert_eq!(*lease, 3);
    drop(lease);
    let core = self::core(1, 1);
    let permit = core.try_reserve().unwrap();
    drop(core);
    drop(permit);
}

/// The wait future is named and fused by contract: once ready, it has left the queue (the
/// count of waiters drops with the `Ready`, not with the future), and polling it again panics.
#[test]
#[should_panic(expected = "`Acquire` polled after completion")]
fn acquire_future_panics_when_polled_after_completion() {
    use core::task::{Context, Waker};

    let core = core(1, 1);
    let held = take(&core, 1);
    let mut fut: core::pin::Pin<alloc::boxed::Box<crate::Acquire<'_, u32>>> =
        alloc::boxed::Box::pin(core.acquire());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert!(alloc::format!("{fut:?}").contains("waiting: true"));
    drop(held);
    assert!(fut.as_mut().poll(&mut cx).is_ready());
    assert_eq!(core.status().waiting, 0, "left the queue on `Ready`");
    assert!(alloc::format!("{fut:?}").contains("waiting: false"));
    let _ = fut.as_mut().poll(&mut cx);
}

/// A wait future polled once and then leaked keeps what it was handed for good (as
/// documented on `Acquire`): the object stays in use and the waiter counted. (Not under Miri,
/// whose leak check would report the leak itself.)
#[test]
#[cfg_attr(miri, ignore = "leaks on purpose")]
fn leaked_wait_future_keeps_what_it_was_handed() {
    use core::task::{Context, Waker};

    let core = core(1, 1);
    let held = take(&core, 1);
    let mut fut = alloc::boxed::Box::pin(core.acquire());
    assert!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    core::mem::forget(fut);
    drop(held); // handed to the leaked waiter
    let s = core.status();
    assert_eq!((s.size, s.idle, s.waiting), (1, 0, 1), "{s:?}");
    assert!(matches!(core.try_acquire(), TryAcquire::Exhausted));
}

/// `close` wakes its waiters a batch at a time (outside the lock): more waiters than one
/// batch are each woken once, also those behind a waiter woken for its deadline (which has no
/// waker left), and every one of them then reads `Closed`.
#[cfg(feature = "std")]
#[test]
fn close_wakes_more_waiters_than_a_batch_each_once() {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use core::task::{Context, Poll, Waker};

    let core = core(1, 1);
    let weak = core.downgrade();
    let _held = take(&core, 1);
    let mut waiters = Vec::new();
    for n in 0..21u64 {
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        // Waiter 9 (in the second batch) gives up at 5 and is woken for it before the close.
        let deadline = if n == 9 { 5 } else { u64::MAX };
        let mut fut = alloc::boxed::Box::pin(core.acquire_until(deadline, |_| {}));
        assert!(fut.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::clone(&waker)))).is_pending());
        waiters.push((fut, waker));
    }
    assert_eq!(weak.expire_waiters(5), None);
    assert_eq!(waiters[9].1 .0.load(SeqCst), 1, "woken for its deadline");
    core.close();
    for (n, (fut, waker)) in waiters.iter_mut().enumerate() {
        assert_eq!(waker.0.load(SeqCst), 1, "waiter {n} woken once");
        let poll = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(matches!(poll, Poll::Ready(Err(crate::Closed))), "waiter {n}: {poll:?}");
    }
    drop(waiters);
    assert_eq!(core.status().waiting, 0);
}

/// A waker that panics when `close` wakes it does not keep the other waiters of its batch
/// asleep: they are woken as the panic unwinds, and the panic reaches `close`'s caller. The
/// waiters of later batches are left for the next `close`, which wakes them.
#[cfg(feature = "std")]
#[test]
fn close_wakes_the_batch_past_a_panicking_waker() {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use core::task::{Context, Waker};

    struct Panicky;
    impl alloc::task::Wake for Panicky {
        fn wake(self: Arc<Self>) {
            panic!("a bad waker");
        }
    }

    let core = core(1, 1);
    let _held = take(&core, 1);
    let mut bad = alloc::boxed::Box::pin(core.acquire());
    assert!(bad.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::new(Panicky)))).is_pending());
    // The bad one and 7 others fill the first batch; 3 more wait behind it.
    let mut good = Vec::new();
    for _ in 0..10 {
        let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let mut fut = alloc::boxed::Box::pin(core.acquire());
        assert!(fut.as_mut().poll(&mut Context::from_waker(&Waker::from(Arc::clone(&waker)))).is_pending());
        good.push((fut, waker));
    }
    let woken = |good: &[(_, Arc<CountingWaker>)]| -> Vec<usize> {
        good.iter().map(|(_, w)| w.0.load(SeqCst)).collect()
    };
    let closed = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| core.close()));
    assert!(closed.is_err(), "the waker's panic reaches the caller");
    assert_eq!(woken(&good), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "the bad waker's batch is woken");
    core.close();
    assert_eq!(woken(&good), [1; 10], "closing again wakes the rest, once each");
}

/// Issue 9: a lease returns on one thread while the last handle drops on another. The return's
/// gated push is the step that lets the dropper drain the object and free the pool, so the
/// returner must hold no reference into the pool (not even a function argument's) after it.
/// A test hook makes the returner wait, right after its last store, until the pool is freed;
/// under Miri (Tree Borrows) any reference to the pool still live there is reported.
#[cfg(feature = "std")]
#[test]
fn lease_return_races_last_handle_drop() {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    /// 0: nothing yet; 1: the returner pushed; 2: the pool is freed.
    static STEP: AtomicU8 = AtomicU8::new(0);
    fn after_push() {
        STEP.store(1, Ordering::SeqCst);
        while STEP.load(Ordering::SeqCst) != 2 {
            std::thread::yield_now();
        }
    }

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    let dropped = Arc::new(AtomicUsize::new(0));
    let core: Core<Counted, Arc<AtomicUsize>> = Core::new(2, 2, Arc::clone(&dropped)).unwrap();
    let lease = Permit::fill(core.try_reserve().unwrap(), Counted(Arc::clone(&dropped)));
    let returner = std::thread::spawn(move || {
        crate::queue::hook::AFTER_PUSH.with(|h| h.set(Some(after_push)));
        drop(lease);
    });
    while STEP.load(Ordering::SeqCst) != 1 {
        std::thread::yield_now();
    }
    // The returner's push went through the open gate: the last handle's teardown drains the
    // object and, with no lease left, frees the pool while the returner is still in the hook.
    drop(core);
    assert_eq!(dropped.load(Ordering::Relaxed), 1, "the drain dropped the returned object");
    assert_eq!(Arc::strong_count(&dropped), 1, "the pool and its extension value are gone");
    STEP.store(2, Ordering::SeqCst);
    returner.join().unwrap();
}

/// Issue 9: a capacity whose slots the machine cannot hold is an error naming the capacity and
/// the bytes, not an abort. The slots' reservation fails at once (no memory is touched).
#[test]
#[cfg_attr(
    all(miri, target_pointer_width = "64"),
    ignore = "Miri stops on an allocation larger than the host has instead of failing it"
)]
fn huge_capacity_is_an_error_not_an_abort() {
    for capacity in [1usize << 31, Core::<u64>::MAX_CAPACITY] {
        match Core::<u64>::new(capacity, 2, ()) {
            Err(ConfigError::OutOfMemory { capacity: c, bytes }) => {
                assert_eq!(c, capacity);
                assert!(bytes >= capacity as u64 * 40, "{bytes} bytes for {capacity} slots");
                let message = ConfigError::OutOfMemory { capacity: c, bytes }.to_string();
                assert!(message.contains(&capacity.to_string()) && message.contains(&bytes.to_string()));
                assert!(message.contains("lower capacity"), "{message}");
            }
            other => panic!("capacity {capacity}: expected OutOfMemory, got {:?}", other.map(|_| ())),
        }
    }
}

/// Issue 9: a shrink below what is lent out shuts the fast return path until the extras are
/// gone; every return meanwhile is retired, and once the pool is within its limit the gate
/// opens again and returns are fast (idle) once more.
#[test]
fn shrink_gate_shuts_until_the_extras_are_retired() {
    use crate::queue::GATE_SHRINK;

    let core = core(4, 4);
    let mut held: Vec<_> = (0..4).map(|n| take(&core, n)).collect();
    core.resize(2).unwrap();
    assert_eq!(core.inner().idle.gate() & GATE_SHRINK, GATE_SHRINK, "4 out, limit 2: shut");
    drop(held.pop());
    assert_eq!((core.status().size, core.status().idle), (3, 0), "an extra is retired");
    assert_eq!(core.inner().idle.gate() & GATE_SHRINK, GATE_SHRINK, "3 out, limit 2: still shut");
    drop(held.pop());
    assert_eq!((core.status().size, core.status().idle), (2, 0));
    assert_eq!(core.inner().idle.gate(), 0, "within the limit: open again");
    drop(held.pop());
    assert_eq!((core.status().size, core.status().idle), (2, 1), "a return is idle again");
    assert!(matches!(core.try_acquire(), TryAcquire::Idle(_)));
    // Growing while shut opens the gate too.
    let more: Vec<_> = (0..1).map(|n| take(&core, n)).collect();
    core.resize(1).unwrap();
    assert_eq!(core.inner().idle.gate() & GATE_SHRINK, GATE_SHRINK);
    core.resize(4).unwrap();
    assert_eq!(core.inner().idle.gate(), 0);
    drop((held, more));
    assert_eq!(core.status().idle, core.status().size);
}

/// A shrink with idle extras only retires them at once and leaves the gate open.
#[test]
fn shrink_with_idle_extras_retires_them_now() {
    let core = core(3, 3);
    drop((0..3).map(|n| take(&core, n)).collect::<Vec<_>>());
    core.resize(1).unwrap();
    let s = core.status();
    assert_eq!((s.max_size, s.size, s.idle), (1, 1, 1));
    assert_eq!(core.inner().idle.gate(), 0);
}

/// Review of issue 11: a `vacated` hook that panics loses nothing: the object is dropped and
/// its place freed by the unwind, for a retire, a detach and a return to a pool whose last
/// handle is gone.
#[cfg(feature = "std")]
#[test]
fn a_panicking_vacated_hook_loses_no_place() {
    use crate::{Hooks, SlotMeta, Vacated};
    fn boom(_: &(), _: &u32, _: &SlotMeta, _: Vacated) {
        panic!("a hook that panics");
    }
    let core: Core<u32> = Core::new_with_hooks(1, 1, (), Hooks::new().vacated(boom)).unwrap();
    let lease = Permit::fill(core.try_reserve().unwrap(), 1);
    let caught = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| Lease::retire(lease)));
    assert!(caught.is_err());
    assert_eq!(core.status().size, 0, "the retired object's place is free");
    let lease = Permit::fill(core.try_reserve().expect("the place is usable again"), 2);
    let caught = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| Lease::detach(lease)));
    assert!(caught.is_err());
    assert_eq!(core.status().size, 0, "the detached object's place is free");
    let lease = Permit::fill(core.try_reserve().unwrap(), 3);
    drop(core); // the last handle: the lease keeps the memory
    let caught = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| drop(lease)));
    assert!(caught.is_err(), "the orphaned return ran the hook");
    // The pool's memory is freed by that return (Miri reports a leak otherwise).
}

//! Loom models of the core's protocol. Each explores every interleaving of 2–4 threads (up
//! to `LOOM_MAX_PREEMPTIONS` preemptions) and fails on a deadlock (a lost wakeup leaves a
//! thread parked forever) or a failed assertion (a lost or duplicated object or permit).
//!
//! Under loom `STARVE_AFTER_MISSES` is 1, so that the direct-service paths of blocking waiters
//! are reachable in small models. The vacant-slot queue (crossbeam's `ArrayQueue`, not
//! loom-instrumented) is a mutex-backed stand-in in every model.
//!
//! The gated idle queue is the real one (its atomics and cells are loom's) in every model
//! except five, built with `core_with_stand_in`: `close_races_wait_and_return`,
//! `fair_hand_off_with_barging`, `resize_down_races_return`, `last_waiter_leaves_as_two_arrive`
//! and `returns_race_mixed_waiters`. They are about the wait list, close and resize; in each,
//! two threads can wait at once on one queue step in flight (a pop for a claimed push), and
//! loom's scheduler, which is not fair, then explores alternating between the two waiters
//! forever and fails on its branch limit (or, for the last two, takes minutes). The queue's own
//! races are modelled in the crate (`cenote-core`'s `queue::loom_models`).
#![cfg(loom)]

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use cenote_core::{Acquired, Closed, Core, Lease, Permit, TryAcquire};
use loom::thread;

/// A pool with the real gated idle queue.
fn core(capacity: usize, max: usize) -> Core<u32> {
    Core::new(capacity, max, ()).unwrap()
}

/// A pool whose idle queue is the mutex-backed stand-in: for models about the wait list, close
/// or resize in which two threads can wait on one in-flight queue step (see the module docs).
fn core_with_stand_in(capacity: usize, max: usize) -> Core<u32> {
    Core::new_with_idle_stand_in(capacity, max, ()).unwrap()
}

/// Takes an object now: idle, or created into a permit.
fn take(core: &Core<u32>) -> Lease<u32> {
    match core.try_acquire() {
        TryAcquire::Idle(lease) => lease,
        TryAcquire::Vacant(permit) => Permit::fill(permit, 0),
        other => panic!("expected an object, got {other:?}"),
    }
}

fn into_lease(acquired: Acquired<u32>) -> Lease<u32> {
    match acquired {
        Acquired::Idle(lease) => lease,
        Acquired::Vacant(permit) => Permit::fill(permit, 1),
    }
}

/// Waits (parking the loom thread) for an object.
fn wait(core: &Core<u32>) -> Lease<u32> {
    into_lease(core.acquire_blocking(cenote_core::time::NEVER).expect("not closed"))
}

/// Nobody waits, and every object is idle.
fn assert_balanced(core: &Core<u32>) {
    let s = core.status();
    assert_eq!(s.waiting, 0, "{s:?}");
    assert_eq!(s.size, s.idle, "{s:?}");
}

/// `max` objects can be taken at once: no permit or object was lost.
fn assert_full_capacity(core: &Core<u32>, max: usize) {
    let held: Vec<_> = (0..max).map(|_| take(core)).collect();
    assert!(matches!(core.try_acquire(), TryAcquire::Exhausted));
    drop(held);
}

fn spawn_waiter(core: &Core<u32>) -> thread::JoinHandle<()> {
    let core = core.clone();
    thread::spawn(move || drop(wait(&core)))
}

/// A return racing a waiter across the gap between "nothing idle" and "listening".
#[test]
fn return_races_wait() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        let waiter = spawn_waiter(&core);
        drop(held);
        waiter.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// The same gap for an async waiter (`Core::acquire`).
#[test]
fn return_races_async_wait() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        let waiter = {
            let core = core.clone();
            thread::spawn(move || drop(into_lease(loom::future::block_on(core.acquire()).unwrap())))
        };
        drop(held);
        waiter.join().unwrap();
        assert_balanced(&core);
    });
}

/// A waiter and a thread that takes the object back (barging): the waiter is served (after a
/// miss it is served directly), and nothing is lost.
#[test]
fn fair_hand_off_with_barging() {
    loom::model(|| {
        let core = core_with_stand_in(1, 1);
        let held = take(&core);
        let w1 = spawn_waiter(&core);
        let barger = {
            let core = core.clone();
            thread::spawn(move || {
                if let TryAcquire::Idle(lease) = core.try_acquire() {
                    drop(lease);
                }
            })
        };
        drop(held);
        w1.join().unwrap();
        barger.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// Both kinds of waiter in one list, two returns racing them: an async waiter (served
/// directly) and a blocking one (woken to look, barging allowed), while the main thread
/// returns one object and a second thread the other. Everyone is served, nothing is lost, and
/// the last waiter to leave opens the gate again.
#[test]
fn returns_race_mixed_waiters() {
    loom::model(|| {
        let core = core_with_stand_in(2, 2);
        let (a, b) = (take(&core), take(&core));
        let async_waiter = {
            let core = core.clone();
            thread::spawn(move || drop(into_lease(loom::future::block_on(core.acquire()).unwrap())))
        };
        let blocking_waiter = spawn_waiter(&core);
        let returner = thread::spawn(move || drop(a));
        drop(b);
        returner.join().unwrap();
        async_waiter.join().unwrap();
        blocking_waiter.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 2);
    });
}

/// A waiter that is woken for the object and then cancelled passes it on to the waiter
/// behind it.
#[test]
fn woken_waiter_cancelled_passes_on() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        let mut cx = Context::from_waker(Waker::noop());
        // The cancelled waiter: registered (first poll), then dropped at a racy moment.
        let mut first = Box::pin(core.acquire());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let second = spawn_waiter(&core);
        let returner = thread::spawn(move || drop(held));
        drop(first);
        returner.join().unwrap();
        second.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// The same when the cancelled waiter is the last one: the object ends up idle.
#[test]
fn last_woken_waiter_cancelled_returns_object() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        let mut cx = Context::from_waker(Waker::noop());
        let mut only = Box::pin(core.acquire());
        assert!(only.as_mut().poll(&mut cx).is_pending());
        let returner = thread::spawn(move || drop(held));
        // Maybe woken, maybe not yet: poll once more, then cancel.
        let outcome = only.as_mut().poll(&mut cx);
        drop(only);
        returner.join().unwrap();
        if let Poll::Ready(result) = outcome {
            drop(into_lease(result.unwrap()));
        }
        assert_balanced(&core);
        assert_eq!(core.status().idle, 1);
    });
}

/// A failed create drops its permit: the place goes back and a waiter uses it.
#[test]
fn failed_create_gives_permit_back() {
    loom::model(|| {
        let core = core(1, 1);
        let TryAcquire::Vacant(permit) = core.try_acquire() else { panic!("fresh pool") };
        let waiter = spawn_waiter(&core);
        drop(permit); // the create failed
        waiter.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// `close` racing a waiter and a return: the waiter ends (object or `Closed`), and every
/// object is dropped in the end.
#[test]
fn close_races_wait_and_return() {
    loom::model(|| {
        let core = core_with_stand_in(1, 1);
        let held = take(&core);
        let waiter = {
            let core = core.clone();
            thread::spawn(move || match core.acquire_blocking(cenote_core::time::NEVER) {
                Ok(acquired) => drop(into_lease(acquired)),
                Err(e) => assert_eq!(e, cenote_core::WaitError::Closed),
            })
        };
        let returner = thread::spawn(move || drop(held));
        core.close();
        waiter.join().unwrap();
        returner.join().unwrap();
        let s = core.status();
        assert_eq!((s.size, s.idle, s.waiting), (0, 0, 0), "{s:?}");
        assert!(matches!(core.try_acquire(), TryAcquire::Closed));
    });
}

/// An async waiter sees `Closed` when the pool closes under it.
#[test]
fn close_wakes_async_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let _held = take(&core);
        let waiter = {
            let core = core.clone();
            thread::spawn(move || loom::future::block_on(core.acquire()).map(drop))
        };
        core.close();
        assert_eq!(waiter.join().unwrap(), Err(Closed));
    });
}

/// `close` serves its waiters a batch per lock: two waiters of different kinds (an async
/// one and a blocking one), either linked before the batch or linking while it runs, both end
/// with `Closed`, and neither count nor gate is left behind.
#[test]
fn close_serves_a_batch_of_mixed_waiters() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        let task = {
            let core = core.clone();
            thread::spawn(move || loom::future::block_on(core.acquire()).map(drop))
        };
        let parked = {
            let core = core.clone();
            thread::spawn(move || core.acquire_blocking(cenote_core::time::NEVER).map(drop))
        };
        core.close();
        assert_eq!(task.join().unwrap(), Err(Closed));
        assert_eq!(parked.join().unwrap(), Err(cenote_core::WaitError::Closed));
        drop(held);
        let s = core.status();
        assert_eq!((s.size, s.idle, s.waiting), (0, 0, 0), "{s:?}");
    });
}

/// Growing the pool wakes a waiter, which creates into the new place; a return races it.
#[test]
fn resize_up_races_return() {
    loom::model(|| {
        let core = core(2, 1);
        let held = take(&core);
        let waiter = spawn_waiter(&core);
        let returner = thread::spawn(move || drop(held));
        core.resize(2).unwrap();
        waiter.join().unwrap();
        returner.join().unwrap();
        assert_balanced(&core);
        assert!(core.status().size <= 2);
        assert_full_capacity(&core, 2);
    });
}

/// Shrinking while both objects are out: the extra one is retired as it returns, and a
/// waiter still gets the other. Two returners that both see the excess may both retire (one
/// place more than needed is freed, never too few), so the size ends at 0 or 1.
#[test]
fn resize_down_races_return() {
    loom::model(|| {
        let core = core_with_stand_in(2, 2);
        let a = take(&core);
        let b = take(&core);
        let returner = thread::spawn(move || drop(a));
        let waiter = spawn_waiter(&core);
        core.resize(1).unwrap();
        drop(b);
        returner.join().unwrap();
        waiter.join().unwrap();
        assert_balanced(&core);
        assert!(core.status().size <= 1);
        assert_full_capacity(&core, 1);
    });
}

/// Issue 9: shrinking while every object is out, and one comes back at that instant while the
/// other stays out. Once both are done the pool is at its new limit: the returned object is
/// retired (not left idle), and no extra object can be lent. (Before the shrink gate, a return
/// that had read the old `max_size` pushed after `resize` found the idle queue empty, leaving
/// size 2, idle 1 in a pool shrunk to 1: this model failed on 3a6a501.)
#[test]
fn resize_down_races_return_while_others_held() {
    loom::model(|| {
        let core = core(2, 2);
        let a = take(&core);
        let b = take(&core);
        let returner = thread::spawn(move || drop(a));
        core.resize(1).unwrap();
        returner.join().unwrap();
        let s = core.status();
        assert_eq!((s.max_size, s.size, s.idle), (1, 1, 0), "{s:?}");
        assert!(matches!(core.try_acquire(), TryAcquire::Exhausted), "{s:?}");
        drop(b);
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// The shrink gate's opening races a new shrink: a return retires the last extra of a first
/// shrink and opens the gate while a second shrink lowers the limit again and shuts it. The
/// gate must end shut while extras are out: the next return is retired, not left idle.
#[test]
fn shrink_gate_opening_races_a_new_shrink() {
    loom::model(|| {
        let core = core(3, 3);
        let (a, b, c) = (take(&core), take(&core), take(&core));
        core.resize(2).unwrap();
        let returner = thread::spawn(move || drop(a));
        core.resize(1).unwrap();
        returner.join().unwrap();
        drop(b);
        let s = core.status();
        assert_eq!((s.max_size, s.size, s.idle), (1, 1, 0), "{s:?}");
        assert!(matches!(core.try_acquire(), TryAcquire::Exhausted), "{s:?}");
        drop(c);
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// A create races a shrink: a `try_acquire` that read the old `max_size` may win its permit
/// after `resize` looked at `live`. Either `resize` sees the new object (and shuts the gate) or
/// the permit is given back: once the object returns, the pool is within its new limit.
#[test]
fn create_races_shrink() {
    loom::model(|| {
        let core = core(2, 2);
        let a = take(&core);
        let creator = {
            let core = core.clone();
            thread::spawn(move || match core.try_acquire() {
                TryAcquire::Vacant(permit) => Some(Permit::fill(permit, 0)),
                TryAcquire::Exhausted => None,
                other => panic!("nothing idle: {other:?}"),
            })
        };
        core.resize(1).unwrap();
        drop(creator.join().unwrap());
        let s = core.status();
        assert_eq!((s.max_size, s.size, s.idle), (1, 1, 0), "{s:?}");
        assert!(matches!(core.try_acquire(), TryAcquire::Exhausted), "{s:?}");
        drop(a);
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// Detaching frees the place: a waiter creates into it.
#[test]
fn detach_frees_place_for_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        let waiter = spawn_waiter(&core);
        let detacher = thread::spawn(move || Lease::detach(held));
        assert_eq!(detacher.join().unwrap(), 0);
        waiter.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// A cancelled async waiter's future is dropped after it was polled with a real waker and
/// the pool keeps serving: the pending-poll path with `pin!`.
#[test]
fn async_waiter_dropped_before_wake() {
    loom::model(|| {
        let core = core(1, 1);
        let held = take(&core);
        {
            let mut fut = pin!(core.acquire());
            let mut cx = Context::from_waker(Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        let returner = thread::spawn(move || drop(held));
        let waiter = spawn_waiter(&core);
        returner.join().unwrap();
        waiter.join().unwrap();
        assert_balanced(&core);
    });
}

/// A pool whose objects and extension value are loom-tracked: loom fails the model if either
/// leaks (the pool's memory was never freed) or is freed twice.
type Tracked = Core<loom::sync::Arc<()>, loom::sync::Arc<()>>;

fn tracked(max: usize) -> Tracked {
    Core::new(max, max, loom::sync::Arc::new(())).unwrap()
}

fn take_tracked(core: &Tracked) -> Lease<loom::sync::Arc<()>, loom::sync::Arc<()>> {
    match core.try_acquire() {
        TryAcquire::Idle(lease) => lease,
        TryAcquire::Vacant(permit) => Permit::fill(permit, loom::sync::Arc::new(())),
        other => panic!("expected an object, got {other:?}"),
    }
}

/// The last handle goes while a lease is being returned on another thread: the pool closes,
/// the objects are dropped once, and the memory is freed by whichever side is last.
#[test]
fn last_handle_races_return() {
    loom::model(|| {
        let core = tracked(2);
        let held = take_tracked(&core);
        drop(take_tracked(&core)); // one idle object too
        let returner = thread::spawn(move || drop(held));
        drop(core);
        returner.join().unwrap();
    });
}

/// The same with a permit that is filled after the last handle went.
#[test]
fn last_handle_races_permit() {
    loom::model(|| {
        let core = tracked(1);
        let TryAcquire::Vacant(permit) = core.try_acquire() else { panic!("fresh pool") };
        let creator = thread::spawn(move || drop(Permit::fill(permit, loom::sync::Arc::new(()))));
        drop(core);
        creator.join().unwrap();
    });
}

/// A waiter, a return and the last user handle going at once (the waiter holds a clone).
#[test]
fn last_handle_races_waiter() {
    loom::model(|| {
        let core = tracked(1);
        let held = take_tracked(&core);
        let waiter = {
            let core = core.clone();
            thread::spawn(move || {
                if let Ok(acquired) = core.acquire_blocking(cenote_core::time::NEVER) {
                    drop(acquired);
                }
            })
        };
        let returner = thread::spawn(move || drop(held));
        drop(core);
        returner.join().unwrap();
        waiter.join().unwrap();
    });
}

/// The last waiter leaves while two newer waiters arrive and link, and two returns take the
/// fast path if the gate is open: neither return may be lost. (An earlier version cleared the
/// gate after the newcomers had set it and woke only one of them; this model deadlocked.)
#[test]
fn last_waiter_leaves_as_two_arrive() {
    loom::model(|| {
        let core = core_with_stand_in(2, 2);
        let (a, b) = (take(&core), take(&core));
        let leaver = {
            let core = core.clone();
            thread::spawn(move || {
                let mut fut = pin!(core.acquire());
                let mut cx = Context::from_waker(Waker::noop());
                if let Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
                    drop(r);
                }
            })
        };
        // Each waiter keeps what it got until joined: no later return covers for a lost wakeup.
        let keeper = |core: &Core<u32>| {
            let core = core.clone();
            thread::spawn(move || wait(&core))
        };
        let w1 = keeper(&core);
        let w2 = keeper(&core);
        drop(a);
        drop(b);
        leaver.join().unwrap();
        let l1 = w1.join().unwrap();
        let l2 = w2.join().unwrap();
        drop((l1, l2));
        assert_balanced(&core);
    });
}

/// An async waiter with deadline 10, polled once: linked, waiting.
fn timed_waiter(core: &Core<u32>) -> Pin<Box<impl Future<Output = Result<Acquired<u32>, Closed>> + '_>> {
    let mut fut = Box::pin(core.acquire_until(10, |_| {}));
    assert!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
    fut
}

/// A timed async waiter is woken for its deadline on one thread while a return serves it on
/// another: it gets the object either way, and nothing is lost.
#[test]
fn expire_races_serve_of_timed_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let weak = core.downgrade();
        let held = take(&core);
        let mut fut = timed_waiter(&core);
        let mut cx = Context::from_waker(Waker::noop());
        let timer = thread::spawn(move || weak.expire_waiters(10));
        drop(held);
        let lease = match fut.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(acquired)) => into_lease(acquired),
            other => panic!("a served waiter gets its object: {other:?}"),
        };
        assert_eq!(timer.join().unwrap(), None);
        drop(lease);
        drop(fut);
        assert_balanced(&core);
    });
}

/// A timed async waiter gives up (its future is dropped) while the timer walks the wait list
/// and a return races both: no access to the freed node, nothing lost.
#[test]
fn expire_races_cancel_of_timed_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let weak = core.downgrade();
        let held = take(&core);
        let fut = timed_waiter(&core);
        let timer = thread::spawn(move || weak.expire_waiters(10));
        let returner = thread::spawn(move || drop(held));
        drop(fut);
        timer.join().unwrap();
        returner.join().unwrap();
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// The last weak handle, the last handle and the last lease go on three threads: the pool's
/// memory is freed once, by whichever is last.
#[test]
fn last_weak_handle_races_teardown() {
    loom::model(|| {
        let core = tracked(1);
        let held = take_tracked(&core);
        let weak = core.downgrade();
        let returner = thread::spawn(move || drop(held));
        let dropper = thread::spawn(move || drop(weak));
        drop(core);
        returner.join().unwrap();
        dropper.join().unwrap();
    });
}

/// `close` races a timer waking a timed async waiter at the front of the list (which then has
/// no waker left) while a thread waits behind it: the thread still learns of the close.
#[test]
fn close_reaches_a_thread_behind_an_expired_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let weak = core.downgrade();
        let _held = take(&core);
        let mut timed = timed_waiter(&core);
        let mut cx = Context::from_waker(Waker::noop());
        let behind = {
            let core = core.clone();
            thread::spawn(move || core.acquire_blocking(cenote_core::time::NEVER).map(drop))
        };
        let timer = thread::spawn(move || weak.expire_waiters(10));
        core.close();
        assert!(behind.join().unwrap().is_err(), "the pool is closed");
        timer.join().unwrap();
        assert!(matches!(timed.as_mut().poll(&mut cx), Poll::Ready(Err(Closed))));
    });
}

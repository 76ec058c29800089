//! Loom models of priority classes and the reserve (`cenote-core`'s `priority.rs`): a return
//! racing waiters of two classes goes to the `High` one; with a reserve, a `Normal` getter
//! never takes the last (reserved) object, and a `Normal` waiter is served once more than the
//! reserve is available (no lost wakeup). Nothing is lost and the books balance in each.
//!
//! The vacant-slot queue is a mutex-backed stand-in in every model (as in `protocol.rs`);
//! `reserve_is_not_taken_by_normal` also uses the idle queue's stand-in (three threads, two
//! of which may wait on one in-flight queue step: see `protocol.rs`'s module docs).
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use cenote_core::{time, Acquired, Core, Lease, Permit, Priority, TryAcquire};
use loom::thread;

fn take(core: &Core<u32>, priority: Priority) -> Lease<u32> {
    match core.try_acquire_with(priority) {
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

/// Nobody waits, every object is idle, and `max` can be taken at once.
fn assert_balanced(core: &Core<u32>, max: usize) {
    let s = core.status();
    assert_eq!(s.waiting, 0, "{s:?}");
    assert_eq!(s.size, s.idle, "{s:?}");
    let held: Vec<_> = (0..max).map(|_| take(core, Priority::High)).collect();
    assert!(matches!(core.try_acquire_with(Priority::High), TryAcquire::Exhausted));
    drop(held);
}

/// Two async waiters linked, `Normal` first, then `High`; the one object returns on another
/// thread while the `Normal` waiter is polled: it is never the one served (FIFO alone would
/// serve it), the `High` one is, and the `Normal` one gets the object next.
#[test]
fn return_goes_to_the_high_waiter() {
    loom::model(|| {
        let core = Core::<u32>::new(1, 1, ()).unwrap();
        let held = take(&core, Priority::Normal);
        let mut cx = Context::from_waker(Waker::noop());
        let mut normal = Box::pin(core.acquire());
        assert!(normal.as_mut().poll(&mut cx).is_pending());
        let mut high = Box::pin(core.acquire().with_priority(Priority::High));
        assert!(high.as_mut().poll(&mut cx).is_pending());
        let returner = thread::spawn(move || drop(held));
        assert!(normal.as_mut().poll(&mut cx).is_pending(), "Normal served before High");
        returner.join().unwrap();
        assert!(normal.as_mut().poll(&mut cx).is_pending(), "Normal served before High");
        let lease = match high.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(found) => into_lease(found.unwrap()),
            std::task::Poll::Pending => panic!("the return was lost"),
        };
        drop(lease);
        let std::task::Poll::Ready(found) = normal.as_mut().poll(&mut cx) else { panic!("lost") };
        drop(into_lease(found.unwrap()));
        drop((normal, high));
        assert_balanced(&core, 1);
    });
}

/// Reserve 1 of 2, one object held throughout: a `High` waiter (a thread) and a `Normal`
/// getter race a return. Whatever the order, one object is available at most, and it is the
/// reserve: the `Normal` getter never gets it (without the reserve it could take the return
/// from the idle queue before the `High` waiter looks); the `High` waiter always does.
#[test]
fn reserve_is_not_taken_by_normal() {
    loom::model(|| {
        let core = Core::<u32>::new_with_idle_stand_in(2, 2, ()).unwrap();
        core.set_reserve(1).unwrap();
        let kept = take(&core, Priority::Normal);
        let returned = take(&core, Priority::High);
        let high = {
            let core = core.clone();
            thread::spawn(move || {
                let found = core.acquire_blocking_with(time::NEVER, Priority::High);
                drop(into_lease(found.expect("not closed")));
            })
        };
        let normal = {
            let core = core.clone();
            thread::spawn(move || matches!(core.try_acquire(), TryAcquire::Exhausted))
        };
        drop(returned);
        assert!(normal.join().unwrap(), "a Normal getter took the reserve");
        high.join().unwrap();
        drop(kept);
        assert_balanced(&core, 2);
    });
}

/// Reserve 1 of 2, both objects held: a `Normal` waiter (a thread) is not served by the
/// first return (that one is the reserve) and is served by the second: the freed-up object
/// reaches it whatever the interleaving (a lost wakeup would leave it parked: a deadlock).
#[test]
fn normal_waiter_is_served_past_the_reserve() {
    loom::model(|| {
        let core = Core::<u32>::new(2, 2, ()).unwrap();
        core.set_reserve(1).unwrap();
        let a = take(&core, Priority::Normal);
        let b = take(&core, Priority::High);
        let normal = {
            let core = core.clone();
            thread::spawn(move || {
                let found = core.acquire_blocking_with(time::NEVER, Priority::Normal);
                drop(into_lease(found.expect("not closed")));
            })
        };
        drop(a);
        drop(b);
        normal.join().unwrap();
        assert_balanced(&core, 2);
    });
}

/// Reserve 1 of 3, one object held, one idle, room for one: two `Normal` callers that do not
/// wait race for the two available (their take-then-check, lock-free). At most one keeps
/// what it took: after one take, what is left is the reserve.
#[test]
fn two_normal_takers_leave_the_reserve() {
    loom::model(|| {
        let core = Core::<u32>::new_with_idle_stand_in(3, 3, ()).unwrap();
        core.set_reserve(1).unwrap();
        let held = take(&core, Priority::High);
        drop(take(&core, Priority::High)); // idle
        let taker = || {
            let core = core.clone();
            thread::spawn(move || match core.try_acquire() {
                TryAcquire::Idle(lease) => Some(into_lease(Acquired::Idle(lease))),
                TryAcquire::Vacant(permit) => Some(Permit::fill(permit, 2)),
                _ => None,
            })
        };
        let (a, b) = (taker(), taker());
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert!(a.is_none() || b.is_none(), "both Normal takers kept one: the reserve was taken");
        drop((a, b, held));
        assert_balanced(&core, 3);
    });
}

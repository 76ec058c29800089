//! Unit tests of priority classes, aging and the reserve: single-threaded, small enough for
//! Miri (they drive the class links and aging counters of `waitlist.rs`).
#![cfg(not(loom))]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::pin::Pin;

use futures_lite::future::{block_on, poll_once};

use crate::{Acquire, Acquired, ConfigError, Core, Lease, Permit, Priority, TryAcquire, AGE_AFTER};

type Wait<'a> = Pin<Box<Acquire<'a, u32>>>;

/// A waiter of class `priority`, polled once: it is linked (the pool must be exhausted).
fn wait(core: &Core<u32>, priority: Priority) -> Wait<'_> {
    let mut wait = Box::pin(core.acquire().with_priority(priority));
    assert!(block_on(poll_once(wait.as_mut())).is_none(), "expected to wait");
    wait
}

/// Whether `wait` has been served; its lease if so.
fn served(wait: &mut Wait<'_>) -> Option<Lease<u32>> {
    match block_on(poll_once(wait.as_mut()))? {
        Ok(Acquired::Idle(lease)) => Some(lease),
        Ok(Acquired::Vacant(permit)) => Some(Permit::fill(permit, 0)),
        Err(closed) => panic!("{closed}"),
    }
}

/// A pool of one object, held: the returned lease is the one object.
fn one() -> (Core<u32>, Lease<u32>) {
    let core = Core::new(1, 1, ()).unwrap();
    let lease = Permit::fill(core.try_reserve().unwrap(), 1);
    (core, lease)
}

/// Passes the one object along the waiters, returning the order (indices into `waits`) in
/// which they were served.
fn serve_all(held: Lease<u32>, waits: &mut [Wait<'_>]) -> Vec<usize> {
    let mut order = Vec::new();
    let mut held = Some(held);
    while let Some(lease) = held.take() {
        drop(lease);
        let next = (0..waits.len())
            .filter(|i| !order.contains(i))
            .find_map(|i| served(&mut waits[i]).map(|l| (i, l)));
        if let Some((i, lease)) = next {
            order.push(i);
            held = Some(lease);
        }
    }
    order
}

#[test]
fn classes_are_served_in_order_fifo_within() {
    let (core, held) = one();
    let classes =
        [Priority::Low, Priority::Normal, Priority::High, Priority::Normal, Priority::High, Priority::Low];
    let mut waits: Vec<_> = classes.iter().map(|&p| wait(&core, p)).collect();
    assert_eq!(core.status().waiting, 6);
    assert_eq!(serve_all(held, &mut waits), [2, 4, 1, 3, 0, 5]);
    assert_eq!(core.status().waiting, 0);
}

#[test]
fn a_low_waiter_ages_past_a_stream_of_high_ones() {
    let (core, mut held) = one();
    let mut low = wait(&core, Priority::Low);
    let mut highs = 0;
    // Keep two High waiters queued at every return: Low is served after AGE_AFTER of them.
    let mut queue: Vec<_> = (0..2).map(|_| wait(&core, Priority::High)).collect();
    loop {
        drop(held);
        if let Some(lease) = served(&mut low) {
            assert_eq!(highs, AGE_AFTER, "Low served after {highs} High serves");
            held = lease;
            break;
        }
        let mut first = queue.remove(0);
        held = served(&mut first).expect("the oldest High waiter is served");
        highs += 1;
        queue.push(wait(&core, Priority::High));
    }
    // Then High again, and Low's count starts afresh.
    drop(held);
    assert!(served(&mut queue[0]).is_some());
}

#[test]
fn normal_takes_nothing_from_the_reserve() {
    let core = Core::<u32>::new(3, 3, ()).unwrap();
    assert_eq!(core.set_reserve(3), Err(ConfigError::ReserveNotBelowMaxSize { reserve: 3, max_size: 3 }));
    core.set_reserve(1).unwrap();
    assert_eq!(core.resize(1), Err(ConfigError::ReserveNotBelowMaxSize { reserve: 1, max_size: 1 }));
    let a = Permit::fill(core.try_reserve().unwrap(), 1);
    let TryAcquire::Vacant(b) = core.try_acquire_with(Priority::Low) else { panic!("room for Low") };
    let b = Permit::fill(b, 2);
    // One place left, the reserve.
    assert!(matches!(core.try_acquire(), TryAcquire::Exhausted));
    let mut normal = wait(&core, Priority::Normal);
    let TryAcquire::Vacant(c) = core.try_acquire_with(Priority::High) else {
        panic!("High takes the reserve")
    };
    let c = Permit::fill(c, 3);
    // A return leaves one available: the reserve, so the Normal waiter is not given it.
    drop(c);
    assert!(served(&mut normal).is_none());
    assert!(core.try_take_idle().is_none());
    // A second return makes two available: Normal gets one.
    drop(b);
    let n = served(&mut normal).expect("served once more than the reserve is available");
    drop((a, n));
    assert_eq!(core.status().waiting, 0);
    core.set_reserve(0).unwrap();
    assert_eq!(core.reserve(), 0);
}

#[test]
fn a_high_waiter_gets_the_reserve_before_normal_ones() {
    let core = Core::<u32>::new(2, 2, ()).unwrap();
    core.set_reserve(1).unwrap();
    let a = Permit::fill(core.try_reserve().unwrap(), 1);
    let b = Permit::fill(core.try_reserve().unwrap(), 2);
    let mut normal = wait(&core, Priority::Normal);
    let mut high = wait(&core, Priority::High);
    drop(a);
    let a = served(&mut high).expect("High is served first");
    assert!(served(&mut normal).is_none());
    drop(a);
    assert!(served(&mut normal).is_none(), "one available, the reserve: not for Normal");
    drop(b);
    assert!(served(&mut normal).is_some());
}

#[test]
fn a_served_high_waiter_that_is_cancelled_passes_on_by_class() {
    let (core, held) = one();
    let mut low = wait(&core, Priority::Low);
    let high = wait(&core, Priority::High);
    let mut normal = wait(&core, Priority::Normal);
    drop(held); // given to High, which is dropped before it looks
    drop(high);
    assert!(served(&mut low).is_none());
    let lease = served(&mut normal).expect("passed on to Normal, before Low");
    drop(lease);
    assert!(served(&mut low).is_some());
    let status = core.status();
    assert_eq!((status.size, status.idle, status.waiting), (1, 1, 0));
}

#[test]
fn lowering_the_reserve_wakes_a_waiter() {
    let core = Core::<u32>::new(2, 2, ()).unwrap();
    core.set_reserve(1).unwrap();
    let a = Permit::fill(core.try_reserve().unwrap(), 1);
    let mut normal = wait(&core, Priority::Normal);
    core.set_reserve(0).unwrap();
    assert!(served(&mut normal).is_some());
    drop(a);
}

#[cfg(feature = "std")]
#[test]
fn blocking_normal_times_out_on_the_reserve_and_leaves_nothing() {
    let core = Core::<u32>::new(2, 2, ()).unwrap();
    core.set_reserve(1).unwrap();
    let a = Permit::fill(core.try_reserve().unwrap(), 1);
    let soon = crate::time::after(core::time::Duration::from_millis(5));
    assert_eq!(core.acquire_blocking_with(soon, Priority::Low).err(), Some(crate::WaitError::Timeout));
    assert_eq!(core.status().waiting, 0);
    assert!(core.acquire_blocking_with(crate::time::NEVER, Priority::High).is_ok());
    drop(a);
}

//! Loom models of the protocol steps maintenance adds (issue 10), in the core's terms: a pass
//! takes an idle object out to check it and puts it back (or retires it), and a refill creates
//! into a permit and makes the object idle. They race getters, returners, `resize` and
//! `close`; in every interleaving nothing is lost (the pool can lend its full `max_size`
//! afterwards), no getter waits forever, and a shrunk or closed pool ends within its limit.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p cenote-loom-tests --release` (see
//! `scripts/loom.sh`).
#![cfg(loom)]

use cenote_core::{Acquired, Core, Lease, Permit, TryAcquire};
use loom::thread;

fn core(capacity: usize, max: usize) -> Core<u32> {
    Core::new(capacity, max, ()).unwrap()
}

fn take(core: &Core<u32>) -> Lease<u32> {
    match core.try_acquire() {
        TryAcquire::Idle(lease) => lease,
        TryAcquire::Vacant(permit) => Permit::fill(permit, 0),
        other => panic!("expected an object, got {other:?}"),
    }
}

fn wait(core: &Core<u32>) -> Lease<u32> {
    match core.acquire_blocking(cenote_core::time::NEVER).expect("not closed") {
        Acquired::Idle(lease) => lease,
        Acquired::Vacant(permit) => Permit::fill(permit, 1),
    }
}

fn assert_balanced(core: &Core<u32>) {
    let s = core.status();
    assert_eq!((s.waiting, s.size), (0, s.idle), "{s:?}");
}

fn assert_full_capacity(core: &Core<u32>, max: usize) {
    let held: Vec<_> = (0..max).map(|_| take(core)).collect();
    assert!(matches!(core.try_acquire(), TryAcquire::Exhausted));
    drop(held);
}

/// A pass checks the one idle object (takes it out, puts it back) while a getter waits for
/// an object and the other object comes back: the getter is served (by the check's put-back
/// or by the return), and both objects end idle.
#[test]
fn check_visit_races_getter_and_returner() {
    loom::model(|| {
        let core = core(2, 2);
        let (a, b) = (take(&core), take(&core));
        drop(a); // idle: what the pass will visit
        let pass = {
            let core = core.clone();
            thread::spawn(move || {
                if let Some(visit) = core.try_take_idle() {
                    drop(visit); // passed its check: back to the idle queue
                }
            })
        };
        let getter = {
            let core = core.clone();
            thread::spawn(move || drop(wait(&core)))
        };
        drop(b);
        pass.join().unwrap();
        getter.join().unwrap();
        assert_balanced(&core);
        assert_eq!(core.status().size, 2);
        assert_full_capacity(&core, 2);
    });
}

/// The same, with the check failing: the pass retires the object, and the waiting getter is
/// served with the freed place (it creates) or with the returned object.
#[test]
fn failed_check_races_getter() {
    loom::model(|| {
        let core = core(1, 1);
        drop(take(&core)); // one idle object
        let pass = {
            let core = core.clone();
            thread::spawn(move || {
                if let Some(visit) = core.try_take_idle() {
                    Lease::retire(visit);
                }
            })
        };
        let got = wait(&core);
        pass.join().unwrap();
        drop(got);
        assert_balanced(&core);
        assert!(core.status().size <= 1);
        assert_full_capacity(&core, 1);
    });
}

/// A refill creates into a permit while `resize` lowers `max_size` below what is out: once
/// the lent object is back, the pool is within its new limit and can lend exactly that.
#[test]
fn refill_races_resize_down() {
    loom::model(|| {
        let core = core(2, 2);
        let held = take(&core);
        let refill = {
            let core = core.clone();
            thread::spawn(move || {
                if let Some(permit) = core.try_reserve() {
                    Permit::fill_idle(permit, 7);
                }
            })
        };
        core.resize(1).unwrap();
        refill.join().unwrap();
        drop(held);
        let s = core.status();
        assert!(s.size <= 1 && s.idle <= 1, "within the new limit: {s:?}");
        assert_balanced(&core);
        assert_full_capacity(&core, 1);
    });
}

/// A refill races `close`: whichever comes first, no object is left idle in the closed pool
/// once the lent one is back, and the refill's permit is not lost (size ends at 0).
#[test]
fn refill_races_close() {
    loom::model(|| {
        let core = core(2, 2);
        let held = take(&core);
        let refill = {
            let core = core.clone();
            thread::spawn(move || {
                if let Some(permit) = core.try_reserve() {
                    Permit::fill_idle(permit, 7);
                }
            })
        };
        core.close();
        refill.join().unwrap();
        drop(held);
        let s = core.status();
        assert_eq!((s.size, s.idle), (0, 0), "a closed pool keeps nothing: {s:?}");
    });
}

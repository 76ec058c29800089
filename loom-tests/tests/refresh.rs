//! Loom models of `refresh`'s generation check (`cenote-front`'s `refresh.rs`), on the core's
//! primitives the front end uses: each object is its generation, the pool's generation is a
//! core `stats::Counter` (relaxed) in the extension value, and the front end's three steps are
//! written out as it does them: a return retires an object older than the pool's generation
//! (else puts it back), `refresh` bumps the generation and then drops the older idle objects
//! (`Core::retain`), and a lend retires an idle object older than the pool's generation.
//!
//! `refresh_races_a_return`: a get ordered after `refresh` returned never receives an old
//! object, however the return interleaves with it. `the_return_check_alone_leaves_an_old_object_idle`
//! shows why the lend check is needed: without it some interleaving leaves the old object idle
//! after both the return and the refresh are done (a return that read the old generation and
//! pushed after the sweep).
#![cfg(loom)]

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use cenote_core::stats::Counter;
use cenote_core::{Core, Lease, Permit};
use loom::thread;

type Pool = Core<usize, Counter>;

/// The front end's return (`Pooled::drop`): an object of an older generation is retired.
fn give_back(lease: Lease<usize, Counter>) {
    if *lease < Lease::ext(&lease).get() {
        Lease::retire(lease);
    } else {
        drop(lease);
    }
}

/// `Handle::refresh`: bump the generation, then drop the older idle objects.
fn refresh(core: &Pool) {
    core.ext().incr();
    let current = core.ext().get();
    core.retain(|generation, _| *generation >= current);
}

/// The front end's lend of an idle object (`Shared::check_idle`): older ones are retired and
/// the next one looked at. Returns the generation of the object lent, if any was idle.
fn lend(core: &Pool) -> Option<usize> {
    loop {
        let lease = core.try_take_idle()?;
        if *lease < core.ext().get() {
            Lease::retire(lease);
            continue;
        }
        let generation = *lease;
        give_back(lease);
        return Some(generation);
    }
}

/// One object of generation 0 lent, one idle; a thread returns the lent one while another
/// refreshes. Gets ordered after the refresh (after joining it) never receive generation 0.
#[test]
fn refresh_races_a_return() {
    loom::model(|| {
        let core = Pool::new(2, 2, Counter::new()).unwrap();
        Permit::fill_idle(core.try_reserve().unwrap(), 0);
        let held = Permit::fill(core.try_reserve().unwrap(), 0);
        let returner = thread::spawn(move || give_back(held));
        let refresher = {
            let core = core.clone();
            thread::spawn(move || refresh(&core))
        };
        refresher.join().unwrap();
        if let Some(generation) = lend(&core) {
            assert!(generation >= 1, "an object from before the refresh was lent after it");
        }
        returner.join().unwrap();
        assert_eq!(lend(&core), None, "both old objects retired, none left idle");
        assert_eq!(core.status().size, 0);
    });
}

/// Without the lend check, some interleaving leaves an old object idle once the return and
/// the refresh are both done: the race the lend check closes.
#[test]
fn the_return_check_alone_leaves_an_old_object_idle() {
    static FOUND: AtomicBool = AtomicBool::new(false);
    loom::model(|| {
        let core = Pool::new(1, 1, Counter::new()).unwrap();
        let held = Permit::fill(core.try_reserve().unwrap(), 0);
        let returner = thread::spawn(move || give_back(held));
        let refresher = {
            let core = core.clone();
            thread::spawn(move || refresh(&core))
        };
        refresher.join().unwrap();
        returner.join().unwrap();
        if core.status().idle == 1 {
            FOUND.store(true, SeqCst);
        }
    });
    assert!(FOUND.load(SeqCst), "no interleaving left the old object idle: the lend check would be unneeded");
}

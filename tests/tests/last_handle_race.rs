//! Issue 9, through both front ends: a lent object is returned on one thread while the pool's
//! last handle drops on another. The return's final store is what lets the dropping thread
//! drain the object and free the pool, so the returning thread must hold no reference into the
//! pool after it. `scripts/miri.sh` runs this file under Miri with Tree Borrows and many
//! seeds, where a reference still live across the free is reported as undefined behaviour;
//! natively it checks that every object is dropped exactly once whichever side ends last.
//!
//! Built with `RUSTFLAGS="--cfg cenote_hooks"` (as `scripts/miri.sh` does), the core's test
//! hook pins the interleaving that matters: the returning thread stops right after its last
//! store into the pool and waits there until this thread has dropped the pool and seen it
//! freed. Without the flag each round is a free race (both threads released by a barrier),
//! which natively still checks that every object is dropped exactly once.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

/// Rounds per test: Miri runs each round thousands of times slower than native code.
const ROUNDS: usize = if cfg!(cenote_hooks) {
    1 // the hook pins the one interleaving that matters
} else if cfg!(miri) {
    12
} else {
    2_000
};

/// Counts drops of the objects it makes, so a round can check each was dropped exactly once.
struct Counting {
    made: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

/// An object that counts its own drop.
struct Obj(Arc<AtomicUsize>);

impl Drop for Obj {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counting {
    fn new() -> (Self, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        (Self { made: Arc::clone(&made), dropped: Arc::clone(&dropped) }, made, dropped)
    }

    fn make(&self) -> Obj {
        self.made.fetch_add(1, Ordering::Relaxed);
        Obj(Arc::clone(&self.dropped))
    }
}

impl cenote_sync::Manager for Counting {
    type Connection = Obj;
    type Error = Infallible;
    fn create(&self) -> Result<Obj, Infallible> {
        Ok(self.make())
    }
}

impl cenote_async::Manager for Counting {
    type Connection = Obj;
    type Error = Infallible;
    async fn create(&self) -> Result<Obj, Infallible> {
        Ok(self.make())
    }
}

/// With `cenote_hooks`: where the returner stands. 0: not yet pushed; 1: stopped in the hook
/// right after its last store; 2: released (the pool is gone).
#[cfg(cenote_hooks)]
static STEP: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

#[cfg(cenote_hooks)]
fn stop_after_push() {
    STEP.store(1, Ordering::SeqCst);
    while STEP.load(Ordering::SeqCst) != 2 {
        std::thread::yield_now();
    }
}

/// Returns `object` on a second thread while this thread drops `pool`, then checks that every
/// object made was dropped exactly once. With `cenote_hooks` the pool is dropped (and freed)
/// while the returner stands right after its last store; without, both start at a barrier.
fn race<P: Send + 'static, O: Send + 'static>(pool: P, object: O, made: &AtomicUsize, dropped: &AtomicUsize) {
    // One race at a time: the hook's `STEP` is shared by the tests of this file.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = Arc::new(Barrier::new(2));
    let returner = {
        let start = Arc::clone(&start);
        std::thread::spawn(move || {
            #[cfg(cenote_hooks)]
            cenote_core::__hooks::after_next_push(stop_after_push);
            start.wait();
            drop(object);
        })
    };
    start.wait();
    #[cfg(cenote_hooks)]
    while STEP.load(Ordering::SeqCst) != 1 {
        std::thread::yield_now();
    }
    drop(pool);
    #[cfg(cenote_hooks)]
    {
        // The returner's push went through: the last handle's drop drained the object and,
        // with no lease left, freed the pool while the returner still stands in the hook.
        assert_eq!(dropped.load(Ordering::Relaxed), 1, "the drain dropped the returned object");
        STEP.store(2, Ordering::SeqCst);
    }
    returner.join().expect("the returning thread did not panic");
    #[cfg(cenote_hooks)]
    STEP.store(0, Ordering::SeqCst);
    let made = made.load(Ordering::Relaxed);
    assert_eq!(made, 1, "one object was made");
    assert_eq!(dropped.load(Ordering::Relaxed), made, "the returned object was dropped once");
}

#[test]
fn sync_return_races_last_pool_drop() {
    for _ in 0..ROUNDS {
        let (manager, made, dropped) = Counting::new();
        // No `cenote-clock` thread (`validate_idle_after`): under Miri every thread must end
        // before the process does.
        let pool = cenote_sync::Pool::builder(manager).max_size(2).validate_idle_after(None).build().unwrap();
        let object = pool.get().expect("an object");
        race(pool, object, &made, &dropped);
    }
}

#[test]
fn async_return_races_last_pool_drop() {
    for _ in 0..ROUNDS {
        let (manager, made, dropped) = Counting::new();
        let pool =
            cenote_async::Pool::builder(manager).max_size(2).validate_idle_after(None).build().unwrap();
        let object = futures_lite::future::block_on(pool.get()).expect("an object");
        race(pool, object, &made, &dropped);
    }
}

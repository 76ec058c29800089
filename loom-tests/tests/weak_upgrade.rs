//! Loom model of `WeakCore::upgrade`, the step background maintenance takes for each pass:
//! an upgrade racing the last handle's drop either gets a handle (and the pool stays open
//! until that handle goes) or none (and the pool is torn down once); never a handle to a pool
//! being torn down.
#![cfg(loom)]

use cenote_core::{Core, Permit, TryAcquire};
use loom::thread;

#[test]
fn upgrade_races_the_last_handle() {
    loom::model(|| {
        // The extension value is an `Arc` so that loom checks it is dropped exactly once.
        let core: Core<u32, loom::sync::Arc<()>> = Core::new(1, 1, loom::sync::Arc::new(())).unwrap();
        let weak = core.downgrade();
        let maintenance = thread::spawn(move || {
            if let Some(again) = weak.upgrade() {
                // A live handle: the pool is open and usable until it is dropped.
                assert!(!again.is_closed());
                match again.try_acquire() {
                    TryAcquire::Vacant(permit) => drop(Permit::fill(permit, 1)),
                    TryAcquire::Idle(lease) => drop(lease),
                    other => panic!("an open pool of one, nothing held: {other:?}"),
                }
                drop(again);
            }
            // Again, now or after the teardown: the weak handle's memory (and `ext`) is alive
            // either way.
            drop(weak.upgrade());
            let _ = loom::sync::Arc::strong_count(weak.ext());
        });
        drop(core);
        maintenance.join().unwrap();
    });
}

//! The keyed pool's hot path allocates nothing: get + drop (and `try_get` + drop) of an idle
//! object of a hot key, blocking and async, counted by `cenote_benches`' counting allocator
//! over many cycles after a warm-up.
//!
//! The allocator counts the whole process while a window is open, so this binary holds a
//! single test (no other test thread allocates meanwhile), and the pools are the ones the
//! `table` binary and the criterion bench measure (`cenote_benches::keyed`).
#![allow(missing_docs)]

use std::hint::black_box;

use cenote_benches::alloc::{self, CountingAlloc};
use cenote_benches::keyed::{self, HOT, KEYS, OBJECTS};
use cenote_benches::work;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const CYCLES: u64 = 10_000;

#[test]
fn keyed_get_and_drop_of_an_idle_object_allocates_nothing() {
    // The control: if this failed, a zero below would prove nothing.
    assert!(alloc::installed(), "the counting allocator missed a Box::new");

    let sync = keyed::keyed_sync();
    // Building and filling the pool allocated (a sub-pool per key), and was not counted.
    assert_eq!(sync.0.global_status().created, KEYS as usize * OBJECTS);
    work::get_drop_loop(&sync, 100);
    let ((), stats) = alloc::count(|| work::get_drop_loop(&sync, CYCLES));
    println!("keyed sync: allocations over {CYCLES} get+drop cycles: {}", stats.allocs);
    assert_eq!(stats.allocs, 0, "the blocking hot path allocated: {stats:?}");

    let ((), stats) = alloc::count(|| {
        for _ in 0..CYCLES {
            drop(black_box(sync.0.try_get(black_box(&HOT)).expect("idle")));
        }
    });
    println!("keyed sync: allocations over {CYCLES} try_get+drop cycles: {}", stats.allocs);
    assert_eq!(stats.allocs, 0, "try_get allocated: {stats:?}");
    assert_eq!(sync.0.global_status().created, KEYS as usize * OBJECTS, "every cycle reused an idle object");

    let asyn = keyed::keyed_async();
    work::time_get_drop_block_on(&asyn, 100);
    let (_, stats) = alloc::count(|| work::time_get_drop_block_on(&asyn, CYCLES));
    println!("keyed async: allocations over {CYCLES} get+drop cycles (block_on): {}", stats.allocs);
    assert_eq!(stats.allocs, 0, "the async hot path allocated: {stats:?}");
    assert_eq!(asyn.0.global_status().created, KEYS as usize * OBJECTS, "every cycle reused an idle object");

    // A cold path is counted too: a new key makes a sub-pool.
    let (pooled, stats) =
        alloc::count(|| sync.0.get(&(KEYS + 1)).expect("at the cap: closes another key's idle object"));
    drop(pooled);
    assert!(stats.allocs >= 1, "a new key's sub-pool must be counted: {stats:?}");
}

//! A sharded pool's hot path (a get of an idle object of the home shard, and its drop)
//! allocates nothing, in both front ends: a counting global allocator counts the allocations
//! made on the measuring thread while a flag is set (the same allocator as `alloc_sync.rs`).
//!
//! The test harness allocates on its own threads at any time, so counts are per thread: a
//! `const` thread-local flag (`COUNTING`) turns counting on, and a `const` thread-local counter
//! (`ALLOCS`) holds the count. Both are `Cell`s of plain integers: they need no lazy
//! initialisation and no destructor registration, so reading them inside the allocator
//! allocates nothing and cannot recurse.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::hint::black_box;

struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// Counts one allocation if this thread is counting.
#[inline]
fn note_alloc() {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only `Cell`s.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: as for `alloc`; `ptr` came from `System` through us.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`; `ptr` came from `System` through us.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` with counting on for this thread and returns how many allocations it made.
fn count_allocs(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

fn cycles() -> usize {
    if cfg!(miri) {
        100
    } else {
        10_000
    }
}

/// Makes heap objects, so that creating one allocates (and warm-up must do it).
struct Buffers;

impl cenote_sync::Manager for Buffers {
    type Connection = Vec<u8>;
    type Error = Infallible;

    fn create(&self) -> Result<Vec<u8>, Infallible> {
        Ok(Vec::with_capacity(64))
    }

    fn reset(&self, buf: &mut Vec<u8>) -> Result<(), Infallible> {
        buf.clear();
        Ok(())
    }
}

impl cenote_async::Manager for Buffers {
    type Connection = Vec<u8>;
    type Error = Infallible;

    async fn create(&self) -> Result<Vec<u8>, Infallible> {
        Ok(Vec::with_capacity(64))
    }

    async fn reset(&self, buf: &mut Vec<u8>) -> Result<(), Infallible> {
        buf.clear();
        Ok(())
    }
}

#[test]
fn the_counter_sees_allocations() {
    // The control: if this failed, a zero below would prove nothing.
    let n = count_allocs(|| {
        black_box(Box::new(black_box(42_u64)));
    });
    assert!(n >= 1, "the counting allocator missed a Box::new");
    // Waiting on every shard is counted (it boxes one wait per shard): a sharded wait is
    // seen, so the zero below is about the hot path alone.
    let pool = cenote_sync::ShardedPool::builder(Buffers).shards(2).max_size(2).build().unwrap();
    let held = (pool.get().unwrap(), pool.get().unwrap());
    let n = count_allocs(|| assert!(pool.get_timeout(std::time::Duration::from_millis(1)).is_err()));
    assert!(n >= 2, "a wait on two shards boxes two waits: {n}");
    drop(held);
}

#[test]
fn sync_home_shard_get_and_drop_allocates_nothing() {
    let pool = cenote_sync::ShardedPool::builder(Buffers).shards(4).max_size(8).build().unwrap();
    // Warm-up: create the object in the home shard, draw this thread's ticket.
    for _ in 0..100 {
        pool.get().unwrap().push(1);
    }
    let home = pool.home_shard();
    let n = count_allocs(|| {
        for i in 0..cycles() {
            let mut buf = pool.get().unwrap();
            buf.push(black_box(i as u8)); // within the capacity created up front
            drop(black_box(buf));
        }
    });
    assert_eq!(n, 0, "{n} allocations in {} sharded get + drop cycles", cycles());
    assert_eq!(pool.shard_status(home).size, 1, "every get was served by the home shard");
    assert_eq!(pool.status().size, 1);
}

#[test]
fn async_home_shard_get_and_drop_allocates_nothing() {
    // `block_on` caches its waker per thread: after the warm-up it allocates nothing itself.
    let pool = cenote_async::ShardedPool::builder(Buffers).shards(4).max_size(8).build().unwrap();
    futures_lite::future::block_on(async {
        for _ in 0..100 {
            pool.get().await.unwrap().push(1);
        }
    });
    let home = pool.home_shard();
    let n = count_allocs(|| {
        futures_lite::future::block_on(async {
            for i in 0..cycles() {
                let mut buf = pool.get().await.unwrap();
                buf.push(black_box(i as u8));
                drop(black_box(buf));
            }
        })
    });
    assert_eq!(n, 0, "{n} allocations in {} sharded get + drop cycles", cycles());
    assert_eq!(pool.shard_status(home).size, 1, "every get was served by the home shard");
}

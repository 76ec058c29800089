//! The blocking front end's hot path allocates nothing: a counting global allocator counts
//! the allocations made on the measuring thread(s) while a flag is set.
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
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{Manager, Pool};

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

impl Manager for Buffers {
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

#[test]
fn the_counter_sees_allocations() {
    // The control: if this failed, a zero below would prove nothing.
    let n = count_allocs(|| {
        black_box(Box::new(black_box(42_u64)));
    });
    println!("allocations for one Box::new: {n}");
    assert!(n >= 1, "the counting allocator missed a Box::new");

    // The pool's own cold path allocates (creating an object here), and is counted too.
    let pool = Pool::new(Buffers, 1);
    let n = count_allocs(|| drop(pool.get().unwrap()));
    assert!(n >= 1, "creating a Vec-backed object must be counted: {n}");

    // Other threads' allocations are not counted on this one.
    let n = count_allocs(|| {
        thread::scope(|s| {
            s.spawn(|| black_box(vec![0_u8; 1024]));
        });
    });
    let other = thread::spawn(|| count_allocs(|| drop(black_box(vec![1_u8; 16])))).join().unwrap();
    assert_eq!(other, 1, "counted on the thread that allocated");
    println!("spawning a scoped thread counted {n} on the spawner");
}

#[test]
fn get_and_drop_of_an_idle_object_allocates_nothing() {
    let pool = Pool::new(Buffers, 4);
    // Warm-up: create the object and touch every lazily-initialised path once.
    for _ in 0..100 {
        let mut buf = pool.get().unwrap();
        buf.push(1);
    }
    let n = count_allocs(|| {
        for i in 0..cycles() {
            let mut buf = pool.get().unwrap();
            buf.push(black_box(i as u8)); // within the capacity created up front
            drop(black_box(buf));
        }
    });
    println!("allocations over {} get+drop cycles: {n}", cycles());
    assert_eq!(n, 0, "the hot path allocated");
    assert_eq!(pool.status().size, 1, "every cycle reused the idle object");
}

#[test]
fn try_get_and_drop_allocates_nothing() {
    let pool = Pool::new(Buffers, 1);
    drop(pool.get().unwrap());
    for _ in 0..100 {
        drop(pool.try_get().unwrap());
    }
    let n = count_allocs(|| {
        for _ in 0..cycles() {
            drop(black_box(pool.try_get().expect("idle")));
        }
    });
    println!("allocations over {} try_get+drop cycles: {n}", cycles());
    assert_eq!(n, 0);
}

#[test]
fn hot_path_with_time_based_options_allocates_nothing() {
    // Time-based options make lending and returning read the clock; still no allocation.
    let pool = Pool::builder(Buffers)
        .max_size(2)
        .idle_timeout(Some(Duration::from_secs(60)))
        .max_lifetime(Some(Duration::from_secs(600)))
        .health_check_interval(Some(Duration::from_secs(30)))
        .validate_on_acquire(true)
        .build()
        .unwrap();
    for _ in 0..100 {
        drop(pool.get().unwrap());
    }
    let n = count_allocs(|| {
        for _ in 0..cycles() {
            drop(black_box(pool.get().unwrap()));
        }
    });
    println!("allocations over {} get+drop cycles with health options: {n}", cycles());
    assert_eq!(n, 0);
    assert_eq!(pool.status().size, 1);
}

/// Issue 11: metrics cost the hot path nothing allocated, and reading them allocates nothing
/// either (the snapshot is fixed-size; the pool's name is shared, not copied).
#[test]
fn metrics_allocate_nothing_to_keep_or_to_read() {
    let pool = Pool::new(Buffers, 2);
    for _ in 0..100 {
        drop(pool.get().unwrap());
    }
    let mut acquired = 0;
    let n = count_allocs(|| {
        for _ in 0..cycles() {
            drop(black_box(pool.get().unwrap()));
        }
        for _ in 0..100 {
            acquired = black_box(pool.metrics()).acquired;
        }
    });
    println!("allocations over {} get+drop cycles and 100 metrics() reads: {n}", cycles());
    assert_eq!(n, 0);
    assert_eq!(acquired, 100 + cycles() as u64);
}

/// Spins briefly, then sleeps in short naps (leaving the core to the other thread on a busy
/// machine), until `cond` holds. Allocates nothing.
fn spin_until(mut cond: impl FnMut() -> bool) {
    let mut spins = 0_u32;
    while !cond() {
        if spins < 5_000 {
            spins += 1;
            std::hint::spin_loop();
        } else {
            thread::sleep(Duration::from_micros(20));
        }
    }
}

/// Parks this thread once in a `get` that times out, and returns the allocations made.
///
/// A wait parks with the thread's own `std::thread::Thread` handle, so even a thread's first
/// park allocates nothing; checked separately (and asserted by the caller) so that a
/// per-thread set-up cost, should one appear, is named as such and not hidden in the rounds.
fn first_park() -> u64 {
    let private = Pool::new(Buffers, 1);
    let held = private.get().unwrap();
    let n = count_allocs(|| {
        let err = private.get_timeout(Duration::from_millis(1)).expect_err("exhausted");
        assert!(err.is_timeout());
    });
    drop(held);
    n
}

/// One of two threads sharing a single object: take it, hold it until the other thread is
/// waiting for it, return it, and wait until the other has it. So every `get` after the first
/// is made while the object is lent, and is served by the other thread's return.
///
/// Returns the allocations counted over `rounds` after `warm`, and how many of this thread's
/// returns were made with the other thread registered as a waiter.
fn ping_pong(
    me: usize,
    pool: &Pool<Buffers>,
    holder: &AtomicUsize,
    done: &AtomicUsize,
    warm: usize,
    rounds: usize,
) -> (u64, usize) {
    let first = first_park();
    if me == 0 {
        println!("allocations in a thread's first park: {first}");
    }
    assert_eq!(first, 0, "a thread's first park allocated");
    let mut counted = 0;
    let mut served_waiter = 0;
    let mut switches = None;
    for round in 0..warm + rounds {
        if round == warm {
            switches = voluntary_switches();
            ALLOCS.with(|n| n.set(0));
            COUNTING.with(|c| c.set(true));
        }
        let buf = pool.get().expect("the other thread returns it");
        holder.store(me, SeqCst);
        spin_until(|| pool.status().waiting != 0 || done.load(SeqCst) != 0);
        if round >= warm && done.load(SeqCst) == 0 {
            served_waiter += 1;
        }
        // Give the waiter time to get past its last look and park, so that most waits are
        // real parks woken by the return rather than finds on a second look.
        let grace = Instant::now();
        while grace.elapsed() < PARK_GRACE {
            std::hint::spin_loop();
        }
        drop(buf);
        spin_until(|| holder.load(SeqCst) != me || done.load(SeqCst) != 0);
        if round + 1 == warm + rounds {
            COUNTING.with(|c| c.set(false));
            counted = ALLOCS.with(Cell::get);
            switches = voluntary_switches().zip(switches).map(|(after, before)| after - before);
        }
    }
    done.fetch_add(1, SeqCst);
    if let Some(switches) = switches {
        println!("player {me}: {switches} voluntary context switches over {rounds} rounds (parks)");
    }
    (counted, served_waiter)
}

/// How long a holder keeps the object after it sees the other thread waiting.
const PARK_GRACE: Duration = Duration::from_micros(30);

/// This thread's voluntary context switches so far (Linux), to show that waits really park.
/// Allocates: call it only outside the counted region.
fn voluntary_switches() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn waiting_for_a_return_allocates_nothing() {
    let pool = Pool::new(Buffers, 1);
    let holder = AtomicUsize::new(usize::MAX);
    let done = AtomicUsize::new(0);
    let warm = 100;
    let rounds = cycles() / 2; // two threads: `cycles()` waits in all
    let results: Vec<(u64, usize)> = thread::scope(|s| {
        let players: Vec<_> = (0..2)
            .map(|me| {
                let (pool, holder, done) = (&pool, &holder, &done);
                s.spawn(move || ping_pong(me, pool, holder, done, warm, rounds))
            })
            .collect();
        players.into_iter().map(|p| p.join().unwrap()).collect()
    });
    let counts: Vec<u64> = results.iter().map(|r| r.0).collect();
    let waits: usize = results.iter().map(|r| r.1).sum();
    println!("allocations over {waits} waits served by a return, per thread: {counts:?}");
    // Every return but the very last was made to a registered waiter.
    assert!(waits + 1 >= 2 * rounds, "only {waits} of {} gets waited", 2 * rounds);
    assert_eq!(counts, [0, 0], "waiting allocated");
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.waiting), (1, 1, 0), "{s:?}");
}

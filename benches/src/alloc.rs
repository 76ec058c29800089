//! A counting global allocator: install it in a bench binary with
//! `#[global_allocator] static A: CountingAlloc = CountingAlloc;`, then count the allocations
//! of a window with [`start`] and [`stop`], or of a closure with [`count`].
//!
//! Counting is off outside a window, so it costs every other allocation only one relaxed load
//! of a flag, the same for every pool measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Counts allocations (calls and bytes) and frees while a window is open; delegates to
/// [`System`].
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static FREE_BYTES: AtomicU64 = AtomicU64::new(0);

#[inline]
fn on_alloc(size: usize) {
    if COUNTING.load(Relaxed) {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(size as u64, Relaxed);
    }
}

#[inline]
fn on_free(size: usize) {
    if COUNTING.load(Relaxed) {
        FREE_BYTES.fetch_add(size as u64, Relaxed);
    }
}

// SAFETY: every method delegates to `System` with the caller's arguments unchanged; the
// counting touches only atomics and never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: forwarded from our caller, who upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_free(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_alloc(new_size);
        on_free(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What a counting window saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AllocStats {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes asked for by those calls.
    pub bytes: u64,
    /// Bytes given back by `dealloc` (and by `realloc`'s old block).
    pub freed: u64,
}

impl AllocStats {
    /// Bytes still allocated at the end of the window, out of those allocated in it (minus
    /// frees of older blocks, which are rare in a window).
    pub fn net(&self) -> i64 {
        i64::try_from(self.bytes).unwrap_or(i64::MAX) - i64::try_from(self.freed).unwrap_or(i64::MAX)
    }
}

/// Opens a counting window (resets the counters). Windows do not nest.
pub fn start() {
    ALLOCS.store(0, Relaxed);
    ALLOC_BYTES.store(0, Relaxed);
    FREE_BYTES.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
}

/// Closes the counting window and returns what it saw.
pub fn stop() -> AllocStats {
    COUNTING.store(false, Relaxed);
    AllocStats {
        allocs: ALLOCS.load(Relaxed),
        bytes: ALLOC_BYTES.load(Relaxed),
        freed: FREE_BYTES.load(Relaxed),
    }
}

/// Runs `f` inside a counting window.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    start();
    let result = f();
    (result, stop())
}

/// Whether the counting allocator is the global allocator of this binary (it saw the
/// allocation made to check).
pub fn installed() -> bool {
    let ((), stats) = count(|| drop(std::hint::black_box(Box::new(0u64))));
    stats.allocs > 0
}

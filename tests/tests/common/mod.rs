//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, missing_docs)] // each test binary uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts objects alive and created, to check from outside that `max_size` holds and
/// nothing leaks.
#[derive(Debug, Default)]
pub struct Counts {
    pub live: AtomicUsize,
    pub created: AtomicUsize,
    pub max_live: AtomicUsize,
}

/// A pooled object that updates `Counts` when created and dropped.
#[derive(Debug)]
pub struct Tracked {
    pub id: usize,
    counts: Arc<Counts>,
}

impl Tracked {
    pub fn new(counts: &Arc<Counts>) -> Self {
        let id = counts.created.fetch_add(1, Ordering::SeqCst);
        let live = counts.live.fetch_add(1, Ordering::SeqCst) + 1;
        counts.max_live.fetch_max(live, Ordering::SeqCst);
        Self { id, counts: Arc::clone(counts) }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.counts.live.fetch_sub(1, Ordering::SeqCst);
    }
}

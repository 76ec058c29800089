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

/// A logger that keeps every line, for tests that check what a pool logs. Install it with
/// [`capture_logs`]; read a pool's lines with [`logged`] (tests run in parallel: give each
/// pool its own name).
pub struct Capture(std::sync::Mutex<Vec<String>>);

static CAPTURE: Capture = Capture(std::sync::Mutex::new(Vec::new()));

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// Installs [`Capture`] as the logger (once per test binary).
pub fn capture_logs() {
    if log::set_logger(&CAPTURE).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The captured lines that name `pool` and contain `word`.
pub fn logged(pool: &str, word: &str) -> Vec<String> {
    let name = format!("pool {pool}:");
    CAPTURE.0.lock().unwrap().iter().filter(|l| l.starts_with(&name) && l.contains(word)).cloned().collect()
}

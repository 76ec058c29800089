//! The books both keyed pools' tests keep: objects are `(key, serial)`, creates and drops are
//! counted (and logged, for the blocking tests), and the async tests can make a create or a
//! validation hang.
#![allow(dead_code)] // each test binary uses its own part

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counts creates and drops.
#[derive(Default)]
pub(crate) struct Books {
    pub(crate) created: AtomicUsize,
    pub(crate) dropped: Arc<AtomicUsize>,
    /// `(key, serial)` of every create, in order.
    pub(crate) log: Mutex<Vec<(u32, usize)>>,
    /// Makes the async manager's `create` pend for ever.
    pub(crate) hang_create: AtomicBool,
    /// Makes the async manager's `is_valid` pend for ever.
    pub(crate) hang_validate: AtomicBool,
}

impl Books {
    /// A new object of `key`, counted and logged.
    pub(crate) fn create(&self, key: u32) -> Obj {
        let serial = self.created.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push((key, serial));
        Obj { key, serial, dropped: Arc::clone(&self.dropped) }
    }
}

/// A pooled object; counts its drop.
#[derive(Debug)]
pub(crate) struct Obj {
    pub(crate) key: u32,
    pub(crate) serial: usize,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

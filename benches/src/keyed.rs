//! The keyed pool's hot key, and what it is measured against: the plain pool (one
//! `cenote_sync::Pool` or `cenote_async::Pool` of [`OBJECTS`]) and a per-key cache as seed 003
//! keeps it ([`MutexMap`]: one `Mutex<HashMap<K, VecDeque<_>>>` for every key, no cap, no
//! waiting).
//!
//! The keyed pools hold [`KEYS`] keys of [`OBJECTS`] objects each, all created before
//! measuring; every get asks for [`HOT`]. Each is wrapped so that it is a [`BlockingPool`] or an
//! [`AsyncPool`], and the workloads of [`crate::work`] run on it unchanged (the criterion bench
//! `benches/keyed.rs`, the `table` binary's keyed section, and `profile single keyed`).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::pools::{spin_then_yield, AsyncPool, BlockingPool};

/// Keys in each keyed pool and in the mutex-map cache.
pub const KEYS: u32 = 16;
/// Objects of each key (and of the plain pool it is compared with).
pub const OBJECTS: usize = 4;
/// The key every measured get asks for.
pub const HOT: u32 = 7;

/// The blocking keyed pool's manager: an object is its key, as a `u64`.
#[derive(Debug)]
pub struct SyncKeyed;

impl cenote_keyed::sync::KeyedManager<u32> for SyncKeyed {
    type Connection = u64;
    type Error = Infallible;
    fn create(&self, key: &u32) -> Result<u64, Infallible> {
        Ok(u64::from(*key))
    }
}

/// The async keyed pool's manager: an object is its key, as a `u64`.
#[derive(Debug)]
pub struct AsyncKeyed;

impl cenote_keyed::nonblocking::KeyedManager<u32> for AsyncKeyed {
    type Connection = u64;
    type Error = Infallible;
    async fn create(&self, key: &u32) -> Result<u64, Infallible> {
        Ok(u64::from(*key))
    }
}

/// The blocking keyed pool, asked for [`HOT`] on every get.
#[derive(Debug)]
pub struct KeyedSync(pub cenote_keyed::sync::KeyedPool<u32, SyncKeyed>);

/// The async keyed pool, asked for [`HOT`] on every get.
#[derive(Debug)]
pub struct KeyedAsync(pub cenote_keyed::nonblocking::KeyedPool<u32, AsyncKeyed>);

impl BlockingPool for KeyedSync {
    type Guard<'a> = cenote_keyed::sync::Pooled<u32, SyncKeyed>;

    #[inline]
    fn get(&self) -> Self::Guard<'_> {
        match self.0.get(std::hint::black_box(&HOT)) {
            Ok(pooled) => pooled,
            Err(e) => panic!("keyed get: {e}"),
        }
    }
}

impl AsyncPool for KeyedAsync {
    type Guard<'a> = cenote_keyed::nonblocking::Pooled<u32, AsyncKeyed>;

    #[inline]
    async fn get(&self) -> Self::Guard<'_> {
        match self.0.get(std::hint::black_box(&HOT)).await {
            Ok(pooled) => pooled,
            Err(e) => panic!("keyed get: {e}"),
        }
    }
}

/// The blocking keyed pool: [`KEYS`] keys, [`OBJECTS`] idle objects each, room for all of
/// them (`max_total` = keys × objects: the global cap is never what stops a get).
pub fn keyed_sync() -> KeyedSync {
    let pool = cenote_keyed::sync::KeyedPool::builder(SyncKeyed)
        .max_size(OBJECTS)
        .max_total(OBJECTS * KEYS as usize)
        .build()
        .unwrap_or_else(|e| panic!("keyed build: {e}"));
    for key in 0..KEYS {
        let held: Vec<_> = (0..OBJECTS).map(|_| pool.get(&key).unwrap_or_else(|e| panic!("{e}"))).collect();
        drop(held);
    }
    KeyedSync(pool)
}

/// The async keyed pool, filled as [`keyed_sync`] (under a bare `block_on`), with no
/// `acquire_timeout` (compare with `cenote_async_no_timeout`).
pub fn keyed_async() -> KeyedAsync {
    let pool = cenote_keyed::nonblocking::KeyedPool::builder(AsyncKeyed)
        .max_size(OBJECTS)
        .max_total(OBJECTS * KEYS as usize)
        .acquire_timeout(None)
        .build()
        .unwrap_or_else(|e| panic!("keyed build: {e}"));
    futures_lite::future::block_on(async {
        for key in 0..KEYS {
            let mut held = Vec::new();
            for _ in 0..OBJECTS {
                held.push(pool.get(&key).await.unwrap_or_else(|e| panic!("{e}")));
            }
        }
    });
    KeyedAsync(pool)
}

/// Seed 003's per-key cache: one mutex over a map of idle queues, asked for [`HOT`]. It
/// cannot wait: an empty queue is retried with [`spin_then_yield`], as object-pool is.
#[derive(Debug)]
pub struct MutexMap(Mutex<HashMap<u32, VecDeque<u64>>>);

impl MutexMap {
    /// [`KEYS`] keys of [`OBJECTS`] idle objects each.
    pub fn new() -> Self {
        let map = (0..KEYS).map(|k| (k, (0..OBJECTS).map(|_| u64::from(k)).collect())).collect();
        Self(Mutex::new(map))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u32, VecDeque<u64>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Seed 003's `acquire(key)`: an idle object of `key`, or `None`.
    #[inline]
    pub fn acquire(&self, key: u32) -> Option<u64> {
        self.lock().get_mut(&key)?.pop_front()
    }

    /// Seed 003's `release(key, object)`: back to the end of `key`'s queue.
    #[inline]
    pub fn release(&self, key: u32, object: u64) {
        self.lock().entry(key).or_default().push_back(object);
    }
}

impl Default for MutexMap {
    fn default() -> Self {
        Self::new()
    }
}

/// An object lent by a [`MutexMap`]; released to its key on drop.
#[derive(Debug)]
pub struct MutexMapGuard<'a> {
    cache: &'a MutexMap,
    key: u32,
    object: u64,
}

impl Deref for MutexMapGuard<'_> {
    type Target = u64;
    fn deref(&self) -> &u64 {
        &self.object
    }
}

impl DerefMut for MutexMapGuard<'_> {
    fn deref_mut(&mut self) -> &mut u64 {
        &mut self.object
    }
}

impl Drop for MutexMapGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.cache.release(self.key, self.object);
    }
}

impl MutexMap {
    #[inline]
    fn get_hot(&self) -> MutexMapGuard<'_> {
        let key = std::hint::black_box(HOT);
        let object = spin_then_yield(|| self.acquire(key));
        MutexMapGuard { cache: self, key, object }
    }
}

impl BlockingPool for MutexMap {
    type Guard<'a> = MutexMapGuard<'a>;

    #[inline]
    fn get(&self) -> MutexMapGuard<'_> {
        self.get_hot()
    }
}

impl AsyncPool for MutexMap {
    type Guard<'a> = MutexMapGuard<'a>;

    /// A miss yields to the executor and tries again (the cache has no waiting of its own).
    #[inline]
    async fn get(&self) -> MutexMapGuard<'_> {
        let key = std::hint::black_box(HOT);
        loop {
            if let Some(object) = self.acquire(key) {
                return MutexMapGuard { cache: self, key, object };
            }
            futures_lite::future::yield_now().await;
        }
    }
}

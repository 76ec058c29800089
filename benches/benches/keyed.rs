//! The keyed pool's hot path: get + drop of an idle object of a hot key (16 keys in the map,
//! 4 objects each, all created before measuring), against the plain pool (one `Pool`, 4
//! objects) and against a per-key cache as seed 003 keeps it (`Mutex<HashMap<K,
//! VecDeque<_>>>`: one lock for every key, no cap, no waiting). One thread, blocking and async
//! (the async ones await every get inside one `block_on`, so that they measure the pool and
//! not the executor).
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Mutex;

use cenote_benches::pools;
use criterion::{criterion_group, criterion_main, Criterion};

const KEYS: u32 = 16;
const OBJECTS: usize = 4;
const HOT: u32 = 7;

struct SyncKeyed;
impl cenote_keyed::sync::KeyedManager<u32> for SyncKeyed {
    type Connection = u64;
    type Error = Infallible;
    fn create(&self, key: &u32) -> Result<u64, Infallible> {
        Ok(u64::from(*key))
    }
}

struct AsyncKeyed;
impl cenote_keyed::nonblocking::KeyedManager<u32> for AsyncKeyed {
    type Connection = u64;
    type Error = Infallible;
    async fn create(&self, key: &u32) -> Result<u64, Infallible> {
        Ok(u64::from(*key))
    }
}

fn keyed_sync() -> cenote_keyed::sync::KeyedPool<u32, SyncKeyed> {
    let pool = cenote_keyed::sync::KeyedPool::builder(SyncKeyed)
        .max_size(OBJECTS)
        .max_total(OBJECTS * KEYS as usize)
        .build()
        .unwrap_or_else(|e| panic!("keyed build: {e}"));
    for key in 0..KEYS {
        let held: Vec<_> = (0..OBJECTS).map(|_| pool.get(&key).unwrap_or_else(|e| panic!("{e}"))).collect();
        drop(held);
    }
    pool
}

fn keyed_async() -> cenote_keyed::nonblocking::KeyedPool<u32, AsyncKeyed> {
    let pool = cenote_keyed::nonblocking::KeyedPool::builder(AsyncKeyed)
        .max_size(OBJECTS)
        .max_total(OBJECTS * KEYS as usize)
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
    pool
}

/// Seed 003's per-key cache: one mutex over a map of idle queues.
struct MutexMap(Mutex<HashMap<u32, VecDeque<u64>>>);

impl MutexMap {
    fn new() -> Self {
        let map = (0..KEYS).map(|k| (k, (0..OBJECTS).map(|_| u64::from(k)).collect())).collect();
        Self(Mutex::new(map))
    }

    fn acquire(&self, key: u32) -> Option<u64> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(&key)?.pop_front()
    }

    fn release(&self, key: u32, object: u64) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default()
            .push_back(object);
    }
}

fn hot_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyed_hot_key_get_drop");

    let plain = pools::cenote_sync(OBJECTS);
    group.bench_function("plain_cenote_sync", |b| {
        b.iter(|| *black_box(&*plain.get().unwrap_or_else(|e| panic!("{e}"))));
    });
    let keyed = keyed_sync();
    group.bench_function("keyed_sync", |b| {
        b.iter(|| *black_box(&*keyed.get(black_box(&HOT)).unwrap_or_else(|e| panic!("{e}"))));
    });
    let cache = MutexMap::new();
    group.bench_function("mutex_map_cache", |b| {
        b.iter(|| {
            let key = black_box(HOT);
            let object = cache.acquire(key).unwrap_or_else(|| panic!("idle"));
            black_box(&object);
            cache.release(key, object);
        });
    });

    let plain = pools::cenote_async_no_timeout(OBJECTS);
    group.bench_function("plain_cenote_async", |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    black_box(*plain.get().await.unwrap_or_else(|e| panic!("{e}")));
                }
                start.elapsed()
            })
        });
    });
    let keyed = keyed_async();
    group.bench_function("keyed_async", |b| {
        b.iter_custom(|iters| {
            futures_lite::future::block_on(async {
                let start = std::time::Instant::now();
                for _ in 0..iters {
                    black_box(*keyed.get(black_box(&HOT)).await.unwrap_or_else(|e| panic!("{e}")));
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, hot_key);
criterion_main!(benches);

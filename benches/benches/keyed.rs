//! The keyed pool's hot path: get + drop of an idle object of a hot key (16 keys in the map,
//! 4 objects each, all created before measuring), against the plain pool (one `Pool`, 4
//! objects) and against a per-key cache as seed 003 keeps it (`Mutex<HashMap<K,
//! VecDeque<_>>>`: one lock for every key, no cap, no waiting). One thread, blocking and async
//! (the async ones await every get inside one `block_on`, so that they measure the pool and
//! not the executor). The pools are `cenote_benches::keyed`'s, which the `table` binary's
//! keyed section measures too.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use cenote_benches::keyed::{self, MutexMap, OBJECTS};
use cenote_benches::{pools, work};
use criterion::{criterion_group, criterion_main, Criterion};

fn hot_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("keyed_hot_key_get_drop");

    let plain = pools::cenote_sync(OBJECTS);
    group.bench_function("plain_cenote_sync", |b| b.iter_custom(|iters| work::time_get_drop(&plain, iters)));
    let keyed = keyed::keyed_sync();
    group.bench_function("keyed_sync", |b| b.iter_custom(|iters| work::time_get_drop(&keyed, iters)));
    let cache = MutexMap::new();
    group.bench_function("mutex_map_cache", |b| b.iter_custom(|iters| work::time_get_drop(&cache, iters)));

    let plain = pools::cenote_async_no_timeout(OBJECTS);
    group.bench_function("plain_cenote_async", |b| {
        b.iter_custom(|iters| work::time_get_drop_block_on(&plain, iters));
    });
    let keyed = keyed::keyed_async();
    group.bench_function("keyed_async", |b| {
        b.iter_custom(|iters| work::time_get_drop_block_on(&keyed, iters))
    });
    group.finish();
}

criterion_group!(benches, hot_key);
criterion_main!(benches);

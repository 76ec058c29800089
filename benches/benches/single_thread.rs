//! One thread, get + drop of an idle object: cenote's two front ends against the floor, a
//! bare `ArrayQueue` pop + push of the same object.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use cenote_benches::{AsyncNumbers, SyncNumbers};
use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_queue::ArrayQueue;

fn single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_thread_get_drop");

    let floor = ArrayQueue::new(8);
    floor.push(0u64).unwrap();
    group.bench_function("floor_arrayqueue", |b| {
        b.iter(|| {
            let object = floor.pop().unwrap();
            black_box(&object);
            floor.push(object).unwrap();
        });
    });

    let pool = cenote_sync::Pool::new(SyncNumbers, 4);
    drop(pool.get().unwrap());
    group.bench_function("cenote_sync", |b| b.iter(|| black_box(&*pool.get().unwrap()).to_owned()));

    let pool = cenote_async::Pool::new(AsyncNumbers, 4);
    futures_lite::future::block_on(async {
        drop(pool.get().await.unwrap());
    });
    group.bench_function("cenote_async_block_on", |b| {
        b.iter(|| futures_lite::future::block_on(async { *black_box(&*pool.get().await.unwrap()) }));
    });
    group.finish();
}

criterion_group!(benches, single_thread);
criterion_main!(benches);

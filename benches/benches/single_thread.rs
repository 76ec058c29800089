//! One thread, get + drop of an idle object: cenote's two front ends against the floor (a bare
//! `ArrayQueue` pop + push of the same object) and the peer pools, each with 4 objects, all
//! created before measuring, and the pool built as the design card says (`card_design`).
//!
//! `cenote_async_block_on` runs a bare `futures_lite::future::block_on` per get (as the first
//! version of this bench did); the other async entries await every get inside one `block_on`
//! (or one tokio current-thread `block_on` for bb8, which needs tokio), so that they measure
//! the pool and not the executor.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use cenote_benches::{card, pools, work};
use criterion::{criterion_group, criterion_main, Criterion};

const OBJECTS: usize = 4;

fn single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_thread_get_drop");

    let floor = pools::floor(OBJECTS);
    group.bench_function("floor_arrayqueue", |b| {
        b.iter(|| {
            let object = floor.0.pop().unwrap();
            black_box(&object);
            floor.0.push(object).unwrap();
        });
    });

    let pool = pools::cenote_sync(OBJECTS);
    group.bench_function("cenote_sync", |b| b.iter(|| black_box(&*pool.get().unwrap()).to_owned()));

    let pool = pools::cenote_async(OBJECTS);
    group.bench_function("cenote_async_block_on", |b| {
        b.iter(|| futures_lite::future::block_on(async { *black_box(&*pool.get().await.unwrap()) }));
    });
    group.bench_function("cenote_async", |b| {
        b.iter_custom(|iters| work::time_get_drop_block_on(&pool, iters))
    });

    // The pool built as the design card says (ArrayQueue + permits + event-listener + Arc).
    let pool = card::card(OBJECTS);
    group.bench_function("card_design", |b| b.iter_custom(|iters| work::time_get_drop(&pool, iters)));

    let pool = pools::object_pool(OBJECTS);
    group.bench_function("object_pool", |b| b.iter_custom(|iters| work::time_get_drop(&pool, iters)));

    let pool = pools::deadpool_unmanaged(OBJECTS);
    group.bench_function("deadpool_unmanaged", |b| {
        b.iter_custom(|iters| work::time_get_drop_block_on(&pool, iters));
    });

    let pool = pools::deadpool_managed(OBJECTS);
    group.bench_function("deadpool_managed", |b| {
        b.iter_custom(|iters| work::time_get_drop_block_on(&pool, iters));
    });

    let pool = pools::r2d2(OBJECTS);
    group.bench_function("r2d2", |b| b.iter_custom(|iters| work::time_get_drop(&pool, iters)));

    let rt = work::tokio_current_thread();
    let pool = rt.block_on(pools::bb8(OBJECTS));
    group.bench_function("bb8", |b| b.iter_custom(|iters| work::time_get_drop_tokio(&rt, &pool, iters)));

    group.finish();
}

criterion_group!(benches, single_thread);
criterion_main!(benches);

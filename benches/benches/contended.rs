//! Threads on a few objects, each doing get + tiny work + drop: throughput of cenote's two front
//! ends (the async one through a bare `futures_lite::future::block_on` per get) against the
//! floor and the peer pools, for 2, 4 and 16 threads on 4 objects and 16 threads on 16.
//!
//! One criterion iteration is one operation by every thread (`iter_custom`: each thread does
//! `iters` operations, started together), and the throughput is set to the thread count, so
//! criterion reports operations per second for all threads together. Pools are built and
//! filled before measuring; threads are spawned per sample (a few tens of microseconds against
//! samples of milliseconds).
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use cenote_benches::pools::{self, BlockOn};
use cenote_benches::work;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

const CONFIGS: [(usize, usize); 4] = [(2, 4), (4, 4), (16, 4), (16, 16)];

fn bench<P: cenote_benches::BlockingPool>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    pool: &P,
    threads: usize,
) {
    group.bench_function(name, |b| b.iter_custom(|iters| work::threads_fixed(pool, threads, iters)));
}

fn contended(c: &mut Criterion) {
    for (threads, objects) in CONFIGS {
        let mut group = c.benchmark_group(format!("contended/{threads}t_{objects}o"));
        group.throughput(Throughput::Elements(threads as u64));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(2));
        group.sample_size(20);
        bench(&mut group, "floor_arrayqueue", &pools::floor(objects), threads);
        bench(&mut group, "cenote_sync", &pools::cenote_sync(objects), threads);
        bench(&mut group, "cenote_async_block_on", &BlockOn(pools::cenote_async(objects)), threads);
        bench(&mut group, "object_pool", &pools::object_pool(objects), threads);
        bench(
            &mut group,
            "deadpool_unmanaged_block_on",
            &BlockOn(pools::deadpool_unmanaged(objects)),
            threads,
        );
        bench(&mut group, "deadpool_managed_block_on", &BlockOn(pools::deadpool_managed(objects)), threads);
        bench(&mut group, "r2d2", &pools::r2d2(objects), threads);
        group.finish();
    }
}

criterion_group!(benches, contended);
criterion_main!(benches);

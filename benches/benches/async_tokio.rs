//! Async on a tokio multi-threaded runtime with 2 workers: 64 tasks on 8 objects and 1024 tasks
//! on 16, each doing get + tiny work + one yield to the scheduler while holding the object + drop;
//! cenote against deadpool (unmanaged and managed) and bb8.
//!
//! One criterion iteration is one operation in all (`iter_custom`: each task does
//! `ceil(iters / tasks)` operations), so criterion reports time per operation and operations
//! per second. The runtime and pools are built before measuring. The wait-latency distribution
//! and per-task fairness are in the `table` binary.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::sync::Arc;
use std::time::Duration;

use cenote_benches::{pools, work, AsyncPool};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

const WORKERS: usize = 2;
const CONFIGS: [(usize, usize); 2] = [(64, 8), (1024, 16)];

fn bench<P: AsyncPool>(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    pool: P,
    tasks: usize,
) {
    let pool = Arc::new(pool);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let per_task = iters.div_ceil(tasks as u64);
            let elapsed = work::tokio_tasks_fixed(rt, &pool, tasks, per_task);
            // Report per requested iteration, though `per_task * tasks` may exceed `iters`.
            elapsed.mul_f64(iters as f64 / (per_task * tasks as u64) as f64)
        });
    });
}

fn async_tokio(c: &mut Criterion) {
    let rt = work::tokio_runtime(WORKERS);
    for (tasks, objects) in CONFIGS {
        let mut group = c.benchmark_group(format!("tokio_{WORKERS}w/{tasks}tasks_{objects}o"));
        group.throughput(Throughput::Elements(1));
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        group.sample_size(20);
        bench(&mut group, &rt, "cenote_async", pools::cenote_async(objects), tasks);
        bench(&mut group, &rt, "deadpool_unmanaged", pools::deadpool_unmanaged(objects), tasks);
        bench(&mut group, &rt, "deadpool_managed", pools::deadpool_managed(objects), tasks);
        bench(&mut group, &rt, "bb8", rt.block_on(pools::bb8(objects)), tasks);
        group.finish();
    }
}

criterion_group!(benches, async_tokio);
criterion_main!(benches);

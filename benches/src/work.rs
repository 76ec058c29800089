//! The workloads, written once over [`BlockingPool`] and [`AsyncPool`] so that every pool runs
//! exactly the same code.
//!
//! * single thread: get + drop of an idle object, in a loop;
//! * threads: `threads` OS threads on one pool, each doing get + a little work + drop (or
//!   holding the object for a while), either a fixed number of times (criterion) or until told
//!   to stop (the table, which also counts each thread's operations for fairness);
//! * tokio tasks: `tasks` tasks on a multi-threaded runtime, each doing get + a little work +
//!   one yield to the scheduler while holding the object (as a query awaits its reply) + drop.
//!
//! Pools, threads' stacks, runtimes and histograms are all made before the measured window.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::alloc::{self, AllocStats};
use crate::hist::Histogram;
use crate::pools::{AsyncPool, BlockingPool};
use crate::sys::cpu_time;

/// The "tiny work" done while holding an object: a few dependent multiply-rotates on it
/// (a few nanoseconds).
#[inline]
pub fn tiny_work(object: &mut u64) {
    let mut x = black_box(*object);
    for _ in 0..8 {
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 1;
    }
    *object = black_box(x);
}

// ---------------------------------------------------------------------------------------------
// Single thread

/// `ops` times get + drop of an idle object on this thread.
#[inline]
pub fn get_drop_loop<P: BlockingPool>(pool: &P, ops: u64) {
    for _ in 0..ops {
        let object = pool.get();
        black_box(&*object);
        drop(object);
    }
}

/// `ops` times get + drop of an idle object, awaited in one task.
#[inline]
pub async fn get_drop_loop_async<P: AsyncPool>(pool: &P, ops: u64) {
    for _ in 0..ops {
        let object = pool.get().await;
        black_box(&*object);
        drop(object);
    }
}

/// Times [`get_drop_loop`].
pub fn time_get_drop<P: BlockingPool>(pool: &P, ops: u64) -> Duration {
    let start = Instant::now();
    get_drop_loop(pool, ops);
    start.elapsed()
}

/// Times [`get_drop_loop_async`] under one bare `futures_lite::future::block_on`.
pub fn time_get_drop_block_on<P: AsyncPool>(pool: &P, ops: u64) -> Duration {
    futures_lite::future::block_on(async {
        let start = Instant::now();
        get_drop_loop_async(pool, ops).await;
        start.elapsed()
    })
}

/// Times [`get_drop_loop_async`] inside `rt.block_on` (for pools that need tokio).
pub fn time_get_drop_tokio<P: AsyncPool>(rt: &tokio::runtime::Runtime, pool: &P, ops: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        get_drop_loop_async(pool, ops).await;
        start.elapsed()
    })
}

// ---------------------------------------------------------------------------------------------
// Threads

/// What a holder does with the object between get and drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// [`tiny_work`].
    Tiny,
    /// [`tiny_work`], then sleep this long (a long hold: a slow query).
    Sleep(Duration),
}

/// One operation: get, use, drop. Returns how long the get took when `timed`.
#[inline]
fn blocking_op<P: BlockingPool>(pool: &P, hold: Hold, timed: bool) -> Option<Duration> {
    let start = timed.then(Instant::now);
    let mut object = pool.get();
    let waited = start.map(|s| s.elapsed());
    tiny_work(&mut object);
    if let Hold::Sleep(d) = hold {
        std::thread::sleep(d);
    }
    drop(object);
    waited
}

/// `threads` threads each do `ops_per_thread` operations ([`Hold::Tiny`]) on `pool`, started
/// together; returns the wall time from the start until the last one is done.
pub fn threads_fixed<P: BlockingPool>(pool: &P, threads: usize, ops_per_thread: u64) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..ops_per_thread {
                        blocking_op(pool, Hold::Tiny, false);
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for worker in workers {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        start.elapsed()
    })
}

/// A fixed-duration run of threads or tasks.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// Threads (or tasks) sharing the pool.
    pub workers: usize,
    /// Objects in the pool (threads only: the warm-up holds them all for a moment, so that
    /// every thread waits at least once before the window).
    pub objects: usize,
    /// How long the measured window lasts.
    pub duration: Duration,
    /// What a holder does (threads only; tasks always do tiny work and yield once).
    pub hold: Hold,
    /// Whether to time each get (costs two clock reads per operation).
    pub record_waits: bool,
    /// Whether to count allocations in the window (the counting allocator must be installed).
    pub count_allocs: bool,
}

/// What a fixed-duration run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The measured window.
    pub elapsed: Duration,
    /// Operations completed by each worker in the window.
    pub per_worker: Vec<u64>,
    /// How long each get waited (empty unless `record_waits`).
    pub waits: Histogram,
    /// CPU time (user + system) of the whole process over the run.
    pub cpu: Duration,
    /// Allocations in the window (if `count_allocs`).
    pub allocs: Option<AllocStats>,
}

impl RunResult {
    /// Total operations.
    pub fn ops(&self) -> u64 {
        self.per_worker.iter().sum()
    }

    /// Operations per second, all workers together.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops() as f64 / self.elapsed.as_secs_f64()
    }

    /// Fewest operations by one worker over the mean (1.0: perfectly even; 0.0: one starved).
    pub fn fairness(&self) -> f64 {
        let ops = self.ops();
        if ops == 0 {
            return 0.0;
        }
        let mean = ops as f64 / self.per_worker.len() as f64;
        self.per_worker.iter().copied().min().unwrap_or(0) as f64 / mean
    }

    /// CPU time per operation.
    pub fn cpu_per_op(&self) -> Duration {
        self.cpu.checked_div(u32::try_from(self.ops().max(1)).unwrap_or(u32::MAX)).unwrap_or_default()
    }

    /// Allocations per operation (if counted).
    pub fn allocs_per_op(&self) -> Option<f64> {
        self.allocs.map(|a| a.allocs as f64 / self.ops().max(1) as f64)
    }
}

/// How long each thread of [`threads_for`] runs operations before the measured window.
pub const WARM_UP: Duration = Duration::from_millis(20);

/// How long the warm-up of [`threads_for`] holds every object, so that each thread waits.
pub const WARM_UP_HOLD: Duration = Duration::from_millis(5);

/// `cfg.workers` threads share `pool` for `cfg.duration`, each doing operations until told to
/// stop.
///
/// Warm-up (uncounted): this thread takes all `cfg.objects` objects, lets the threads start,
/// and holds the objects for [`WARM_UP_HOLD`], so that every thread waits at least once (a
/// pool's first wait on a thread may make per-thread lazy state: r2d2's, say); then the
/// threads run operations for [`WARM_UP`]. Then all start the window
/// together. CPU time is counted from the start of the window until every thread has ended.
pub fn threads_for<P: BlockingPool>(pool: &P, cfg: &RunConfig) -> RunResult {
    let barrier = Barrier::new(cfg.workers + 1);
    let stop = AtomicBool::new(false);
    let warm = AtomicBool::new(false);
    std::thread::scope(|s| {
        let held: Vec<_> = (0..cfg.objects).map(|_| pool.get()).collect();
        let workers: Vec<_> = (0..cfg.workers)
            .map(|_| {
                s.spawn(|| {
                    let mut waits = Histogram::new();
                    barrier.wait();
                    while !warm.load(Ordering::Relaxed) {
                        blocking_op(pool, cfg.hold, false);
                    }
                    barrier.wait();
                    let mut ops = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        if let Some(waited) = blocking_op(pool, cfg.hold, cfg.record_waits) {
                            waits.record(waited);
                        }
                        ops += 1;
                    }
                    // At most one operation per thread, in flight when the window closed, is
                    // counted though it ends after it.
                    (ops, waits)
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(WARM_UP_HOLD);
        drop(held);
        std::thread::sleep(WARM_UP);
        warm.store(true, Ordering::Relaxed);
        barrier.wait();
        let cpu_start = cpu_time();
        if cfg.count_allocs {
            alloc::start();
        }
        let start = Instant::now();
        std::thread::sleep(cfg.duration);
        stop.store(true, Ordering::Relaxed);
        let elapsed = start.elapsed();
        let allocs = cfg.count_allocs.then(alloc::stop);
        let mut per_worker = Vec::with_capacity(cfg.workers);
        let mut waits = Histogram::new();
        for worker in workers {
            match worker.join() {
                Ok((ops, hist)) => {
                    per_worker.push(ops);
                    waits.merge(&hist);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        RunResult { elapsed, per_worker, waits, cpu: cpu_time().saturating_sub(cpu_start), allocs }
    })
}

// ---------------------------------------------------------------------------------------------
// Tokio tasks

/// One task operation: get (timed if `timed`), tiny work, one yield while holding, drop.
#[inline]
async fn task_op<P: AsyncPool>(pool: &P, timed: bool) -> Option<Duration> {
    let start = timed.then(Instant::now);
    let mut object = pool.get().await;
    let waited = start.map(|s| s.elapsed());
    tiny_work(&mut object);
    tokio::task::yield_now().await;
    drop(object);
    waited
}

/// `tasks` tasks on `rt` each do `ops_per_task` operations on `pool`; returns the wall time
/// from the first spawn until all are done.
pub fn tokio_tasks_fixed<P: AsyncPool>(
    rt: &tokio::runtime::Runtime,
    pool: &Arc<P>,
    tasks: usize,
    ops_per_task: u64,
) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let pool = Arc::clone(pool);
            rt.spawn(async move {
                for _ in 0..ops_per_task {
                    task_op(&*pool, false).await;
                }
            })
        })
        .collect();
    rt.block_on(async {
        for handle in handles {
            if let Err(e) = handle.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    });
    start.elapsed()
}

/// `cfg.workers` tasks on `rt` share `pool` for `cfg.duration`. Each task does one operation
/// first (uncounted), then all start together.
pub fn tokio_tasks_for<P: AsyncPool>(
    rt: &tokio::runtime::Runtime,
    pool: &Arc<P>,
    cfg: &RunConfig,
) -> RunResult {
    let ready = Arc::new(AtomicUsize::new(0));
    let start_flag = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..cfg.workers)
        .map(|_| {
            let pool = Arc::clone(pool);
            let (ready, start_flag, stop) = (Arc::clone(&ready), Arc::clone(&start_flag), Arc::clone(&stop));
            let mut waits = Histogram::new();
            let timed = cfg.record_waits;
            rt.spawn(async move {
                task_op(&*pool, false).await;
                ready.fetch_add(1, Ordering::Relaxed);
                while !start_flag.load(Ordering::Relaxed) {
                    tokio::task::yield_now().await;
                }
                let mut ops = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Some(waited) = task_op(&*pool, timed).await {
                        waits.record(waited);
                    }
                    ops += 1;
                }
                (ops, waits)
            })
        })
        .collect();
    while ready.load(Ordering::Relaxed) < cfg.workers {
        std::thread::sleep(Duration::from_micros(200));
    }
    let cpu_start = cpu_time();
    if cfg.count_allocs {
        alloc::start();
    }
    let start = Instant::now();
    start_flag.store(true, Ordering::Relaxed);
    std::thread::sleep(cfg.duration);
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let allocs = cfg.count_allocs.then(alloc::stop);
    let mut per_worker = Vec::with_capacity(cfg.workers);
    let mut waits = Histogram::new();
    rt.block_on(async {
        for handle in handles {
            match handle.await {
                Ok((ops, hist)) => {
                    per_worker.push(ops);
                    waits.merge(&hist);
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
    });
    RunResult { elapsed, per_worker, waits, cpu: cpu_time().saturating_sub(cpu_start), allocs }
}

/// A tokio multi-threaded runtime with `workers` worker threads (built once, outside any
/// measured loop).
pub fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

/// A tokio current-thread runtime (for single-thread runs of pools that need tokio).
pub fn tokio_current_thread() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    }
}

//! Runs cenote side by side with its floor and its peers, in one process, and prints a markdown
//! table of absolute numbers, ratios, and one MET / NOT MET line per target.
//!
//! ```text
//! cargo run --release -p cenote-benches --bin table             # full run, ~3 minutes
//! cargo run --release -p cenote-benches --bin table -- --quick  # ~30-60 seconds
//! cargo run --release -p cenote-benches --bin table -- --only contended,tokio
//! cargo run --release -p cenote-benches --bin table -- --only keyed   # keyed pool, hot key
//! cargo run --release -p cenote-benches --bin table -- --only sharded # sharded vs plain pool
//! cargo build --release -p cenote-benches --bin profile   # for the instruction counts
//! ```
//!
//! The `instructions` section counts instructions per get + drop under valgrind's callgrind
//! (see `cenote_benches::instructions`): it needs `valgrind` and the `profile` binary built
//! in the same target directory, and says so in the table when either is missing.
//!
//! Every figure is the median of several rounds, and each round runs every pool once, in an
//! order that rotates from round to round, so that drifts of the machine hit all pools alike;
//! every ratio is the median of per-round ratios. Wait latencies are merged over all rounds.
//! Progress goes to stderr; the table goes to stdout.

// The `sharded` section, in its own file (a crate root's `mod` looks beside it: hence the path).
#[path = "table/sharded.rs"]
mod sharded;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cenote_benches::alloc::{self, AllocStats, CountingAlloc};
use cenote_benches::card::{self, CardPool};
use cenote_benches::hist::Histogram;
use cenote_benches::pools::{self, BlockOn, Floor, NoPool, ObjectPool};
use cenote_benches::work::{self, Hold, RunConfig, RunResult};
use cenote_benches::{keyed, sys, AsyncNumbers, Bb8Numbers, DeadpoolNumbers, R2d2Numbers, SyncNumbers};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The card-design pool's row name (blocking `get`, or awaited in tokio).
const CARD: &str = "card design (ArrayQueue + permits + event-listener + Arc)";
/// The card-design pool awaited under a bare `block_on`.
const CARD_ASYNC_BLOCK_ON: &str = "card design, async get (block_on)";

/// Threads and objects of the contended-threads workloads.
const THREAD_CONFIGS: [(usize, usize); 4] = [(2, 4), (4, 4), (16, 4), (16, 16)];
/// Tasks and objects of the tokio workloads (2 worker threads).
const TASK_CONFIGS: [(usize, usize); 2] = [(64, 8), (1024, 16)];
const TOKIO_WORKERS: usize = 2;
/// The long-hold workload: threads, objects, and how long each holder keeps its object.
const LONG_HOLD: (usize, usize, Duration) = (16, 4, Duration::from_micros(100));

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    single_rounds: usize,
    single_round_time: Duration,
    thread_rounds: usize,
    thread_time: Duration,
    long_rounds: usize,
    long_time: Duration,
    task_rounds: usize,
    task_time: Duration,
    alloc_time: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                single_rounds: 9,
                single_round_time: Duration::from_millis(10),
                thread_rounds: 3,
                thread_time: Duration::from_millis(200),
                long_rounds: 3,
                long_time: Duration::from_millis(300),
                task_rounds: 3,
                task_time: Duration::from_millis(250),
                alloc_time: Duration::from_millis(100),
            }
        } else {
            Self {
                quick,
                single_rounds: 25,
                single_round_time: Duration::from_millis(15),
                thread_rounds: 5,
                thread_time: Duration::from_millis(700),
                long_rounds: 5,
                long_time: Duration::from_secs(1),
                task_rounds: 5,
                task_time: Duration::from_millis(600),
                alloc_time: Duration::from_millis(200),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small statistics and formatting helpers

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median over rounds of `a[r] / b[r]`: both measured in the same round, close in time, so
/// that a slow spell of the machine cancels out of the ratio.
fn paired_ratio(a: &[f64], b: &[f64]) -> f64 {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median(&ratios)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn fmt_dur(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn fmt_mops(ops_per_sec: f64) -> String {
    format!("{:.2}", ops_per_sec / 1e6)
}

fn fmt_allocs(per_op: f64) -> String {
    if per_op == 0.0 {
        "0".to_owned()
    } else if per_op < 0.01 {
        format!("{per_op:.5}")
    } else {
        format!("{per_op:.2}")
    }
}

fn progress(msg: &str) {
    eprintln!("[{}] {msg}", fmt_elapsed());
}

fn fmt_elapsed() -> String {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let s = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    format!("{s:6.1}s")
}

/// One target's verdict.
struct Verdict {
    met: bool,
    text: String,
}

fn verdict(met: bool, text: String) -> Verdict {
    Verdict { met, text }
}

// ---------------------------------------------------------------------------------------------
// Single thread: get + drop of an idle object

/// A named single-thread measurement: given an op count, returns how long they took.
type SingleRun<'a> = (&'static str, Box<dyn FnMut(u64) -> Duration + 'a>);

struct SingleResult {
    name: &'static str,
    /// ns/op of each round.
    ns: Vec<f64>,
}

fn run_single(plan: &Plan) -> Vec<SingleResult> {
    const N: usize = 4;
    let floor = pools::floor(N);
    let cenote_sync = pools::cenote_sync(N);
    let cenote_async = pools::cenote_async(N);
    let cenote_async_nt = pools::cenote_async_no_timeout(N);
    let card = card::card(N);
    let object_pool = pools::object_pool(N);
    let deadpool_u = pools::deadpool_unmanaged(N);
    let deadpool_m = pools::deadpool_managed(N);
    let r2d2 = pools::r2d2(N);
    let rt = work::tokio_current_thread();
    let bb8 = rt.block_on(pools::bb8(N));

    let runs: Vec<SingleRun<'_>> = vec![
        ("floor (ArrayQueue pop+push)", Box::new(|ops| work::time_get_drop(&floor, ops))),
        ("cenote_sync", Box::new(|ops| work::time_get_drop(&cenote_sync, ops))),
        ("cenote_async (block_on)", Box::new(|ops| work::time_get_drop_block_on(&cenote_async, ops))),
        (
            "cenote_async, no acquire_timeout (block_on)",
            Box::new(|ops| work::time_get_drop_block_on(&cenote_async_nt, ops)),
        ),
        (CARD, Box::new(|ops| work::time_get_drop(&card, ops))),
        (CARD_ASYNC_BLOCK_ON, Box::new(|ops| work::time_get_drop_block_on(&card, ops))),
        ("object-pool 0.6", Box::new(|ops| work::time_get_drop(&object_pool, ops))),
        (
            "deadpool 0.13 unmanaged (block_on)",
            Box::new(|ops| work::time_get_drop_block_on(&deadpool_u, ops)),
        ),
        ("deadpool 0.13 managed (block_on)", Box::new(|ops| work::time_get_drop_block_on(&deadpool_m, ops))),
        ("r2d2 0.8", Box::new(|ops| work::time_get_drop(&r2d2, ops))),
        ("bb8 0.9 (tokio current-thread)", Box::new(|ops| work::time_get_drop_tokio(&rt, &bb8, ops))),
    ];

    measure_single(plan, runs)
}

/// Calibrates each run (ops per round so that one round takes about `single_round_time`), then
/// measures every run once per round, in an order that rotates from round to round.
fn measure_single(plan: &Plan, mut runs: Vec<SingleRun<'_>>) -> Vec<SingleResult> {
    let ops: Vec<u64> = runs
        .iter_mut()
        .map(|(_, run)| {
            let mut n = 1_000u64;
            loop {
                let d = run(n);
                if d >= Duration::from_millis(2) || n >= 1 << 30 {
                    let per_op = d.as_secs_f64() / n as f64;
                    break ((plan.single_round_time.as_secs_f64() / per_op) as u64).max(1_000);
                }
                n *= 4;
            }
        })
        .collect();

    let mut ns = vec![Vec::new(); runs.len()];
    for round in 0..plan.single_rounds {
        for k in 0..runs.len() {
            let i = (k + round) % runs.len();
            let d = (runs[i].1)(ops[i]);
            ns[i].push(d.as_nanos() as f64 / ops[i] as f64);
        }
    }
    runs.iter().zip(ns).map(|((name, _), ns)| SingleResult { name, ns }).collect()
}

// ---------------------------------------------------------------------------------------------
// Threads: contended (tiny work) and long hold

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ThreadImpl {
    NoPool,
    Floor,
    CenoteSync,
    CenoteSyncMetrics,
    CenoteAsync,
    Card,
    ObjectPool,
    DeadpoolU,
    DeadpoolM,
    R2d2,
}

impl ThreadImpl {
    const ALL: [Self; 10] = [
        Self::NoPool,
        Self::Floor,
        Self::CenoteSync,
        Self::CenoteSyncMetrics,
        Self::CenoteAsync,
        Self::Card,
        Self::ObjectPool,
        Self::DeadpoolU,
        Self::DeadpoolM,
        Self::R2d2,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::NoPool => "no pool (each thread its own object: the scheduler's fairness)",
            Self::Floor => "floor (ArrayQueue, spin+yield)",
            Self::CenoteSync => "cenote_sync",
            Self::CenoteSyncMetrics => "cenote_sync, metrics() read every 1 ms by another thread",
            Self::CenoteAsync => "cenote_async (block_on)",
            Self::Card => CARD,
            Self::ObjectPool => "object-pool 0.6 (spin+yield)",
            Self::DeadpoolU => "deadpool unmanaged (block_on)",
            Self::DeadpoolM => "deadpool managed (block_on)",
            Self::R2d2 => "r2d2 0.8",
        }
    }
}

/// Every blocking pool with `n` objects.
struct ThreadPools {
    floor: Floor,
    cenote_sync: cenote_sync::Pool<SyncNumbers>,
    cenote_async: BlockOn<cenote_async::Pool<AsyncNumbers>>,
    card: CardPool<u64>,
    object_pool: ObjectPool,
    deadpool_u: BlockOn<deadpool::unmanaged::Pool<u64>>,
    deadpool_m: BlockOn<deadpool::managed::Pool<DeadpoolNumbers>>,
    r2d2: r2d2::Pool<R2d2Numbers>,
}

impl ThreadPools {
    fn new(n: usize) -> Self {
        Self {
            floor: pools::floor(n),
            cenote_sync: pools::cenote_sync(n),
            cenote_async: BlockOn(pools::cenote_async(n)),
            card: card::card(n),
            object_pool: pools::object_pool(n),
            deadpool_u: BlockOn(pools::deadpool_unmanaged(n)),
            deadpool_m: BlockOn(pools::deadpool_managed(n)),
            r2d2: pools::r2d2(n),
        }
    }

    fn run(&self, which: ThreadImpl, cfg: &RunConfig) -> RunResult {
        match which {
            ThreadImpl::NoPool => work::threads_for(&NoPool, cfg),
            ThreadImpl::Floor => work::threads_for(&self.floor, cfg),
            ThreadImpl::CenoteSync => work::threads_for(&self.cenote_sync, cfg),
            ThreadImpl::CenoteSyncMetrics => {
                with_metrics_reader(&self.cenote_sync, || work::threads_for(&self.cenote_sync, cfg))
            }
            ThreadImpl::CenoteAsync => work::threads_for(&self.cenote_async, cfg),
            ThreadImpl::Card => work::threads_for(&self.card, cfg),
            ThreadImpl::ObjectPool => work::threads_for(&self.object_pool, cfg),
            ThreadImpl::DeadpoolU => work::threads_for(&self.deadpool_u, cfg),
            ThreadImpl::DeadpoolM => work::threads_for(&self.deadpool_m, cfg),
            ThreadImpl::R2d2 => work::threads_for(&self.r2d2, cfg),
        }
    }
}

/// Runs `f` while another thread reads `pool.metrics()` every millisecond (a scrape far more
/// often than any monitoring system makes one).
fn with_metrics_reader<R>(pool: &cenote_sync::Pool<SyncNumbers>, f: impl FnOnce() -> R) -> R {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::black_box(pool.metrics());
                reads += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            reads
        });
        let result = f();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = reader.join();
        result
    })
}

/// Medians over rounds of one pool on one workload.
#[derive(Clone, Debug)]
struct Summary {
    ops_per_sec: f64,
    fairness: f64,
    cpu_per_op: Duration,
    waits: Histogram,
    /// Operations per second of each round (rounds line up across pools).
    round_ops: Vec<f64>,
    /// CPU seconds per operation of each round.
    round_cpu: Vec<f64>,
}

fn summarize(results: &[RunResult]) -> Summary {
    let ops: Vec<f64> = results.iter().map(RunResult::ops_per_sec).collect();
    let fair: Vec<f64> = results.iter().map(RunResult::fairness).collect();
    let cpu: Vec<f64> = results.iter().map(|r| r.cpu_per_op().as_secs_f64()).collect();
    let mut waits = Histogram::new();
    for r in results {
        waits.merge(&r.waits);
    }
    Summary {
        ops_per_sec: median(&ops),
        fairness: median(&fair),
        cpu_per_op: Duration::from_secs_f64(median(&cpu)),
        waits,
        round_ops: ops,
        round_cpu: cpu,
    }
}

/// Runs every impl in `impls` for `rounds` rounds, rotating the order, and summarizes.
fn rounds<I: Copy>(impls: &[I], rounds: usize, mut run: impl FnMut(I) -> RunResult) -> Vec<Summary> {
    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); impls.len()];
    for round in 0..rounds {
        for k in 0..impls.len() {
            let i = (k + round) % impls.len();
            results[i].push(run(impls[i]));
        }
    }
    results.iter().map(|r| summarize(r)).collect()
}

fn run_contended(plan: &Plan) -> Vec<Vec<Summary>> {
    THREAD_CONFIGS
        .iter()
        .map(|&(threads, objects)| {
            progress(&format!("contended: {threads} threads on {objects} objects"));
            let pools = ThreadPools::new(objects);
            let cfg = RunConfig {
                workers: threads,
                objects,
                duration: plan.thread_time,
                hold: Hold::Tiny,
                record_waits: false,
                count_allocs: false,
            };
            rounds(&ThreadImpl::ALL, plan.thread_rounds, |which| pools.run(which, &cfg))
        })
        .collect()
}

const LONG_HOLD_IMPLS: [ThreadImpl; 7] = [
    ThreadImpl::CenoteSync,
    ThreadImpl::CenoteAsync,
    ThreadImpl::Card,
    ThreadImpl::ObjectPool,
    ThreadImpl::DeadpoolU,
    ThreadImpl::DeadpoolM,
    ThreadImpl::R2d2,
];

fn run_long_hold(plan: &Plan) -> Vec<Summary> {
    let (threads, objects, hold) = LONG_HOLD;
    progress(&format!("long hold: {threads} threads on {objects} objects, hold {}", fmt_dur(hold)));
    let pools = ThreadPools::new(objects);
    let cfg = RunConfig {
        workers: threads,
        objects,
        duration: plan.long_time,
        hold: Hold::Sleep(hold),
        record_waits: true,
        count_allocs: false,
    };
    rounds(&LONG_HOLD_IMPLS, plan.long_rounds, |which| pools.run(which, &cfg))
}

// ---------------------------------------------------------------------------------------------
// Tokio tasks

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TaskImpl {
    CenoteAsync,
    CenoteAsyncNoTimeout,
    Card,
    DeadpoolU,
    DeadpoolM,
    Bb8,
}

impl TaskImpl {
    const ALL: [Self; 6] = [
        Self::CenoteAsync,
        Self::CenoteAsyncNoTimeout,
        Self::Card,
        Self::DeadpoolU,
        Self::DeadpoolM,
        Self::Bb8,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::CenoteAsync => "cenote_async",
            Self::CenoteAsyncNoTimeout => "cenote_async, no acquire_timeout",
            Self::Card => CARD,
            Self::DeadpoolU => "deadpool 0.13 unmanaged",
            Self::DeadpoolM => "deadpool 0.13 managed",
            Self::Bb8 => "bb8 0.9",
        }
    }
}

/// Every async pool with `n` objects (bb8's built on `rt`).
struct TaskPools {
    cenote_async: Arc<cenote_async::Pool<AsyncNumbers>>,
    cenote_async_nt: Arc<cenote_async::Pool<AsyncNumbers>>,
    card: Arc<CardPool<u64>>,
    deadpool_u: Arc<deadpool::unmanaged::Pool<u64>>,
    deadpool_m: Arc<deadpool::managed::Pool<DeadpoolNumbers>>,
    bb8: Arc<bb8::Pool<Bb8Numbers>>,
}

impl TaskPools {
    fn new(rt: &tokio::runtime::Runtime, n: usize) -> Self {
        Self {
            cenote_async: Arc::new(pools::cenote_async(n)),
            cenote_async_nt: Arc::new(pools::cenote_async_no_timeout(n)),
            card: Arc::new(card::card(n)),
            deadpool_u: Arc::new(pools::deadpool_unmanaged(n)),
            deadpool_m: Arc::new(pools::deadpool_managed(n)),
            bb8: Arc::new(rt.block_on(pools::bb8(n))),
        }
    }

    fn run(&self, rt: &tokio::runtime::Runtime, which: TaskImpl, cfg: &RunConfig) -> RunResult {
        match which {
            TaskImpl::CenoteAsync => work::tokio_tasks_for(rt, &self.cenote_async, cfg),
            TaskImpl::CenoteAsyncNoTimeout => work::tokio_tasks_for(rt, &self.cenote_async_nt, cfg),
            TaskImpl::Card => work::tokio_tasks_for(rt, &self.card, cfg),
            TaskImpl::DeadpoolU => work::tokio_tasks_for(rt, &self.deadpool_u, cfg),
            TaskImpl::DeadpoolM => work::tokio_tasks_for(rt, &self.deadpool_m, cfg),
            TaskImpl::Bb8 => work::tokio_tasks_for(rt, &self.bb8, cfg),
        }
    }
}

fn run_tasks(plan: &Plan, rt: &tokio::runtime::Runtime) -> Vec<Vec<Summary>> {
    TASK_CONFIGS
        .iter()
        .map(|&(tasks, objects)| {
            progress(&format!("tokio ({TOKIO_WORKERS} workers): {tasks} tasks on {objects} objects"));
            let pools = TaskPools::new(rt, objects);
            let untimed = RunConfig {
                workers: tasks,
                objects,
                duration: plan.task_time,
                hold: Hold::Tiny,
                record_waits: false,
                count_allocs: false,
            };
            // Throughput, fairness and CPU from rounds that read no clock per get (two clock
            // reads per operation cost every pool the same ~0.1 µs and pull the ratios towards
            // 1); the wait distribution from separate rounds that time every get.
            let mut summaries =
                rounds(&TaskImpl::ALL, plan.task_rounds, |which| pools.run(rt, which, &untimed));
            let timed = RunConfig { record_waits: true, ..untimed };
            let waits = rounds(&TaskImpl::ALL, plan.task_rounds, |which| pools.run(rt, which, &timed));
            for (summary, timed) in summaries.iter_mut().zip(waits) {
                summary.waits = timed.waits;
            }
            summaries
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Keyed pool: get + drop on a hot key (the pools of `cenote_benches::keyed`)

/// Threads of the keyed threads workload: fewer than the hot key's objects, so that nobody
/// waits (after the warm-up) and the rows measure the lookup and the return, not the wait.
const KEYED_THREADS: usize = 2;
/// Tokio tasks of the keyed tokio workload (on [`TOKIO_WORKERS`] workers): one per object of
/// the hot key, for the same reason.
const KEYED_TASKS: usize = keyed::OBJECTS;

/// The three pools of each keyed workload, in the order of their rows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyedImpl {
    /// One plain pool of the hot key's size.
    Plain,
    /// The keyed pool, asked for the hot key.
    Keyed,
    /// Seed 003's `Mutex<HashMap<K, VecDeque<_>>>` cache, asked for the hot key.
    MutexMap,
}

const KEYED_IMPLS: [KeyedImpl; 3] = [KeyedImpl::Plain, KeyedImpl::Keyed, KeyedImpl::MutexMap];

/// What the keyed section measured: per workload, one result per [`KeyedImpl`], in order.
struct KeyedResults {
    single_sync: Vec<SingleResult>,
    single_async: Vec<SingleResult>,
    threads: Vec<Summary>,
    tokio: Vec<Summary>,
}

fn run_keyed(plan: &Plan, rt: &tokio::runtime::Runtime) -> KeyedResults {
    progress("keyed: 1 thread, hot key");
    let plain = pools::cenote_sync(keyed::OBJECTS);
    let plain_async = Arc::new(pools::cenote_async_no_timeout(keyed::OBJECTS));
    let keyed_sync = keyed::keyed_sync();
    let keyed_async = Arc::new(keyed::keyed_async());
    let cache = Arc::new(keyed::MutexMap::new());
    // Blocking and async in separate sets: each set's rounds interleave its three pools.
    let single_sync = measure_single(
        plan,
        vec![
            ("cenote_sync", Box::new(|ops| work::time_get_drop(&plain, ops))),
            ("keyed sync", Box::new(|ops| work::time_get_drop(&keyed_sync, ops))),
            ("mutex-map", Box::new(|ops| work::time_get_drop(&*cache, ops))),
        ],
    );
    let single_async = measure_single(
        plan,
        vec![
            (
                "cenote_async, no acquire_timeout",
                Box::new(|ops| work::time_get_drop_block_on(&*plain_async, ops)),
            ),
            (
                "keyed async, no acquire_timeout",
                Box::new(|ops| work::time_get_drop_block_on(&*keyed_async, ops)),
            ),
            ("mutex-map", Box::new(|ops| work::time_get_drop_block_on(&*cache, ops))),
        ],
    );

    progress(&format!("keyed: {KEYED_THREADS} threads, hot key"));
    let cfg = RunConfig {
        workers: KEYED_THREADS,
        objects: keyed::OBJECTS,
        duration: plan.thread_time,
        hold: Hold::Tiny,
        record_waits: false,
        count_allocs: false,
    };
    let threads = rounds(&KEYED_IMPLS, plan.thread_rounds, |which| match which {
        KeyedImpl::Plain => work::threads_for(&plain, &cfg),
        KeyedImpl::Keyed => work::threads_for(&keyed_sync, &cfg),
        KeyedImpl::MutexMap => work::threads_for(&*cache, &cfg),
    });

    progress(&format!("keyed: tokio ({TOKIO_WORKERS} workers), {KEYED_TASKS} tasks, hot key"));
    let cfg = RunConfig { workers: KEYED_TASKS, duration: plan.task_time, ..cfg };
    let tokio = rounds(&KEYED_IMPLS, plan.task_rounds, |which| match which {
        KeyedImpl::Plain => work::tokio_tasks_for(rt, &plain_async, &cfg),
        KeyedImpl::Keyed => work::tokio_tasks_for(rt, &keyed_async, &cfg),
        KeyedImpl::MutexMap => work::tokio_tasks_for(rt, &cache, &cfg),
    });
    KeyedResults { single_sync, single_async, threads, tokio }
}

fn report_keyed(out: &mut String, verdicts: &mut Vec<Verdict>, results: &KeyedResults) {
    let _ = writeln!(
        out,
        "## Keyed pool: get + drop on a hot key
"
    );
    let _ = writeln!(
        out,
        "The keyed pool holds {} keys of {} idle objects each and every get asks for key {}; the \
         plain pool is one pool of {} objects (what the keyed pool would be with one key); \
         mutex-map is seed 003's cache, one `Mutex<HashMap<K, VecDeque<_>>>` for all keys (no \
         cap, no waiting: an empty queue is retried). {KEYED_THREADS} threads and {KEYED_TASKS} \
         tokio tasks never wait (no more of them than objects). Cost ratios are medians of \
         per-round ratios (time per op, or inverse throughput): below 1 means cheaper than the \
         column's pool. Fairness: the fewest operations by one thread or task ÷ the mean (a \
         mutex lets the thread that holds it take it again at once, which is fast and unfair).\n",
        keyed::KEYS,
        keyed::OBJECTS,
        keyed::HOT,
        keyed::OBJECTS
    );
    let _ = writeln!(
        out,
        "| workload | cenote plain | cenote-keyed | mutex-map | keyed ÷ plain | keyed ÷ mutex-map |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|");
    // Per workload: the three pools' cost per round (ns/op, or s per Mop) and a cell each.
    let single = |r: &[SingleResult]| -> (Vec<Vec<f64>>, Vec<String>) {
        (
            r.iter().map(|x| x.ns.clone()).collect(),
            r.iter().map(|x| format!("{:.1} ns", median(&x.ns))).collect(),
        )
    };
    let throughput = |r: &[Summary]| -> (Vec<Vec<f64>>, Vec<String>) {
        (
            r.iter().map(|x| x.round_ops.iter().map(|ops| 1e6 / ops).collect()).collect(),
            r.iter()
                .map(|x| format!("{} Mops/s (fairness {:.2})", fmt_mops(x.ops_per_sec), x.fairness))
                .collect(),
        )
    };
    let rows = [
        ("1 thread, blocking get", single(&results.single_sync)),
        ("1 thread, async get (block_on, no acquire_timeout)", single(&results.single_async)),
        (&*format!("{KEYED_THREADS} threads, blocking get"), throughput(&results.threads)),
        (&*format!("tokio, {KEYED_TASKS} tasks"), throughput(&results.tokio)),
    ];
    for (name, (cost, cells)) in &rows {
        let (vs_plain, vs_map) = (paired_ratio(&cost[1], &cost[0]), paired_ratio(&cost[1], &cost[2]));
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {vs_plain:.2}× | {vs_map:.2}× |",
            cells[0], cells[1], cells[2]
        );
        verdicts.push(verdict(
            vs_plain <= 1.5,
            format!(
                "keyed hot key, {name}: keyed ≤ 1.5× plain pool: {vs_plain:.2}× ({} vs {})",
                cells[1], cells[0]
            ),
        ));
        verdicts.push(verdict(
            vs_map < 1.0,
            format!(
                "keyed hot key, {name}: keyed ahead of mutex-map: {vs_map:.2}× its cost ({} vs {})",
                cells[1], cells[2]
            ),
        ));
    }
    let _ = writeln!(out);
}

// ---------------------------------------------------------------------------------------------
// Allocations per operation

struct AllocRow {
    name: &'static str,
    /// 1 thread get+drop; 16 threads on 4 objects; tokio 64 tasks on 8 objects.
    cells: [Option<(AllocStats, u64)>; 3],
}

fn per_op((stats, ops): (AllocStats, u64)) -> f64 {
    stats.allocs as f64 / ops.max(1) as f64
}

fn run_allocs(plan: &Plan, rt: &tokio::runtime::Runtime) -> Vec<AllocRow> {
    progress("allocations per operation");
    const OPS: u64 = 100_000;
    let single = |f: &mut dyn FnMut(u64)| {
        f(1_000);
        let ((), stats) = alloc::count(|| f(OPS));
        Some((stats, OPS))
    };
    let threads_cfg = RunConfig {
        workers: 16,
        objects: 4,
        duration: plan.alloc_time,
        hold: Hold::Tiny,
        record_waits: false,
        count_allocs: true,
    };
    let tasks_cfg = RunConfig { workers: 64, objects: 8, record_waits: true, ..threads_cfg };
    let of = |r: RunResult| r.allocs.map(|a| (a, r.ops()));

    let tp1 = ThreadPools::new(4);
    let tp = ThreadPools::new(4);
    let ap = TaskPools::new(rt, 8);
    let rt1 = work::tokio_current_thread();
    let bb8_1 = rt1.block_on(pools::bb8(4));

    let mut rows = Vec::new();
    for which in ThreadImpl::ALL
        .into_iter()
        .filter(|&w| !matches!(w, ThreadImpl::NoPool | ThreadImpl::CenoteSyncMetrics))
    {
        let one = match which {
            ThreadImpl::NoPool | ThreadImpl::CenoteSyncMetrics => None,
            ThreadImpl::Floor => single(&mut |n| work::get_drop_loop(&tp1.floor, n)),
            ThreadImpl::CenoteSync => single(&mut |n| work::get_drop_loop(&tp1.cenote_sync, n)),
            ThreadImpl::CenoteAsync => single(&mut |n| {
                futures_lite::future::block_on(work::get_drop_loop_async(&tp1.cenote_async.0, n));
            }),
            ThreadImpl::Card => single(&mut |n| work::get_drop_loop(&tp1.card, n)),
            ThreadImpl::ObjectPool => single(&mut |n| work::get_drop_loop(&tp1.object_pool, n)),
            ThreadImpl::DeadpoolU => single(&mut |n| {
                futures_lite::future::block_on(work::get_drop_loop_async(&tp1.deadpool_u.0, n));
            }),
            ThreadImpl::DeadpoolM => single(&mut |n| {
                futures_lite::future::block_on(work::get_drop_loop_async(&tp1.deadpool_m.0, n));
            }),
            ThreadImpl::R2d2 => single(&mut |n| work::get_drop_loop(&tp1.r2d2, n)),
        };
        let threads = of(tp.run(which, &threads_cfg));
        let tasks = match which {
            ThreadImpl::CenoteAsync => of(ap.run(rt, TaskImpl::CenoteAsync, &tasks_cfg)),
            ThreadImpl::Card => of(ap.run(rt, TaskImpl::Card, &tasks_cfg)),
            ThreadImpl::DeadpoolU => of(ap.run(rt, TaskImpl::DeadpoolU, &tasks_cfg)),
            ThreadImpl::DeadpoolM => of(ap.run(rt, TaskImpl::DeadpoolM, &tasks_cfg)),
            _ => None,
        };
        rows.push(AllocRow { name: which.name(), cells: [one, threads, tasks] });
    }
    let one = single(&mut |n| {
        rt1.block_on(work::get_drop_loop_async(&bb8_1, n));
    });
    let tasks = of(ap.run(rt, TaskImpl::Bb8, &tasks_cfg));
    rows.push(AllocRow { name: TaskImpl::Bb8.name(), cells: [one, None, tasks] });
    rows
}

// ---------------------------------------------------------------------------------------------
// Memory: heap bytes held by a pool of n u64 objects

struct MemRow {
    name: &'static str,
    /// Net heap bytes after build, and after build + creating all objects, for 16 and 1024.
    built: [i64; 2],
    filled: [i64; 2],
}

const MEM_SIZES: [usize; 2] = [16, 1024];

fn measure_mem<P>(build: impl Fn(usize) -> P, fill: impl Fn(usize) -> P) -> ([i64; 2], [i64; 2]) {
    let mut built = [0; 2];
    let mut filled = [0; 2];
    for (k, &n) in MEM_SIZES.iter().enumerate() {
        let (pool, stats) = alloc::count(|| build(n));
        built[k] = stats.net();
        drop(pool);
        // Let background threads of the dropped pool (r2d2's, bb8's tasks) wind down, so
        // that their frees do not land in the next window.
        std::thread::sleep(Duration::from_millis(50));
        let (pool, stats) = alloc::count(|| fill(n));
        filled[k] = stats.net();
        drop(pool);
        std::thread::sleep(Duration::from_millis(50));
    }
    (built, filled)
}

fn run_memory() -> Vec<MemRow> {
    progress("memory");
    let mut rows = Vec::new();
    let mut push = |name, (built, filled)| rows.push(MemRow { name, built, filled });
    push("floor (ArrayQueue)", measure_mem(pools::floor, pools::floor));
    push("cenote_sync", measure_mem(|n| cenote_sync::Pool::new(SyncNumbers, n), pools::cenote_sync));
    push("cenote_async", measure_mem(|n| cenote_async::Pool::new(AsyncNumbers, n), pools::cenote_async));
    push(CARD, measure_mem(card::card_empty, card::card));
    push("object-pool 0.6", measure_mem(pools::object_pool, pools::object_pool));
    push("deadpool 0.13 unmanaged", measure_mem(pools::deadpool_unmanaged, pools::deadpool_unmanaged));
    push(
        "deadpool 0.13 managed",
        measure_mem(
            |n| match deadpool::managed::Pool::builder(DeadpoolNumbers).max_size(n).build() {
                Ok(p) => p,
                Err(e) => panic!("{e}"),
            },
            pools::deadpool_managed,
        ),
    );
    push("r2d2 0.8", measure_mem(pools::r2d2, pools::r2d2));
    let rt = work::tokio_current_thread();
    push(
        "bb8 0.9",
        measure_mem(
            |n| {
                let size = u32::try_from(n).unwrap_or(u32::MAX);
                rt.block_on(async {
                    match bb8::Pool::builder().max_size(size).min_idle(Some(0)).build(Bb8Numbers).await {
                        Ok(p) => p,
                        Err(e) => match e {},
                    }
                })
            },
            |n| rt.block_on(pools::bb8(n)),
        ),
    );
    rows
}

// ---------------------------------------------------------------------------------------------
// Report

const SECTIONS: [&str; 10] = [
    "memory",
    "single",
    "contended",
    "long",
    "tokio",
    "keyed",
    "sharded",
    "allocs",
    "instructions",
    "priority",
];

const USAGE: &str = "usage: table [--quick] [--only SECTION[,SECTION...]]
  --quick  fewer and shorter rounds (about 30-60 s instead of about 2-3 minutes)
  --only   run only these sections: memory, single, contended, long, tokio, keyed, sharded,
           allocs, instructions, priority (keyed: the keyed pool's hot key against the plain
           pool and a mutex-map cache; sharded: the sharded pool against the plain pool at 2,
           4 and 16 threads; instructions: callgrind counts, needs valgrind and the profile
           binary built; priority: get_with by class and the reserve, against plain get)";

fn parse_args() -> Result<(Plan, Vec<&'static str>), String> {
    let mut quick = false;
    let mut only: Option<Vec<&'static str>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => {
                let list = args.next().ok_or("--only needs a list of sections")?;
                let mut chosen = Vec::new();
                for name in list.split(',') {
                    let section = SECTIONS
                        .iter()
                        .find(|s| **s == name)
                        .ok_or_else(|| format!("unknown section {name:?}"))?;
                    chosen.push(*section);
                }
                only = Some(chosen);
            }
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok((Plan::new(quick), only.unwrap_or_else(|| SECTIONS.to_vec())))
}

fn main() {
    let (plan, sections) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runs = |s: &str| sections.contains(&s);
    assert!(alloc::installed(), "the counting allocator is not installed");
    progress(if plan.quick { "quick run" } else { "full run" });
    let started = Instant::now();
    let load_before = sys::load_average();

    let memory = runs("memory").then(run_memory);
    let single = runs("single").then(|| {
        progress("single thread");
        run_single(&plan)
    });
    let contended = runs("contended").then(|| run_contended(&plan));
    let long = runs("long").then(|| run_long_hold(&plan));
    let rt = work::tokio_runtime(TOKIO_WORKERS);
    let tasks = runs("tokio").then(|| run_tasks(&plan, &rt));
    let keyed = runs("keyed").then(|| run_keyed(&plan, &rt));
    let sharded = runs("sharded").then(|| sharded::run(&plan));
    let allocs = runs("allocs").then(|| run_allocs(&plan, &rt));
    drop(rt);
    let instructions = runs("instructions").then(|| cenote_benches::instructions::count_all(progress));
    let priority = runs("priority").then(|| {
        progress("priority");
        cenote_benches::priority::run(plan.quick)
    });
    progress("done");

    let mut out = String::new();
    let mut verdicts = Vec::new();
    report_header(&mut out, &plan, started.elapsed(), &load_before);
    if let Some(single) = &single {
        report_single(&mut out, &mut verdicts, single);
    }
    if let Some(contended) = &contended {
        report_contended(&mut out, &mut verdicts, contended);
    }
    if let Some(long) = &long {
        report_long(&mut out, &mut verdicts, long);
    }
    if let Some(tasks) = &tasks {
        report_tasks(&mut out, &mut verdicts, tasks);
    }
    if let Some(keyed) = &keyed {
        report_keyed(&mut out, &mut verdicts, keyed);
    }
    if let Some(sharded) = &sharded {
        sharded::report(&mut out, &mut verdicts, sharded);
    }
    if let Some(allocs) = &allocs {
        report_allocs(&mut out, &mut verdicts, allocs);
    }
    if let Some(memory) = &memory {
        report_memory(&mut out, memory);
    }
    if let Some(counts) = &instructions {
        let (text, targets) = cenote_benches::instructions::report(counts);
        out.push_str(&text);
        verdicts.extend(targets.into_iter().map(|(met, text)| verdict(met, text)));
    }

    if let Some(priority) = &priority {
        out.push_str(&cenote_benches::priority::report(priority));
    }

    let met = verdicts.iter().filter(|v| v.met).count();
    let _ = writeln!(out, "## Targets: {met} of {} met\n", verdicts.len());
    for v in &verdicts {
        let _ = writeln!(out, "- **{}** {}", if v.met { "MET" } else { "NOT MET" }, v.text);
    }
    print!("{out}");
}

fn report_header(out: &mut String, plan: &Plan, took: Duration, load_before: &str) {
    let _ = writeln!(out, "# cenote vs its floor and peers\n");
    let _ = writeln!(
        out,
        "- machine: {} CPUs (nproc), {}; load average before the run: {}, after: {}\n- date: {}\n- run: {} (took {:.0} s); medians of {} rounds \
         (single thread), {} × {} ms (contended threads), {} × {} ms (long hold), {} × {} ms \
         (tokio); pools built and filled before every measured window\n- objects are `u64`; \
         managers are trivial (create and checks return at once); `(block_on)` = a bare \
         `futures_lite::future::block_on` per get\n",
        sys::nproc(),
        sys::cpu_model(),
        load_before,
        sys::load_average(),
        sys::utc_now(),
        if plan.quick { "`--quick`" } else { "full" },
        took.as_secs_f64(),
        plan.single_rounds,
        plan.thread_rounds,
        plan.thread_time.as_millis(),
        plan.long_rounds,
        plan.long_time.as_millis(),
        plan.task_rounds,
        plan.task_time.as_millis(),
    );
}

fn report_single(out: &mut String, verdicts: &mut Vec<Verdict>, single: &[SingleResult]) {
    let rounds = |name: &str| single.iter().find(|r| r.name.starts_with(name)).map_or(&[][..], |r| &r.ns[..]);
    let floor = rounds("floor");
    let sync = rounds("cenote_sync");
    let asyn = rounds("cenote_async (block_on)");
    let _ = writeln!(out, "## 1 thread: get + drop of an idle object\n");
    let _ = writeln!(
        out,
        "Ratios are medians of per-round ratios (each round measures every pool once, back to \
         back), so that a slow spell of the machine cancels out.\n"
    );
    let _ = writeln!(
        out,
        "| pool | ns/op (median) | ns/op (best) | ÷ floor | cenote_sync ÷ this | cenote_async ÷ this |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|");
    for r in single {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.2}× | {:.2} | {:.2} |",
            r.name,
            median(&r.ns),
            min(&r.ns),
            paired_ratio(&r.ns, floor),
            paired_ratio(sync, &r.ns),
            paired_ratio(asyn, &r.ns)
        );
    }
    let _ = writeln!(out, "\n(time ratios: below 1 means cenote is faster)\n");
    for (name, ours) in [("cenote_sync", sync), ("cenote_async (block_on)", asyn)] {
        let ratio = paired_ratio(ours, floor);
        verdicts.push(verdict(
            ratio <= 1.4,
            format!(
                "1 thread get+drop, {name} ≤ 1.4× floor: {ratio:.2}× ({:.1} ns vs {:.1} ns; best rounds \
                 {:.1} vs {:.1} ns)",
                median(ours),
                median(floor),
                min(ours),
                min(floor)
            ),
        ));
    }
}

fn report_contended(out: &mut String, verdicts: &mut Vec<Verdict>, contended: &[Vec<Summary>]) {
    let _ = writeln!(out, "## Threads on a few objects: get + tiny work + drop\n");
    let _ = writeln!(
        out,
        "Throughput in Mops/s (all threads together), per-thread fairness (fewest ops by one \
         thread ÷ mean) in brackets. The first row shares nothing: its fairness is what the OS \
         scheduler gives on this machine at this moment, the ceiling for every pool. With more \
         threads than CPUs, contended figures swing with other load on the machine.\n"
    );
    let mut header = "| pool |".to_owned();
    let mut rule = "|---|".to_owned();
    for (t, o) in THREAD_CONFIGS {
        let _ = write!(header, " {t} threads / {o} objects |");
        rule.push_str("--:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (i, which) in ThreadImpl::ALL.iter().enumerate() {
        let mut row = format!("| {} |", which.name());
        for cfg in contended {
            let s = &cfg[i];
            let _ = write!(row, " {} ({:.2}) |", fmt_mops(s.ops_per_sec), s.fairness);
        }
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(
        out,
        "\nThroughput ratios, cenote_sync ÷ this, median of per-round ratios (above 1 means cenote \
         is faster):\n"
    );
    let _ = writeln!(out, "{header}\n{rule}");
    let find = |w: ThreadImpl| ThreadImpl::ALL.iter().position(|&x| x == w).unwrap_or(0);
    let sync_i = find(ThreadImpl::CenoteSync);
    for (i, which) in ThreadImpl::ALL.iter().enumerate() {
        if i == sync_i || *which == ThreadImpl::NoPool {
            continue;
        }
        let mut row = format!("| {} |", which.name());
        for cfg in contended {
            let _ = write!(row, " {:.2} |", paired_ratio(&cfg[sync_i].round_ops, &cfg[i].round_ops));
        }
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(out);
    for ((t, o), cfg) in THREAD_CONFIGS.iter().zip(contended) {
        let baseline = cfg[find(ThreadImpl::NoPool)].fairness;
        let ours = &cfg[find(ThreadImpl::CenoteSync)];
        let op = &cfg[find(ThreadImpl::ObjectPool)];
        let r2 = &cfg[find(ThreadImpl::R2d2)];
        let read = &cfg[find(ThreadImpl::CenoteSyncMetrics)];
        let w = format!("{t} threads on {o} objects");
        let with_reads = paired_ratio(&read.round_ops, &ours.round_ops);
        verdicts.push(verdict(
            with_reads >= 0.95,
            format!(
                "{w}, cenote_sync with metrics() read every 1 ms ≥ 0.95× without: {with_reads:.2}× ({} vs {} Mops/s)",
                fmt_mops(read.ops_per_sec),
                fmt_mops(ours.ops_per_sec),
            ),
        ));
        let vs_op = paired_ratio(&ours.round_ops, &op.round_ops);
        verdicts.push(verdict(
            vs_op >= 1.0,
            format!(
                "{w}, cenote_sync ≥ object-pool: {vs_op:.2}× ({} vs {} Mops/s)",
                fmt_mops(ours.ops_per_sec),
                fmt_mops(op.ops_per_sec),
            ),
        ));
        let vs_r2 = paired_ratio(&ours.round_ops, &r2.round_ops);
        verdicts.push(verdict(
            vs_r2 >= 5.0,
            format!(
                "{w}, cenote_sync ≥ 5× r2d2: {vs_r2:.2}× ({} vs {} Mops/s)",
                fmt_mops(ours.ops_per_sec),
                fmt_mops(r2.ops_per_sec)
            ),
        ));
        verdicts.push(verdict(
            ours.fairness >= 0.8,
            format!(
                "{w}, cenote_sync per-thread fairness ≥ 0.8: {:.2} (no pool at all, same run: {baseline:.2})",
                ours.fairness
            ),
        ));
    }
}

fn wait_cells(h: &Histogram) -> String {
    format!(
        "{} | {} | {} | {}",
        fmt_dur(h.quantile(0.5)),
        fmt_dur(h.quantile(0.99)),
        fmt_dur(h.quantile(0.999)),
        fmt_dur(h.max())
    )
}

fn report_long(out: &mut String, verdicts: &mut Vec<Verdict>, long: &[Summary]) {
    let (threads, objects, hold) = LONG_HOLD;
    let _ = writeln!(
        out,
        "## Long hold: {threads} threads on {objects} objects, each holder sleeps {}\n",
        fmt_dur(hold)
    );
    let _ = writeln!(out, "CPU = user + system time of the whole process (getrusage) ÷ operations.\n");
    let _ = writeln!(
        out,
        "| pool | kops/s | CPU µs/op | CPU ÷ r2d2's | fairness | wait p50 | p99 | p99.9 | max |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    let r2_i = LONG_HOLD_IMPLS.iter().position(|&w| w == ThreadImpl::R2d2).unwrap_or(0);
    let r2 = &long[r2_i];
    for (which, s) in LONG_HOLD_IMPLS.iter().zip(long) {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
            which.name(),
            s.ops_per_sec / 1e3,
            s.cpu_per_op.as_secs_f64() * 1e6,
            paired_ratio(&s.round_cpu, &r2.round_cpu),
            s.fairness,
            wait_cells(&s.waits)
        );
    }
    let _ = writeln!(out);
    if let Some(i) = LONG_HOLD_IMPLS.iter().position(|&w| w == ThreadImpl::CenoteSync) {
        let ratio = paired_ratio(&long[i].round_cpu, &r2.round_cpu);
        verdicts.push(verdict(
            ratio <= 1.2,
            format!(
                "long hold, cenote_sync CPU/op ≤ 1.2× r2d2's: {ratio:.2}× ({:.2} vs {:.2} µs/op)",
                long[i].cpu_per_op.as_secs_f64() * 1e6,
                r2.cpu_per_op.as_secs_f64() * 1e6
            ),
        ));
    }
}

fn report_tasks(out: &mut String, verdicts: &mut Vec<Verdict>, tasks: &[Vec<Summary>]) {
    let _ = writeln!(
        out,
        "## Async on tokio ({TOKIO_WORKERS} worker threads): get + tiny work + one yield while holding + drop\n\n\
         Mops/s, fairness and CPU from rounds that read no clock per get; the waits from as many \
         rounds again that time every get.\n"
    );
    let find = |w: TaskImpl| TaskImpl::ALL.iter().position(|&x| x == w).unwrap_or(0);
    for (&(n_tasks, objects), cfg) in TASK_CONFIGS.iter().zip(tasks) {
        let _ = writeln!(out, "### {n_tasks} tasks on {objects} objects\n");
        let _ = writeln!(
            out,
            "| pool | Mops/s | rounds: slowest–fastest | cenote ÷ this | per-task fairness | wait p50 | p99 | p99.9 | max | CPU µs/op |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        let ours = &cfg[find(TaskImpl::CenoteAsync)];
        for (which, s) in TaskImpl::ALL.iter().zip(cfg) {
            let _ = writeln!(
                out,
                "| {} | {} | {}–{} | {:.2} | {:.2} | {} | {:.2} |",
                which.name(),
                fmt_mops(s.ops_per_sec),
                fmt_mops(min(&s.round_ops)),
                fmt_mops(s.round_ops.iter().copied().fold(0.0, f64::max)),
                paired_ratio(&ours.round_ops, &s.round_ops),
                s.fairness,
                wait_cells(&s.waits),
                s.cpu_per_op.as_secs_f64() * 1e6
            );
        }
        let _ = writeln!(out);
        let du = &cfg[find(TaskImpl::DeadpoolU)];
        let dm = &cfg[find(TaskImpl::DeadpoolM)];
        let best: Vec<f64> = du.round_ops.iter().zip(&dm.round_ops).map(|(a, b)| a.max(*b)).collect();
        let ratio = paired_ratio(&ours.round_ops, &best);
        let w = format!("tokio {n_tasks} tasks on {objects} objects");
        verdicts.push(verdict(
            ratio >= 1.5,
            format!(
                "{w}, cenote_async ≥ 1.5× deadpool (the faster of unmanaged/managed, per round): \
                 {ratio:.2}× ({} vs {} / {} Mops/s)",
                fmt_mops(ours.ops_per_sec),
                fmt_mops(du.ops_per_sec),
                fmt_mops(dm.ops_per_sec)
            ),
        ));
        verdicts.push(verdict(
            ours.fairness >= 0.9,
            format!("{w}, cenote_async per-task fairness ≥ 0.9: {:.2}", ours.fairness),
        ));
        let ours_p = ours.waits.quantile(0.999);
        let best_p = du.waits.quantile(0.999).min(dm.waits.quantile(0.999));
        verdicts.push(verdict(
            ours_p <= best_p,
            format!(
                "{w}, cenote_async p99.9 wait ≤ deadpool's (the lower of the two): {} vs {}",
                fmt_dur(ours_p),
                fmt_dur(best_p)
            ),
        ));
    }
}

fn report_allocs(out: &mut String, verdicts: &mut Vec<Verdict>, rows: &[AllocRow]) {
    const COLS: [&str; 3] = ["1 thread get+drop", "16 threads / 4 objects", "tokio 64 tasks / 8 objects"];
    let _ = writeln!(out, "## Heap allocations per operation (counting global allocator)\n");
    let _ = writeln!(
        out,
        "Steady state: counted over 100 000 gets on one thread, or a fixed-duration window of \
         threads or tasks, after every thread has warmed up and waited once (so that \
         once-per-thread lazy state a pool makes on a thread's first blocking wait is made \
         then).\n"
    );
    let _ = writeln!(out, "| pool | {} |", COLS.join(" | "));
    let _ = writeln!(out, "|---|--:|--:|--:|");
    for row in rows {
        let cells: Vec<String> =
            row.cells.iter().map(|c| c.map_or_else(|| "—".to_owned(), |c| fmt_allocs(per_op(c)))).collect();
        let _ = writeln!(out, "| {} | {} |", row.name, cells.join(" | "));
    }
    let _ = writeln!(out);
    for row in rows.iter().filter(|r| r.name.starts_with("cenote")) {
        for (col, cell) in COLS.iter().zip(row.cells) {
            if let Some((stats, ops)) = cell {
                verdicts.push(verdict(
                    stats.allocs == 0,
                    format!("0 allocations per op, {} ({col}): {} in {ops} ops", row.name, stats.allocs),
                ));
            }
        }
    }
}

fn report_memory(out: &mut String, rows: &[MemRow]) {
    let [a, b] = MEM_SIZES;
    let _ = writeln!(out, "## Memory: heap bytes held by a pool of `u64`s\n");
    let _ = writeln!(
        out,
        "Net bytes allocated (and not freed) by building the pool, then by building and creating \
         every object. Per slot = (filled {b} − filled {a}) ÷ {}; fixed = filled {a} − {a} × per \
         slot. Thread stacks (r2d2's workers) are not heap and are not counted.\n",
        b - a
    );
    let _ = writeln!(
        out,
        "| pool | built, {a} | filled, {a} | built, {b} | filled, {b} | bytes per slot | fixed bytes |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|");
    for row in rows {
        let per_slot = (row.filled[1] - row.filled[0]) as f64 / (b - a) as f64;
        let fixed = row.filled[0] as f64 - a as f64 * per_slot;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {per_slot:.1} | {fixed:.0} |",
            row.name, row.built[0], row.filled[0], row.built[1], row.filled[1]
        );
    }
    let _ = writeln!(out);
}

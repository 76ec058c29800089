//! The `priority` section of the table: what priority gets cost and what they buy.
//!
//! * One thread, an idle object: `get` on a plain pool (the hot path), `get_with(High)` on
//!   it, and both on a pool with `reserve(1)` (where a `Normal` get takes, then checks the
//!   reserve, lock-free, and a `High` one runs the plain hot path).
//! * Contended: threads of mixed classes (High, Normal, Low, Normal, ...) on fewer objects
//!   than threads, against the same threads all calling plain `get`: total throughput, and
//!   each class's share of the gets and its longest wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use cenote_sync::{Pool, Priority};

use crate::managers::SyncNumbers;

/// One single-thread row: a name and ns per get + drop (median of rounds).
#[derive(Debug, Clone)]
pub struct SingleRow {
    /// What was measured.
    pub name: &'static str,
    /// Median ns per get + drop.
    pub ns: f64,
}

/// One contended row.
#[derive(Debug, Clone)]
pub struct ContendedRow {
    /// What was measured.
    pub name: &'static str,
    /// Gets per second, all threads.
    pub ops_per_sec: f64,
    /// Per class (High, Normal, Low): gets per thread of that class, and the longest wait.
    pub classes: [(f64, Duration); 3],
}

/// Everything the section measured.
#[derive(Debug, Clone)]
pub struct PriorityResult {
    /// One thread, idle object.
    pub single: Vec<SingleRow>,
    /// Threads on fewer objects.
    pub contended: Vec<ContendedRow>,
    /// Threads and objects of the contended rows.
    pub threads: usize,
    /// Objects in the contended rows.
    pub objects: usize,
}

fn pool(max: usize, reserve: usize) -> Pool<SyncNumbers> {
    let pool = match Pool::builder(SyncNumbers).max_size(max).reserve(reserve).build() {
        Ok(pool) => pool,
        Err(e) => panic!("priority bench build: {e}"),
    };
    let held: Vec<_> = (0..max).map(|_| pool.get_with(Priority::High).expect("room")).collect();
    drop(held);
    pool
}

fn get_drop<F>(pool: &Pool<SyncNumbers>, ops: u64, get: F) -> Duration
where
    F: Fn(
        &Pool<SyncNumbers>,
    ) -> Result<cenote_sync::Pooled<SyncNumbers>, cenote_sync::Error<std::convert::Infallible>>,
{
    let start = Instant::now();
    for _ in 0..ops {
        drop(std::hint::black_box(get(pool).expect("an idle object")));
    }
    start.elapsed()
}

/// One single-thread case: `get` (Normal) or `get_with(High)`, each its own loop.
fn case(pool: &Pool<SyncNumbers>, high: bool, ops: u64) -> Duration {
    if high {
        get_drop(pool, ops, |p| p.get_with(Priority::High))
    } else {
        get_drop(pool, ops, Pool::get)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The class of contended thread `i`: High, Normal, Low, Normal, High, ...
fn class_of(i: usize) -> Priority {
    [Priority::High, Priority::Normal, Priority::Low, Priority::Normal][i % 4]
}

fn contended(
    pool: &Pool<SyncNumbers>,
    threads: usize,
    mixed: bool,
    time: Duration,
) -> (f64, [(f64, Duration); 3]) {
    let barrier = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let results: Vec<(Priority, u64, Duration)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, stop) = (&barrier, &stop);
                s.spawn(move || {
                    let class = if mixed { class_of(i) } else { Priority::Normal };
                    let (mut ops, mut longest) = (0u64, Duration::ZERO);
                    barrier.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        let got = if mixed { pool.get_with(class) } else { pool.get() };
                        longest = longest.max(start.elapsed());
                        let conn = got.expect("served within acquire_timeout");
                        // Hold it for a moment of work.
                        for _ in 0..200 {
                            std::hint::black_box(&conn);
                        }
                        drop(conn);
                        ops += 1;
                    }
                    (class, ops, longest)
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(time);
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().map(|w| w.join().expect("worker")).collect()
    });
    let total: u64 = results.iter().map(|r| r.1).sum();
    let mut classes = [(0.0, Duration::ZERO); 3];
    for (i, class) in [Priority::High, Priority::Normal, Priority::Low].into_iter().enumerate() {
        let of: Vec<_> = results.iter().filter(|r| r.0 == class).collect();
        if !of.is_empty() {
            classes[i] = (
                of.iter().map(|r| r.1 as f64).sum::<f64>() / of.len() as f64,
                of.iter().map(|r| r.2).max().unwrap_or_default(),
            );
        }
    }
    (total as f64 / time.as_secs_f64(), classes)
}

/// Runs the section: `quick` for shorter windows.
pub fn run(quick: bool) -> PriorityResult {
    let (rounds, ops, window) =
        if quick { (5, 200_000, Duration::from_millis(300)) } else { (9, 1_000_000, Duration::from_secs(1)) };
    let plain = pool(4, 0);
    let reserved = pool(4, 1);
    let cases: [(&'static str, &Pool<SyncNumbers>, bool); 4] = [
        ("get (plain pool)", &plain, false),
        ("get_with(High) (plain pool)", &plain, true),
        ("get = Normal (reserve 1)", &reserved, false),
        ("get_with(High) (reserve 1)", &reserved, true),
    ];
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (_, pool, high)) in cases.iter().enumerate() {
            ns[i].push(case(pool, *high, ops).as_nanos() as f64 / ops as f64);
        }
    }
    let single = cases.iter().zip(ns).map(|((name, _, _), ns)| SingleRow { name, ns: median(ns) }).collect();
    let (threads, objects) = (4, 2);
    let mut rows = Vec::new();
    for (name, reserve, mixed) in
        [("all plain get", 0, false), ("mixed classes", 0, true), ("mixed classes, reserve 1", 1, true)]
    {
        let pool = pool(objects, reserve);
        let (ops_per_sec, classes) = contended(&pool, threads, mixed, window);
        rows.push(ContendedRow { name, ops_per_sec, classes });
    }
    PriorityResult { single, contended: rows, threads, objects }
}

/// The section as markdown.
pub fn report(r: &PriorityResult) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "## Priority gets (cenote-sync)\n");
    let _ = writeln!(out, "1 thread, get + drop of an idle object (median ns/op):\n");
    let _ = writeln!(out, "| get | ns/op | ÷ plain get |\n|---|--:|--:|");
    let base = r.single.first().map_or(1.0, |row| row.ns);
    for row in &r.single {
        let _ = writeln!(out, "| {} | {:.1} | {:.2} |", row.name, row.ns, row.ns / base);
    }
    let _ = writeln!(
        out,
        "\n{} threads on {} objects (classes High, Normal, Low, Normal by thread): gets per second, \
         gets per thread of each class and its longest wait:\n",
        r.threads, r.objects
    );
    let _ = writeln!(
        out,
        "| workload | gets/s | High: gets/thread, longest wait | Normal | Low |\n|---|--:|--:|--:|--:|"
    );
    for row in &r.contended {
        let cell = |(ops, wait): (f64, Duration)| {
            if ops == 0.0 {
                "-".to_string()
            } else {
                format!("{ops:.0}, {:.2} ms", wait.as_secs_f64() * 1e3)
            }
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {} | {} |",
            row.name,
            row.ops_per_sec,
            cell(row.classes[0]),
            cell(row.classes[1]),
            cell(row.classes[2])
        );
    }
    out.push('\n');
    out
}

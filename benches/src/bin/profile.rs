//! Runs one pool on one workload for a while, for a profiler to watch (`perf record`,
//! `valgrind --tool=callgrind`). Prints what it measured.
//!
//! ```text
//! cargo build --release -p cenote-benches --bin profile
//! perf record -g target/release/profile tokio cenote 64 8 5
//! ```
//!
//! Workloads: `tokio POOL TASKS OBJECTS SECONDS` (POOL: cenote, cenote-nt, card, deadpool),
//! `threads POOL THREADS OBJECTS SECONDS` (POOL: cenote, async, card, object-pool, r2d2),
//! `single POOL SECONDS` (POOL: cenote, async, cenote-maintained and async-maintained (the
//! same with `min_idle` set and the background maintenance thread on), card, card-async,
//! floor, floor-async: the floor's
//! pop + push awaited under one `block_on`, what the async harness itself costs). `card` is the
//! pool built as the design card says (`cenote_benches::card`): blocking `get`, or awaited in
//! tokio; `card-async` awaits it under one `block_on`. The keyed pool's hot key
//! (`cenote_benches::keyed`): `keyed`, `keyed-async` (under one `block_on`, no
//! `acquire_timeout`; compare with `async-nt`, the plain async pool without one) and
//! `mutex-map` (seed 003's `Mutex<HashMap<K, VecDeque<_>>>` cache).
//! `PROFILE_OPS=N` sets the single-thread operation count (default 50 M per second asked for);
//! `PROFILE_OPS=0` builds and fills the pool and does nothing else, for subtracting start-up
//! from an instruction count.
//! `PROFILE_NO_WAITS=1` skips timing each wait (two clock reads per operation);
//! `PROFILE_PER_WORKER=1` also prints each worker's operation count.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use cenote_benches::pools::{self, BlockOn};
use cenote_benches::work::{self, Hold, RunConfig, RunResult};
use cenote_benches::{card, keyed};

fn report(what: &str, r: &RunResult) {
    println!(
        "{what}: {:.2} Mops/s, fairness {:.2}, CPU {:.2} µs/op, wait p50 {:?} p99.9 {:?}",
        r.ops_per_sec() / 1e6,
        r.fairness(),
        r.cpu_per_op().as_secs_f64() * 1e6,
        r.waits.quantile(0.5),
        r.waits.quantile(0.999),
    );
    if std::env::var_os("PROFILE_PER_WORKER").is_some() {
        let mut per = r.per_worker.clone();
        per.sort_unstable();
        println!("  ops per worker, fewest first: {per:?}");
    }
}

/// `workers` on `objects` for `secs` seconds, tiny work, every wait timed (unless
/// `PROFILE_NO_WAITS` is set: then no clock is read per get).
fn config(workers: usize, objects: usize, secs: u64) -> RunConfig {
    RunConfig {
        workers,
        objects,
        duration: Duration::from_secs(secs),
        hold: Hold::Tiny,
        record_waits: std::env::var_os("PROFILE_NO_WAITS").is_none(),
        count_allocs: false,
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let num = |i: usize| -> Result<u64, String> {
        args.get(i).ok_or("missing argument")?.parse::<u64>().map_err(|e| e.to_string())
    };
    let kind = args.first().map(String::as_str).unwrap_or("");
    let pool = args.get(1).map(String::as_str).unwrap_or("");
    match kind {
        "tokio" => {
            let (tasks, objects, secs) = (num(2)? as usize, num(3)? as usize, num(4)?);
            let cfg = config(tasks, objects, secs);
            let rt = work::tokio_runtime(2);
            let r = match pool {
                "cenote" => work::tokio_tasks_for(&rt, &Arc::new(pools::cenote_async(objects)), &cfg),
                "cenote-nt" => {
                    work::tokio_tasks_for(&rt, &Arc::new(pools::cenote_async_no_timeout(objects)), &cfg)
                }
                "card" => work::tokio_tasks_for(&rt, &Arc::new(card::card(objects)), &cfg),
                "deadpool" => work::tokio_tasks_for(&rt, &Arc::new(pools::deadpool_unmanaged(objects)), &cfg),
                other => return Err(format!("unknown pool {other}")),
            };
            report(&format!("tokio {pool} {tasks}/{objects}"), &r);
        }
        "threads" => {
            let (threads, objects, secs) = (num(2)? as usize, num(3)? as usize, num(4)?);
            let cfg = config(threads, objects, secs);
            let r = match pool {
                "cenote" => work::threads_for(&pools::cenote_sync(objects), &cfg),
                "async" => work::threads_for(&BlockOn(pools::cenote_async(objects)), &cfg),
                "card" => work::threads_for(&card::card(objects), &cfg),
                "object-pool" => work::threads_for(&pools::object_pool(objects), &cfg),
                "r2d2" => work::threads_for(&pools::r2d2(objects), &cfg),
                other => return Err(format!("unknown pool {other}")),
            };
            report(&format!("threads {pool} {threads}/{objects}"), &r);
        }
        "single" => {
            let secs = num(2)?;
            let ops =
                std::env::var("PROFILE_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(secs * 50_000_000);
            let took = match pool {
                "cenote" => work::time_get_drop(&pools::cenote_sync(4), ops),
                "async" => work::time_get_drop_block_on(&pools::cenote_async(4), ops),
                "cenote-maintained" => work::time_get_drop(&pools::cenote_sync_maintained(4), ops),
                "cenote-reserve" => work::time_get_drop(&pools::cenote_sync_reserved(4), ops),
                "async-maintained" => work::time_get_drop_block_on(&pools::cenote_async_maintained(4), ops),
                "card" => work::time_get_drop(&card::card(4), ops),
                "card-async" => work::time_get_drop_block_on(&card::card(4), ops),
                "floor" => work::time_get_drop(&pools::floor(4), ops),
                "floor-async" => work::time_get_drop_block_on(&pools::floor(4), ops),
                "async-nt" => work::time_get_drop_block_on(&pools::cenote_async_no_timeout(4), ops),
                "keyed" => work::time_get_drop(&keyed::keyed_sync(), ops),
                "keyed-async" => work::time_get_drop_block_on(&keyed::keyed_async(), ops),
                "mutex-map" => work::time_get_drop(&keyed::MutexMap::new(), ops),
                other => return Err(format!("unknown pool {other}")),
            };
            if ops == 0 {
                println!("single {pool}: 0 operations (start-up only)");
            } else {
                println!("single {pool}: {:.2} ns/op", took.as_nanos() as f64 / ops as f64);
            }
        }
        _ => return Err("usage: profile tokio|threads|single POOL ...".into()),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("profile: {e}");
            ExitCode::FAILURE
        }
    }
}

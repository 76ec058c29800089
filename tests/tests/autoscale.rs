//! Autoscaling (`Builder::autoscale`) in both front ends, under a scripted load that rises and
//! falls: maintenance passes (driven here by `maintain()`) grow `max_size` while the pool is
//! busy and shrink it back when it is idle, within `min..=max`, and log each decision.

mod common;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use cenote_front::{Autoscale, BuildError, Config};
use common::{capture_logs, logged};

const COOLDOWN: Duration = Duration::from_millis(60);
const PATIENCE: Duration = Duration::from_secs(10);

fn autoscale() -> Autoscale {
    Autoscale { min: 2, max: 6, cooldown: COOLDOWN, ..Autoscale::default() }
}

struct Sync;
impl cenote_sync::Manager for Sync {
    type Connection = u8;
    type Error = Infallible;
    fn create(&self) -> Result<u8, Infallible> {
        Ok(0)
    }
}

struct Async;
impl cenote_async::Manager for Async {
    type Connection = u8;
    type Error = Infallible;
    async fn create(&self) -> Result<u8, Infallible> {
        Ok(0)
    }
}

/// Runs passes (`pass` returns the pool's `max_size` after one) every `COOLDOWN / 8` until
/// `done(max_size)`; every size seen on the way, in order.
fn passes_until(mut pass: impl FnMut() -> usize, done: impl Fn(usize) -> bool) -> Vec<usize> {
    let start = Instant::now();
    let mut sizes = vec![pass()];
    while !done(*sizes.last().unwrap()) {
        assert!(start.elapsed() < PATIENCE, "autoscale never got there: sizes {sizes:?}");
        std::thread::sleep(COOLDOWN / 8);
        let size = pass();
        if size != *sizes.last().unwrap() {
            sizes.push(size);
        }
    }
    sizes
}

/// Every change moved the size the way the load says, and stayed in range.
fn assert_moves(sizes: &[usize], up: bool) {
    for pair in sizes.windows(2) {
        assert!(if up { pair[1] > pair[0] } else { pair[1] < pair[0] }, "{sizes:?}");
    }
    assert!(sizes.iter().all(|&s| (2..=6).contains(&s)), "{sizes:?}");
}

#[test]
fn sync_pool_grows_under_load_and_shrinks_when_idle() {
    capture_logs();
    let pool = cenote_sync::Pool::builder(Sync)
        .name("autoscale-sync")
        .max_size(2)
        .autoscale(Some(autoscale()))
        .maintenance_thread(false) // the test drives the passes
        .build()
        .unwrap();
    // The load rises: every object is taken, and taken again as the pool grows.
    let mut held = Vec::new();
    let up = passes_until(
        || {
            while pool.status().in_use < pool.status().max_size {
                held.push(pool.get().unwrap());
            }
            pool.maintain();
            pool.status().max_size
        },
        |size| size == 6,
    );
    assert_moves(&up, true);
    while held.len() < 6 {
        held.push(pool.get_timeout(Duration::from_secs(5)).unwrap());
    }
    assert_eq!(pool.status().in_use, 6, "the pool lends up to its new max_size");
    // The load falls: everything comes back and stays idle.
    held.clear();
    let down = passes_until(
        || {
            pool.maintain();
            pool.status().max_size
        },
        |size| size == 2,
    );
    assert_moves(&down, false);
    assert!(pool.status().size <= 2, "shrinking dropped the idle extras: {}", pool.status());
    let lines = logged("autoscale-sync", "autoscale max_size 2 -> ");
    assert!(!lines.is_empty(), "the decisions are logged");
    assert!(lines[0].contains("utilization 1.00"), "{lines:?}");
}

#[test]
fn async_pool_grows_under_load_and_shrinks_when_idle() {
    capture_logs();
    let pool = cenote_async::Pool::builder(Async)
        .name("autoscale-async")
        .max_size(2)
        .autoscale(Some(autoscale()))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let mut held = Vec::new();
    let up = passes_until(
        || {
            while pool.status().in_use < pool.status().max_size {
                held.push(futures_lite::future::block_on(pool.get()).unwrap());
            }
            let report = futures_lite::future::block_on(pool.maintain());
            if let Some((from, to)) = report.scaled {
                assert!(to > from, "{report}");
            }
            pool.status().max_size
        },
        |size| size == 6,
    );
    assert_moves(&up, true);
    held.clear();
    let down = passes_until(
        || {
            futures_lite::future::block_on(pool.maintain());
            pool.status().max_size
        },
        |size| size == 2,
    );
    assert_moves(&down, false);
    assert!(!logged("autoscale-async", "autoscale max_size").is_empty());
}

/// Without load changes nothing changes: a half-busy pool (between `scale_down_at` and
/// `scale_up_at`) keeps its size over many windows.
#[test]
fn a_steady_load_within_the_band_keeps_the_size() {
    let pool = cenote_sync::Pool::builder(Sync)
        .max_size(4)
        .autoscale(Some(autoscale()))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let held = [pool.get().unwrap(), pool.get().unwrap()]; // 0.5: inside (0.3, 0.85)
    let start = Instant::now();
    while start.elapsed() < COOLDOWN * 4 {
        let report = pool.maintain();
        assert_eq!(report.scaled, None, "{report}");
        assert!(report.next.unwrap() <= COOLDOWN / 8 + Duration::from_millis(1), "sampled often enough");
        std::thread::sleep(COOLDOWN / 8);
    }
    assert_eq!(pool.status().max_size, 4);
    drop(held);
}

#[test]
fn bad_autoscale_values_are_build_errors_that_say_what_to_do() {
    let build = |a: Autoscale, max_size: usize| {
        cenote_sync::Pool::builder(Sync).max_size(max_size).autoscale(Some(a)).build().map(drop)
    };
    let why = |r: Result<(), BuildError>| match r {
        Err(BuildError::Autoscale { why }) => why,
        other => panic!("expected an autoscale error, got {other:?}"),
    };
    assert!(why(build(Autoscale { min: 0, ..autoscale() }, 2)).contains("min is 0"));
    assert!(why(build(Autoscale { min: 7, ..autoscale() }, 7)).contains("swap"));
    assert!(why(build(autoscale(), 10)).contains("outside min..=max"));
    assert!(why(build(Autoscale { step: 0, ..autoscale() }, 2)).contains("step is 0"));
    assert!(why(build(Autoscale { scale_down_at: 0.9, ..autoscale() }, 2)).contains("not below scale_up_at"));
    assert!(why(build(Autoscale { target_utilization: f64::NAN, ..autoscale() }, 2)).contains("(0, 1]"));
    assert!(why(build(Autoscale { cooldown: Duration::ZERO, ..autoscale() }, 2)).contains("cooldown is zero"));
    let e = cenote_sync::Pool::builder(Sync)
        .max_size(2)
        .capacity(4)
        .autoscale(Some(autoscale()))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("capacity is smaller than max"), "{e}");
    // Slots follow `max` when capacity is unset: growing to it needs no more memory.
    let pool = cenote_sync::Pool::builder(Sync).max_size(2).autoscale(Some(autoscale())).build().unwrap();
    assert!(pool.resize(6).is_ok());
}

/// The option reads from a TOML file like the others.
#[test]
fn autoscale_reads_from_toml() {
    let config = Config::from_toml_str(
        "max_size = 4\n[autoscale]\nmin = 2\nmax = 16\ncooldown = \"10s\"\nscale_up_at = 0.9\n",
    )
    .unwrap();
    let a = config.autoscale.unwrap();
    assert_eq!((a.min, a.max, a.cooldown, a.scale_up_at), (2, 16, Duration::from_secs(10), 0.9));
    assert_eq!(a.step, Autoscale::default().step, "unset fields keep their defaults");
    assert_eq!(config.slots(), 16);
    let bad = Config::from_toml_str("[autoscale]\nmin = 2\nmaxx = 3\n").unwrap_err();
    assert!(bad.to_string().contains("maxx"), "{bad}");
}

/// With nobody calling `maintain`, the background passes decide: the blocking pool's
/// maintenance thread, and for the async pool the shared thread's background job (no
/// `maintenance()` future spawned).
#[test]
fn background_passes_autoscale_both_front_ends() {
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !cond() {
            assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let sync = cenote_sync::Pool::builder(Sync).max_size(2).autoscale(Some(autoscale())).build().unwrap();
    let held = [sync.get().unwrap(), sync.get().unwrap()];
    wait_for("the blocking pool to grow", &|| sync.status().max_size > 2);
    drop(held);
    wait_for("the blocking pool to shrink back", &|| sync.status().max_size == 2);

    let pool = cenote_async::Pool::builder(Async).max_size(2).autoscale(Some(autoscale())).build().unwrap();
    let held =
        futures_lite::future::block_on(async { [pool.get().await.unwrap(), pool.get().await.unwrap()] });
    wait_for("the async pool to grow", &|| pool.status().max_size > 2);
    drop(held);
    wait_for("the async pool to shrink back", &|| pool.status().max_size == 2);
}

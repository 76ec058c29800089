//! Health under load in the blocking front end: concurrent fillers and `min_idle`, callers
//! counted while they wait on creates, `max_pending_creates`, leak reports and `refresh`. Each
//! test fails without the change it names.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{Manager, Pool};
use common::{Counts, Tracked};

/// How long a background effect may take to show up on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(5);

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}

#[derive(Debug, Default)]
struct Knobs {
    counts: Arc<Counts>,
    /// Each create sleeps this long (ms) before answering.
    create_ms: AtomicU64,
    fail_create: AtomicBool,
    create_calls: AtomicUsize,
    /// Creates running now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl Manager for M {
    type Connection = Tracked;
    type Error = Refused;

    fn create(&self) -> Result<Tracked, Refused> {
        let k = &self.0;
        k.create_calls.fetch_add(1, SeqCst);
        let now = k.in_flight.fetch_add(1, SeqCst) + 1;
        k.max_in_flight.fetch_max(now, SeqCst);
        thread::sleep(Duration::from_millis(k.create_ms.load(SeqCst)));
        k.in_flight.fetch_sub(1, SeqCst);
        if k.fail_create.load(SeqCst) {
            return Err(Refused);
        }
        Ok(Tracked::new(&k.counts))
    }
}

fn knobs(create_ms: u64) -> (M, Arc<Knobs>) {
    let knobs = Arc::new(Knobs { create_ms: AtomicU64::new(create_ms), ..Knobs::default() });
    (M(Arc::clone(&knobs)), knobs)
}

/// `warm()` on several threads, `maintain()` and the background thread's first pass all fill
/// at once, with creates slow enough to overlap: between them they create exactly `min_idle`
/// objects (counting only idle objects, each saw some missing and created one: size 3 and
/// more, as examples/postgres.rs showed).
#[test]
fn concurrent_fillers_never_create_past_min_idle() {
    for round in 0..3 {
        let (m, k) = knobs(20);
        let pool = Pool::builder(m).max_size(8).min_idle(2).maintenance_thread(true).build().unwrap();
        let fillers: Vec<_> = (0..4)
            .map(|i| {
                let pool = pool.clone();
                thread::spawn(move || {
                    if i % 2 == 0 {
                        pool.warm().unwrap();
                    } else {
                        pool.maintain();
                    }
                })
            })
            .collect();
        for filler in fillers {
            filler.join().unwrap();
        }
        assert!(wait_until(PATIENCE, || pool.status().idle == 2), "round {round}: {}", pool.status());
        thread::sleep(Duration::from_millis(50)); // a late filler would show now
        assert_eq!(pool.status().size, 2, "round {round}: {}", pool.status());
        assert_eq!(k.create_calls.load(SeqCst), 2, "round {round}");
    }
}

/// During an outage every caller of `get` is pausing between failed creates, none in the
/// core's wait list: `status().waiting` counts them all the same (it read 0 with 16 callers
/// stuck in `get`).
#[test]
fn status_counts_callers_pausing_between_create_retries() {
    let (m, k) = knobs(0);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m)
        .max_size(8)
        .acquire_timeout(Some(Duration::from_secs(2)))
        .create_backoff(Duration::from_millis(100), Duration::from_millis(100))
        .build()
        .unwrap();
    let getters: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || pool.get().map(drop))
        })
        .collect();
    let mut most = 0;
    assert!(
        wait_until(PATIENCE, || {
            most = most.max(pool.status().waiting);
            most == 4
        }),
        "at most {most} of 4 callers counted as waiting"
    );
    k.fail_create.store(false, SeqCst);
    for getter in getters {
        getter.join().unwrap().unwrap();
    }
    assert_eq!(pool.status().waiting, 0, "the count goes with the callers");
}

//! Health under load in the blocking front end: concurrent fillers and `min_idle`, callers
//! counted while they wait on creates, `max_pending_creates`, leak reports and `refresh`. Each
//! test fails without the change it names.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{BuildError, Error, Manager, Pool, Pooled};
use common::{logged, Counts, Tracked};

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
/// objects, and each `warm` returns only once they are idle (counting only idle objects, each saw some missing and created one: size 3 and
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
                        // Returns once min_idle are idle, also when others created them.
                        assert_eq!(pool.status().idle, 2, "after warm: {}", pool.status());
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

/// `max_pending_creates(2)`: eight callers of `get` during an outage (each create hangs 50 ms,
/// then fails) run at most two creates at once between them; the others wait for their
/// outcome, and every caller's timeout still carries a create error when one was kept for it.
#[test]
fn at_most_max_pending_creates_run_at_once_and_timeouts_carry_the_error() {
    let (m, k) = knobs(50);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m)
        .max_size(8)
        .max_pending_creates(2)
        .acquire_timeout(Some(Duration::from_millis(600)))
        .create_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .build()
        .unwrap();
    let getters: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || pool.get().map(drop))
        })
        .collect();
    let mut with_error = 0;
    for getter in getters {
        match getter.join().unwrap() {
            Err(Error::Timeout { last_create_error }) => {
                with_error += usize::from(last_create_error.is_some())
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
    assert_eq!(k.max_in_flight.load(SeqCst), 2, "at most max_pending_creates creates at once");
    let calls = k.create_calls.load(SeqCst);
    // Two retry loops of 50 ms creates in 600 ms, plus at most one create for each getter
    // that takes a slot over as a holder's deadline passes (their deadlines differ by their
    // start times): eight loops would make about 8 × 12.
    assert!(calls <= 2 * 600 / 50 + 8, "{calls} creates: two retry loops, not eight");
    assert!(with_error >= 4, "only {with_error} of 8 timeouts carried a create error");
    assert_eq!(pool.status().waiting, 0);
}

/// A caller waiting for a create slot takes an object returned meanwhile (it does not wait
/// for the slow create to finish).
#[test]
fn a_caller_waiting_for_a_create_slot_takes_a_returned_object() {
    let (m, k) = knobs(0);
    let pool = Pool::builder(m).max_size(4).max_pending_creates(1).build().unwrap();
    let held = pool.get().unwrap();
    k.create_ms.store(1000, SeqCst);
    let creator = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(drop))
    };
    assert!(wait_until(PATIENCE, || k.in_flight.load(SeqCst) == 1), "the slow create started");
    let start = Instant::now();
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(|conn| conn.id))
    };
    assert!(wait_until(PATIENCE, || pool.status().waiting == 1), "{}", pool.status());
    let id = held.id;
    drop(held);
    assert_eq!(waiter.join().unwrap().unwrap(), id, "the returned object");
    assert!(start.elapsed() < Duration::from_millis(900), "not after the slow create: {:?}", start.elapsed());
    assert_eq!(k.max_in_flight.load(SeqCst), 1);
    creator.join().unwrap().unwrap();
}

/// With `acquire_timeout(None)` a failing create is not retried: each caller creates once,
/// at most `max_pending_creates` at a time, and gets `Error::Create` back.
#[test]
fn without_a_deadline_each_caller_creates_once_within_the_limit() {
    let (m, k) = knobs(30);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m).max_size(8).max_pending_creates(2).acquire_timeout(None).build().unwrap();
    let getters: Vec<_> = (0..6)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || pool.get().map(drop))
        })
        .collect();
    for getter in getters {
        assert!(matches!(getter.join().unwrap(), Err(Error::Create(Refused))));
    }
    assert_eq!((k.create_calls.load(SeqCst), k.max_in_flight.load(SeqCst)), (6, 2));
}

#[test]
fn zero_max_pending_creates_is_a_build_error_that_says_what_to_do() {
    let (m, _k) = knobs(0);
    let err = Pool::builder(m).max_pending_creates(0).build().unwrap_err();
    assert_eq!(err, BuildError::ZeroMaxPendingCreates);
    assert!(err.to_string().contains("at least 1"), "{err}");
}

/// `leak_detection_threshold`: a pass counts objects held longer and logs each once per lend,
/// naming the pool, how long, and where it was acquired (`get`, `get_timeout`, `try_get` are
/// `#[track_caller]`); a returned object is no longer counted; a new lend is reported anew.
#[test]
fn objects_held_past_the_leak_threshold_are_reported_once_per_lend_with_where() {
    common::capture_logs();
    let (m, _k) = knobs(0);
    let name = "leaky-sync";
    let threshold = Duration::from_millis(40);
    let pool = Pool::builder(m)
        .name(name)
        .max_size(3)
        .leak_detection_threshold(Some(threshold))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let first = pool.get().unwrap();
    let first_at = format!("{}:{}", file!(), line!() - 1);
    let second = pool.get_timeout(Duration::from_secs(1)).unwrap();
    let second_at = format!("{}:{}", file!(), line!() - 1);
    let pass = pool.maintain();
    assert_eq!(pass.leaked, 0, "{pass:?}");
    assert!(pass.next.unwrap() <= threshold, "due within the threshold: {pass:?}");
    thread::sleep(threshold + Duration::from_millis(20));
    let pass = pool.maintain();
    assert_eq!(pass.leaked, 2, "{pass:?}");
    for at in [&first_at, &second_at] {
        let lines = logged(name, at);
        assert_eq!(lines.len(), 1, "one line for {at}: {lines:?}");
        assert!(
            lines[0].contains("held for") && lines[0].contains("leak_detection_threshold"),
            "{}",
            lines[0]
        );
    }
    assert_eq!(pool.maintain().leaked, 2, "still held");
    assert_eq!(logged(name, &first_at).len(), 1, "logged once per lend");
    drop((first, second));
    assert_eq!(pool.maintain().leaked, 0, "returned objects are not held");
    let again = pool.try_get().unwrap();
    let again_at = format!("{}:{}", file!(), line!() - 1);
    thread::sleep(threshold + Duration::from_millis(20));
    assert_eq!(pool.maintain().leaked, 1);
    assert_eq!(logged(name, &again_at).len(), 1, "a new lend is reported anew, where it began");
    Pooled::retire(again);
    assert_eq!(pool.maintain().leaked, 0, "a retired object is not held");
}

/// Without the option nothing is recorded: a pass reports no leak however long an object is
/// held.
#[test]
fn without_a_leak_threshold_nothing_is_reported() {
    let (m, _k) = knobs(0);
    let pool = Pool::builder(m).max_size(1).maintenance_thread(false).build().unwrap();
    let _held = pool.get().unwrap();
    thread::sleep(Duration::from_millis(5));
    assert_eq!(pool.maintain().leaked, 0);
}

/// `refresh()`: idle objects are dropped at once, the woken maintenance thread creates
/// `min_idle` replacements (its interval is an hour: only the wake explains them), a lent
/// object is retired when it comes back, and later gets receive new objects only.
#[test]
fn refresh_retires_idle_now_lent_on_return_and_maintenance_replaces_them() {
    let (m, k) = knobs(0);
    let pool = Pool::builder(m)
        .max_size(4)
        .min_idle(2)
        .maintenance_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(wait_until(PATIENCE, || pool.status().idle == 2), "first pass: {}", pool.status());
    let held = pool.get().unwrap();
    let before = k.counts.created.load(SeqCst);
    assert_eq!(pool.refresh(), 1, "the one idle object");
    assert!(wait_until(PATIENCE, || pool.status().idle == 2), "replaced at once: {}", pool.status());
    drop(held);
    assert_eq!(pool.status().size, 2, "the lent one was retired on return");
    for _ in 0..3 {
        let conn = pool.get().unwrap();
        assert!(conn.id >= before, "object {} was created before the refresh", conn.id);
    }
    assert_eq!(k.counts.live.load(SeqCst), pool.status().size);
}

/// Returns racing `refresh`: threads keep getting and returning while it runs; every get that
/// begins after `refresh` returned (on this thread, or after seeing the flag it set) receives
/// an object whose create began after the call.
#[test]
fn no_get_after_refresh_receives_an_old_object_while_returns_race_it() {
    use std::sync::atomic::AtomicUsize as Boundary;
    for round in 0..20 {
        let (m, k) = knobs(0);
        let pool = Pool::builder(m).max_size(3).build().unwrap();
        let boundary = Arc::new(Boundary::new(usize::MAX)); // first id created after the refresh
        let churners: Vec<_> = (0..2)
            .map(|_| {
                let (pool, boundary) = (pool.clone(), Arc::clone(&boundary));
                thread::spawn(move || {
                    for _ in 0..2_000 {
                        let after = boundary.load(SeqCst);
                        let conn = pool.get().unwrap();
                        assert!(
                            conn.id >= after || after == usize::MAX,
                            "round {round}: old object {}",
                            conn.id
                        );
                        drop(conn);
                    }
                })
            })
            .collect();
        thread::sleep(Duration::from_micros(200));
        let first_new = k.counts.created.load(SeqCst);
        pool.refresh();
        boundary.store(first_new, SeqCst);
        for _ in 0..200 {
            let conn = pool.get().unwrap();
            assert!(conn.id >= first_new, "round {round}: old object {} after refresh", conn.id);
        }
        for churner in churners {
            churner.join().unwrap();
        }
    }
}

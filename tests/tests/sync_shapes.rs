//! Pool shapes in the blocking front end (issue 14): load shedding (`max_waiters`), the
//! circuit breaker on creation, and the retry helper (`Pool::run`). Each test fails without
//! the shape it names: the waiter beyond the limit would queue into its timeout, the callers
//! of an open breaker would each wait out `acquire_timeout`, and so on.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{BuildError, CircuitBreaker, Error, Manager, Pool};
use common::{logged, Counts, Tracked};

/// How long a background effect may take to show up on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(5);
/// "At once": far below the timeouts the tests set (10 s), generous for a loaded machine.
const AT_ONCE: Duration = Duration::from_millis(500);

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
    create_ms: AtomicU64,
    fail_create: AtomicBool,
    create_calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Connections marked broken (by id) after an error: `has_broken` says so.
    broken: std::sync::Mutex<Vec<usize>>,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

#[derive(Debug, PartialEq, Eq)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}

impl std::error::Error for Refused {}

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

    fn has_broken(&self, conn: &mut Tracked) -> bool {
        self.0.broken.lock().unwrap().contains(&conn.id)
    }
}

fn knobs(create_ms: u64) -> (M, Arc<Knobs>) {
    let knobs = Arc::new(Knobs { create_ms: AtomicU64::new(create_ms), ..Knobs::default() });
    (M(Arc::clone(&knobs)), knobs)
}

// ---- load shedding -------------------------------------------------------------------------

/// `max_waiters(2)`: with the one object held and two callers queued, a third `get` fails at
/// once with `Overloaded` (not after its 10 s timeout), counted in the metrics; the two queued
/// ones are still served, and once they are gone a new caller may queue again.
#[test]
fn a_get_beyond_max_waiters_fails_at_once_and_the_others_are_served() {
    let (m, _k) = knobs(0);
    let pool = Pool::builder(m).max_size(1).max_waiters(2).build().unwrap();
    let held = pool.get().unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || pool.get_timeout(Duration::from_secs(10)).map(drop))
        })
        .collect();
    assert!(wait_until(PATIENCE, || pool.status().waiting == 2), "{}", pool.status());
    let start = Instant::now();
    let err = pool.get_timeout(Duration::from_secs(10)).unwrap_err();
    assert!(start.elapsed() < AT_ONCE, "turned away at once, not after {:?}", start.elapsed());
    assert!(matches!(err, Error::Overloaded { waiting: 2, max_waiters: 2 }), "{err:?}");
    assert!(err.is_overloaded() && !err.is_timeout());
    assert!(err.to_string().contains("max_waiters 2"), "{err}");
    assert_eq!(pool.metrics().overloaded, 1);
    drop(held);
    for waiter in waiters {
        waiter.join().unwrap().expect("a waiter within the limit is served");
    }
    assert_eq!(pool.status().waiting, 0);
    let _held = pool.get().unwrap();
    let one = {
        let pool = pool.clone();
        thread::spawn(move || pool.get_timeout(Duration::from_millis(200)).map(drop))
    };
    assert!(matches!(one.join().unwrap(), Err(Error::Timeout { .. })), "below the limit it queues");
    assert_eq!(pool.metrics().overloaded, 1, "and is not counted as shed");
}

/// A caller waiting for a create slot (`max_pending_creates`) counts as waiting: with one
/// slow create in flight and one caller waiting for the slot, `max_waiters(1)` turns the next
/// caller away.
#[test]
fn callers_waiting_for_a_create_slot_count_against_max_waiters() {
    let (m, k) = knobs(1000);
    let pool = Pool::builder(m).max_size(4).max_pending_creates(1).max_waiters(1).build().unwrap();
    let creator = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(drop))
    };
    assert!(wait_until(PATIENCE, || k.in_flight.load(SeqCst) == 1));
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(drop))
    };
    assert!(wait_until(PATIENCE, || pool.status().waiting == 1), "{}", pool.status());
    let err = pool.get().unwrap_err();
    assert!(matches!(err, Error::Overloaded { waiting: 1, max_waiters: 1 }), "{err:?}");
    creator.join().unwrap().unwrap();
    waiter.join().unwrap().unwrap();
}

// ---- circuit breaker -----------------------------------------------------------------------

const BREAKER: CircuitBreaker = CircuitBreaker { failures: 3, open_for: Duration::from_millis(300) };

fn breaker_pool(m: M, name: &str) -> Pool<M> {
    Pool::builder(m)
        .max_size(8)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .create_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .circuit_breaker(BREAKER)
        .name(name)
        .build()
        .unwrap()
}

/// After 3 failed creates in a row the breaker opens: the `get` whose create opened it
/// returns `Unavailable` with its error, the next ones fail at once (well before the 10 s
/// `acquire_timeout`) without calling `create`, with the time to the next probe; an idle
/// object is still lent while it is open; the opening is logged with the pool's name.
#[test]
fn the_breaker_opens_after_k_failures_and_gets_fail_fast() {
    common::capture_logs();
    let (m, k) = knobs(0);
    let pool = breaker_pool(m, "sync-breaker-open");
    let idle = pool.get().unwrap(); // one object, kept aside to be idle later
    k.fail_create.store(true, SeqCst);
    let start = Instant::now();
    let first = pool.get().unwrap_err();
    assert!(start.elapsed() < AT_ONCE, "three quick retries, then open: {:?}", start.elapsed());
    assert!(matches!(first, Error::Unavailable { last_create_error: Some(Refused), .. }), "{first:?}");
    assert_eq!(k.create_calls.load(SeqCst), 1 + 3, "k = 3 failures open it");
    for _ in 0..5 {
        let start = Instant::now();
        let err = pool.get().unwrap_err();
        let waited = start.elapsed();
        assert!(waited < Duration::from_millis(50), "fail fast: {waited:?}");
        match err {
            Error::Unavailable { last_create_error: None, retry_in } => {
                assert!(retry_in > Duration::ZERO && retry_in <= BREAKER.open_for, "{retry_in:?}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert_eq!(k.create_calls.load(SeqCst), 4, "no create while open");
    assert_eq!(pool.metrics().unavailable, 6);
    let id = idle.id;
    drop(idle);
    assert_eq!(pool.get().expect("an idle object is lent while open").id, id);
    assert_eq!(logged("sync-breaker-open", "circuit breaker open").len(), 1, "logged once");
    assert!(logged("sync-breaker-open", "connection refused").iter().any(|l| l.contains("circuit breaker")));
}

/// Half-open: after `open_for`, of four concurrent `get`s exactly one creates (the probe,
/// slow here) and the other three fail at once; the probe's success closes the breaker, and
/// the next `get`s create as usual.
#[test]
fn half_open_lets_one_probe_through_and_its_success_closes_the_breaker() {
    let (m, k) = knobs(0);
    let pool = breaker_pool(m, "sync-breaker-probe");
    k.fail_create.store(true, SeqCst);
    assert!(pool.get().unwrap_err().is_unavailable());
    thread::sleep(BREAKER.open_for);
    k.fail_create.store(false, SeqCst);
    k.create_ms.store(300, SeqCst);
    k.max_in_flight.store(0, SeqCst);
    let calls = k.create_calls.load(SeqCst);
    let probe = {
        let pool = pool.clone();
        thread::spawn(move || pool.get().map(drop))
    };
    assert!(wait_until(PATIENCE, || k.in_flight.load(SeqCst) == 1), "the probe started");
    let others: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                let start = Instant::now();
                (pool.get().map(drop), start.elapsed())
            })
        })
        .collect();
    for other in others {
        let (got, waited) = other.join().unwrap();
        match got {
            Err(Error::Unavailable { retry_in, .. }) => {
                // A probe is under way: look again when a hung probe would be given up on.
                assert!(retry_in > Duration::ZERO && retry_in <= BREAKER.open_for, "{retry_in:?}")
            }
            other => panic!("expected Unavailable while the probe runs, got {other:?}"),
        }
        assert!(waited < AT_ONCE, "{waited:?}");
    }
    probe.join().unwrap().expect("the probe succeeds");
    assert_eq!(k.create_calls.load(SeqCst), calls + 1, "exactly one probe create");
    assert_eq!(k.max_in_flight.load(SeqCst), 1);
    k.create_ms.store(0, SeqCst);
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    assert_eq!(
        k.create_calls.load(SeqCst),
        calls + 2,
        "closed: the second get creates (the first took the idle one)"
    );
    drop((a, b));
}

/// A failed probe opens the breaker again: the probing `get` returns `Unavailable` with its
/// own error, and the next one fails at once without a create, for another `open_for`.
#[test]
fn a_failed_probe_reopens_the_breaker() {
    let (m, k) = knobs(0);
    let pool = breaker_pool(m, "sync-breaker-reopen");
    k.fail_create.store(true, SeqCst);
    assert!(pool.get().unwrap_err().is_unavailable());
    thread::sleep(BREAKER.open_for);
    let calls = k.create_calls.load(SeqCst);
    let probe = pool.get().unwrap_err();
    assert!(matches!(probe, Error::Unavailable { last_create_error: Some(Refused), .. }), "{probe:?}");
    assert_eq!(k.create_calls.load(SeqCst), calls + 1, "one probe, no retries");
    match pool.get().unwrap_err() {
        Error::Unavailable { retry_in, .. } => {
            assert!(retry_in > BREAKER.open_for / 2, "reopened: {retry_in:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(k.create_calls.load(SeqCst), calls + 1);
}

/// A maintenance refill's failures count too, and its error goes to the first caller
/// turned away; no refill runs while the breaker is open.
#[test]
fn refill_failures_open_the_breaker_and_the_first_caller_gets_the_error() {
    let (m, k) = knobs(0);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m)
        .max_size(4)
        .min_idle(1)
        .maintenance_thread(false)
        .create_backoff(Duration::from_millis(1), Duration::from_millis(1))
        .circuit_breaker(CircuitBreaker { failures: 2, open_for: Duration::from_secs(10) })
        .build()
        .unwrap();
    for _ in 0..2 {
        thread::sleep(Duration::from_millis(2)); // past the refill's backoff
        assert_eq!(pool.maintain().create_errors, 1);
    }
    thread::sleep(Duration::from_millis(2));
    assert_eq!(pool.maintain().create_errors, 0, "no refill while open");
    assert_eq!(k.create_calls.load(SeqCst), 2);
    assert!(matches!(pool.get(), Err(Error::Unavailable { last_create_error: Some(Refused), .. })));
    assert!(matches!(pool.get(), Err(Error::Unavailable { last_create_error: None, .. })));
}

#[test]
fn a_breaker_of_zero_failures_is_a_build_error_that_says_what_to_do() {
    let (m, _k) = knobs(0);
    let err =
        Pool::builder(m).circuit_breaker(CircuitBreaker::new(0, Duration::from_secs(1))).build().unwrap_err();
    assert_eq!(err, BuildError::ZeroBreakerFailures);
    assert!(err.to_string().contains("at least 1"), "{err}");
    let (m, _k) = knobs(0);
    let err = Pool::builder(m).circuit_breaker(CircuitBreaker::new(1, Duration::ZERO)).build().unwrap_err();
    assert_eq!(err, BuildError::ZeroDuration { option: "circuit_breaker.open_for" });
}

/// Both options load from a file (`serde`), and round-trip.
#[test]
fn max_waiters_and_circuit_breaker_load_from_toml() {
    let config = cenote_sync::Config::from_toml_str(
        "max_waiters = 16\ncircuit_breaker = { failures = 5, open_for = \"2s\" }\n",
    )
    .unwrap();
    assert_eq!(config.max_waiters, Some(16));
    assert_eq!(config.circuit_breaker, Some(CircuitBreaker::new(5, Duration::from_secs(2))));
    let text = toml::to_string(&config).unwrap();
    assert_eq!(cenote_sync::Config::from_toml_str(&text).unwrap(), config);
    let err = cenote_sync::Config::from_toml_str("circuit_breaker = { failures = 5 }").unwrap_err();
    assert!(err.to_string().contains("open_for"), "{err}");
}

// ---- retry helper --------------------------------------------------------------------------

/// The closure's error: `n` numbers the attempt, `transient` says whether to retry.
#[derive(Debug, PartialEq, Eq)]
struct Failed {
    n: u32,
    transient: bool,
}

fn policy(attempts: u32) -> cenote_sync::RetryPolicy<fn(&Failed) -> bool> {
    cenote_sync::RetryPolicy::new(attempts, (|e: &Failed| e.transient) as fn(&Failed) -> bool)
        .backoff(Duration::from_millis(1), Duration::from_millis(4))
}

/// Two transient errors, then success on attempt 3; a non-transient error returns at once
/// (one attempt, no pause); used-up attempts return the last error.
#[test]
fn run_retries_transient_errors_and_returns_the_last_one() {
    use cenote_sync::RunError;
    let (m, _k) = knobs(0);
    let pool = Pool::new(m, 2);
    let mut n = 0;
    let ok = pool.run(
        |_conn| {
            n += 1;
            if n < 3 {
                Err(Failed { n, transient: true })
            } else {
                Ok(n)
            }
        },
        &policy(5),
    );
    assert_eq!(ok.unwrap(), 3, "succeeds on attempt 3");
    let mut n = 0;
    let start = Instant::now();
    let err = pool.run(
        |_conn| {
            n += 1;
            Err::<(), _>(Failed { n, transient: false })
        },
        &policy(5),
    );
    assert!(matches!(err, Err(RunError::Failed { error: Failed { n: 1, .. }, attempts: 1 })), "{err:?}");
    assert!(start.elapsed() < Duration::from_millis(50));
    let mut n = 0;
    let err = pool
        .run(
            |_conn| {
                n += 1;
                Err::<(), _>(Failed { n, transient: true })
            },
            &policy(4),
        )
        .unwrap_err();
    assert!(
        matches!(err, RunError::Failed { error: Failed { n: 4, transient: true }, attempts: 4 }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "the operation failed after 4 attempts");
    assert_eq!(pool.status().in_use, 0, "every connection went back");
}

/// A connection the manager calls broken after the error is retired, and the next attempt
/// runs on a new one; a pool error is returned as `RunError::Pool`, not retried.
#[test]
fn run_retires_a_broken_connection_and_uses_a_new_one() {
    use cenote_sync::RunError;
    let (m, k) = knobs(0);
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let mut ids = Vec::new();
    let ok = pool.run(
        |conn| {
            ids.push(conn.id);
            if ids.len() == 1 {
                k.broken.lock().unwrap().push(conn.id); // the server closed it
                return Err(Failed { n: 1, transient: true });
            }
            Ok(())
        },
        &policy(3),
    );
    assert!(ok.is_ok());
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "the second attempt ran on a new connection");
    assert_eq!(pool.metrics().closed.broken, 1, "the broken one was retired");
    assert_eq!(k.counts.live.load(SeqCst), 1);
    let _held = pool.get().unwrap();
    let pool_err = Pool::builder(knobs(0).0)
        .max_size(1)
        .acquire_timeout(Some(Duration::from_millis(20)))
        .build()
        .unwrap();
    let _h = pool_err.get().unwrap();
    let err = pool_err.run(|_| Ok::<(), Failed>(()), &policy(3)).unwrap_err();
    assert!(matches!(err, RunError::Pool(Error::Timeout { .. })), "{err:?}");
}

//! Pool shapes in the async front end (issue 14), under a bare `futures_lite` `block_on`:
//! load shedding (`max_waiters`), the circuit breaker on creation, and the retry helper
//! (`Pool::run`). Each test fails without the shape it names (see `sync_shapes.rs` for the
//! blocking twins).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use cenote_async::{BuildError, CircuitBreaker, Error, Manager, Pool};
use common::{logged, Counts, Tracked};
use futures_lite::future::{block_on, zip};

const PATIENCE: Duration = Duration::from_secs(5);
/// "At once": far below the timeouts the tests set (10 s), generous for a loaded machine.
const AT_ONCE: Duration = Duration::from_millis(500);

/// An executor-independent sleep: a thread wakes the task when it is over.
async fn delay(d: Duration) {
    let until = Instant::now() + d;
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let mut started = false;
    std::future::poll_fn(|cx| {
        if Instant::now() >= until {
            return Poll::Ready(());
        }
        *waker.lock().unwrap() = Some(cx.waker().clone());
        if !std::mem::replace(&mut started, true) {
            let waker = Arc::clone(&waker);
            std::thread::spawn(move || {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                if let Some(w) = waker.lock().unwrap().take() {
                    w.wake();
                }
            });
        }
        Poll::Pending
    })
    .await;
}

#[derive(Debug, Default)]
struct Knobs {
    counts: Arc<Counts>,
    create_ms: AtomicU64,
    fail_create: AtomicBool,
    create_calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Connections marked broken (by id): `has_broken` says so.
    broken: Mutex<Vec<usize>>,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

impl Manager for M {
    type Connection = Tracked;
    type Error = String;

    async fn create(&self) -> Result<Tracked, String> {
        let k = &self.0;
        k.create_calls.fetch_add(1, SeqCst);
        let now = k.in_flight.fetch_add(1, SeqCst) + 1;
        k.max_in_flight.fetch_max(now, SeqCst);
        /// Leaves `in_flight` also when the create is cancelled (a `get` that timed out).
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, SeqCst);
            }
        }
        let leave = Leave(&k.in_flight);
        delay(Duration::from_millis(k.create_ms.load(SeqCst))).await;
        drop(leave);
        if k.fail_create.load(SeqCst) {
            return Err("connection refused".into());
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

/// Waits (in the task) until `cond` holds, or fails.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "not within {PATIENCE:?}: {what}");
        delay(Duration::from_millis(1)).await;
    }
}

// ---- load shedding -------------------------------------------------------------------------

/// `max_waiters(2)`: with the one object held and two tasks queued, a third `get` fails at
/// once with `Overloaded` (not after its 10 s timeout), counted; the queued two are served.
#[test]
fn a_get_beyond_max_waiters_fails_at_once_and_the_others_are_served() {
    let (m, _k) = knobs(0);
    let pool = Pool::builder(m).max_size(1).max_waiters(2).build().unwrap();
    block_on(async {
        let held = pool.get().await.unwrap();
        // Each waiter returns its object at once, for the next.
        let wait = || async { pool.get_timeout(Duration::from_secs(10)).await.map(drop) };
        let waiters = zip(wait(), wait());
        let third = async {
            eventually("two waiting", || pool.status().waiting == 2).await;
            let start = Instant::now();
            let err = pool.get_timeout(Duration::from_secs(10)).await.unwrap_err();
            assert!(start.elapsed() < AT_ONCE, "turned away at once, not after {:?}", start.elapsed());
            assert!(matches!(err, Error::Overloaded { waiting: 2, max_waiters: 2 }), "{err:?}");
            assert_eq!(pool.metrics().overloaded, 1);
            drop(held);
        };
        let ((a, b), ()) = zip(waiters, third).await;
        a.expect("a waiter within the limit is served");
        b.expect("a waiter within the limit is served");
    });
    assert_eq!(pool.status().waiting, 0);
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

/// After 3 failed creates in a row the breaker opens: the opening `get` returns
/// `Unavailable` with its error, the next ones fail at once without a create (well before the
/// 10 s `acquire_timeout`), an idle object is still lent, and the opening is logged.
#[test]
fn the_breaker_opens_after_k_failures_and_gets_fail_fast() {
    common::capture_logs();
    let (m, k) = knobs(0);
    let pool = breaker_pool(m, "async-breaker-open");
    block_on(async {
        let idle = pool.get().await.unwrap();
        k.fail_create.store(true, SeqCst);
        let start = Instant::now();
        let first = pool.get().await.unwrap_err();
        assert!(start.elapsed() < AT_ONCE, "three quick retries, then open: {:?}", start.elapsed());
        assert!(matches!(&first, Error::Unavailable { last_create_error: Some(_), .. }), "{first:?}");
        assert_eq!(k.create_calls.load(SeqCst), 1 + 3, "k = 3 failures open it");
        for _ in 0..5 {
            let start = Instant::now();
            let err = pool.get().await.unwrap_err();
            assert!(start.elapsed() < Duration::from_millis(50), "fail fast: {:?}", start.elapsed());
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
        assert_eq!(pool.get().await.expect("an idle object is lent while open").id, id);
    });
    assert_eq!(logged("async-breaker-open", "circuit breaker open").len(), 1, "logged once");
}

/// Half-open: after `open_for`, of four concurrent `get`s exactly one creates (the probe, slow
/// here) and the other three fail at once; its success closes the breaker. A cancelled probe
/// lets the next caller probe.
#[test]
fn half_open_lets_one_probe_through_and_its_success_closes_the_breaker() {
    let (m, k) = knobs(0);
    let pool = breaker_pool(m, "async-breaker-probe");
    block_on(async {
        k.fail_create.store(true, SeqCst);
        assert!(pool.get().await.unwrap_err().is_unavailable());
        delay(BREAKER.open_for).await;
        k.fail_create.store(false, SeqCst);
        k.create_ms.store(300, SeqCst);
        // A probe cancelled mid-create (its future dropped) ends the probe: not stuck.
        let cancelled = futures_lite::future::or(async { Some(pool.get().await) }, async {
            eventually("the first probe started", || k.in_flight.load(SeqCst) == 1).await;
            None
        })
        .await;
        assert!(cancelled.is_none(), "the probe was cancelled");
        k.max_in_flight.store(0, SeqCst);
        let calls = k.create_calls.load(SeqCst);
        let probe = pool.get();
        let others = async {
            eventually("the probe started", || k.in_flight.load(SeqCst) == 1).await;
            for _ in 0..3 {
                let start = Instant::now();
                match pool.get().await {
                    Err(Error::Unavailable { retry_in, .. }) => {
                        assert!(retry_in > Duration::ZERO && retry_in <= BREAKER.open_for, "{retry_in:?}")
                    }
                    other => panic!("expected Unavailable while the probe runs, got {other:?}"),
                }
                assert!(start.elapsed() < AT_ONCE);
            }
        };
        let (probed, ()) = zip(probe, others).await;
        drop(probed.expect("the probe succeeds"));
        assert_eq!(k.create_calls.load(SeqCst), calls + 1, "exactly one probe create");
        assert_eq!(k.max_in_flight.load(SeqCst), 1);
        k.create_ms.store(0, SeqCst);
        let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        assert_eq!(k.create_calls.load(SeqCst), calls + 2, "closed: the second get creates");
        drop((a, b));
    });
}

/// A failed probe opens the breaker again, for another `open_for`.
#[test]
fn a_failed_probe_reopens_the_breaker() {
    let (m, k) = knobs(0);
    let pool = breaker_pool(m, "async-breaker-reopen");
    block_on(async {
        k.fail_create.store(true, SeqCst);
        assert!(pool.get().await.unwrap_err().is_unavailable());
        delay(BREAKER.open_for).await;
        let calls = k.create_calls.load(SeqCst);
        let probe = pool.get().await.unwrap_err();
        assert!(matches!(&probe, Error::Unavailable { last_create_error: Some(_), .. }), "{probe:?}");
        assert_eq!(k.create_calls.load(SeqCst), calls + 1, "one probe, no retries");
        match pool.get().await.unwrap_err() {
            Error::Unavailable { retry_in, .. } => {
                assert!(retry_in > BREAKER.open_for / 2, "reopened: {retry_in:?}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(k.create_calls.load(SeqCst), calls + 1);
    });
}

#[test]
fn a_breaker_of_zero_failures_is_a_build_error() {
    let (m, _k) = knobs(0);
    let err =
        Pool::builder(m).circuit_breaker(CircuitBreaker::new(0, Duration::from_secs(1))).build().unwrap_err();
    assert_eq!(err, BuildError::ZeroBreakerFailures);
}

// ---- retry helper --------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
struct Failed {
    n: u32,
    transient: bool,
}

fn policy(attempts: u32) -> cenote_async::RetryPolicy<fn(&Failed) -> bool> {
    cenote_async::RetryPolicy::new(attempts, (|e: &Failed| e.transient) as fn(&Failed) -> bool)
        .backoff(Duration::from_millis(1), Duration::from_millis(4))
}

/// As in `sync_shapes.rs`: success on attempt 3, a non-transient error at once, the last
/// error when the attempts run out.
#[test]
fn run_retries_transient_errors_and_returns_the_last_one() {
    use cenote_async::RunError;
    let (m, _k) = knobs(0);
    let pool = Pool::new(m, 2);
    block_on(async {
        let mut n = 0;
        let ok = pool
            .run(
                |conn| {
                    n += 1;
                    let n = n;
                    async move {
                        delay(Duration::from_millis(1)).await;
                        let result = if n < 3 { Err(Failed { n, transient: true }) } else { Ok(n) };
                        (conn, result)
                    }
                },
                &policy(5),
            )
            .await;
        assert_eq!(ok.unwrap(), 3, "succeeds on attempt 3");
        let mut n = 0;
        let err = pool
            .run(
                |conn| {
                    n += 1;
                    std::future::ready((conn, Err::<(), _>(Failed { n, transient: false })))
                },
                &policy(5),
            )
            .await;
        assert!(matches!(err, Err(RunError::Failed { error: Failed { n: 1, .. }, attempts: 1 })), "{err:?}");
        let mut n = 0;
        let err = pool
            .run(
                |conn| {
                    n += 1;
                    std::future::ready((conn, Err::<(), _>(Failed { n, transient: true })))
                },
                &policy(4),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, RunError::Failed { error: Failed { n: 4, .. }, attempts: 4 }), "{err:?}");
    });
    assert_eq!(pool.status().in_use, 0);
}

/// A broken connection is retired and the next attempt runs on a new one; `run`'s future is
/// `Send` for a `Send` closure (spawned on tokio).
#[test]
fn run_retires_a_broken_connection_and_uses_a_new_one() {
    let (m, k) = knobs(0);
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ids = runtime.block_on({
        let (pool, k) = (pool.clone(), Arc::clone(&k));
        async move {
            tokio::spawn(async move {
                let mut ids = Vec::new();
                let policy = policy(3);
                let ran = pool
                    .run(
                        |conn: cenote_async::Pooled<M>| {
                            ids.push(conn.id);
                            let result = if ids.len() == 1 {
                                k.broken.lock().unwrap().push(conn.id);
                                Err(Failed { n: 1, transient: true })
                            } else {
                                Ok(())
                            };
                            async move { (conn, result) }
                        },
                        &policy,
                    )
                    .await;
                assert!(ran.is_ok());
                ids
            })
            .await
            .unwrap()
        }
    });
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "the second attempt ran on a new connection");
    assert_eq!(pool.metrics().closed.broken, 1);
    assert_eq!(k.counts.live.load(SeqCst), 1);
}

/// A backend that accepts connections and never answers: every create hangs.
struct Hangs(Arc<AtomicUsize>);

impl Manager for Hangs {
    type Connection = u8;
    type Error = String;
    async fn create(&self) -> Result<u8, String> {
        self.0.fetch_add(1, SeqCst);
        std::future::pending().await
    }
}

/// A create the get's deadline cuts off counts as a failed create, for the books and for the
/// breaker: against a backend that hangs, the breaker opens (without `create_timeout`) and
/// later gets fail fast instead of each waiting out `acquire_timeout`. While the probe hangs,
/// the others are told to look again later (never a zero `retry_in`); once it has hung for
/// `open_for`, the next caller probes.
#[test]
fn creates_cut_off_by_the_deadline_open_the_breaker_and_a_hung_probe_is_given_up() {
    let calls = Arc::new(AtomicUsize::new(0));
    let pool = Pool::builder(Hangs(Arc::clone(&calls)))
        .max_size(4)
        .acquire_timeout(Some(Duration::from_millis(50)))
        .circuit_breaker(CircuitBreaker::new(2, Duration::from_millis(100)))
        .build()
        .unwrap();
    block_on(async {
        for _ in 0..2 {
            assert!(pool.get().await.unwrap_err().is_timeout());
        }
        let start = Instant::now();
        let refused = pool.get().await.unwrap_err();
        assert!(refused.is_unavailable(), "{refused:?}");
        assert!(start.elapsed() < AT_ONCE, "failed fast: {:?}", start.elapsed());
    });
    let m = pool.metrics();
    assert_eq!((m.create_errors, m.unavailable), (2, 1), "{m:?}");
    assert_eq!(calls.load(SeqCst), 2);
    // Half-open: one probe, which hangs; the others are refused with a pause to wait.
    std::thread::sleep(Duration::from_millis(110));
    let probe = std::thread::spawn({
        let pool = pool.clone();
        move || block_on(pool.get_timeout(Duration::from_millis(600))).map(drop)
    });
    while calls.load(SeqCst) < 3 {
        std::thread::yield_now();
    }
    match block_on(pool.get()) {
        Err(Error::Unavailable { retry_in, .. }) => {
            assert!(retry_in > Duration::ZERO && retry_in <= Duration::from_millis(100), "{retry_in:?}")
        }
        other => panic!("expected Unavailable while the probe runs, got {other:?}"),
    }
    // The probe has now hung for `open_for`: the next caller probes (and hangs too).
    std::thread::sleep(Duration::from_millis(110));
    assert!(block_on(pool.get()).unwrap_err().is_timeout());
    assert_eq!(calls.load(SeqCst), 4, "a second probe was let through");
    pool.close();
    let _ = probe.join();
}

//! Behaviour of the blocking front end, `cenote_sync`, as a user sees it: limits, timeouts,
//! errors, permits that must not leak, unwinding, close, resize, health options, fairness.
//!
//! Objects count themselves (`common::Tracked`) so that every test can check from outside
//! how many exist, and carry an "in use" flag so that an object lent twice at once is caught.

mod common;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{BuildError, Error, Manager, Pool, Pooled, ResizeError, DEFAULT_ACQUIRE_TIMEOUT};
use common::{Counts, Tracked};

/// Slack allowed on top of a timeout before we call a wait "too long": generous, because the
/// tests share two cores with other builds.
const SLACK: Duration = Duration::from_secs(3);

/// Loop counts, scaled down under Miri.
fn scale(n: usize) -> usize {
    if cfg!(miri) {
        (n / 100).max(2)
    } else {
        n
    }
}

/// Polls `cond` every millisecond until it holds or `timeout` passes; returns whether it held.
fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The manager's error: which `create` call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TestError(usize);

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "create failed (attempt {})", self.0)
    }
}

impl std::error::Error for TestError {}

/// A pooled object: counts itself, and is flagged while lent so that double lending is seen.
#[derive(Debug)]
struct Obj {
    tracked: Tracked,
    in_use: AtomicBool,
    /// Set by a holder to make `has_broken` report this object.
    broken: AtomicBool,
}

impl Obj {
    fn id(&self) -> usize {
        self.tracked.id
    }

    /// Marks the object lent; panics if it already was.
    fn enter(&self) {
        assert!(!self.in_use.swap(true, SeqCst), "object {} lent twice at once", self.id());
    }

    fn leave(&self) {
        assert!(self.in_use.swap(false, SeqCst), "object {} was not marked in use", self.id());
    }
}

/// A manager with knobs to make each hook fail.
#[derive(Debug, Default)]
struct TestManager {
    counts: Arc<Counts>,
    fail_create: AtomicBool,
    panic_create: AtomicBool,
    broken: AtomicBool,
    fail_reset: AtomicBool,
    panic_hooks: AtomicBool,
    invalid: AtomicBool,
    create_calls: AtomicUsize,
    valid_calls: AtomicUsize,
}

impl Manager for TestManager {
    type Connection = Obj;
    type Error = TestError;

    fn create(&self) -> Result<Obj, TestError> {
        let attempt = self.create_calls.fetch_add(1, SeqCst) + 1;
        assert!(!self.panic_create.load(SeqCst), "create panicked (attempt {attempt})");
        if self.fail_create.load(SeqCst) {
            return Err(TestError(attempt));
        }
        Ok(Obj {
            tracked: Tracked::new(&self.counts),
            in_use: AtomicBool::new(false),
            broken: AtomicBool::new(false),
        })
    }

    fn is_valid(&self, _conn: &mut Obj) -> bool {
        self.valid_calls.fetch_add(1, SeqCst);
        assert!(!self.panic_hooks.load(SeqCst), "is_valid panicked");
        !self.invalid.load(SeqCst)
    }

    fn reset(&self, conn: &mut Obj) -> Result<(), TestError> {
        assert!(!self.panic_hooks.load(SeqCst), "reset panicked");
        if self.fail_reset.load(SeqCst) {
            return Err(TestError(conn.id()));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Obj) -> bool {
        self.broken.load(SeqCst) || conn.broken.load(SeqCst)
    }
}

type TestPool = Pool<TestManager>;

fn manager() -> TestManager {
    TestManager::default()
}

/// Objects alive now.
fn live(pool: &TestPool) -> usize {
    pool.manager().counts.live.load(SeqCst)
}

/// Objects ever created.
fn created(pool: &TestPool) -> usize {
    pool.manager().counts.created.load(SeqCst)
}

fn pool_of(max_size: usize) -> TestPool {
    Pool::builder(manager()).max_size(max_size).build().expect("valid config")
}

/// Checks that the pool is at rest: nothing lent, nobody waiting, and the counts agree with
/// the objects that actually exist.
#[track_caller]
fn assert_at_rest(pool: &TestPool) {
    let s = pool.status();
    assert_eq!(s.in_use, 0, "{s:?}");
    assert_eq!(s.waiting, 0, "{s:?}");
    assert_eq!(s.size, s.idle, "{s:?}");
    assert_eq!(s.size, live(pool), "size must match the objects alive: {s:?}");
    assert!(s.size <= s.max_size, "{s:?}");
}

#[test]
fn max_size_is_never_exceeded_and_no_object_is_lent_twice() {
    const MAX: usize = 4;
    let threads = if cfg!(miri) { 4 } else { 16 };
    let gets = scale(2000);
    let pool = pool_of(MAX);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let pool = pool.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for i in 0..gets {
                    let obj = pool.get().expect("get within the default 30 s");
                    obj.enter();
                    assert!(pool.status().size <= MAX);
                    if (i + t) % 16 == 0 {
                        thread::yield_now();
                    }
                    obj.leave();
                    drop(obj);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no worker panicked");
    }
    let counts = &pool.manager().counts;
    let max_live = counts.max_live.load(SeqCst);
    println!("max_live = {max_live}, created = {}", counts.created.load(SeqCst));
    assert!(max_live <= MAX, "{max_live} objects alive at once, max_size {MAX}");
    assert!(max_live >= 1);
    assert_at_rest(&pool);
}

#[test]
fn acquire_timeout_defaults_to_30_seconds() {
    assert_eq!(DEFAULT_ACQUIRE_TIMEOUT, Duration::from_secs(30));
    // Both ways of getting the defaults: `Pool::new` and a builder with only `max_size` set.
    let pools = [Pool::new(manager(), 1), pool_of(1)];
    let held: Vec<_> = pools.iter().map(|p| p.get().expect("room for one")).collect();
    let (tx, rx) = mpsc::channel();
    for (n, pool) in pools.iter().enumerate() {
        let pool = pool.clone();
        let tx = tx.clone();
        thread::spawn(move || {
            let got = pool.get().map(|obj| obj.id());
            tx.send((n, got)).unwrap();
        });
    }
    for pool in &pools {
        assert!(wait_until(Duration::from_secs(10), || pool.status().waiting == 1), "{:?}", pool.status());
    }
    thread::sleep(Duration::from_millis(200));
    assert!(rx.try_recv().is_err(), "a get with the default timeout gave up within 200 ms");
    for pool in &pools {
        assert_eq!(pool.status().waiting, 1, "still waiting after 200 ms");
    }
    drop(held);
    for _ in 0..2 {
        let (n, got) = rx.recv_timeout(Duration::from_secs(10)).expect("a return wakes the waiter");
        assert_eq!(got.expect("satisfied by the return"), 0, "pool {n}: the returned object");
    }
    for pool in &pools {
        assert_at_rest(pool);
    }
}

#[test]
fn get_uses_the_configured_acquire_timeout() {
    let timeout = Duration::from_millis(100);
    let pool = Pool::builder(manager()).max_size(1).acquire_timeout(Some(timeout)).build().unwrap();
    let _held = pool.get().unwrap();
    let start = Instant::now();
    let err = pool.get().expect_err("exhausted");
    let elapsed = start.elapsed();
    assert!(matches!(err, Error::Timeout { last_create_error: None }), "{err:?}");
    assert!(elapsed >= timeout && elapsed < timeout + SLACK, "{elapsed:?}");
}

#[test]
fn get_timeout_on_an_exhausted_pool_times_out() {
    let pool = pool_of(1);
    let held = pool.get().unwrap();
    let timeout = Duration::from_millis(150);
    let start = Instant::now();
    let err = pool.get_timeout(timeout).expect_err("exhausted");
    let elapsed = start.elapsed();
    println!("get_timeout({timeout:?}) returned after {elapsed:?}");
    assert!(matches!(err, Error::Timeout { last_create_error: None }), "{err:?}");
    assert!(err.is_timeout());
    assert!(!err.is_closed());
    assert!(err.create_error().is_none());
    assert!(std::error::Error::source(&err).is_none());
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(elapsed >= timeout, "returned early: {elapsed:?}");
    assert!(elapsed < timeout + SLACK, "returned late: {elapsed:?}");
    // The timed-out waiter left nothing behind.
    assert_eq!(pool.status().waiting, 0);
    assert_eq!(created(&pool), 1);
    drop(held);
    assert_at_rest(&pool);
}

#[test]
fn timeout_while_create_fails_carries_the_last_create_error() {
    let pool = pool_of(2);
    pool.manager().fail_create.store(true, SeqCst);
    let timeout = Duration::from_millis(200);
    let start = Instant::now();
    let err = pool.get_timeout(timeout).expect_err("create keeps failing");
    let elapsed = start.elapsed();
    let calls = pool.manager().create_calls.load(SeqCst);
    println!("{calls} create attempts in {elapsed:?}: {err}");
    assert!(err.is_timeout(), "{err:?}");
    let Error::Timeout { last_create_error: Some(last) } = &err else {
        panic!("expected a timeout carrying the create error, got {err:?}");
    };
    assert!(calls >= 2, "get retried create: {calls} calls");
    assert_eq!(*last, TestError(calls), "the last error, not the first");
    assert_eq!(err.create_error(), Some(&TestError(calls)));
    let source = std::error::Error::source(&err).expect("the create error is the source");
    assert_eq!(source.downcast_ref::<TestError>(), Some(&TestError(calls)));
    assert!(
        !err.to_string().contains("create failed (attempt"),
        "the cause is the source, not in the message: {err}"
    );
    assert!(elapsed >= timeout && elapsed < timeout + SLACK, "{elapsed:?}");
    assert_eq!(pool.status().size, 0, "failed creates leaked permits");
}

#[test]
fn without_acquire_timeout_a_failing_create_returns_at_once() {
    let pool = Pool::builder(manager()).max_size(2).acquire_timeout(None).build().unwrap();
    pool.manager().fail_create.store(true, SeqCst);
    let start = Instant::now();
    let err = pool.get().expect_err("create fails");
    let elapsed = start.elapsed();
    assert!(matches!(err, Error::Create(TestError(1))), "{err:?}");
    assert!(!err.is_timeout());
    assert_eq!(err.create_error(), Some(&TestError(1)));
    assert_eq!(err.to_string(), "creating a pooled object failed");
    let source = std::error::Error::source(&err).expect("the create error is the source");
    assert_eq!(source.to_string(), "create failed (attempt 1)");
    assert_eq!(pool.manager().create_calls.load(SeqCst), 1, "no retry without a deadline");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert_eq!(pool.status().size, 0);
}

/// A deadline too far off to represent (`Duration::MAX`) is no deadline, as in the async front
/// end: the first create failure is returned at once.
#[test]
fn with_an_unrepresentable_deadline_a_failing_create_returns_at_once() {
    let pool = Pool::builder(manager()).max_size(2).acquire_timeout(Some(Duration::MAX)).build().unwrap();
    pool.manager().fail_create.store(true, SeqCst);
    let err = pool.get().expect_err("create fails");
    assert!(matches!(err, Error::Create(TestError(1))), "{err:?}");
    let err = pool.get_timeout(Duration::MAX).expect_err("create fails");
    assert!(matches!(err, Error::Create(TestError(2))), "{err:?}");
    assert_eq!(pool.status().size, 0);
}

/// After failures, the pool must still be able to hold `max` objects at once.
#[track_caller]
fn assert_full_capacity_available(pool: &TestPool, max: usize) {
    assert_eq!(pool.status().size, 0, "failed creates leaked permits: {:?}", pool.status());
    let objs: Vec<_> = (0..max)
        .map(|i| pool.get_timeout(Duration::from_secs(5)).unwrap_or_else(|e| panic!("object {i}: {e}")))
        .collect();
    assert_eq!(pool.status().size, max);
    assert_eq!(live(pool), max);
    assert!(pool.get_timeout(Duration::from_millis(20)).expect_err("full").is_timeout());
    drop(objs);
    assert_at_rest(pool);
}

#[test]
fn a_failing_create_leaks_no_permit() {
    const MAX: usize = 3;
    let pool = Pool::builder(manager()).max_size(MAX).acquire_timeout(None).build().unwrap();
    pool.manager().fail_create.store(true, SeqCst);
    for _ in 0..10 {
        assert!(matches!(pool.get(), Err(Error::Create(_))));
    }
    // Failures while retrying against a deadline leak nothing either.
    for _ in 0..3 {
        assert!(pool.get_timeout(Duration::from_millis(20)).expect_err("fails").create_error().is_some());
    }
    assert!(pool.manager().create_calls.load(SeqCst) >= 13);
    pool.manager().fail_create.store(false, SeqCst);
    assert_full_capacity_available(&pool, MAX);
}

#[test]
fn a_panicking_create_leaks_no_permit() {
    const MAX: usize = 3;
    let pool = pool_of(MAX);
    pool.manager().panic_create.store(true, SeqCst);
    for _ in 0..10 {
        let outcome = catch_unwind(AssertUnwindSafe(|| pool.get().map(drop)));
        assert!(outcome.is_err(), "create panicked, so get unwinds");
    }
    assert_eq!(pool.manager().create_calls.load(SeqCst), 10);
    assert_eq!(pool.status().waiting, 0);
    pool.manager().panic_create.store(false, SeqCst);
    assert_full_capacity_available(&pool, MAX);
}

#[test]
fn a_broken_object_is_dropped_on_return_and_frees_its_place() {
    let pool = pool_of(1);
    // Not broken: kept and lent again.
    let first = pool.get().unwrap().id();
    assert_eq!(pool.get().unwrap().id(), first);
    assert_eq!(created(&pool), 1);

    let obj = pool.get().unwrap();
    pool.manager().broken.store(true, SeqCst);
    drop(obj);
    pool.manager().broken.store(false, SeqCst);
    assert_eq!(live(&pool), 0, "the broken object was dropped");
    assert_eq!(pool.status().size, 0, "its place was freed");
    let obj = pool.get_timeout(Duration::from_secs(1)).expect("room for a new one");
    assert_ne!(obj.id(), first);
    assert_eq!(created(&pool), 2);

    // Per object, too.
    obj.broken.store(true, SeqCst);
    drop(obj);
    assert_eq!((live(&pool), pool.status().size), (0, 0));
    drop(pool.get_timeout(Duration::from_secs(1)).expect("room for a new one"));
    assert_eq!(created(&pool), 3);
    assert_at_rest(&pool);
}

#[test]
fn a_failing_reset_drops_the_object_and_frees_its_place() {
    let pool = pool_of(1);
    let obj = pool.get().unwrap();
    let first = obj.id();
    pool.manager().fail_reset.store(true, SeqCst);
    drop(obj);
    pool.manager().fail_reset.store(false, SeqCst);
    assert_eq!(live(&pool), 0);
    assert_eq!(pool.status().size, 0);
    let obj = pool.get_timeout(Duration::from_secs(1)).expect("room for a new one");
    assert_ne!(obj.id(), first);
    assert_eq!(created(&pool), 2);
    drop(obj);
    assert_at_rest(&pool);
}

#[test]
fn a_panicking_reset_or_is_valid_drops_the_object_and_frees_its_place() {
    let pool = Pool::builder(manager()).max_size(1).validate_on_acquire(true).build().unwrap();
    let obj = pool.get().unwrap();
    pool.manager().panic_hooks.store(true, SeqCst);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(obj))).is_err(), "reset panicked on return");
    assert_eq!((live(&pool), pool.status().size), (0, 0), "not put back half-reset");

    pool.manager().panic_hooks.store(false, SeqCst);
    drop(pool.get().unwrap()); // object 1, idle
    pool.manager().panic_hooks.store(true, SeqCst);
    assert!(catch_unwind(AssertUnwindSafe(|| pool.get().map(drop))).is_err(), "is_valid panicked");
    assert_eq!((live(&pool), pool.status().size), (0, 0), "the object being checked was dropped");
    pool.manager().panic_hooks.store(false, SeqCst);
    assert_full_capacity_available(&pool, 1);
}

#[test]
fn an_object_dropped_while_its_holder_panics_is_not_put_back() {
    let pool = pool_of(2);
    let p = pool.clone();
    let outcome = thread::spawn(move || {
        let _obj = p.get().unwrap();
        panic!("holder panics");
    })
    .join();
    assert!(outcome.is_err());
    assert_eq!(live(&pool), 0, "the object was dropped");
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.in_use), (0, 0, 0), "{s:?}");
    assert!(pool.try_get().is_none());
    let obj = pool.get_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(obj.id(), 1, "a new object");
}

#[test]
fn close_wakes_every_waiter_at_once() {
    const WAITERS: usize = 4;
    let pool = pool_of(1);
    let held = pool.get().unwrap();
    let handles: Vec<_> = (0..WAITERS)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                let got = pool.get_timeout(Duration::from_secs(60)).map(|o| o.id());
                (got, Instant::now())
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(10), || pool.status().waiting == WAITERS), "{:?}", pool.status());
    assert!(!pool.is_closed());
    let closed_at = Instant::now();
    pool.close();
    assert!(pool.is_closed());
    for h in handles {
        let (got, at) = h.join().unwrap();
        let err = got.expect_err("closed");
        assert!(matches!(err, Error::Closed) && err.is_closed(), "{err:?}");
        let after = at.saturating_duration_since(closed_at);
        assert!(after < Duration::from_secs(2), "a waiter took {after:?} to see the close");
    }
    assert_eq!(pool.status().waiting, 0);
    // The in-use object is dropped on return, not put back.
    assert_eq!(live(&pool), 1);
    drop(held);
    assert_eq!(live(&pool), 0);
    assert_eq!(pool.status().size, 0);
    assert!(pool.get().expect_err("closed").is_closed());
    assert!(pool.try_get().is_none());
}

#[test]
fn close_drops_idle_objects_now_and_in_use_ones_on_return() {
    let pool = Pool::builder(manager()).max_size(3).min_idle(2).maintenance_thread(false).build().unwrap();
    assert_eq!(pool.warm().unwrap(), 2);
    assert_eq!(live(&pool), 2);
    let held = pool.get().unwrap();
    assert_eq!(pool.status().idle, 1);
    pool.close();
    assert!(pool.is_closed());
    assert_eq!(live(&pool), 1, "the idle object was dropped at close");
    assert_eq!(pool.status().idle, 0);
    drop(held);
    assert_eq!(live(&pool), 0, "the in-use object was dropped on return");
    assert_eq!(pool.status().size, 0);
    let start = Instant::now();
    assert!(matches!(pool.get(), Err(Error::Closed)));
    assert!(matches!(pool.get_timeout(Duration::from_secs(5)), Err(Error::Closed)));
    assert!(start.elapsed() < Duration::from_secs(1), "a closed pool does not wait");
    assert!(pool.try_get().is_none());
    assert_eq!(pool.resize(2), Err(ResizeError::Closed));
    assert_eq!(created(&pool), 2, "a closed pool creates nothing");
    pool.close(); // idempotent
    assert!(pool.is_closed());
}

#[test]
fn dropping_the_last_handle_closes_the_pool() {
    let pool = Pool::builder(manager()).max_size(2).min_idle(1).maintenance_thread(false).build().unwrap();
    let counts = Arc::clone(&pool.manager().counts);
    let held = pool.get_timeout(Duration::from_secs(1)).unwrap();
    let held2 = pool.get_timeout(Duration::from_secs(1)).unwrap();
    drop(held2);
    let clone = pool.clone();
    drop(pool);
    assert_eq!(counts.live.load(SeqCst), 2, "another handle keeps the pool open");
    drop(clone);
    assert_eq!(counts.live.load(SeqCst), 1, "idle objects dropped with the last handle");
    drop(held);
    assert_eq!(counts.live.load(SeqCst), 0, "in-use objects dropped on return");
}

/// A way to build a pool, to be checked for a `BuildError`.
type BuildFn = Box<dyn Fn() -> Result<TestPool, BuildError>>;

#[test]
fn builder_rejects_bad_values_without_panicking() {
    let ms = Duration::from_millis(1);
    let cases: Vec<(&str, BuildFn, BuildError)> = vec![
        ("max_size 0", Box::new(|| Pool::builder(manager()).max_size(0).build()), BuildError::ZeroMaxSize),
        (
            "min_idle > max_size",
            Box::new(|| Pool::builder(manager()).max_size(2).min_idle(3).build()),
            BuildError::MinIdleAboveMaxSize { min_idle: 3, max_size: 2 },
        ),
        (
            "capacity < max_size",
            Box::new(|| Pool::builder(manager()).max_size(4).capacity(3).build()),
            BuildError::CapacityBelowMaxSize { capacity: 3, max_size: 4 },
        ),
        (
            "zero idle_timeout",
            Box::new(|| Pool::builder(manager()).idle_timeout(Some(Duration::ZERO)).build()),
            BuildError::ZeroDuration { option: "idle_timeout" },
        ),
        (
            "zero max_lifetime",
            Box::new(|| Pool::builder(manager()).max_lifetime(Some(Duration::ZERO)).build()),
            BuildError::ZeroDuration { option: "max_lifetime" },
        ),
        (
            "zero health_check_interval",
            Box::new(|| Pool::builder(manager()).health_check_interval(Some(Duration::ZERO)).build()),
            BuildError::ZeroDuration { option: "health_check_interval" },
        ),
        (
            "create_timeout on a blocking pool",
            Box::new(|| Pool::builder(manager()).create_timeout(Some(Duration::from_secs(1))).build()),
            BuildError::Unsupported {
                option: "create_timeout",
                why: "a blocking create runs on the calling thread and cannot be interrupted; bound it in the manager instead (a connect timeout), and get() never waits longer than acquire_timeout plus one create",
            },
        ),
    ];
    for (what, build, expected) in cases {
        let outcome = catch_unwind(AssertUnwindSafe(build));
        let result = outcome.unwrap_or_else(|_| panic!("{what}: build panicked"));
        let err = result.err().unwrap_or_else(|| panic!("{what}: built a pool"));
        assert_eq!(err, expected, "{what}");
        assert!(!err.to_string().is_empty());
        let _: &dyn std::error::Error = &err;
    }
    if usize::BITS > 32 {
        // Rejected before anything is allocated.
        let outcome =
            catch_unwind(|| Pool::builder(manager()).max_size(1).capacity(usize::MAX).build().err());
        assert_eq!(
            outcome.expect("no panic"),
            Some(BuildError::CapacityTooLarge { capacity: usize::MAX }),
            "capacity usize::MAX"
        );
    }
    // Good values next to the bad ones build.
    let pool = Pool::builder(manager())
        .max_size(2)
        .capacity(4)
        .min_idle(2)
        .acquire_timeout(None)
        .idle_timeout(Some(ms))
        .max_lifetime(Some(ms))
        .validate_on_acquire(true)
        .health_check_interval(Some(ms))
        .build()
        .expect("valid");
    assert_eq!(pool.status().max_size, 2);
}

#[test]
fn build_creates_nothing_and_warm_creates_min_idle() {
    let pool = Pool::builder(manager()).max_size(5).min_idle(3).maintenance_thread(false).build().unwrap();
    assert_eq!(created(&pool), 0, "build creates nothing");
    assert_eq!(pool.warm().unwrap(), 3);
    assert_eq!(pool.warm().unwrap(), 0, "already warm");
    assert_eq!(created(&pool), 3);
    assert_eq!(live(&pool), 3);
    let s = pool.status();
    assert_eq!((s.max_size, s.size, s.idle, s.in_use), (5, 3, 3, 0), "{s:?}");
    let objs: Vec<_> = (0..3).map(|_| pool.try_get().expect("warm objects are idle")).collect();
    assert_eq!(created(&pool), 3, "lending warm objects creates nothing");
    drop(objs);
    assert_at_rest(&pool);
}

#[test]
fn warm_with_a_failing_create_reports_the_error_and_leaks_nothing() {
    let m = manager();
    m.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m)
        .max_size(3)
        .min_idle(2)
        .maintenance_thread(false)
        .build()
        .expect("build creates nothing");
    assert!(pool.warm().is_err(), "the first create error is returned");
    assert_eq!(pool.status().size, 0);
    pool.manager().fail_create.store(false, SeqCst);
    assert_full_capacity_available(&pool, 3);
}

#[test]
fn try_get_never_waits_and_never_creates() {
    let pool = pool_of(2);
    let start = Instant::now();
    assert!(pool.try_get().is_none(), "empty pool");
    assert_eq!(created(&pool), 0, "try_get does not create");
    assert_eq!(pool.status().size, 0);
    drop(pool.get().unwrap());
    let obj = pool.try_get().expect("one idle");
    assert_eq!(obj.id(), 0);
    // Room for one more, but nothing idle: still None.
    assert!(pool.try_get().is_none());
    assert_eq!(created(&pool), 1);
    let obj2 = pool.get().unwrap();
    // Exhausted: None at once.
    assert!(pool.try_get().is_none());
    assert!(start.elapsed() < Duration::from_secs(1), "try_get waited");
    assert_eq!(pool.status().waiting, 0);
    drop((obj, obj2));
    assert_at_rest(&pool);
}

#[test]
fn growing_lets_blocked_waiters_create_at_once() {
    const WAITERS: usize = 3;
    let pool = Pool::builder(manager()).max_size(1).capacity(4).build().unwrap();
    let held = pool.get().unwrap();
    let (tx, rx) = mpsc::channel();
    for _ in 0..WAITERS {
        let pool = pool.clone();
        let tx = tx.clone();
        thread::spawn(move || {
            let got = pool.get_timeout(Duration::from_secs(30));
            let id = got.as_ref().map(|o| o.id()).map_err(ToString::to_string);
            tx.send(id).unwrap();
            // Hold it until the main thread has seen all three.
            thread::sleep(Duration::from_millis(300));
            drop(got);
        });
    }
    assert!(wait_until(Duration::from_secs(10), || pool.status().waiting == WAITERS));
    let start = Instant::now();
    pool.resize(4).unwrap();
    let mut ids: Vec<usize> = (0..WAITERS)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("woken by resize").expect("got an object"))
        .collect();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3], "each waiter created a new object");
    assert_eq!(pool.status().max_size, 4);
    assert_eq!(created(&pool), 4);
    drop(held);
    assert!(wait_until(Duration::from_secs(10), || pool.status().in_use == 0));
    assert_at_rest(&pool);
}

#[test]
fn shrinking_drops_idle_extras_now_and_in_use_extras_on_return() {
    let pool = pool_of(4);
    let mut objs: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    drop(objs.pop()); // one idle, three in use
    assert_eq!(pool.status().idle, 1);
    pool.resize(1).unwrap();
    let s = pool.status();
    assert_eq!(s.max_size, 1);
    assert_eq!((s.size, s.idle), (3, 0), "the idle extra was dropped at once: {s:?}");
    assert_eq!(live(&pool), 3);
    for expected in [2, 1] {
        drop(objs.pop());
        assert_eq!(pool.status().size, expected, "an in-use extra retired on return");
        assert_eq!(live(&pool), expected);
    }
    drop(objs.pop());
    let s = pool.status();
    assert_eq!((s.size, s.idle), (1, 1), "the last one is kept: {s:?}");
    // The new maximum holds.
    let obj = pool.get().unwrap();
    assert!(pool.get_timeout(Duration::from_millis(30)).expect_err("max_size 1").is_timeout());
    drop(obj);
    assert_eq!(created(&pool), 4);
    assert_at_rest(&pool);
}

#[test]
fn resize_out_of_range_is_an_error() {
    let pool = Pool::builder(manager()).max_size(2).capacity(4).build().unwrap();
    assert_eq!(pool.resize(5), Err(ResizeError::MaxSizeAboveCapacity { max_size: 5, capacity: 4 }));
    assert_eq!(pool.resize(0), Err(ResizeError::ZeroMaxSize));
    assert_eq!(pool.status().max_size, 2, "unchanged after errors");
    pool.resize(4).unwrap();
    assert_eq!(pool.status().max_size, 4);
    let objs: Vec<_> = (0..4).map(|_| pool.get_timeout(Duration::from_secs(1)).unwrap()).collect();
    assert_eq!(live(&pool), 4);
    drop(objs);
}

#[test]
fn detach_takes_the_object_out_for_good_and_frees_its_place() {
    let pool = pool_of(1);
    let obj = pool.get().unwrap();
    obj.enter();
    let detached: Obj = Pooled::detach(obj);
    assert_eq!(detached.id(), 0);
    assert_eq!(pool.status().size, 0, "its place is free");
    assert_eq!(live(&pool), 1, "the caller owns it now");
    let next = pool.get_timeout(Duration::from_millis(500)).expect("room for a new one");
    assert_eq!(next.id(), 1);
    drop(next);
    drop(detached);
    assert_eq!(live(&pool), 1);
    assert_at_rest(&pool);
}

#[test]
fn fairness_no_thread_starves() {
    const THREADS: usize = 8;
    let gets = scale(150);
    let hold = Duration::from_micros(100);
    let pool = pool_of(2);

    // Part 1: every thread completes its gets, each within the default 30 s timeout.
    let barrier = Arc::new(Barrier::new(THREADS));
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let pool = pool.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut worst = Duration::ZERO;
                for _ in 0..gets {
                    let t = Instant::now();
                    let obj = pool.get().expect("no starvation: a get within 30 s");
                    worst = worst.max(t.elapsed());
                    obj.enter();
                    thread::sleep(hold);
                    obj.leave();
                }
                worst
            })
        })
        .collect();
    let worst: Vec<Duration> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!("{THREADS} threads x {gets} gets in {:?}; worst wait per thread: {worst:?}", start.elapsed());

    // Part 2: how evenly a fixed window is shared.
    let window = if cfg!(miri) { Duration::from_millis(50) } else { Duration::from_millis(1000) };
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let pool = pool.clone();
            let stop = Arc::clone(&stop);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut n = 0_usize;
                while !stop.load(SeqCst) {
                    let obj = pool.get().expect("no starvation: a get within 30 s");
                    obj.enter();
                    thread::sleep(hold);
                    obj.leave();
                    drop(obj);
                    n += 1;
                }
                n
            })
        })
        .collect();
    barrier.wait();
    thread::sleep(window);
    stop.store(true, SeqCst);
    let counts: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let min = *counts.iter().min().unwrap();
    let max = *counts.iter().max().unwrap();
    #[allow(clippy::cast_precision_loss)]
    let mean = counts.iter().sum::<usize>() as f64 / THREADS as f64;
    println!("gets per thread in {window:?}: min {min}, max {max}, mean {mean:.1}: {counts:?}");
    #[allow(clippy::cast_precision_loss)]
    let min_f = min as f64;
    assert!(min > 0, "a thread got nothing in {window:?}: {counts:?}");
    assert!(min_f >= 0.3 * mean, "a thread starved: {counts:?}");
    assert!(pool.manager().counts.max_live.load(SeqCst) <= 2);
    assert_at_rest(&pool);
}

#[test]
fn status_balances_after_concurrent_work() {
    const THREADS: usize = 6;
    const MAX: usize = 3;
    let rounds = scale(400);
    let pool = pool_of(MAX);
    let detached = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let pool = pool.clone();
            let detached = Arc::clone(&detached);
            thread::spawn(move || {
                for i in 0..rounds {
                    let obj = if i % 5 == 0 {
                        match pool.try_get() {
                            Some(obj) => obj,
                            None => continue,
                        }
                    } else {
                        pool.get_timeout(Duration::from_secs(20)).expect("get")
                    };
                    obj.enter();
                    obj.leave();
                    match (i + t) % 13 {
                        0 => obj.broken.store(true, SeqCst),
                        1 => {
                            drop(Pooled::detach(obj));
                            detached.fetch_add(1, SeqCst);
                            continue;
                        }
                        _ => {}
                    }
                    drop(obj);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = pool.status();
    println!("{s:?}; created {}; detached {}", created(&pool), detached.load(SeqCst));
    assert!(detached.load(SeqCst) > 0);
    assert!(created(&pool) > MAX, "broken and detached objects were replaced");
    assert!(pool.manager().counts.max_live.load(SeqCst) <= MAX);
    assert_at_rest(&pool);
    assert_eq!(s.max_size, MAX);
    // And the pool is whole: `MAX` objects can be out at once, then all are idle.
    let objs: Vec<_> = (0..MAX).map(|_| pool.get_timeout(Duration::from_secs(1)).expect("room")).collect();
    drop(objs);
    assert_eq!(pool.status().idle, MAX);
    assert_at_rest(&pool);
}

#[test]
fn idle_timeout_drops_an_expired_idle_object() {
    let idle_timeout = Duration::from_millis(150);
    let pool = Pool::builder(manager())
        .max_size(2)
        .idle_timeout(Some(idle_timeout))
        .maintenance_thread(false)
        .build()
        .unwrap();
    drop(pool.get().unwrap());
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 0, "fresh enough: lent again");
    drop(obj);
    thread::sleep(idle_timeout * 2);
    assert!(pool.try_get().is_none(), "the expired object is not lent by try_get");
    assert_eq!(live(&pool), 0, "the expired object was dropped");
    assert_eq!(pool.status().size, 0);
    drop(pool.get().unwrap());
    thread::sleep(idle_timeout * 2);
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 2, "a new object instead of the expired one");
    assert_eq!(live(&pool), 1);
    drop(obj);
    assert_at_rest(&pool);
}

#[test]
fn max_lifetime_drops_an_old_object() {
    let lifetime = Duration::from_millis(150);
    let pool = Pool::builder(manager())
        .max_size(2)
        .max_lifetime(Some(lifetime))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let obj = pool.get().unwrap();
    drop(obj);
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 0, "young: lent again");
    thread::sleep(lifetime * 2); // aged while in use
    drop(obj);
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 1, "the old object is replaced");
    assert_eq!(live(&pool), 1);
    drop(obj);
    assert_at_rest(&pool);
}

#[test]
fn validate_on_acquire_drops_an_invalid_object() {
    // Off by default: is_valid is never called.
    let plain = pool_of(1);
    plain.manager().invalid.store(true, SeqCst);
    for _ in 0..3 {
        assert_eq!(plain.get().unwrap().id(), 0);
    }
    assert_eq!(plain.manager().valid_calls.load(SeqCst), 0);

    let pool = Pool::builder(manager()).max_size(1).validate_on_acquire(true).build().unwrap();
    drop(pool.get().unwrap());
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 0, "valid: lent again");
    assert_eq!(pool.manager().valid_calls.load(SeqCst), 1, "checked before lending the idle object");
    drop(obj);
    pool.manager().invalid.store(true, SeqCst);
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 1, "the invalid object was replaced");
    assert_eq!(pool.manager().valid_calls.load(SeqCst), 2);
    assert_eq!(live(&pool), 1, "the invalid object was dropped");
    drop(obj);
    assert!(pool.try_get().is_none(), "try_get does not lend an invalid object either");
    assert_eq!(live(&pool), 0);
    assert_at_rest(&pool);
}

#[test]
fn health_check_interval_validates_objects_idle_that_long() {
    let interval = Duration::from_millis(150);
    let pool = Pool::builder(manager())
        .max_size(1)
        .health_check_interval(Some(interval))
        .maintenance_thread(false)
        .build()
        .unwrap();
    drop(pool.get().unwrap());
    pool.manager().invalid.store(true, SeqCst);
    let obj = pool.get().unwrap();
    assert_eq!(obj.id(), 0, "idle only briefly: not checked");
    assert_eq!(pool.manager().valid_calls.load(SeqCst), 0);
    drop(obj);
    thread::sleep(interval * 2);
    let obj = pool.get().unwrap();
    assert_eq!(pool.manager().valid_calls.load(SeqCst), 1, "idle past the interval: checked");
    assert_eq!(obj.id(), 1, "and replaced, being invalid");
    assert_eq!(live(&pool), 1);
    drop(obj);
    assert_at_rest(&pool);
}

/// Issue 9: a capacity that cannot be allocated is a `BuildError` naming it, not an abort.
#[test]
fn a_capacity_that_cannot_be_allocated_is_a_build_error() {
    let err =
        Pool::builder(manager()).max_size(2).capacity(1 << 31).build().expect_err("too large to allocate");
    assert!(matches!(err, BuildError::OutOfMemory { capacity, .. } if capacity == 1 << 31), "{err:?}");
    assert!(err.to_string().contains("capacity 2147483648"), "{err}");
}

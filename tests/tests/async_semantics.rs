//! Behaviour of the async front end (`cenote_async`) on every kind of executor.
//!
//! Each scenario is written once, as an `async fn` taking an [`Rt`] (how to spawn a task), and
//! `on_every_executor!` runs it four times:
//!
//! * `tokio_multi_thread`: a 2-worker tokio runtime, the scenario itself spawned on it;
//! * `tokio_current_thread`: tokio's single-threaded runtime;
//! * `smol`: `smol::block_on` driving a `smol::Executor` (plus one helper thread running it);
//! * `block_on`: a bare `futures_lite::future::block_on`, no runtime at all; "spawning" there
//!   starts an OS thread with its own `block_on`.
//!
//! None of the runtimes has its timer enabled (tokio is built without `enable_time`): the pool's
//! timeouts must work without one. Scenarios pause with `smol::Timer` (async-io's own thread),
//! which works on any executor.
#![allow(missing_docs)]

mod common;

use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use cenote_async::{Error, Manager, Pool, Pooled};
use common::{Counts, Tracked};
use futures_lite::future::yield_now;
use futures_lite::FutureExt as _;

/// How late a timeout may complete on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

// ---------------------------------------------------------------------------------------------
// Executors

/// How a scenario spawns tasks on the executor it runs on.
#[derive(Clone)]
enum Rt {
    Tokio,
    Smol(Arc<smol::Executor<'static>>),
    /// No runtime: each task is an OS thread running `futures_lite::future::block_on`.
    Threads,
}

/// A spawned task's result; re-raises the task's panic.
type Join<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Rt {
    fn spawn<F>(&self, fut: F) -> Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Rt::Tokio => {
                let handle = tokio::spawn(fut);
                Box::pin(async move {
                    match handle.await {
                        Ok(output) => output,
                        Err(e) => std::panic::resume_unwind(e.into_panic()),
                    }
                })
            }
            Rt::Smol(ex) => Box::pin(ex.spawn(fut)),
            Rt::Threads => {
                let (tx, rx) = smol::channel::bounded(1);
                std::thread::spawn(move || {
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| futures_lite::future::block_on(fut)));
                    let _ = tx.send_blocking(result);
                });
                Box::pin(async move {
                    match rx.recv().await.expect("task thread vanished") {
                        Ok(output) => output,
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                })
            }
        }
    }
}

fn on_tokio_multi_thread<F>(scenario: fn(Rt) -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("tokio runtime");
    // Spawned, so that the scenario itself runs on a worker thread.
    let task = rt.spawn(scenario(Rt::Tokio));
    if let Err(e) = rt.block_on(task) {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn on_tokio_current_thread<F: Future<Output = ()>>(scenario: fn(Rt) -> F) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime");
    rt.block_on(scenario(Rt::Tokio));
}

fn on_smol<F: Future<Output = ()>>(scenario: fn(Rt) -> F) {
    let ex = Arc::new(smol::Executor::new());
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let helper = {
        let ex = Arc::clone(&ex);
        std::thread::spawn(move || {
            smol::block_on(ex.run(async move {
                let _ = stopped.recv().await;
            }));
        })
    };
    smol::block_on(ex.run(scenario(Rt::Smol(Arc::clone(&ex)))));
    drop(stop);
    helper.join().expect("smol helper thread");
}

fn on_block_on<F: Future<Output = ()>>(scenario: fn(Rt) -> F) {
    futures_lite::future::block_on(scenario(Rt::Threads));
}

/// One test per executor for each scenario, in a module named after it.
macro_rules! on_every_executor {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn tokio_multi_thread() {
                super::on_tokio_multi_thread(super::$scenario);
            }
            #[test]
            fn tokio_current_thread() {
                super::on_tokio_current_thread(super::$scenario);
            }
            #[test]
            fn smol() {
                super::on_smol(super::$scenario);
            }
            #[test]
            fn block_on() {
                super::on_block_on(super::$scenario);
            }
        }
    )*};
}

on_every_executor!(
    max_size_never_exceeded_and_nothing_lent_twice,
    get_timeout_on_exhausted_pool_times_out,
    hung_create_hits_create_timeout_and_leaks_no_permit,
    timeout_carries_last_create_error,
    failing_and_panicking_create_leak_no_permit,
    panicking_reset_is_valid_and_has_broken_free_the_place,
    broken_object_is_dropped_on_return,
    reset_runs_in_next_getters_task,
    failing_reset_drops_object_and_getter_gets_another,
    object_of_panicking_holder_is_not_put_back,
    close_wakes_every_waiter_at_once,
    resize_up_wakes_a_waiter,
);

// ---------------------------------------------------------------------------------------------
// The manager

/// Switches and counters shared by a test and its manager.
#[derive(Debug, Default)]
struct Knobs {
    fail_create: AtomicBool,
    panic_create: AtomicBool,
    hang_create: AtomicBool,
    panic_reset: AtomicBool,
    panic_is_valid: AtomicBool,
    panic_has_broken: AtomicBool,
    create_calls: AtomicUsize,
    reset_calls: AtomicUsize,
    /// `reset` calls that did not run inside a `get` being polled (see [`InGet`]).
    reset_outside_get: AtomicUsize,
    has_broken_calls: AtomicUsize,
}

#[derive(Debug)]
struct Conn {
    tracked: Tracked,
    /// Set while a holder has it: catches an object lent twice at once.
    lent: AtomicBool,
    broken: bool,
    fail_reset: bool,
}

#[derive(Debug)]
struct TestManager {
    counts: Arc<Counts>,
    knobs: Arc<Knobs>,
}

impl Manager for TestManager {
    type Connection = Conn;
    type Error = String;

    async fn create(&self) -> Result<Conn, String> {
        let n = self.knobs.create_calls.fetch_add(1, SeqCst);
        if self.knobs.panic_create.load(SeqCst) {
            panic!("create #{n} panics on purpose");
        }
        if self.knobs.hang_create.load(SeqCst) {
            futures_lite::future::pending::<()>().await;
        }
        if self.knobs.fail_create.load(SeqCst) {
            return Err(format!("create #{n} failed"));
        }
        Ok(Conn {
            tracked: Tracked::new(&self.counts),
            lent: AtomicBool::new(false),
            broken: false,
            fail_reset: false,
        })
    }

    async fn reset(&self, conn: &mut Conn) -> Result<(), String> {
        self.knobs.reset_calls.fetch_add(1, SeqCst);
        if !IN_GET.get() {
            self.knobs.reset_outside_get.fetch_add(1, SeqCst);
        }
        yield_now().await; // a real await point: the reset may be suspended
        if self.knobs.panic_reset.load(SeqCst) {
            panic!("reset panics on purpose");
        }
        if conn.fail_reset {
            return Err(format!("reset of object {} failed", conn.tracked.id));
        }
        Ok(())
    }

    async fn is_valid(&self, _conn: &mut Conn) -> bool {
        yield_now().await;
        if self.knobs.panic_is_valid.load(SeqCst) {
            panic!("is_valid panics on purpose");
        }
        true
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.knobs.has_broken_calls.fetch_add(1, SeqCst);
        if self.knobs.panic_has_broken.load(SeqCst) {
            panic!("has_broken panics on purpose");
        }
        conn.broken
    }
}

fn manager() -> (TestManager, Arc<Counts>, Arc<Knobs>) {
    let counts = Arc::new(Counts::default());
    let knobs = Arc::new(Knobs::default());
    (TestManager { counts: Arc::clone(&counts), knobs: Arc::clone(&knobs) }, counts, knobs)
}

thread_local! {
    /// Whether the current thread is inside a poll of an [`InGet`] future.
    static IN_GET: Cell<bool> = const { Cell::new(false) };
}

/// Marks the thread as "inside a getter's poll" while polling `F`, so that the manager can
/// tell that `reset` runs in the getter's task (and not, say, on a task spawned on drop).
struct InGet<F>(Pin<Box<F>>);

impl<F: Future> Future for InGet<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let outer = IN_GET.replace(true);
        let poll = self.0.as_mut().poll(cx);
        IN_GET.set(outer);
        poll
    }
}

fn in_get<F: Future>(fut: F) -> InGet<F> {
    InGet(Box::pin(fut))
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// After all work: nothing lent, nobody waiting, every object idle, `max_size` respected.
#[track_caller]
fn assert_balanced<M: Manager>(pool: &Pool<M>) {
    let s = pool.status();
    assert_eq!(s.in_use, 0, "objects still lent or places still held: {s:?}");
    assert_eq!(s.waiting, 0, "waiters left behind: {s:?}");
    assert_eq!(s.size, s.idle, "{s:?}");
    assert!(s.size <= s.max_size, "{s:?}");
}

/// Takes `max_size` objects at once: no place was leaked.
async fn take_all<M: Manager>(pool: &Pool<M>) -> Vec<Pooled<M>> {
    let max = pool.status().max_size;
    let mut all = Vec::with_capacity(max);
    for i in 0..max {
        match pool.get_timeout(Duration::from_secs(5)).await {
            Ok(conn) => all.push(conn),
            Err(e) => {
                panic!("could take only {i} of max_size {max} objects at once: {e} ({:?})", pool.status())
            }
        }
    }
    all
}

async fn pause(d: Duration) {
    smol::Timer::after(d).await;
}

/// Polls `cond` every millisecond until it holds; fails the test after 10 s.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        pause(Duration::from_millis(1)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// 64 tasks × 200 gets on `max_size` 4: never more than 4 objects, never one lent twice.
async fn max_size_never_exceeded_and_nothing_lent_twice(rt: Rt) {
    const TASKS: usize = 64;
    const GETS: usize = 200;
    const MAX: usize = 4;
    let (m, counts, _) = manager();
    let pool = Pool::builder(m).max_size(MAX).build().expect("valid config");
    let lent_now = Arc::new(AtomicUsize::new(0));
    let max_lent = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let pool = pool.clone();
            let lent_now = Arc::clone(&lent_now);
            let max_lent = Arc::clone(&max_lent);
            rt.spawn(async move {
                for i in 0..GETS {
                    let conn = pool.get().await.unwrap_or_else(|e| panic!("task {t} get {i}: {e}"));
                    assert!(!conn.lent.swap(true, SeqCst), "object {} lent twice at once", conn.tracked.id);
                    let now = lent_now.fetch_add(1, SeqCst) + 1;
                    max_lent.fetch_max(now, SeqCst);
                    if (t + i) % 3 == 0 {
                        yield_now().await; // hold it across an await
                    }
                    lent_now.fetch_sub(1, SeqCst);
                    conn.lent.store(false, SeqCst);
                    drop(conn);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert!(max_lent.load(SeqCst) <= MAX, "{} objects lent at once", max_lent.load(SeqCst));
    assert!(counts.max_live.load(SeqCst) <= MAX, "{} objects alive at once", counts.max_live.load(SeqCst));
    assert_balanced(&pool);
    assert_eq!(counts.live.load(SeqCst), pool.status().size);
}

/// `get_timeout` (and `acquire_timeout`) on an exhausted pool fail with `Timeout` after about
/// the limit: the pool's own timer, no runtime's.
async fn get_timeout_on_exhausted_pool_times_out(_rt: Rt) {
    const LIMIT: Duration = Duration::from_millis(100);
    let (m, _, _) = manager();
    let pool = Pool::builder(m).max_size(1).acquire_timeout(Some(LIMIT)).build().expect("valid config");
    let held = pool.get().await.expect("first get");

    for via_get_timeout in [true, false] {
        let start = Instant::now();
        let result = if via_get_timeout { pool.get_timeout(LIMIT).await } else { pool.get().await };
        let took = start.elapsed();
        let err = result.expect_err("the pool is exhausted");
        assert!(matches!(err, Error::Timeout { last_create_error: None }), "{err:?}");
        assert!(err.is_timeout() && !err.is_closed());
        assert!(took >= LIMIT, "timed out early, after {took:?}");
        assert!(took < LIMIT + SLACK, "timed out late, after {took:?}");
        assert_eq!(pool.status().waiting, 0);
    }
    drop(held);
    assert_balanced(&pool);
    assert_eq!(pool.status().size, 1);
}

/// A `create` that never completes gives `CreateTimeout` after `create_timeout`, and its place
/// is freed.
async fn hung_create_hits_create_timeout_and_leaks_no_permit(_rt: Rt) {
    const LIMIT: Duration = Duration::from_millis(50);
    let (m, counts, knobs) = manager();
    let pool = Pool::builder(m)
        .max_size(2)
        .create_timeout(Some(LIMIT))
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("valid config");
    knobs.hang_create.store(true, SeqCst);
    for _ in 0..3 {
        let start = Instant::now();
        let err = pool.get().await.expect_err("create hangs");
        let took = start.elapsed();
        assert!(matches!(err, Error::CreateTimeout), "{err:?}");
        assert!(err.is_timeout());
        assert!(took >= LIMIT && took < LIMIT + SLACK, "took {took:?}");
        let s = pool.status();
        assert_eq!((s.size, s.in_use, s.waiting), (0, 0, 0), "the hung create's place leaked: {s:?}");
    }
    knobs.hang_create.store(false, SeqCst);
    let all = take_all(&pool).await;
    assert_eq!(all.len(), 2);
    assert_eq!(counts.created.load(SeqCst), 2);
    drop(all);
    assert_balanced(&pool);

    // Without a `create_timeout` the acquire deadline bounds the hung create.
    let (m, _, knobs) = manager();
    let pool = Pool::builder(m).max_size(1).build().expect("valid config");
    knobs.hang_create.store(true, SeqCst);
    let start = Instant::now();
    let err = pool.get_timeout(LIMIT).await.expect_err("create hangs");
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout { last_create_error: None }), "{err:?}");
    assert!(took >= LIMIT && took < LIMIT + SLACK, "took {took:?}");
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.waiting), (0, 0, 0), "the hung create's place leaked: {s:?}");
    knobs.hang_create.store(false, SeqCst);
    drop(take_all(&pool).await);
    assert_balanced(&pool);
}

/// A deadline that passes while `create` keeps failing reports the last creation error; with
/// no deadline a failing `create` is reported at once as `Error::Create`.
async fn timeout_carries_last_create_error(_rt: Rt) {
    const LIMIT: Duration = Duration::from_millis(150);
    let (m, _, knobs) = manager();
    let pool = Pool::builder(m).max_size(2).build().expect("valid config");
    knobs.fail_create.store(true, SeqCst);

    let start = Instant::now();
    let err = pool.get_timeout(LIMIT).await.expect_err("create fails");
    let took = start.elapsed();
    let calls = knobs.create_calls.load(SeqCst);
    assert!(took >= LIMIT && took < LIMIT + SLACK, "took {took:?}");
    assert!(calls >= 2, "get did not retry the failing create ({calls} call)");
    let expected = format!("create #{} failed", calls - 1);
    match &err {
        Error::Timeout { last_create_error: Some(e) } => assert_eq!(*e, expected),
        other => panic!("expected a timeout carrying the last create error, got {other:?}"),
    }
    assert!(err.is_timeout());
    assert_eq!(err.create_error(), Some(&expected));
    assert!(!err.to_string().contains(&expected), "the cause is not repeated in the message: {err}");
    assert_eq!(pool.status().size, 0);

    // No deadline: the first failure is the answer.
    let (m, _, knobs) = manager();
    let forever = Pool::builder(m).max_size(2).acquire_timeout(None).build().expect("valid config");
    knobs.fail_create.store(true, SeqCst);
    let err = forever.get().await.expect_err("create fails");
    match &err {
        Error::Create(e) => assert_eq!(e, "create #0 failed"),
        other => panic!("expected Error::Create, got {other:?}"),
    }
    assert!(!err.is_timeout());
    assert_eq!(knobs.create_calls.load(SeqCst), 1);
    assert_eq!(forever.status().size, 0);

    // A deadline too far off to represent (`Duration::MAX`) is no deadline, in both front ends:
    // the first failure is the answer, not a retry loop that never ends.
    let (m, _, knobs) = manager();
    let far = Pool::builder(m).max_size(2).acquire_timeout(Some(Duration::MAX)).build().expect("valid");
    knobs.fail_create.store(true, SeqCst);
    let err = far.get().await.expect_err("create fails");
    assert!(matches!(&err, Error::Create(e) if e == "create #0 failed"), "{err:?}");
    assert_eq!(knobs.create_calls.load(SeqCst), 1);
    let err = far.get_timeout(Duration::MAX).await.expect_err("create fails");
    assert!(matches!(err, Error::Create(_)), "{err:?}");
    assert_eq!(far.status().size, 0);

    for pool in [pool, forever] {
        pool.manager().knobs.fail_create.store(false, SeqCst);
        drop(take_all(&pool).await);
        assert_balanced(&pool);
    }
}

/// Failing and panicking creates give their place back every time.
async fn failing_and_panicking_create_leak_no_permit(_rt: Rt) {
    const MAX: usize = 2;
    let (m, counts, knobs) = manager();
    let pool = Pool::builder(m).max_size(MAX).acquire_timeout(None).build().expect("valid config");

    knobs.fail_create.store(true, SeqCst);
    for _ in 0..10 {
        assert!(matches!(pool.get().await, Err(Error::Create(_))));
        assert_eq!(pool.status().size, 0, "a failed create kept its place");
    }
    knobs.fail_create.store(false, SeqCst);

    // One object lent while creates panic: the panics must not eat the other place.
    let held = pool.get().await.expect("create works again");
    knobs.panic_create.store(true, SeqCst);
    for _ in 0..5 {
        let caught = AssertUnwindSafe(pool.get()).catch_unwind().await;
        assert!(caught.is_err(), "create was meant to panic");
        let s = pool.status();
        assert_eq!((s.size, s.waiting), (1, 0), "a panicking create kept its place: {s:?}");
    }
    knobs.panic_create.store(false, SeqCst);
    drop(held);

    let all = take_all(&pool).await;
    assert_eq!(all.len(), MAX);
    assert_eq!(counts.live.load(SeqCst), MAX);
    drop(all);
    assert_balanced(&pool);
}

/// A `reset` or `is_valid` that panics in the getter's task, or a `has_broken` that panics on
/// return, drops that object and frees its place.
async fn panicking_reset_is_valid_and_has_broken_free_the_place(_rt: Rt) {
    const MAX: usize = 2;
    let (m, counts, knobs) = manager();
    let pool = Pool::builder(m).max_size(MAX).validate_on_acquire(true).build().expect("valid config");
    for knob in [&knobs.panic_reset, &knobs.panic_is_valid] {
        let other = pool.get().await.expect("get");
        drop(pool.get().await.expect("get")); // idle, to be reset and validated
        knob.store(true, SeqCst);
        let caught = AssertUnwindSafe(pool.get()).catch_unwind().await;
        knob.store(false, SeqCst);
        assert!(caught.is_err(), "the manager was meant to panic");
        let s = pool.status();
        assert_eq!((s.size, s.waiting), (1, 0), "the object whose check panicked kept its place: {s:?}");
        assert_eq!(counts.live.load(SeqCst), 1, "the object whose check panicked was kept");
        drop(other);
    }

    let conn = pool.get().await.expect("get");
    knobs.panic_has_broken.store(true, SeqCst);
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| drop(conn)));
    knobs.panic_has_broken.store(false, SeqCst);
    assert!(caught.is_err(), "has_broken was meant to panic");
    assert_eq!(counts.live.load(SeqCst), 0, "the object whose has_broken panicked was put back");
    assert_eq!(pool.status().size, 0);

    drop(take_all(&pool).await);
    assert_balanced(&pool);
}

/// `has_broken` runs on return; `true` drops the object and frees its place.
async fn broken_object_is_dropped_on_return(_rt: Rt) {
    let (m, counts, knobs) = manager();
    let pool = Pool::new(m, 2);
    let mut conn = pool.get().await.expect("get");
    conn.broken = true;
    drop(conn);
    assert_eq!(knobs.has_broken_calls.load(SeqCst), 1);
    assert_eq!(counts.live.load(SeqCst), 0, "the broken object was not dropped");
    assert_eq!(pool.status().size, 0);

    let conn = pool.get().await.expect("get");
    assert_eq!(conn.tracked.id, 1, "got the broken object back");
    drop(conn);
    assert_eq!(knobs.has_broken_calls.load(SeqCst), 2);
    assert_eq!(counts.live.load(SeqCst), 1);
    assert_eq!(pool.status().idle, 1);
    drop(take_all(&pool).await);
    assert_balanced(&pool);
}

/// `reset` does not run on drop (nor on a spawned task afterwards) but in the next `get`,
/// inside the getter's poll.
async fn reset_runs_in_next_getters_task(_rt: Rt) {
    let (m, _, knobs) = manager();
    let pool = Pool::new(m, 1);
    let conn = in_get(pool.get()).await.expect("get");
    assert_eq!(knobs.reset_calls.load(SeqCst), 0, "a new object was reset");
    let id = conn.tracked.id;
    drop(conn);
    pause(Duration::from_millis(20)).await; // time for anything spawned on drop to run
    assert_eq!(knobs.reset_calls.load(SeqCst), 0, "reset ran on drop, not in the next get");

    for round in 1..=3 {
        let conn = in_get(pool.get()).await.expect("get");
        assert_eq!(conn.tracked.id, id);
        assert_eq!(knobs.reset_calls.load(SeqCst), round, "reset did not run in get #{round}");
        drop(conn);
        assert_eq!(knobs.reset_calls.load(SeqCst), round, "reset ran on drop");
    }
    assert_eq!(knobs.reset_outside_get.load(SeqCst), 0, "reset ran outside the getter's poll");
    assert_balanced(&pool);
}

/// A failing `reset` drops that object, and the getter gets another one.
async fn failing_reset_drops_object_and_getter_gets_another(_rt: Rt) {
    let (m, counts, knobs) = manager();
    let pool = Pool::new(m, 1);
    let mut conn = pool.get().await.expect("get");
    conn.fail_reset = true;
    drop(conn);
    assert_eq!(counts.live.load(SeqCst), 1, "the object is idle until its reset");

    let conn = in_get(pool.get()).await.expect("the getter gets a new object");
    assert_eq!(knobs.reset_calls.load(SeqCst), 1);
    assert_eq!(conn.tracked.id, 1, "got the object whose reset failed");
    assert_eq!(counts.live.load(SeqCst), 1, "the object whose reset failed was not dropped");
    assert_eq!(counts.created.load(SeqCst), 2);
    drop(conn);
    assert_eq!(pool.status().size, 1);
    assert_balanced(&pool);
}

/// An object dropped while its holder panics is not put back; its place is freed.
async fn object_of_panicking_holder_is_not_put_back(rt: Rt) {
    let (m, counts, _) = manager();
    let pool = Pool::new(m, 2);

    let caught = AssertUnwindSafe(async {
        let _conn = pool.get().await.expect("get");
        panic!("the holder panics on purpose");
    })
    .catch_unwind()
    .await;
    assert!(caught.is_err());
    assert_eq!(counts.live.load(SeqCst), 0, "the panicking holder's object was kept");
    assert_eq!(pool.status().size, 0);

    // The same in a spawned task.
    let task = rt.spawn({
        let pool = pool.clone();
        async move {
            let _conn = pool.get().await.expect("get");
            yield_now().await;
            panic!("the holder task panics on purpose");
        }
    });
    assert!(AssertUnwindSafe(task).catch_unwind().await.is_err());
    assert_eq!(counts.live.load(SeqCst), 0, "the panicking task's object was kept");
    assert_eq!(pool.status().size, 0);

    drop(take_all(&pool).await);
    assert_balanced(&pool);
}

/// `close()` wakes every waiter at once with `Error::Closed`; in-use objects are dropped on
/// return.
async fn close_wakes_every_waiter_at_once(rt: Rt) {
    const WAITERS: usize = 8;
    let (m, counts, _) = manager();
    let pool = Pool::builder(m)
        .max_size(1)
        .acquire_timeout(Some(Duration::from_secs(30)))
        .build()
        .expect("valid config");
    let held = pool.get().await.expect("get");
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let pool = pool.clone();
            rt.spawn(async move {
                let result = pool.get().await;
                (result.map(drop), Instant::now())
            })
        })
        .collect();
    wait_until("every waiter waits", || pool.status().waiting == WAITERS).await;
    let closed_at = Instant::now();
    pool.close();
    assert!(pool.is_closed());
    for waiter in waiters {
        let (result, done) = waiter.await;
        let err = result.expect_err("the pool was closed");
        assert!(matches!(err, Error::Closed) && err.is_closed(), "{err:?}");
        let after = done.duration_since(closed_at);
        assert!(after < SLACK, "a waiter got Closed {after:?} after close");
    }
    assert!(matches!(pool.get().await, Err(Error::Closed)));
    assert_eq!(counts.live.load(SeqCst), 1);
    drop(held);
    assert_eq!(counts.live.load(SeqCst), 0, "the in-use object was kept after close");
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.waiting), (0, 0, 0), "{s:?}");
}

/// Growing `max_size` lets a waiter create an object at once.
async fn resize_up_wakes_a_waiter(rt: Rt) {
    let (m, counts, _) = manager();
    let pool = Pool::builder(m).max_size(1).capacity(2).build().expect("valid config");
    let held = pool.get().await.expect("get");
    let waiter = rt.spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|conn| conn.tracked.id) }
    });
    wait_until("the waiter waits", || pool.status().waiting == 1).await;
    let resized_at = Instant::now();
    pool.resize(2).expect("within capacity");
    let id = waiter.await.expect("the waiter gets the new place");
    assert!(resized_at.elapsed() < SLACK, "resize woke the waiter late");
    assert_eq!(id, 1, "the waiter did not create a new object");
    assert_eq!(counts.live.load(SeqCst), 2);
    assert_eq!(pool.status().max_size, 2);
    drop(held);
    drop(take_all(&pool).await);
    assert_balanced(&pool);
    assert_eq!(pool.status().size, 2);
}

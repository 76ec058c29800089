//! Health under load in the async front end, on tokio (multi- and current-thread), smol and a
//! bare `block_on`: concurrent fillers and `min_idle`, callers counted while they wait on
//! creates, `max_pending_creates`, leak reports and `refresh`. Each test fails without the
//! change it names.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use cenote_async::{BuildError, Error, Manager, Pool, Pooled};
use common::{logged, Counts, Tracked};

const PATIENCE: Duration = Duration::from_secs(5);

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
}

fn knobs(create_ms: u64) -> (M, Arc<Knobs>) {
    let knobs = Arc::new(Knobs { create_ms: AtomicU64::new(create_ms), ..Knobs::default() });
    (M(Arc::clone(&knobs)), knobs)
}

/// Spawns a `Send + 'static` future on the executor at hand.
type Spawn = fn(Pin<Box<dyn Future<Output = ()> + Send>>);

/// Waits (in the task, without blocking the executor) until `cond` holds, or fails.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "not within {PATIENCE:?}: {what}");
        delay(Duration::from_millis(1)).await;
    }
}

/// Spawns `n` tasks running `f(pool)`; returns the count of those finished.
fn spawn_each<Fut>(spawn: Spawn, pool: &Pool<M>, n: usize, f: fn(Pool<M>, usize) -> Fut) -> Arc<AtomicUsize>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..n {
        let (pool, done) = (pool.clone(), Arc::clone(&done));
        spawn(Box::pin(async move {
            f(pool, i).await;
            done.fetch_add(1, SeqCst);
        }));
    }
    done
}

/// `warm()` in several tasks, `maintain()` and the `maintenance()` future all fill at once,
/// with creates slow enough to overlap: between them they create exactly `min_idle` objects.
async fn concurrent_fillers_never_create_past_min_idle(spawn: Spawn) {
    let (m, k) = knobs(20);
    let pool = Pool::builder(m).max_size(8).min_idle(2).build().unwrap();
    spawn(Box::pin(pool.maintenance()));
    let done = spawn_each(spawn, &pool, 4, |pool, i| async move {
        if i % 2 == 0 {
            pool.warm().await.unwrap();
            // Returns once min_idle are idle, also when others created them.
            assert_eq!(pool.status().idle, 2, "after warm: {}", pool.status());
        } else {
            pool.maintain().await;
        }
    });
    eventually("the fillers end", || done.load(SeqCst) == 4).await;
    eventually("min_idle filled", || pool.status().idle == 2).await;
    delay(Duration::from_millis(50)).await; // a late filler would show now
    assert_eq!(pool.status().size, 2, "{}", pool.status());
    assert_eq!(k.create_calls.load(SeqCst), 2);
    pool.close();
}

/// During an outage every `get` pauses between failed creates, none in the core's wait list:
/// `status().waiting` counts them all the same (it read 0 with 64 tasks stuck in `get`).
async fn status_counts_callers_pausing_between_create_retries(spawn: Spawn) {
    let (m, k) = knobs(0);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m)
        .max_size(8)
        .acquire_timeout(Some(Duration::from_secs(2)))
        .create_backoff(Duration::from_millis(100), Duration::from_millis(100))
        .build()
        .unwrap();
    let done = spawn_each(spawn, &pool, 4, |pool, _| async move {
        drop(pool.get().await.unwrap());
    });
    let mut most = 0;
    eventually("all 4 counted as waiting", || {
        most = most.max(pool.status().waiting);
        most == 4
    })
    .await;
    k.fail_create.store(false, SeqCst);
    eventually("the getters end", || done.load(SeqCst) == 4).await;
    assert_eq!(pool.status().waiting, 0, "the count goes with the callers");
}

/// `max_pending_creates(2)`: eight `get`s during an outage (each create hangs 50 ms, then
/// fails) run at most two creates at once; the others wait for their outcome, and the
/// timeouts carry a create error when one was kept for them.
async fn at_most_max_pending_creates_run_at_once_and_timeouts_carry_the_error(spawn: Spawn) {
    let (m, k) = knobs(50);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m)
        .max_size(8)
        .max_pending_creates(2)
        .acquire_timeout(Some(Duration::from_millis(600)))
        .create_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .build()
        .unwrap();
    let with_error = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..8 {
        let (pool, with_error, results) = (pool.clone(), Arc::clone(&with_error), Arc::clone(&results));
        spawn(Box::pin(async move {
            let outcome = match pool.get().await {
                Err(Error::Timeout { last_create_error }) => {
                    with_error.fetch_add(usize::from(last_create_error.is_some()), SeqCst);
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            };
            results.lock().unwrap().push(outcome);
        }));
    }
    eventually("the getters end", || results.lock().unwrap().len() == 8).await;
    assert!(results.lock().unwrap().iter().all(Result::is_ok), "{:?}", results.lock().unwrap());
    assert_eq!(k.max_in_flight.load(SeqCst), 2, "at most max_pending_creates creates at once");
    let calls = k.create_calls.load(SeqCst);
    // Two retry loops of 50 ms creates in 600 ms, plus at most one create for each getter
    // that takes a slot over as a holder's deadline passes (the getters' deadlines differ by
    // their spawn times): eight loops would make about 8 × 12.
    assert!(calls <= 2 * 600 / 50 + 8, "{calls} creates: two retry loops, not eight");
    let with_error = with_error.load(SeqCst);
    assert!(with_error >= 4, "only {with_error} of 8 timeouts carried a create error");
    assert_eq!(pool.status().waiting, 0);
}

/// A `get` waiting for a create slot takes an object returned meanwhile (it does not wait for
/// the slow create to finish).
async fn a_caller_waiting_for_a_create_slot_takes_a_returned_object(spawn: Spawn) {
    let (m, k) = knobs(0);
    let pool = Pool::builder(m).max_size(4).max_pending_creates(1).build().unwrap();
    let held = pool.get().await.unwrap();
    k.create_ms.store(1000, SeqCst);
    let creator = spawn_each(spawn, &pool, 1, |pool, _| async move {
        drop(pool.get().await.unwrap());
    });
    eventually("the slow create started", || k.in_flight.load(SeqCst) == 1).await;
    let start = Instant::now();
    let got = Arc::new(AtomicUsize::new(usize::MAX));
    {
        let (pool, got) = (pool.clone(), Arc::clone(&got));
        spawn(Box::pin(async move {
            got.store(pool.get().await.unwrap().id, SeqCst);
        }));
    }
    eventually("the second get waits", || pool.status().waiting == 1).await;
    let id = held.id;
    drop(held);
    eventually("the waiter got the returned object", || got.load(SeqCst) == id).await;
    assert!(start.elapsed() < Duration::from_millis(900), "not after the slow create: {:?}", start.elapsed());
    assert_eq!(k.max_in_flight.load(SeqCst), 1);
    eventually("the creator ends", || creator.load(SeqCst) == 1).await;
}

/// With `acquire_timeout(None)` a failing create is not retried: each `get` creates once, at
/// most `max_pending_creates` at a time, and gets `Error::Create` back.
async fn without_a_deadline_each_caller_creates_once_within_the_limit(spawn: Spawn) {
    let (m, k) = knobs(30);
    k.fail_create.store(true, SeqCst);
    let pool = Pool::builder(m).max_size(8).max_pending_creates(2).acquire_timeout(None).build().unwrap();
    let done = spawn_each(spawn, &pool, 6, |pool, _| async move {
        assert!(matches!(pool.get().await, Err(Error::Create(_))));
    });
    eventually("the getters end", || done.load(SeqCst) == 6).await;
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
/// naming the pool, how long, and where it was acquired (`get`, `get_timeout` and `try_get`
/// are `#[track_caller]`: the location is the call, not the pool's internals).
async fn objects_held_past_the_leak_threshold_are_reported_once_per_lend_with_where(spawn: Spawn) {
    common::capture_logs();
    let (m, _k) = knobs(0);
    // Each executor's run has its own pool name (the tests run in parallel, one logger).
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let name = format!("leaky-async-{}", RUN.fetch_add(1, SeqCst));
    let threshold = Duration::from_millis(40);
    let pool = Pool::builder(m)
        .name(name.as_str())
        .max_size(3)
        .leak_detection_threshold(Some(threshold))
        .build()
        .unwrap();
    let _ = spawn;
    let first = pool.get().await.unwrap();
    let first_at = format!("{}:{}", file!(), line!() - 1);
    let second = pool.get_timeout(Duration::from_secs(1)).await.unwrap();
    let second_at = format!("{}:{}", file!(), line!() - 1);
    let pass = pool.maintain().await;
    assert_eq!(pass.leaked, 0, "{pass:?}");
    assert!(pass.next.unwrap() <= threshold, "due within the threshold: {pass:?}");
    delay(threshold + Duration::from_millis(20)).await;
    let pass = pool.maintain().await;
    assert_eq!(pass.leaked, 2, "{pass:?}");
    for at in [&first_at, &second_at] {
        let lines = logged(&name, at);
        assert_eq!(lines.len(), 1, "one line for {at}: {lines:?}");
    }
    assert_eq!(pool.maintain().await.leaked, 2, "still held");
    assert_eq!(logged(&name, &first_at).len(), 1, "logged once per lend");
    drop((first, second));
    assert_eq!(pool.maintain().await.leaked, 0, "returned objects are not held");
    let again = pool.try_get().unwrap();
    let again_at = format!("{}:{}", file!(), line!() - 1);
    delay(threshold + Duration::from_millis(20)).await;
    assert_eq!(pool.maintain().await.leaked, 1);
    assert_eq!(logged(&name, &again_at).len(), 1, "a new lend is reported anew, where it began");
    Pooled::retire(again);
    assert_eq!(pool.maintain().await.leaked, 0);
}

/// `refresh()`: idle objects are dropped at once, the woken `maintenance()` future creates
/// `min_idle` replacements (its interval is an hour: only the wake explains them), a lent
/// object is retired when it comes back, and later gets receive new objects only.
async fn refresh_retires_idle_now_lent_on_return_and_maintenance_replaces_them(spawn: Spawn) {
    let (m, k) = knobs(0);
    let pool = Pool::builder(m)
        .max_size(4)
        .min_idle(2)
        .maintenance_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    spawn(Box::pin(pool.maintenance()));
    eventually("first pass", || pool.status().idle == 2).await;
    let held = pool.get().await.unwrap();
    let before = k.counts.created.load(SeqCst);
    assert_eq!(pool.refresh(), 1, "the one idle object");
    eventually("replaced at once", || pool.status().idle == 2).await;
    drop(held);
    assert_eq!(pool.status().size, 2, "the lent one was retired on return");
    for _ in 0..3 {
        let conn = pool.get().await.unwrap();
        assert!(conn.id >= before, "object {} was created before the refresh", conn.id);
    }
    assert_eq!(k.counts.live.load(SeqCst), pool.status().size);
    pool.close();
}

/// Returns racing `refresh` (tasks getting and returning while it runs): every get that begins
/// after `refresh` returned receives an object whose create began after the call.
async fn no_get_after_refresh_receives_an_old_object_while_returns_race_it(spawn: Spawn) {
    for round in 0..10 {
        let (m, k) = knobs(0);
        let pool = Pool::builder(m).max_size(3).build().unwrap();
        let done = spawn_each(spawn, &pool, 2, |pool, _| async move {
            for _ in 0..500 {
                drop(pool.get().await.unwrap());
                futures_lite::future::yield_now().await;
            }
        });
        delay(Duration::from_micros(200)).await;
        let first_new = k.counts.created.load(SeqCst);
        pool.refresh();
        for _ in 0..200 {
            let conn = pool.get().await.unwrap();
            assert!(conn.id >= first_new, "round {round}: old object {} after refresh", conn.id);
            drop(conn);
            futures_lite::future::yield_now().await;
        }
        eventually("the churners end", || done.load(SeqCst) == 2).await;
    }
}

macro_rules! on_every_executor {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn tokio_multi_thread() {
                let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
                rt.block_on(super::$scenario(|f| drop(tokio::spawn(f))));
            }
            #[test]
            fn tokio_current_thread() {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(super::$scenario(|f| drop(tokio::spawn(f))));
            }
            #[test]
            fn smol() {
                smol::block_on(super::$scenario(|f| smol::spawn(f).detach()));
            }
            #[test]
            fn block_on() {
                futures_lite::future::block_on(super::$scenario(|f| drop(std::thread::spawn(move || futures_lite::future::block_on(f)))));
            }
        }
    )*};
}

on_every_executor!(
    concurrent_fillers_never_create_past_min_idle,
    status_counts_callers_pausing_between_create_retries,
    at_most_max_pending_creates_run_at_once_and_timeouts_carry_the_error,
    a_caller_waiting_for_a_create_slot_takes_a_returned_object,
    without_a_deadline_each_caller_creates_once_within_the_limit,
    objects_held_past_the_leak_threshold_are_reported_once_per_lend_with_where,
    refresh_retires_idle_now_lent_on_return_and_maintenance_replaces_them,
    no_get_after_refresh_receives_an_old_object_while_returns_race_it,
);

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

use cenote_async::{Manager, Pool};
use common::{Counts, Tracked};

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
        delay(Duration::from_millis(k.create_ms.load(SeqCst))).await;
        k.in_flight.fetch_sub(1, SeqCst);
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
);

//! Maintenance of the async front end: `Pool::maintain().await` and the `maintenance()` future,
//! on tokio (multi- and current-thread), smol and a bare `block_on`.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cenote_async::{Manager, Pool, Pooled};
use common::{Counts, Tracked};

const PATIENCE: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Knobs {
    counts: Arc<Counts>,
    hang_check: AtomicBool,
    create_calls: AtomicUsize,
    dropped: AtomicBool,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

impl Drop for M {
    fn drop(&mut self) {
        self.0.dropped.store(true, SeqCst);
    }
}

impl Manager for M {
    type Connection = Tracked;
    type Error = String;

    async fn create(&self) -> Result<Tracked, String> {
        self.0.create_calls.fetch_add(1, SeqCst);
        Ok(Tracked::new(&self.0.counts))
    }

    async fn check(&self, _conn: &mut Tracked) -> Result<(), Option<String>> {
        if self.0.hang_check.load(SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

fn knobs() -> (M, Arc<Knobs>) {
    let knobs = Arc::new(Knobs::default());
    (M(Arc::clone(&knobs)), knobs)
}

/// Spawns a `Send + 'static` future on the executor at hand.
type Spawn = fn(Pin<Box<dyn Future<Output = ()> + Send>>);

/// Waits (in the task, without blocking the executor) until `cond` holds, or fails.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "not within {PATIENCE:?}: {what}");
        futures_lite::future::yield_now().await;
        std::thread::sleep(Duration::from_micros(200));
    }
}

async fn background_maintenance_fills_refills_and_ends_with_the_pool(spawn: Spawn) {
    let (m, k) = knobs();
    let pool = Pool::builder(m)
        .max_size(4)
        .min_idle(2)
        .maintenance_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    spawn(Box::pin(pool.maintenance()));
    eventually("min_idle filled", || pool.status().idle == 2).await;
    let a = pool.get().await.unwrap();
    Pooled::retire(a);
    eventually("refilled after a retirement", || pool.status().idle == 2).await;
    let clone = pool.clone();
    drop(pool);
    assert!(!k.dropped.load(SeqCst));
    drop(clone);
    eventually("the manager goes with the last handle, not at the next pass", || k.dropped.load(SeqCst))
        .await;
    assert_eq!(k.counts.live.load(SeqCst), 0);
}

async fn a_hung_check_counts_as_failed_and_its_object_is_dropped(_spawn: Spawn) {
    let (m, k) = knobs();
    let interval = Duration::from_millis(20);
    let pool = Pool::builder(m)
        .max_size(2)
        .health_check_interval(Some(interval))
        .health_check_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    std::thread::sleep(interval * 2);
    k.hang_check.store(true, SeqCst);
    let start = Instant::now();
    let pass = pool.maintain().await;
    assert_eq!((pass.checked, pass.invalid), (1, 1), "{pass:?}");
    assert!(start.elapsed() >= Duration::from_millis(50), "waited for the check's limit");
    assert_eq!((pool.status().size, k.counts.live.load(SeqCst)), (0, 0));
}

async fn closing_the_pool_ends_the_maintenance_future_at_once(_spawn: Spawn) {
    let (m, _k) = knobs();
    let pool = Pool::builder(m)
        .max_size(2)
        .min_idle(1)
        .maintenance_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let maintenance = pool.maintenance();
    let start = Instant::now();
    let close = async {
        while pool.status().idle < 1 {
            futures_lite::future::yield_now().await;
        }
        pool.close();
    };
    futures_lite::future::zip(maintenance, close).await;
    assert!(start.elapsed() < PATIENCE, "ended by the close, not by the hour-long interval");
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
    background_maintenance_fills_refills_and_ends_with_the_pool,
    a_hung_check_counts_as_failed_and_its_object_is_dropped,
    closing_the_pool_ends_the_maintenance_future_at_once,
);

/// As in the blocking front end: each return wakes the shutdown (no poll), so with a minute's
/// limit it ends as soon as the last of three staggered returns is back.
#[test]
fn shutdown_ends_when_the_last_object_comes_back() {
    futures_lite::future::block_on(async {
        let (m, k) = knobs();
        let pool = Pool::builder(m).max_size(3).build().unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.get().await.unwrap());
        }
        let returner = std::thread::spawn(move || {
            for conn in held {
                std::thread::sleep(Duration::from_millis(15));
                drop(conn);
            }
        });
        let report = pool.shutdown(Duration::from_secs(60)).await;
        assert_eq!((report.out_at_start, report.still_out), (3, 0), "{report}");
        assert!(report.waited < Duration::from_secs(30), "woken by the last return: {report}");
        returner.join().unwrap();
        assert_eq!(k.counts.live.load(SeqCst), 0);
    });
}

#[test]
fn shutdown_waits_in_the_task_for_returns() {
    futures_lite::future::block_on(async {
        let (m, k) = knobs();
        let pool = Pool::builder(m).max_size(2).build().unwrap();
        let held = pool.get().await.unwrap();
        let returner = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(held);
        });
        let report = pool.shutdown(Duration::from_secs(5)).await;
        assert_eq!((report.out_at_start, report.still_out), (1, 0), "{report}");
        assert!(report.waited >= Duration::from_millis(20), "{report}");
        assert!(pool.get().await.unwrap_err().is_closed());
        returner.join().unwrap();
        assert_eq!(k.counts.live.load(SeqCst), 0);
    });
}

/// Blocks the test thread until `cond` holds, or fails (for tests with no executor running).
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A pool whose `maintenance()` future nobody spawned still drops idle objects past
/// `idle_timeout` and `max_lifetime`: the shared background thread reaps them (calling no
/// manager method: no create), and dropping the pool ends that job and frees the manager.
#[test]
fn idle_objects_are_reaped_without_a_spawned_maintenance_future() {
    let (m, k) = knobs();
    let pool = Pool::builder(m)
        .max_size(3)
        .idle_timeout(Some(Duration::from_millis(40)))
        .max_lifetime(Some(Duration::from_secs(3600)))
        .build()
        .unwrap();
    futures_lite::future::block_on(async {
        let held = [pool.get().await.unwrap(), pool.get().await.unwrap(), pool.get().await.unwrap()];
        drop(held);
    });
    assert_eq!(pool.status().idle, 3);
    wait_until("the idle objects to be reaped", || pool.status().size == 0);
    assert_eq!(k.counts.live.load(SeqCst), 0, "the reaped objects were dropped");
    assert_eq!(k.create_calls.load(SeqCst), 3, "the reaper creates nothing");
    assert_eq!(pool.metrics().closed.idle_timeout, 3);
    drop(pool);
    wait_until("the manager to be dropped with the pool", || k.dropped.load(SeqCst));
}

/// With `maintenance_thread(false)` there is no background reaping: idle objects stay until a
/// pass (`maintain`, or a spawned `maintenance()`) or a `get` looks at them.
#[test]
fn background_reaping_is_off_with_maintenance_thread_false() {
    let (m, k) = knobs();
    let pool = Pool::builder(m)
        .max_size(2)
        .idle_timeout(Some(Duration::from_millis(20)))
        .maintenance_thread(false)
        .build()
        .unwrap();
    futures_lite::future::block_on(async {
        let held = [pool.get().await.unwrap(), pool.get().await.unwrap()];
        drop(held);
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(pool.status().idle, 2, "nothing reaps them: no thread, no future");
    futures_lite::future::block_on(async {
        let report = pool.maintain().await;
        assert_eq!(report.idle_timeout, 2, "{report}");
    });
    assert_eq!(k.counts.live.load(SeqCst), 0);
}

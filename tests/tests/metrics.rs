//! `pool.metrics()` in both front ends after scripted workloads: every counter, each reason an
//! object is dropped for, and the three histograms.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cenote_front::{Dropped, Metrics};

/// What the test managers are told to do.
#[derive(Debug, Default)]
struct Knobs {
    fail_create: AtomicBool,
    invalid: AtomicBool,
    broken: AtomicBool,
    fail_reset: AtomicBool,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

fn knobs() -> (M, Arc<Knobs>) {
    let k = Arc::new(Knobs::default());
    (M(Arc::clone(&k)), k)
}

impl cenote_sync::Manager for M {
    type Connection = u32;
    type Error = String;
    fn create(&self) -> Result<u32, String> {
        thread::sleep(Duration::from_millis(2)); // a create takes a while: create_time sees it
        if self.0.fail_create.load(SeqCst) {
            return Err("refused".into());
        }
        Ok(7)
    }
    fn check(&self, _: &mut u32) -> Result<(), Option<String>> {
        if self.0.invalid.load(SeqCst) {
            Err(Some("gone".into()))
        } else {
            Ok(())
        }
    }
    fn has_broken(&self, _: &mut u32) -> bool {
        self.0.broken.load(SeqCst)
    }
    fn reset(&self, _: &mut u32) -> Result<(), String> {
        if self.0.fail_reset.load(SeqCst) {
            Err("reset failed".into())
        } else {
            Ok(())
        }
    }
}

impl cenote_async::Manager for M {
    type Connection = u32;
    type Error = String;
    async fn create(&self) -> Result<u32, String> {
        thread::sleep(Duration::from_millis(2));
        if self.0.fail_create.load(SeqCst) {
            return Err("refused".into());
        }
        Ok(7)
    }
    async fn check(&self, _: &mut u32) -> Result<(), Option<String>> {
        if self.0.invalid.load(SeqCst) {
            Err(Some("gone".into()))
        } else {
            Ok(())
        }
    }
    fn has_broken(&self, _: &mut u32) -> bool {
        self.0.broken.load(SeqCst)
    }
    async fn reset(&self, _: &mut u32) -> Result<(), String> {
        if self.0.fail_reset.load(SeqCst) {
            Err("reset failed".into())
        } else {
            Ok(())
        }
    }
}

/// The counts by reason, as `(reason, count)` for the non-zero ones.
fn dropped(m: &Metrics) -> Vec<(Dropped, u64)> {
    m.closed.iter().filter(|&(_, n)| n != 0).collect()
}

/// The books that must balance whatever the workload: every lend is in the wait histogram,
/// every create in the create-time one, every drop in the lifetime one, and what exists is
/// what was created minus what was dropped.
fn assert_balanced(m: &Metrics) {
    assert_eq!(m.wait.count, m.acquired, "{m}");
    assert_eq!(m.create_time.count, m.created, "{m}");
    assert_eq!(m.lifetime.count, m.closed.total(), "{m}");
    assert_eq!(m.created - m.closed.total(), m.size as u64, "{m}");
}

#[test]
fn sync_counters_histograms_and_drop_reasons() {
    use cenote_sync::{Pool, Pooled};
    let (m, k) = knobs();
    let pool = Pool::builder(m)
        .name("db")
        .max_size(2)
        .idle_timeout(Some(Duration::from_millis(30)))
        .max_errors(Some(2))
        .maintenance_thread(false)
        .build()
        .unwrap();

    // A failing create: the get retries until its timeout and carries the error.
    k.fail_create.store(true, SeqCst);
    let err = pool.get_timeout(Duration::from_millis(30)).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    k.fail_create.store(false, SeqCst);
    let m = pool.metrics();
    assert!(m.create_errors >= 1, "{m}");
    assert_eq!((m.created, m.acquired, m.timeouts, m.size), (0, 0, 1, 0), "{m}");

    // Two creates (each get had to create: both "waited"), then a timeout.
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    assert!(pool.get_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    // A get that waits for a return, about 40 ms.
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get_timeout(Duration::from_secs(10)).map(drop))
    };
    while pool.status().waiting == 0 {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(40));
    drop(a);
    waiter.join().unwrap().unwrap();
    drop(b);
    // Two gets of idle objects at once: no wait recorded.
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    let m = pool.metrics();
    assert_eq!(&*m.name, "db");
    assert_eq!(
        (m.created, m.create_errors, m.acquired, m.waited, m.timeouts),
        (2, m.create_errors, 5, 3, 2),
        "{m}"
    );
    assert_eq!((m.size, m.idle, m.in_use, m.waiting), (2, 2, 0, 0));
    assert!(m.wait.quantile(1.0) >= Duration::from_millis(30), "the waiter's wait: {m}");
    assert_eq!(m.wait.quantile(0.3), Duration::ZERO, "two of five lends did not wait: {m}");
    assert!(m.create_time.quantile(0.5) >= Duration::from_millis(2), "{m}");
    assert!(dropped(&m).is_empty(), "{m}");
    assert_balanced(&m);

    // Each reason an object is dropped for, one at a time.
    k.broken.store(true, SeqCst);
    drop(pool.get().unwrap());
    k.broken.store(false, SeqCst);
    k.fail_reset.store(true, SeqCst);
    drop(pool.get().unwrap());
    k.fail_reset.store(false, SeqCst);
    let mut c = pool.get().unwrap();
    Pooled::report_error(&mut c);
    Pooled::report_error(&mut c);
    drop(c); // max_errors 2
    let mut c = pool.get().unwrap();
    Pooled::report_error(&mut c);
    drop(c); // checked before its next lend
    k.invalid.store(true, SeqCst);
    let c = pool.get().unwrap(); // the marked one fails its check; a new one is created
    k.invalid.store(false, SeqCst);
    Pooled::retire(c);
    let c = pool.get().unwrap();
    let _detached: u32 = Pooled::detach(c);
    let m = pool.metrics();
    assert_eq!(
        dropped(&m),
        [
            (Dropped::Invalid, 1),
            (Dropped::Broken, 1),
            (Dropped::ResetFailed, 1),
            (Dropped::Errors, 1),
            (Dropped::Detached, 1),
            (Dropped::Retired, 1)
        ],
        "{m}"
    );
    assert_balanced(&m);

    // Resized, idle_timeout (a maintenance pass), closed.
    drop((pool.get().unwrap(), pool.get().unwrap()));
    pool.resize(1).unwrap(); // one idle extra dropped
    pool.resize(2).unwrap();
    drop((pool.get().unwrap(), pool.get().unwrap()));
    thread::sleep(Duration::from_millis(40));
    assert!(pool.maintain().idle_timeout >= 1);
    drop(pool.get().unwrap());
    pool.close();
    let m = pool.metrics();
    assert_eq!(m.closed.resized, 1, "{m}");
    assert!(m.closed.idle_timeout >= 1, "{m}");
    assert!(m.closed.closed >= 1, "{m}");
    assert_eq!(m.size, 0, "{m}");
    assert_balanced(&m);
    assert!(m.lifetime.quantile(1.0) >= Duration::from_millis(40), "the oldest lived past the sleep: {m}");
    let text = m.to_string();
    assert!(text.starts_with("pool db: max_size 2 size 0"), "{text}");
    assert!(text.contains("resized 1") && text.contains("wait "), "{text}");
}

#[test]
fn async_counters_histograms_and_drop_reasons() {
    use cenote_async::{Pool, Pooled};
    futures_lite::future::block_on(async {
        let (m, k) = knobs();
        let pool = Pool::builder(m).name("cache").max_size(2).max_errors(Some(1)).build().unwrap();
        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();
        assert!(pool.get_timeout(Duration::from_millis(5)).await.unwrap_err().is_timeout());
        // A return from another thread wakes a waiting get after about 40 ms.
        let returner = thread::spawn(move || {
            thread::sleep(Duration::from_millis(40));
            drop(a);
        });
        drop(pool.get_timeout(Duration::from_secs(10)).await.unwrap());
        returner.join().unwrap();
        drop(b);
        drop(pool.get().await.unwrap());
        let m = pool.metrics();
        assert_eq!((m.created, m.acquired, m.waited, m.timeouts), (2, 4, 3, 1), "{m}");
        assert!(m.wait.quantile(1.0) >= Duration::from_millis(30), "{m}");
        assert_balanced(&m);

        k.broken.store(true, SeqCst);
        drop(pool.get().await.unwrap());
        k.broken.store(false, SeqCst);
        k.fail_reset.store(true, SeqCst);
        drop(pool.get().await.unwrap()); // the idle one's reset fails; a new one is made
        k.fail_reset.store(false, SeqCst);
        let mut c = pool.get().await.unwrap();
        Pooled::report_error(&mut c);
        drop(c); // max_errors 1
        Pooled::retire(pool.get().await.unwrap());
        let _detached: u32 = Pooled::detach(pool.get().await.unwrap());
        k.fail_create.store(true, SeqCst);
        let err = pool.get_timeout(Duration::from_millis(30)).await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
        k.fail_create.store(false, SeqCst);
        drop(pool.get().await.unwrap());
        pool.close();
        let m = pool.metrics();
        assert_eq!(
            dropped(&m),
            [
                (Dropped::Broken, 1),
                (Dropped::ResetFailed, 1),
                (Dropped::Errors, 1),
                (Dropped::Detached, 1),
                (Dropped::Retired, 1),
                (Dropped::Closed, 1)
            ],
            "{m}"
        );
        assert!(m.create_errors >= 1 && m.timeouts == 2, "{m}");
        assert_balanced(&m);
    });
}

/// Metrics read on another thread while gets and drops run: the books stay consistent
/// (counters only grow) and balance once the workload is done.
#[test]
fn metrics_read_concurrently_only_grow_and_balance() {
    let (m, _k) = knobs();
    let pool = cenote_sync::Pool::builder(m).max_size(4).maintenance_thread(false).build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (pool, stop) = (pool.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut last = 0;
            let mut reads = 0;
            while !stop.load(SeqCst) {
                let m = pool.metrics();
                assert!(m.acquired >= last, "acquired went down: {last} then {}", m.acquired);
                last = m.acquired;
                reads += 1;
            }
            reads
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let pool = pool.clone();
            thread::spawn(move || {
                for _ in 0..2_000 {
                    drop(pool.get().unwrap());
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, SeqCst);
    assert!(reader.join().unwrap() > 0);
    let m = pool.metrics();
    assert_eq!(m.acquired, 6_000, "{m}");
    assert_balanced(&m);
}

/// Waits up to 5 s for `cond`.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(2));
    }
    false
}

/// `on_metrics` in the blocking front end: the background maintenance thread (on by default
/// once the callback is set) calls it at its interval with fresh metrics.
#[test]
fn sync_on_metrics_is_called_by_the_maintenance_thread() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let (m, _k) = knobs();
    let pool = cenote_sync::Pool::builder(m)
        .on_metrics(Duration::from_millis(20), move |m| log.lock().unwrap().push(m.acquired))
        .build()
        .unwrap();
    assert!(eventually(|| !seen.lock().unwrap().is_empty()), "the first call comes with the first pass");
    for _ in 0..5 {
        drop(pool.get().unwrap());
    }
    assert!(
        eventually(|| seen.lock().unwrap().last() == Some(&5)),
        "a later call sees the 5 lends: {seen:?}"
    );
    let calls = seen.lock().unwrap().len();
    assert!(calls >= 2, "{calls}");
    drop(pool);
    thread::sleep(Duration::from_millis(60));
    assert_eq!(seen.lock().unwrap().len(), calls, "no call once the pool is gone");
}

/// `on_metrics` in the async front end: the spawned `maintenance()` future calls it.
#[test]
fn async_on_metrics_is_called_by_the_maintenance_future() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let (m, _k) = knobs();
        let pool = cenote_async::Pool::builder(m)
            .on_metrics(Duration::from_millis(20), move |m| log.lock().unwrap().push(m.acquired))
            .build()
            .unwrap();
        let maintenance = tokio::spawn(pool.maintenance());
        for _ in 0..3 {
            drop(pool.get().await.unwrap());
        }
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while seen.lock().unwrap().last() != Some(&3) && std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(seen.lock().unwrap().last(), Some(&3), "{seen:?}");
        drop(pool);
        maintenance.await.unwrap();
    });
}

#[test]
fn on_metrics_with_a_zero_interval_is_a_build_error() {
    let (m, _k) = knobs();
    let err = cenote_sync::Pool::builder(m).on_metrics(Duration::ZERO, |_| {}).build().unwrap_err();
    assert!(err.to_string().contains("on_metrics"), "{err}");
}

/// The time-based reasons and the shrink, in both front ends: `max_lifetime` and
/// `idle_timeout` (found by a maintenance pass, and on lend), `invalid` (a failed check) and
/// `resized`.
#[test]
fn sync_max_lifetime_reason() {
    use cenote_sync::Pool;
    let (m, _k) = knobs();
    let aged = Pool::builder(m).max_size(2).max_lifetime(Some(Duration::from_millis(20))).build().unwrap();
    drop(aged.get().unwrap());
    thread::sleep(Duration::from_millis(30));
    aged.maintain();
    drop(aged.get().unwrap()); // a new one
    thread::sleep(Duration::from_millis(30));
    drop(aged.get().unwrap()); // the idle one is past its lifetime on lend: dropped, a new one made
    let m = aged.metrics();
    assert_eq!(dropped(&m), [(Dropped::MaxLifetime, 2)], "{m}");
    assert_balanced(&m);
}

#[test]
fn async_time_based_and_resize_reasons() {
    use cenote_async::Pool;
    futures_lite::future::block_on(async {
        let (m, k) = knobs();
        let pool =
            Pool::builder(m).max_size(2).idle_timeout(Some(Duration::from_millis(20))).build().unwrap();
        drop(pool.get().await.unwrap());
        thread::sleep(Duration::from_millis(30));
        pool.maintain().await; // reaped by the pass
        drop(pool.get().await.unwrap());
        thread::sleep(Duration::from_millis(30));
        drop(pool.get().await.unwrap()); // idle too long on lend: dropped, a new one made
        let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        drop((a, b));
        pool.resize(1).unwrap(); // one idle extra dropped
        let mut c = pool.get().await.unwrap();
        cenote_async::Pooled::report_error(&mut c); // checked before its next lend
        drop(c);
        k.invalid.store(true, SeqCst);
        drop(pool.get().await.unwrap()); // fails its check: dropped, a new one made
        let m = pool.metrics();
        assert_eq!(
            dropped(&m),
            [(Dropped::IdleTimeout, 2), (Dropped::Invalid, 1), (Dropped::Resized, 1)],
            "{m}"
        );
        assert_balanced(&m);

        let (m2, _k2) = knobs();
        let aged =
            Pool::builder(m2).max_size(2).max_lifetime(Some(Duration::from_millis(20))).build().unwrap();
        drop(aged.get().await.unwrap());
        thread::sleep(Duration::from_millis(30));
        aged.maintain().await;
        let m = aged.metrics();
        assert_eq!(dropped(&m), [(Dropped::MaxLifetime, 1)], "{m}");
        assert_balanced(&m);
    });
}

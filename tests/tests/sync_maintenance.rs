//! Maintenance of the blocking front end: one pass on demand (`Pool::maintain`) and the shared
//! background thread. Each test fails without the part it names.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{Manager, Pool, Pooled};
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
    fail_create: AtomicBool,
    invalid: AtomicBool,
    create_calls: AtomicUsize,
    check_calls: AtomicUsize,
    /// Set when the manager is dropped.
    dropped: AtomicBool,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

impl Drop for M {
    fn drop(&mut self) {
        self.0.dropped.store(true, SeqCst);
    }
}

#[derive(Debug)]
struct Refused(usize);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connection refused (attempt {})", self.0)
    }
}

impl Manager for M {
    type Connection = Tracked;
    type Error = Refused;

    fn create(&self) -> Result<Tracked, Refused> {
        let n = self.0.create_calls.fetch_add(1, SeqCst) + 1;
        if self.0.fail_create.load(SeqCst) {
            return Err(Refused(n));
        }
        Ok(Tracked::new(&self.0.counts))
    }

    fn check(&self, _conn: &mut Tracked) -> Result<(), Option<Refused>> {
        let n = self.0.check_calls.fetch_add(1, SeqCst) + 1;
        if self.0.invalid.load(SeqCst) {
            return Err(Some(Refused(n)));
        }
        Ok(())
    }
}

fn knobs() -> (M, Arc<Knobs>) {
    let knobs = Arc::new(Knobs::default());
    (M(Arc::clone(&knobs)), knobs)
}

fn live(knobs: &Knobs) -> usize {
    knobs.counts.live.load(SeqCst)
}

#[test]
fn a_pass_refills_to_min_idle_and_says_when_the_next_is_due() {
    let (m, k) = knobs();
    let pool = Pool::builder(m).max_size(4).min_idle(3).maintenance_thread(false).build().unwrap();
    assert_eq!(live(&k), 0, "build creates nothing");
    let pass = pool.maintain();
    assert_eq!((pass.created, pass.create_errors), (3, 0), "{pass:?}");
    assert_eq!(pool.status().idle, 3);
    assert_eq!(pass.next, Some(Duration::from_secs(30)), "nothing due before maintenance_interval");
    // Two lent out: the idle ones are topped up again, within max_size.
    let held: Vec<_> = (0..2).map(|_| pool.get().unwrap()).collect();
    assert_eq!(pool.maintain().created, 1, "idle back to 3 would need 5 > max_size 4: only 1 more");
    assert_eq!(pool.status().size, 4);
    drop(held);
    assert_eq!(pool.maintain().created, 0);
}

#[test]
fn a_failed_refill_backs_off_and_is_logged_as_an_error_count() {
    let (m, k) = knobs();
    let pool = Pool::builder(m)
        .max_size(2)
        .min_idle(2)
        .create_backoff(Duration::from_millis(200), Duration::from_secs(1))
        .maintenance_thread(false)
        .build()
        .unwrap();
    k.fail_create.store(true, SeqCst);
    let pass = pool.maintain();
    assert_eq!((pass.created, pass.create_errors), (0, 1), "{pass:?}");
    let next = pass.next.unwrap();
    assert!(
        next <= Duration::from_millis(200) && next >= Duration::from_millis(50),
        "retry due after the backoff: {next:?}"
    );
    // Before the backoff is over a pass does not try again.
    let again = pool.maintain();
    assert_eq!(again.create_errors, 0, "{again:?}");
    assert_eq!(k.create_calls.load(SeqCst), 1);
    k.fail_create.store(false, SeqCst);
    thread::sleep(next);
    assert_eq!(pool.maintain().created, 2, "after the pause the refill succeeds");
    assert_eq!(pool.status().size, 2);
}

#[test]
fn a_pass_reaps_idle_objects_past_idle_timeout_but_keeps_min_idle() {
    let (m, k) = knobs();
    let idle = Duration::from_millis(50);
    let pool = Pool::builder(m)
        .max_size(4)
        .min_idle(1)
        .idle_timeout(Some(idle))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    drop(held);
    let early = pool.maintain();
    assert_eq!(early.idle_timeout, 0, "{early:?}");
    assert!(early.next.unwrap() <= idle, "the next pass is due when the first object expires: {early:?}");
    thread::sleep(idle * 2);
    let pass = pool.maintain();
    assert_eq!(pass.idle_timeout, 2, "{pass:?}");
    assert_eq!((pool.status().idle, live(&k)), (1, 1), "one kept for min_idle");
}

#[test]
fn a_pass_retires_objects_past_their_own_jittered_lifetime() {
    let (m, k) = knobs();
    let lifetime = Duration::from_millis(400);
    let pool =
        Pool::builder(m).max_size(8).max_lifetime(Some(lifetime)).maintenance_thread(false).build().unwrap();
    let held: Vec<_> = (0..8).map(|_| pool.get().unwrap()).collect();
    drop(held);
    // Each object's deadline is between `lifetime * 39 / 40` and `lifetime` after its creation
    // (the spread itself is checked by a unit test of the jitter): none has expired before,
    // all have after.
    assert_eq!(pool.maintain().max_lifetime, 0);
    thread::sleep(lifetime + Duration::from_millis(10));
    let pass = pool.maintain();
    assert_eq!(pass.max_lifetime, 8, "{pass:?}");
    assert_eq!(live(&k), 0);
}

#[test]
fn a_pass_checks_objects_idle_past_the_interval_and_drops_the_failures() {
    let (m, k) = knobs();
    let interval = Duration::from_millis(50);
    let pool = Pool::builder(m)
        .max_size(3)
        .health_check_interval(Some(interval))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let uses: Vec<_> = held.iter().map(|p| Pooled::meta(p).use_count).collect();
    drop(held);
    assert_eq!(pool.maintain().checked, 0, "idle only briefly");
    thread::sleep(interval * 2);
    let pass = pool.maintain();
    assert_eq!((pass.checked, pass.invalid), (3, 0), "{pass:?}");
    assert_eq!(pool.maintain().checked, 0, "just checked: not again before the interval");
    let again: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let uses_after: Vec<_> = again.iter().map(|p| Pooled::meta(p).use_count - 1).collect();
    assert_eq!(uses_after, uses, "a visit is not a use");
    drop(again);
    thread::sleep(interval * 2);
    k.invalid.store(true, SeqCst);
    let pass = pool.maintain();
    assert_eq!((pass.checked, pass.invalid), (3, 3), "{pass:?}");
    assert_eq!((pool.status().size, live(&k)), (0, 0));
}

#[test]
fn the_background_thread_fills_min_idle_and_refills_after_retirements() {
    let (m, k) = knobs();
    let pool = Pool::builder(m)
        .max_size(4)
        .min_idle(2)
        .maintenance_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    assert!(wait_until(PATIENCE, || pool.status().idle == 2), "filled in the background: {}", pool.status());
    let a = pool.get().unwrap();
    let b = pool.get().unwrap();
    Pooled::retire(a);
    Pooled::retire(b);
    assert!(wait_until(PATIENCE, || pool.status().idle == 2), "refilled: {}", pool.status());
    assert_eq!(k.create_calls.load(SeqCst), 4);
}

#[test]
fn dropping_the_pool_ends_its_background_maintenance_and_drops_the_manager_at_once() {
    let (m, k) = knobs();
    // A long interval: the job would otherwise next run an hour from now.
    let pool = Pool::builder(m)
        .max_size(2)
        .min_idle(1)
        .maintenance_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(wait_until(PATIENCE, || pool.status().idle == 1));
    let clone = pool.clone();
    drop(pool);
    assert!(!k.dropped.load(SeqCst), "a clone keeps the pool");
    drop(clone);
    assert!(wait_until(PATIENCE, || k.dropped.load(SeqCst)), "the manager goes with the last handle");
    assert_eq!(live(&k), 0, "and the idle object with it");
}

#[test]
fn closing_the_pool_ends_its_maintenance() {
    let (m, _k) = knobs();
    let pool = Pool::builder(m).max_size(2).min_idle(1).maintenance_thread(false).build().unwrap();
    pool.close();
    let pass = pool.maintain();
    assert_eq!((pass.created, pass.next), (0, None), "{pass:?}");
}

#[test]
fn many_pools_share_one_maintenance_thread() {
    let pools: Vec<_> = (0..50)
        .map(|_| {
            let (m, _k) = knobs();
            Pool::builder(m)
                .max_size(1)
                .min_idle(1)
                .maintenance_interval(Duration::from_millis(50))
                .build()
                .unwrap()
        })
        .collect();
    assert!(wait_until(PATIENCE, || pools.iter().all(|p| p.status().idle == 1)));
    let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
    let named = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "cenote-maintena")
        })
        .count();
    assert_eq!(named, 1, "one maintenance thread for 50 pools ({threads} threads in all)");
}

#[test]
fn shutdown_closes_waits_for_returns_and_reports_what_is_still_out() {
    let (m, k) = knobs();
    let pool = Pool::builder(m).max_size(2).maintenance_thread(false).build().unwrap();
    let (a, b) = (pool.get().unwrap(), pool.get().unwrap());
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get_timeout(Duration::from_secs(30)).map(drop))
    };
    assert!(wait_until(PATIENCE, || pool.status().waiting == 1));
    let returner = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        drop(a); // comes back in time
        b // kept past the shutdown's limit
    });
    let start = Instant::now();
    let report = pool.shutdown(Duration::from_millis(300));
    let took = start.elapsed();
    assert!(waiter.join().unwrap().unwrap_err().is_closed(), "waiters get Closed at once");
    assert_eq!((report.out_at_start, report.still_out), (2, 1), "{report}");
    assert!(took >= Duration::from_millis(300) && took < PATIENCE, "waited out the limit: {took:?}");
    assert_eq!(live(&k), 1, "the returned one was dropped");
    drop(returner.join().unwrap());
    assert_eq!((live(&k), pool.status().size), (0, 0), "the last one is dropped as it returns");
}

/// The shutdown's wait is woken by each return (the core's `place_freed` hook), not by a poll
/// or its deadline: with a minute's limit, it ends as soon as the last of three objects
/// returned at staggered times is back. A missed wake-up would wait out the minute.
#[test]
fn shutdown_ends_when_the_last_object_comes_back() {
    let (m, k) = knobs();
    let pool = Pool::builder(m).max_size(3).maintenance_thread(false).build().unwrap();
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    let returner = thread::spawn(move || {
        for conn in held {
            thread::sleep(Duration::from_millis(15));
            drop(conn);
        }
    });
    let report = pool.shutdown(Duration::from_secs(60));
    assert_eq!((report.out_at_start, report.still_out), (3, 0), "{report}");
    assert!(report.waited < Duration::from_secs(30), "woken by the last return: {report}");
    returner.join().unwrap();
    assert_eq!((live(&k), pool.status().size), (0, 0));
}

#[test]
fn an_object_returned_with_a_reported_error_is_checked_before_its_next_lend() {
    let (m, k) = knobs();
    let pool = Pool::builder(m).max_size(1).maintenance_thread(false).build().unwrap();
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    assert_eq!(k.check_calls.load(SeqCst), 0, "no check by default");
    let mut conn = pool.get().unwrap();
    Pooled::report_error(&mut conn);
    drop(conn);
    let conn = pool.get().unwrap();
    assert_eq!(k.check_calls.load(SeqCst), 1, "checked once after the error");
    drop(conn);
    drop(pool.get().unwrap());
    assert_eq!(k.check_calls.load(SeqCst), 1, "the error was accounted for by the passed check");
    // A failed check after an error drops it, and the getter gets a new one.
    let mut conn = pool.get().unwrap();
    Pooled::report_error(&mut conn);
    drop(conn);
    k.invalid.store(true, SeqCst);
    let conn = pool.get().unwrap();
    assert_eq!(Pooled::meta(&conn).errors, 0, "a fresh object");
    assert_eq!(k.create_calls.load(SeqCst), 2);
}

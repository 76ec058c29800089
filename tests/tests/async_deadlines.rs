//! The async pool's waiters' deadlines, kept by one timer per pool (`Watch`): each waiter
//! times out at its own deadline whatever the order they came in, a waiter served in time
//! leaves its timer behind harmlessly, and the timer never keeps a dropped pool open.
//!
//! Each waiter runs on its own OS thread under a bare `futures_lite::future::block_on`: no
//! runtime timer is involved, only the pool's.
#![allow(missing_docs)]

mod common;

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use cenote_async::{Error, Manager, Pool};
use cenote_core::{Core, Permit};
use common::{Counts, Tracked};
use futures_lite::future::block_on;

/// How late a timeout may complete on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

struct M(Arc<Counts>);

impl Manager for M {
    type Connection = Tracked;
    type Error = std::convert::Infallible;

    async fn create(&self) -> Result<Tracked, Self::Error> {
        Ok(Tracked::new(&self.0))
    }
}

fn pool(max: usize) -> (Pool<M>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let pool = Pool::builder(M(Arc::clone(&counts))).max_size(max).build().expect("valid config");
    (pool, counts)
}

/// A waiter on its own thread, timing its `get_timeout(limit)` on an exhausted pool.
struct Waiter {
    limit: Duration,
    took: mpsc::Receiver<Duration>,
}

fn waiter(pool: &Pool<M>, limit: Duration) -> Waiter {
    let pool = pool.clone();
    let (tx, took) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let result = block_on(pool.get_timeout(limit));
        match result {
            Err(Error::Timeout { last_create_error: None }) => drop(tx.send(start.elapsed())),
            other => panic!("get_timeout({limit:?}) on an exhausted pool: {other:?}"),
        }
    });
    Waiter { limit, took }
}

impl Waiter {
    /// Fails if it timed out early, late, or not at all (a lost wakeup: the test does not hang).
    fn assert_on_time(self) {
        let limit = self.limit;
        let took = match self.took.recv_timeout(limit + 2 * SLACK) {
            Ok(took) => took,
            Err(e) => panic!("get_timeout({limit:?}) did not time out ({e})"),
        };
        assert!(took >= limit, "timed out early: {took:?} for {limit:?}");
        assert!(took < limit + SLACK, "timed out late: {took:?} for {limit:?}");
    }
}

/// Waiters arriving latest deadline first: each later one's deadline is earlier than any the
/// pool's timer was set for, and each still times out on time.
#[test]
fn waiters_time_out_at_their_own_deadlines_in_any_order() {
    let (pool, _counts) = pool(1);
    let held = block_on(pool.get()).expect("the one object");
    let limits = [400, 50, 250, 100, 300].map(Duration::from_millis);
    let mut waiters = Vec::new();
    for limit in limits {
        waiters.push(waiter(&pool, limit));
        thread::sleep(Duration::from_millis(5)); // the order they link in
    }
    for w in waiters {
        w.assert_on_time();
    }
    assert_eq!(pool.status().waiting, 0);
    drop(held);
    assert_eq!(pool.status().idle, 1);
}

/// A waiter served before its deadline leaves the timer set for it; a later waiter with a
/// later deadline asks for nothing, and is timed out when the timer, finding the first one
/// gone, sets itself again for the second.
#[test]
fn timer_left_by_a_served_waiter_moves_on_to_the_next_deadline() {
    let (pool, _counts) = pool(1);
    let held = block_on(pool.get()).expect("the one object");
    let first = {
        let pool = pool.clone();
        thread::spawn(move || block_on(pool.get_timeout(Duration::from_millis(200))).map(|p| p.id))
    };
    while pool.status().waiting == 0 {
        thread::yield_now();
    }
    drop(held); // serves the first waiter, long before its deadline
    assert_eq!(first.join().expect("first waiter").expect("served"), 0);
    // Hold the object again so that the second waiter waits.
    let held = block_on(pool.get()).expect("the object is back");
    waiter(&pool, Duration::from_millis(500)).assert_on_time();
    drop(held);
}

/// The timer keeps no pool open: dropping the last handle while it is set for a waiter that
/// was served drops the idle objects at once.
#[test]
fn pending_timer_does_not_keep_a_dropped_pool_open() {
    let (pool, counts) = pool(2);
    let a = block_on(pool.get()).expect("a");
    let b = block_on(pool.get()).expect("b");
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || drop(block_on(pool.get_timeout(Duration::from_secs(30)))))
    };
    while pool.status().waiting == 0 {
        thread::yield_now();
    }
    drop(a); // serves the waiter, which drops its object again
    waiter.join().expect("waiter");
    drop(b);
    assert_eq!(counts.live.load(SeqCst), 2, "both idle");
    drop(pool);
    assert_eq!(counts.live.load(SeqCst), 0, "the last handle closes the pool whatever the timer");
    // The manager (and with it the pool's memory) goes at once too, not when the timer set
    // for the served waiter's 30 s deadline would have fired.
    assert_eq!(Arc::strong_count(&counts), 1, "the manager is dropped with the last handle");
}

/// A waker that panics.
struct Panicky;

impl Wake for Panicky {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics (on purpose)");
    }
}

/// A waker that counts.
struct Counting(AtomicUsize);

impl Wake for Counting {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// The core's expiry: a due waiter whose waker panics does not keep the others due with it
/// asleep.
#[test]
fn panicking_waker_does_not_keep_other_due_waiters_asleep() {
    let core: Core<u32> = Core::new(1, 1, ()).expect("valid sizes");
    let weak = core.downgrade();
    let _held = Permit::fill(core.try_reserve().expect("a place"), 7);
    let mut bad = Box::pin(core.acquire_until(10, |_| {}));
    let panicky = Waker::from(Arc::new(Panicky));
    assert!(bad.as_mut().poll(&mut Context::from_waker(&panicky)).is_pending());
    let mut good = Box::pin(core.acquire_until(10, |_| {}));
    let counting = Arc::new(Counting(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counting));
    assert!(good.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
    let expired = panic::catch_unwind(AssertUnwindSafe(|| weak.expire_waiters(10)));
    assert!(expired.is_err(), "the waker's panic reaches the caller");
    assert_eq!(counting.0.load(SeqCst), 1, "the other due waiter was woken");
    assert_eq!(weak.expire_waiters(100), None);
}

/// The pool's timer goes on after a waiter's waker panicked: a later waiter still times out.
#[test]
fn panicking_waker_does_not_stop_the_pools_timer() {
    let (pool, _counts) = pool(1);
    let _held = block_on(pool.get()).expect("the one object");
    // Polled once with a waker that panics, and kept: due first.
    let mut bad = Box::pin(pool.get_timeout(Duration::from_millis(50)));
    let panicky = Waker::from(Arc::new(Panicky));
    assert!(bad.as_mut().poll(&mut Context::from_waker(&panicky)).is_pending());
    waiter(&pool, Duration::from_millis(300)).assert_on_time();
    drop(bad);
}

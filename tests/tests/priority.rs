//! Priority gets in both front ends (issue 14): `get_with(Priority::{High, Normal, Low})`
//! serves waiters by class, FIFO within a class, with aging (a waiter at the front of its
//! class is served after at most `AGE_AFTER` serves to higher classes), and
//! `Builder::reserve(n)` keeps the last `n` objects or places for `High`. Each test fails
//! without the part it names: plain FIFO would serve in arrival order, no aging would serve
//! `Low` last, no reserve would lend the last object to `Normal`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{BuildError, Priority, AGE_AFTER};
use futures_lite::future::{block_on, poll_once};

/// How long a background effect may take to show up on a loaded two-core machine.
const PATIENCE: Duration = Duration::from_secs(10);
/// A timeout the reserve makes a `Normal` get wait out.
const SHORT: Duration = Duration::from_millis(30);

/// Objects are numbered in creation order.
#[derive(Debug, Default)]
struct Numbered(AtomicUsize);

impl cenote_sync::Manager for Numbered {
    type Connection = usize;
    type Error = std::convert::Infallible;
    fn create(&self) -> Result<usize, Self::Error> {
        Ok(self.0.fetch_add(1, SeqCst))
    }
}

impl cenote_async::Manager for Numbered {
    type Connection = usize;
    type Error = std::convert::Infallible;
    async fn create(&self) -> Result<usize, Self::Error> {
        Ok(self.0.fetch_add(1, SeqCst))
    }
}

fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}

// ---- blocking front end ------------------------------------------------------------------

/// Queues one blocking waiter per class in `classes`, in that order (each linked before the
/// next arrives), then returns the one object: returns the order in which they were served.
fn sync_serve_order(classes: &[Priority]) -> Vec<usize> {
    let pool = cenote_sync::Pool::builder(Numbered::default()).max_size(1).build().unwrap();
    let held = pool.get().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let waiters: Vec<_> = classes
        .iter()
        .enumerate()
        .map(|(i, &class)| {
            let (pool2, order) = (pool.clone(), Arc::clone(&order));
            let waiter = thread::spawn(move || {
                let conn = pool2.get_with(class).unwrap();
                order.lock().unwrap().push(i);
                drop(conn);
            });
            assert!(wait_until(|| pool.status().waiting == i + 1), "{}", pool.status());
            // Counted, then linked under the lock a moment later: let it get there.
            thread::sleep(Duration::from_millis(20));
            waiter
        })
        .collect();
    drop(held);
    for waiter in waiters {
        waiter.join().unwrap();
    }
    assert_eq!(pool.status().waiting, 0);
    let order = order.lock().unwrap().clone();
    order
}

#[test]
fn sync_classes_are_served_in_order_fifo_within() {
    use Priority::{High, Low, Normal};
    assert_eq!(sync_serve_order(&[Low, Normal, High, Normal, High]), [2, 4, 1, 3, 0]);
}

#[test]
fn sync_a_low_waiter_is_served_after_age_after_high_serves() {
    let mut classes = vec![Priority::Low];
    classes.extend(std::iter::repeat_n(Priority::High, 2 * AGE_AFTER as usize));
    let order = sync_serve_order(&classes);
    assert_eq!(order.iter().position(|&i| i == 0), Some(AGE_AFTER as usize), "{order:?}");
    // The High waiters in arrival order around it.
    let highs: Vec<_> = order.iter().copied().filter(|&i| i != 0).collect();
    assert!(highs.windows(2).all(|w| w[0] < w[1]), "{highs:?}");
}

#[test]
fn sync_reserve_is_only_for_high() {
    let pool = cenote_sync::Pool::builder(Numbered::default()).max_size(2).reserve(1).build().unwrap();
    let a = pool.get().unwrap();
    for class in [Priority::Normal, Priority::Low] {
        let err = pool.get_with_timeout(class, SHORT).unwrap_err();
        assert!(err.is_timeout(), "{class:?}: {err}");
        assert!(pool.try_get_with(class).is_none());
    }
    let b = pool.get_with(Priority::High).unwrap();
    // A Normal waiter: the first return leaves one available, the reserve; the second frees
    // one for it.
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || *pool.get_with(Priority::Normal).unwrap())
    };
    assert!(wait_until(|| pool.status().waiting == 1));
    drop(b);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(pool.status().waiting, 1, "served from the reserve");
    drop(a);
    assert!(waiter.join().unwrap() < 2);
    let status = pool.status();
    assert_eq!((status.size, status.idle, status.waiting), (2, 2, 0), "{status}");
}

#[test]
fn sync_reserve_must_be_below_max_size() {
    let err = cenote_sync::Pool::builder(Numbered::default()).max_size(2).reserve(2).build().unwrap_err();
    assert_eq!(err, BuildError::ReserveNotBelowMaxSize { reserve: 2, max_size: 2 });
    assert!(err.to_string().contains("lower reserve below"), "{err}");
}

#[test]
fn sync_timed_out_priority_gets_leave_nothing_behind() {
    let pool = cenote_sync::Pool::builder(Numbered::default()).max_size(1).build().unwrap();
    let held = pool.get().unwrap();
    for class in [Priority::High, Priority::Normal, Priority::Low] {
        assert!(pool.get_with_timeout(class, SHORT).unwrap_err().is_timeout());
    }
    assert_eq!(pool.status().waiting, 0);
    drop(held);
    // The object went to the idle queue, not to a departed waiter.
    assert!(pool.try_get_with(Priority::Low).is_some());
    let status = pool.status();
    assert_eq!((status.size, status.idle, status.waiting), (1, 1, 0), "{status}");
}

// ---- async front end ---------------------------------------------------------------------

type Get<'a> = Pin<
    Box<
        dyn Future<
                Output = Result<
                    cenote_async::Pooled<Numbered>,
                    cenote_async::Error<std::convert::Infallible>,
                >,
            > + Send
            + 'a,
    >,
>;

fn queued(pool: &cenote_async::Pool<Numbered>, class: Priority) -> Get<'_> {
    let mut get: Get<'_> = Box::pin(pool.get_with(class));
    assert!(block_on(poll_once(get.as_mut())).is_none(), "expected to wait");
    get
}

/// Passes the one object along queued async gets: the order in which they were served.
fn async_serve_order(
    pool: &cenote_async::Pool<Numbered>,
    held: cenote_async::Pooled<Numbered>,
    gets: &mut [Get<'_>],
) -> Vec<usize> {
    let mut order = Vec::new();
    let mut held = Some(held);
    while let Some(conn) = held.take() {
        drop(conn);
        for (i, get) in gets.iter_mut().enumerate() {
            if order.contains(&i) {
                continue;
            }
            if let Some(conn) = block_on(poll_once(get.as_mut())) {
                order.push(i);
                held = Some(conn.unwrap());
                break;
            }
        }
    }
    assert_eq!(pool.status().waiting, 0);
    order
}

#[test]
fn async_classes_are_served_in_order_fifo_within() {
    use Priority::{High, Low, Normal};
    let pool = cenote_async::Pool::builder(Numbered::default()).max_size(1).build().unwrap();
    let held = block_on(pool.get()).unwrap();
    let mut gets: Vec<_> = [Low, Normal, High, Normal, High, Low].iter().map(|&c| queued(&pool, c)).collect();
    assert_eq!(async_serve_order(&pool, held, &mut gets), [2, 4, 1, 3, 0, 5]);
}

#[test]
fn async_a_low_waiter_is_served_after_age_after_high_serves() {
    let pool = cenote_async::Pool::builder(Numbered::default()).max_size(1).build().unwrap();
    let held = block_on(pool.get()).unwrap();
    let mut gets = vec![queued(&pool, Priority::Low)];
    gets.extend((0..2 * AGE_AFTER).map(|_| queued(&pool, Priority::High)));
    let order = async_serve_order(&pool, held, &mut gets);
    assert_eq!(order.iter().position(|&i| i == 0), Some(AGE_AFTER as usize), "{order:?}");
}

#[test]
fn async_reserve_is_only_for_high() {
    let pool = cenote_async::Pool::builder(Numbered::default()).max_size(2).reserve(1).build().unwrap();
    block_on(async {
        let a = pool.get().await.unwrap();
        for class in [Priority::Normal, Priority::Low] {
            assert!(pool.get_with_timeout(class, SHORT).await.unwrap_err().is_timeout());
            assert!(pool.try_get_with(class).is_none());
        }
        let b = pool.get_with(Priority::High).await.unwrap();
        let mut normal = queued(&pool, Priority::Normal);
        drop(b);
        assert!(poll_once(normal.as_mut()).await.is_none(), "served from the reserve");
        drop(a);
        let conn = normal.await.unwrap();
        drop(conn);
    });
    let status = pool.status();
    assert_eq!((status.size, status.idle, status.waiting), (2, 2, 0), "{status}");
}

/// Cancellation, every outcome: a queued priority get dropped before it is served leaves
/// nothing behind; one dropped after it was handed the object passes it on to the next
/// waiter by class (Normal before Low), whoever is left.
#[test]
fn async_cancelled_priority_gets_leave_nothing_behind() {
    for cancel_high_after_serve in [false, true] {
        let pool = cenote_async::Pool::builder(Numbered::default()).max_size(1).build().unwrap();
        let held = block_on(pool.get()).unwrap();
        let mut low = queued(&pool, Priority::Low);
        let high = queued(&pool, Priority::High);
        let mut normal = queued(&pool, Priority::Normal);
        if cancel_high_after_serve {
            drop(held); // handed to High, which is dropped before it looks
            drop(high);
        } else {
            drop(high); // dropped while queued
            drop(held);
        }
        assert!(block_on(poll_once(low.as_mut())).is_none(), "Low before Normal");
        let conn = block_on(poll_once(normal.as_mut())).expect("passed on to Normal").unwrap();
        drop(conn);
        let conn = block_on(poll_once(low.as_mut())).expect("then Low").unwrap();
        drop(conn);
        drop((low, normal));
        let status = pool.status();
        assert_eq!((status.size, status.idle, status.waiting), (1, 1, 0), "{status}");
    }
    // A timed-out priority get is gone too.
    let pool = cenote_async::Pool::builder(Numbered::default()).max_size(1).build().unwrap();
    let held = block_on(pool.get()).unwrap();
    assert!(block_on(pool.get_with_timeout(Priority::High, SHORT)).unwrap_err().is_timeout());
    assert_eq!(pool.status().waiting, 0);
    drop(held);
    assert_eq!(pool.status().idle, 1);
}

/// Maintenance visits every idle object, the reserve included: an idle object that is all
/// that is left for `High` is still reaped when it expires.
#[test]
fn maintenance_reaps_a_reserved_idle_object() {
    let pool = cenote_sync::Pool::builder(Numbered::default())
        .max_size(2)
        .reserve(1)
        .idle_timeout(Some(Duration::from_millis(20)))
        .maintenance_thread(false)
        .build()
        .unwrap();
    let held = pool.get().unwrap();
    drop(pool.get_with(Priority::High).unwrap()); // idle, and the reserve
    assert!(pool.try_get().is_none());
    thread::sleep(Duration::from_millis(40));
    pool.maintain();
    let status = pool.status();
    assert_eq!((status.size, status.idle), (1, 0), "{status}");
    drop(held);
}

/// `reserve` from a config file reaches the pool (and a bad one is the build's error).
#[test]
fn reserve_from_a_config_file() {
    let config = cenote_sync::Config::from_toml_str("max_size = 2\nreserve = 1").unwrap();
    assert_eq!(config.reserve, 1);
    let pool = cenote_sync::Pool::builder(Numbered::default()).config(&config).build().unwrap();
    let held = pool.get().unwrap();
    assert!(pool.try_get_with(Priority::Normal).is_none());
    assert!(pool.get_with_timeout(Priority::Normal, SHORT).unwrap_err().is_timeout());
    assert!(pool.get_with(Priority::High).is_ok());
    drop(held);
    let bad = cenote_sync::Config::from_toml_str("max_size = 2\nreserve = 2").unwrap();
    assert!(matches!(
        cenote_sync::Pool::builder(Numbered::default()).config(&bad).build(),
        Err(BuildError::ReserveNotBelowMaxSize { reserve: 2, max_size: 2 })
    ));
}

//! Options changed while the pool runs (`set_acquire_timeout`, `set_min_idle`,
//! `set_maintenance_interval`), in both front ends: each takes effect where its docs say, a
//! bad value is an error that changes nothing, and `settings()` shows the current values
//! while `config()` keeps the built ones.

use std::convert::Infallible;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct M;

impl cenote_sync::Manager for M {
    type Connection = u8;
    type Error = Infallible;
    fn create(&self) -> Result<u8, Infallible> {
        Ok(1)
    }
}

impl cenote_async::Manager for M {
    type Connection = u8;
    type Error = Infallible;
    async fn create(&self) -> Result<u8, Infallible> {
        Ok(1)
    }
}

#[test]
fn sync_options_change_at_runtime() {
    let pool = cenote_sync::Pool::builder(M)
        .max_size(4)
        .idle_timeout(Some(Duration::from_millis(10)))
        .maintenance_thread(false)
        .build()
        .unwrap();
    // acquire_timeout: from 30 s to 20 ms for the next get that waits.
    let held: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    pool.set_acquire_timeout(Some(Duration::from_millis(20)));
    let start = Instant::now();
    assert!(pool.get().unwrap_err().is_timeout());
    assert!(start.elapsed() < Duration::from_secs(5), "the new timeout, not 30 s: {:?}", start.elapsed());
    assert_eq!(pool.settings().acquire_timeout, Some(Duration::from_millis(20)));
    assert_eq!(pool.config().acquire_timeout, Some(Duration::from_secs(30)), "config() is as built");
    drop(held);

    // min_idle: raised, the next pass refills; lowered, idle_timeout reaps down to it.
    std::thread::sleep(Duration::from_millis(20));
    pool.maintain(); // reaps the four idle ones (min_idle 0)
    assert_eq!(pool.status().idle, 0);
    pool.set_min_idle(3).unwrap();
    assert_eq!(pool.maintain().created, 3);
    assert_eq!(pool.status().idle, 3);
    pool.set_min_idle(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(pool.maintain().idle_timeout, 2, "reaped down to the new floor");
    assert_eq!(pool.status().idle, 1);

    // Bad values: an error, nothing changed.
    let err = pool.set_min_idle(5).unwrap_err();
    assert!(err.to_string().contains("min_idle"), "{err}");
    assert_eq!(pool.settings().min_idle, 1);
    pool.resize(2).unwrap();
    assert!(pool.set_min_idle(3).is_err(), "above the current max_size");
    assert_eq!(pool.settings().max_size, 2);

    // maintenance_interval: the next pass names a due time within the new interval.
    assert!(pool.set_maintenance_interval(Duration::ZERO).is_err());
    pool.set_maintenance_interval(Duration::from_millis(50)).unwrap();
    let next = pool.maintain().next.unwrap();
    assert!(next <= Duration::from_millis(50), "{next:?}");
}

#[test]
fn async_options_change_at_runtime() {
    futures_lite::future::block_on(async {
        let pool = cenote_async::Pool::builder(M).max_size(2).build().unwrap();
        let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        pool.set_acquire_timeout(Some(Duration::from_millis(20)));
        let start = Instant::now();
        assert!(pool.get().await.unwrap_err().is_timeout());
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        drop((a, b));
        pool.set_min_idle(2).unwrap();
        assert_eq!(pool.settings().min_idle, 2);
        let pass = pool.maintain().await;
        assert_eq!(pool.status().idle, 2, "{pass:?}");
    });
}

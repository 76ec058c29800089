//! The async keyed pool: caps, eviction, fairness across keys on tokio, cancellation of a
//! keyed get at every await point, and a stress test with cancellations whose books balance.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cenote_keyed::nonblocking::{KeyedManager, KeyedPool, Pooled};
use futures_lite::future::{block_on, poll_once};

mod common;
use common::{Books, Obj};

struct Mgr(Arc<Books>);

impl KeyedManager<u32> for Mgr {
    type Connection = Obj;
    type Error = std::io::Error;
    async fn create(&self, key: &u32) -> Result<Obj, std::io::Error> {
        if self.0.hang_create.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(self.0.create(*key))
    }
    async fn is_valid(&self, _key: &u32, _conn: &mut Obj) -> bool {
        if self.0.hang_validate.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        true
    }
}

fn pool(max_size: usize, max_total: usize) -> (KeyedPool<u32, Mgr>, Arc<Books>) {
    let books = Arc::new(Books::default());
    let pool = KeyedPool::builder(Mgr(Arc::clone(&books)))
        .max_size(max_size)
        .max_total(max_total)
        .validate_on_acquire(true)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    (pool, books)
}

fn assert_send<T: Send>(_: &T) {}

/// created - dropped = objects in the sub-pools = the global total; nobody waits.
fn books_balance(pool: &KeyedPool<u32, Mgr>, books: &Books) {
    let size: usize = pool.keys().iter().filter_map(|k| pool.status(k)).map(|s| s.size).sum();
    let status = pool.global_status();
    let (created, dropped) = (books.created.load(Ordering::SeqCst), books.dropped.load(Ordering::SeqCst));
    assert_eq!(created - dropped, size, "{status:?}");
    assert_eq!(status.total, size, "{status:?}");
    assert_eq!(status.waiting, 0, "{status:?}");
    for key in pool.keys() {
        assert_eq!(pool.status(&key).unwrap().waiting, 0);
    }
}

#[test]
fn get_future_is_send() {
    let (pool, _books) = pool(1, 1);
    let get = pool.get(&1);
    assert_send(&get);
}

#[test]
fn caps_reuse_and_eviction() {
    let (pool, books) = pool(2, 3);
    block_on(async {
        let a1 = pool.get(&1).await.unwrap();
        let _a2 = pool.get(&1).await.unwrap();
        assert!(pool.get_timeout(&1, Duration::from_millis(20)).await.unwrap_err().is_timeout());
        let serial = a1.serial;
        drop(a1);
        assert_eq!(pool.get(&1).await.unwrap().serial, serial);
        // Key 1 holds 2 (one idle), key 2 takes the third place; key 3 evicts key 1's idle one.
        let b = pool.get(&2).await.unwrap();
        let c = pool.get(&3).await.unwrap();
        assert_eq!((b.key, c.key), (2, 3));
        assert_eq!(pool.global_status().evicted, 1);
        assert_eq!(pool.status(&1).unwrap().size, 1);
        assert!(pool.try_get(&9).await.is_none());
    });
    books_balance(&pool, &books);
}

/// Polls `fut` once: it must be pending.
fn pending<F: Future>(fut: std::pin::Pin<&mut F>) {
    assert!(block_on(poll_once(fut)).is_none(), "expected the get to wait");
}

#[test]
fn cancel_while_waiting_on_the_key() {
    let (pool, books) = pool(1, 4);
    let held = block_on(pool.get(&1)).unwrap();
    {
        let mut get = pin!(pool.get(&1));
        pending(get.as_mut());
        assert_eq!(pool.status(&1).unwrap().waiting, 1);
    }
    assert_eq!(pool.status(&1).unwrap().waiting, 0);
    // Handed to the waiter, then the waiter is dropped: the object goes back, not lost.
    {
        let mut get = pin!(pool.get(&1));
        pending(get.as_mut());
        drop(held);
    }
    assert_eq!(pool.status(&1).unwrap().idle, 1);
    assert!(block_on(pool.try_get(&1)).is_some());
    books_balance(&pool, &books);
}

#[test]
fn cancel_while_validating() {
    let (pool, books) = pool(1, 4);
    drop(block_on(pool.get(&1)).unwrap());
    books.hang_validate.store(true, Ordering::SeqCst);
    {
        let mut get = pin!(pool.get(&1));
        pending(get.as_mut());
        assert_eq!(pool.status(&1).unwrap().in_use, 1);
    }
    books.hang_validate.store(false, Ordering::SeqCst);
    assert_eq!(pool.status(&1).unwrap().idle, 1, "the object under validation went back");
    books_balance(&pool, &books);
}

#[test]
fn cancel_while_waiting_for_a_global_place() {
    let (pool, books) = pool(1, 1);
    let held = block_on(pool.get(&1)).unwrap();
    {
        let mut get = pin!(pool.get(&2));
        pending(get.as_mut());
        assert_eq!(pool.global_status().waiting, 1);
        assert_eq!(pool.status(&2).unwrap().size, 1, "holds key 2's permit");
    }
    assert_eq!(pool.global_status().waiting, 0);
    assert_eq!(pool.status(&2).unwrap().size, 0, "the permit went back");
    // Granted a place (key 1's object is closed for it on return), then dropped: the place
    // goes back.
    {
        let mut get = pin!(pool.get(&2));
        pending(get.as_mut());
        drop(held);
        assert_eq!(pool.global_status().total, 1, "the place is granted to the waiter");
    }
    assert_eq!(pool.global_status().total, 0);
    assert_eq!(block_on(pool.get(&3)).unwrap().key, 3);
    books_balance(&pool, &books);
}

#[test]
fn cancel_while_creating() {
    let (pool, books) = pool(1, 1);
    books.hang_create.store(true, Ordering::SeqCst);
    {
        let mut get = pin!(pool.get(&1));
        pending(get.as_mut());
        assert_eq!(pool.global_status().total, 1);
        assert_eq!(pool.status(&1).unwrap().size, 1);
    }
    books.hang_create.store(false, Ordering::SeqCst);
    assert_eq!(pool.global_status().total, 0);
    assert_eq!(pool.status(&1).unwrap().size, 0);
    assert_eq!(block_on(pool.get(&1)).unwrap().key, 1);
    books_balance(&pool, &books);
}

#[test]
fn timeout_of_a_global_waiter() {
    let (pool, books) = pool(1, 1);
    let held = block_on(pool.get(&1)).unwrap();
    let start = Instant::now();
    let err = block_on(pool.get_timeout(&2, Duration::from_millis(30))).unwrap_err();
    assert!(err.is_timeout() && start.elapsed() >= Duration::from_millis(30));
    drop(held);
    books_balance(&pool, &books);
}

#[test]
fn close_wakes_async_waiters() {
    let (pool, books) = pool(1, 1);
    let held = block_on(pool.get(&1)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let waiters: Vec<_> = [1u32, 2]
            .into_iter()
            .map(|key| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.get(&key).await.map(|_| ()).unwrap_err().is_closed() })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(30)).await;
        pool.close();
        for w in waiters {
            assert!(w.await.unwrap());
        }
    });
    drop(held);
    assert_eq!(pool.global_status().total, 0);
    assert_eq!(books.created.load(Ordering::SeqCst), books.dropped.load(Ordering::SeqCst));
}

/// Tasks hammer key 1, which alone fills the pool; a waiter on key 2 is served promptly.
#[test]
fn fairness_across_keys_async() {
    let (pool, books) = pool(4, 4);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let hammers: Vec<_> = (0..16)
            .map(|_| {
                let (pool, stop) = (pool.clone(), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut served = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let o = pool.get(&1).await.unwrap();
                        tokio::time::sleep(Duration::from_micros(200)).await;
                        drop(o);
                        served += 1;
                    }
                    served
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..5 {
            let start = Instant::now();
            let b =
                pool.get_timeout(&2, Duration::from_secs(2)).await.expect("the key-2 waiter is not starved");
            assert!(start.elapsed() < Duration::from_secs(1), "served late: {:?}", start.elapsed());
            drop(b);
        }
        stop.store(true, Ordering::Relaxed);
        let mut served = 0;
        for h in hammers {
            served += h.await.unwrap();
        }
        assert!(served > 0);
    });
    books_balance(&pool, &books);
}

/// Random keys from many tasks, random holds, discards and cancelled gets (short timeouts
/// around them): at the end created - dropped = objects in the pool = the global total.
#[test]
fn stress_random_keys_with_cancellation() {
    let (pool, books) = pool(3, 10);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(t);
                    for i in 0..1000 {
                        let key = rng.u32(0..12);
                        let cancel_after = Duration::from_micros(rng.u64(0..300));
                        match tokio::time::timeout(cancel_after, pool.get(&key)).await {
                            Ok(Ok(o)) => {
                                assert_eq!(o.key, key);
                                if rng.bool() {
                                    tokio::task::yield_now().await;
                                }
                                if i % 53 == 0 {
                                    Pooled::discard(o);
                                }
                            }
                            Ok(Err(e)) => panic!("get failed: {e}"),
                            Err(_) => {} // cancelled at whatever await point it was in
                        }
                        if i % 250 == 0 {
                            let _ = pool.maintain();
                        }
                        assert!(pool.global_status().total <= 10);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    books_balance(&pool, &books);
    pool.close();
    assert_eq!(books.created.load(Ordering::SeqCst), books.dropped.load(Ordering::SeqCst));
    assert_eq!(pool.global_status().total, 0);
}

/// Waiters for the global cap are served in arrival order, whatever their key.
#[test]
fn global_waiters_are_served_in_fifo_order_across_keys_async() {
    let (pool, books) = pool(1, 1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let held = pool.get(&1).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for (n, key) in [3u32, 2, 4].into_iter().enumerate() {
            let (waiter, tx) = (pool.clone(), tx.clone());
            waiters.push(tokio::spawn(async move {
                let o = waiter.get(&key).await.unwrap();
                tx.send(o.key).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(o);
            }));
            while pool.global_status().waiting != n + 1 {
                tokio::task::yield_now().await;
            }
        }
        drop(held);
        let mut order = Vec::new();
        for _ in 0..3 {
            order.push(rx.recv().await.unwrap());
        }
        assert_eq!(order, [3, 2, 4]);
        for w in waiters {
            w.await.unwrap();
        }
    });
    books_balance(&pool, &books);
}

//! The blocking keyed pool: per-key caps, the global cap with eviction, fairness across keys,
//! idle sub-pool removal, and a stress test whose books balance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_keyed::sync::{KeyedManager, KeyedPool, Pooled};

mod common;
use common::{Books, Obj};

/// The manager: a handle to the books.
struct Mgr(Arc<Books>);

impl KeyedManager<u32> for Mgr {
    type Connection = Obj;
    type Error = std::io::Error;
    fn create(&self, key: &u32) -> Result<Obj, std::io::Error> {
        Ok(self.0.create(*key))
    }
}

fn pool(max_size: usize, max_total: usize) -> (KeyedPool<u32, Mgr>, Arc<Books>) {
    let books = Arc::new(Books::default());
    let pool = KeyedPool::builder(Mgr(Arc::clone(&books)))
        .max_size(max_size)
        .max_total(max_total)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    (pool, books)
}

#[test]
fn per_key_cap_and_reuse() {
    let (pool, books) = pool(2, 10);
    let a1 = pool.get(&1).unwrap();
    let a2 = pool.get(&1).unwrap();
    assert!(pool.get_timeout(&1, Duration::from_millis(20)).unwrap_err().is_timeout());
    // Another key is not held up by key 1's cap.
    let b = pool.get(&2).unwrap();
    assert_eq!(b.key, 2);
    let serial = a1.serial;
    drop(a1);
    let again = pool.get(&1).unwrap();
    assert_eq!(again.serial, serial, "reused, not created");
    assert_eq!(books.created.load(Ordering::SeqCst), 3);
    assert_eq!(pool.status(&1).unwrap().size, 2);
    drop((a2, again, b));
    assert_eq!(pool.status(&1).unwrap().idle, 2);
}

#[test]
fn per_key_waiter_is_served_by_a_return() {
    let (pool, _books) = pool(1, 10);
    let held = pool.get(&1).unwrap();
    let serial = held.serial;
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get(&1).map(|o| o.serial).unwrap())
    };
    thread::sleep(Duration::from_millis(30));
    drop(held);
    assert_eq!(waiter.join().unwrap(), serial);
}

#[test]
fn max_idle_closes_extras() {
    let books = Arc::new(Books::default());
    let pool = KeyedPool::builder(Mgr(Arc::clone(&books))).max_size(3).max_idle(1).build().unwrap();
    let objs: Vec<_> = (0..3).map(|_| pool.get(&1).unwrap()).collect();
    drop(objs);
    assert_eq!(pool.status(&1).unwrap().idle, 1);
    assert_eq!(books.dropped.load(Ordering::SeqCst), 2);
}

#[test]
fn global_cap_evicts_the_lru_idle_of_another_key() {
    let (pool, books) = pool(2, 3);
    // Keys 1, 2, 3 each get one object; returned in the order 2, 1, 3: key 2's is the LRU.
    let (o1, o2, o3) = (pool.get(&1).unwrap(), pool.get(&2).unwrap(), pool.get(&3).unwrap());
    drop(o2);
    thread::sleep(Duration::from_millis(2));
    drop(o1);
    thread::sleep(Duration::from_millis(2));
    drop(o3);
    assert_eq!(pool.global_status().total, 3);
    let o4 = pool.get(&4).unwrap();
    assert_eq!(o4.key, 4);
    let status = pool.global_status();
    assert_eq!((status.total, status.evicted), (3, 1));
    assert_eq!(pool.status(&2).unwrap().size, 0, "key 2's object, the least recently used, was closed");
    assert_eq!(pool.status(&1).unwrap().idle, 1);
    assert_eq!(pool.status(&3).unwrap().idle, 1);
    assert_eq!(books.dropped.load(Ordering::SeqCst), 1);
    // try_get never creates, never evicts.
    assert!(pool.try_get(&5).is_none());
    assert_eq!(pool.global_status().total, 3);
}

#[test]
fn global_waiter_times_out_and_is_served_by_a_return_on_another_key() {
    let (pool, _books) = pool(2, 2);
    let a = pool.get(&1).unwrap();
    let b = pool.get(&1).unwrap();
    let start = Instant::now();
    assert!(pool.get_timeout(&2, Duration::from_millis(30)).unwrap_err().is_timeout());
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(pool.global_status().waiting, 0, "the timed-out waiter left the queue");
    let waiter = {
        let pool = pool.clone();
        thread::spawn(move || pool.get(&2).map(|o| o.key).unwrap())
    };
    while pool.global_status().waiting == 0 {
        thread::yield_now();
    }
    drop(a); // its place goes to the waiter on key 2
    assert_eq!(waiter.join().unwrap(), 2);
    drop(b);
    assert!(pool.global_status().total <= 2);
}

/// Many threads hammer key A (max_total = key A's max_size, so A alone fills the pool); one
/// waiter on key B must be served promptly, not starved.
#[test]
fn fairness_across_keys() {
    let (pool, _books) = pool(4, 4);
    let stop = Arc::new(AtomicUsize::new(0));
    let hammers: Vec<_> = (0..8)
        .map(|_| {
            let (pool, stop) = (pool.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let mut served = 0usize;
                while stop.load(Ordering::Relaxed) == 0 {
                    let o = pool.get(&1).unwrap();
                    thread::sleep(Duration::from_micros(200));
                    drop(o);
                    served += 1;
                }
                served
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    for _ in 0..5 {
        let start = Instant::now();
        let b = pool.get_timeout(&2, Duration::from_secs(2)).expect("the key-B waiter is not starved");
        assert!(start.elapsed() < Duration::from_secs(1), "served late: {:?}", start.elapsed());
        drop(b);
    }
    stop.store(1, Ordering::Relaxed);
    let served: usize = hammers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(served > 0);
}

#[test]
fn maintain_removes_idle_sub_pools() {
    let books = Arc::new(Books::default());
    let pool = KeyedPool::builder(Mgr(Arc::clone(&books)))
        .max_total(200)
        .idle_timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    for key in 0..100 {
        drop(pool.get(&key).unwrap());
    }
    let held = pool.get(&7).unwrap();
    assert_eq!(pool.keys().len(), 100);
    assert_eq!(pool.maintain().removed_keys, 0, "nothing is idle long enough yet");
    thread::sleep(Duration::from_millis(70));
    let pass = pool.maintain();
    assert_eq!(pass.closed, 99);
    assert_eq!(pass.removed_keys, 99, "key 7 has an object lent out");
    assert_eq!(pool.keys(), [7]);
    drop(held);
    assert_eq!(pool.global_status().total, 1);
    // A removed key comes back on its next use.
    assert_eq!(pool.get(&3).unwrap().key, 3);
}

#[test]
fn close_wakes_waiters_and_drops_everything() {
    let (pool, books) = pool(1, 1);
    let held = pool.get(&1).unwrap();
    let waiters: Vec<_> = [1u32, 2]
        .into_iter()
        .map(|key| {
            let pool = pool.clone();
            thread::spawn(move || pool.get(&key).map(|_| ()).unwrap_err().is_closed())
        })
        .collect();
    thread::sleep(Duration::from_millis(30));
    pool.close();
    for w in waiters {
        assert!(w.join().unwrap());
    }
    drop(held);
    assert_eq!(pool.global_status().total, 0);
    assert_eq!(books.created.load(Ordering::SeqCst), books.dropped.load(Ordering::SeqCst));
}

#[test]
fn broken_and_discarded_objects_free_their_place() {
    struct Fragile;
    impl KeyedManager<u32> for Fragile {
        type Connection = u32;
        type Error = std::convert::Infallible;
        fn create(&self, key: &u32) -> Result<u32, Self::Error> {
            Ok(*key)
        }
        fn has_broken(&self, _key: &u32, conn: &mut u32) -> bool {
            *conn == 0
        }
    }
    let pool = KeyedPool::builder(Fragile).max_size(1).max_total(1).build().unwrap();
    let mut o = pool.get(&1).unwrap();
    *o = 0;
    drop(o);
    assert_eq!(pool.global_status().total, 0);
    Pooled::discard(pool.get(&2).unwrap());
    assert_eq!(pool.global_status().total, 0);
    assert_eq!(*pool.get(&3).unwrap(), 3);
}

#[test]
fn create_errors_give_places_back() {
    struct Refuses;
    impl KeyedManager<u32> for Refuses {
        type Connection = u32;
        type Error = String;
        fn create(&self, key: &u32) -> Result<u32, String> {
            Err(format!("backend {key} refused"))
        }
    }
    let pool = KeyedPool::builder(Refuses).max_size(1).max_total(1).build().unwrap();
    for _ in 0..3 {
        let err = pool.get(&1).unwrap_err();
        assert_eq!(err.create_error().unwrap(), "backend 1 refused");
    }
    assert_eq!(pool.global_status().total, 0);
    assert_eq!(pool.status(&1).unwrap().size, 0);
}

/// Random keys from many threads, random holds, some broken; at the end the books balance:
/// created - dropped = objects in the pool, and the global total matches.
#[test]
fn stress_random_keys_books_balance() {
    let books = Arc::new(Books::default());
    // 12 keys of 3 against a cap of 10: evictions all along; a 1 ms idle timeout, so that
    // maintenance closes objects and removes sub-pools while the others get and return.
    let pool = KeyedPool::builder(Mgr(Arc::clone(&books)))
        .max_size(3)
        .max_total(10)
        .idle_timeout(Some(Duration::from_millis(1)))
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let pool = pool.clone();
            thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                for i in 0..2000 {
                    let key = rng.u32(0..12);
                    match pool.get(&key) {
                        Ok(o) => {
                            assert_eq!(o.key, key);
                            if rng.u8(0..4) == 0 {
                                thread::yield_now();
                            }
                            if i % 97 == 0 {
                                Pooled::discard(o);
                            }
                        }
                        Err(e) => panic!("get failed: {e}"),
                    }
                    if i % 500 == 0 {
                        let _ = pool.maintain();
                    }
                    assert!(pool.global_status().total <= 10);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let status = pool.global_status();
    let created = books.created.load(Ordering::SeqCst);
    let dropped = books.dropped.load(Ordering::SeqCst);
    let size: usize = pool.keys().iter().map(|k| pool.status(k).unwrap().size).sum();
    assert_eq!(created - dropped, size);
    assert_eq!(status.total, size);
    assert_eq!((status.created, status.dropped), (created, dropped));
    assert_eq!(status.waiting, 0);
    assert!(status.evicted > 0, "{status:?}");
    pool.close();
    assert_eq!(books.created.load(Ordering::SeqCst), books.dropped.load(Ordering::SeqCst));
    assert_eq!(pool.global_status().total, 0);
}

/// Idleness is measured by maintenance (a return reads no clock): an object lent since the
/// last pass is not closed at this one, however old it is; one left idle is closed after
/// `idle_timeout`.
#[test]
fn maintain_never_closes_an_object_used_since_its_last_pass() {
    let books = Arc::new(Books::default());
    let pool = KeyedPool::builder(Mgr(Arc::clone(&books)))
        .idle_timeout(Some(Duration::from_millis(60)))
        .build()
        .unwrap();
    drop(pool.get(&1).unwrap());
    thread::sleep(Duration::from_millis(80));
    drop(pool.get(&1).unwrap()); // old, but just used
    assert_eq!(pool.maintain().closed, 0);
    thread::sleep(Duration::from_millis(30));
    assert_eq!(pool.maintain().closed, 0, "idle for 30 ms of 60");
    thread::sleep(Duration::from_millis(50));
    let pass = pool.maintain();
    assert_eq!((pass.closed, pass.removed_keys), (1, 1));
    assert_eq!(books.created.load(Ordering::SeqCst), 1);
}

/// Waiters for the global cap are served in arrival order, whatever their key.
#[test]
fn global_waiters_are_served_in_fifo_order_across_keys() {
    let (pool, _books) = pool(1, 1);
    let held = pool.get(&1).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut waiters = Vec::new();
    for (n, key) in [3u32, 2, 4].into_iter().enumerate() {
        let (waiter, tx) = (pool.clone(), tx.clone());
        waiters.push(thread::spawn(move || {
            let o = waiter.get(&key).unwrap();
            tx.send(o.key).unwrap();
            thread::sleep(Duration::from_millis(5));
            drop(o); // its place goes to the next waiter in line
        }));
        while pool.global_status().waiting != n + 1 {
            thread::yield_now();
        }
    }
    drop(held);
    let order: Vec<u32> = (0..3).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(order, [3, 2, 4]);
    for w in waiters {
        w.join().unwrap();
    }
}

#[test]
fn handles_and_guards_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<KeyedPool<u32, Mgr>>();
    send_sync::<Pooled<u32, Mgr>>();
    send_sync::<cenote_keyed::nonblocking::Pooled<u32, AsyncMgr>>();
    send_sync::<cenote_keyed::nonblocking::KeyedPool<u32, AsyncMgr>>();
}

struct AsyncMgr;

impl cenote_keyed::nonblocking::KeyedManager<u32> for AsyncMgr {
    type Connection = u32;
    type Error = std::convert::Infallible;
    async fn create(&self, key: &u32) -> Result<u32, Self::Error> {
        Ok(*key)
    }
}

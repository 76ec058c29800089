//! `cenote_async::ShardedPool`: one `max_size` across shards, stealing, cross-shard waiting,
//! `get_from` affinity, cancellation, close, and build errors. (Mirrors `sharded_sync.rs`.)

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use cenote_async::{BuildError, Manager, ShardedPool};
use common::{Counts, Tracked};
use futures_lite::future::{block_on, yield_now, zip};

struct Objects(Arc<Counts>);

impl Manager for Objects {
    type Connection = Tracked;
    type Error = Infallible;

    async fn create(&self) -> Result<Tracked, Infallible> {
        Ok(Tracked::new(&self.0))
    }
}

fn pool(shards: usize, max_size: usize) -> (ShardedPool<Objects>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let pool = ShardedPool::builder(Objects(counts.clone()))
        .shards(shards)
        .max_size(max_size)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    (pool, counts)
}

/// A key whose shard is `shard` (keys are hashed: found by trying).
fn key_for(pool: &ShardedPool<Objects>, shard: usize) -> u64 {
    (0..).find(|k| pool.shard_of(k) == shard).unwrap()
}

/// Tasks on several threads hammering random shards never have more than `max_size` objects
/// alive at once, and the books balance at the end.
#[test]
fn the_global_cap_holds_across_shards() {
    let (pool, counts) = pool(4, 6);
    let rounds = if cfg!(miri) { 20 } else { 300 };
    let tasks = |seed: u64| {
        let pool = &pool;
        async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            for _ in 0..rounds {
                let got = match rng.u8(0..3) {
                    0 => pool.get().await.ok(),
                    1 => pool.get_from(&rng.u32(..)).await.ok(),
                    _ => pool.try_get(),
                };
                if let Some(obj) = got {
                    assert!(pool.status().in_use <= 6);
                    if rng.bool() {
                        yield_now().await;
                    }
                    drop(obj);
                }
            }
        }
    };
    thread::scope(|s| {
        for t in 0..4_u64 {
            let tasks = &tasks;
            s.spawn(move || block_on(zip(tasks(2 * t), tasks(2 * t + 1))));
        }
    });
    assert!(counts.max_live.load(SeqCst) <= 6, "{} objects alive at once", counts.max_live.load(SeqCst));
    let status = pool.status();
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status}");
    assert_eq!(status.size, counts.live.load(SeqCst), "every live object is in the pool");
    assert!(status.size <= 6 && status.max_size == 6);
}

/// An object idle on shard B is lent to a getter whose home is A, even though A has room.
#[test]
fn an_idle_object_of_another_shard_is_stolen_before_creating() {
    let (pool, counts) = pool(2, 2);
    let home = pool.home_shard();
    let other = 1 - home;
    block_on(async {
        drop(pool.get_from(&key_for(&pool, other)).await.unwrap());
        let stolen = pool.get().await.unwrap();
        assert_eq!(counts.created.load(SeqCst), 1, "stolen, not created");
        assert_eq!((pool.shard_status(other).in_use, pool.shard_status(home).size), (1, 0));
        drop(stolen);
        assert_eq!(pool.shard_status(other).idle, 1, "it went back to the shard it came from");
    });
}

/// With every shard full, a waiting get is served by a return on the other shard while its
/// home shard's object is never returned (the timeout is the failure signal).
#[test]
fn a_waiter_is_served_by_a_return_on_another_shard() {
    let (pool, counts) = pool(2, 2);
    let home = pool.home_shard();
    let (mine, theirs) = block_on(async { (pool.get().await.unwrap(), pool.get().await.unwrap()) });
    assert_eq!(pool.shard_status(1 - home).in_use, 1);
    let returner = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        drop(theirs);
    });
    let started = Instant::now();
    let got = block_on(pool.get_timeout(Duration::from_secs(5)));
    assert!(got.is_ok(), "not served by the other shard's return: {:?}", got.err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(counts.created.load(SeqCst), 2);
    assert_eq!(pool.status().waiting, 0);
    returner.join().unwrap();
    drop((mine, got));
}

/// A return racing a waiting get's steps is never lost (a lost wake-up shows as a timeout).
#[test]
fn a_return_racing_a_waiter_is_never_lost() {
    let (pool, _counts) = pool(2, 2);
    let rounds = if cfg!(miri) { 10 } else { 300 };
    let mine = block_on(pool.get()).unwrap();
    for round in 0..rounds {
        let theirs = block_on(pool.get()).unwrap();
        thread::scope(|s| {
            let waiter = s.spawn(|| block_on(pool.get_timeout(Duration::from_secs(5))).map(drop));
            if round % 2 == 0 {
                thread::yield_now();
            }
            drop(theirs);
            assert!(waiter.join().unwrap().is_ok(), "round {round}: the return was lost");
        });
        assert_eq!(pool.status().waiting, 0);
    }
    drop(mine);
}

/// `get_from(&key)` lends from the key's shard while it has idle objects or room.
#[test]
fn get_from_keeps_a_key_on_its_shard() {
    let (pool, counts) = pool(4, 8);
    block_on(async {
        for key in 0..32_u32 {
            let shard = pool.shard_of(&key);
            let obj = pool.get_from(&key).await.unwrap();
            assert_eq!(pool.shard_status(shard).in_use, 1, "key {key} on shard {shard}");
            let id = obj.id;
            drop(obj);
            assert_eq!(pool.get_from(&key).await.unwrap().id, id, "the same warm object again");
        }
    });
    assert!(counts.created.load(SeqCst) <= 4);
}

/// A get dropped while it waits on every shard leaves nothing behind, for each outcome: not
/// served yet (every shard's wait is unlinked), or handed a return on one shard (the object
/// goes back, to the next waiter or idle) or on both (both go back).
#[test]
fn a_cancelled_wait_leaves_nothing_behind() {
    for returned in [0, 1, 2] {
        let (pool, counts) = pool(2, 2);
        let (a, b) = block_on(async { (pool.get().await.unwrap(), pool.get().await.unwrap()) });
        let mut cx = Context::from_waker(Waker::noop());
        let mut held = vec![a, b];
        {
            let mut get = pin!(pool.get());
            assert!(get.as_mut().poll(&mut cx).is_pending());
            assert_eq!(pool.status().waiting, 1, "counted once");
            assert_eq!((pool.shard_status(0).waiting, pool.shard_status(1).waiting), (1, 1));
            // Returned while it waits: handed to the future's waits, which are dropped below
            // without being polled again.
            drop(held.drain(..returned).collect::<Vec<_>>());
            assert_eq!(pool.status().idle, 0, "handed to the waiting get, not made idle");
        }
        drop(held); // the rest come back after the cancel
        let status = pool.status();
        assert_eq!(status.waiting, 0, "{returned} returned: {status}");
        assert_eq!((status.idle, status.size), (2, 2), "{returned} returned: every object is back: {status}");
        assert_eq!(counts.live.load(SeqCst), 2);
        // And the pool still serves at once.
        block_on(async {
            let both = (pool.get().await.unwrap(), pool.get().await.unwrap());
            assert_eq!(counts.created.load(SeqCst), 2);
            drop(both);
        });
    }
}

/// A timeout and a close behave as a plain pool's.
#[test]
fn timeout_and_close_behave_as_a_plain_pools() {
    let (pool, _counts) = pool(2, 2);
    let held = block_on(async { (pool.get().await.unwrap(), pool.get().await.unwrap()) });
    let err = block_on(pool.get_timeout(Duration::from_millis(20))).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(pool.status().waiting, 0);
    let mut cx = Context::from_waker(Waker::noop());
    let mut get = pin!(pool.get());
    assert!(get.as_mut().poll(&mut cx).is_pending());
    pool.close();
    match get.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.is_closed(), "{e}"),
        other => panic!("a waiter gets Closed at once: {:?}", other.map(|r| r.map(|_| ()))),
    }
    assert!(block_on(pool.get()).unwrap_err().is_closed());
    drop(held);
    assert_eq!(pool.status().size, 0);
}

/// Bad shard counts are build errors that say what to do.
#[test]
fn bad_shard_counts_are_build_errors() {
    let counts = Arc::new(Counts::default());
    let build =
        |shards, max| ShardedPool::builder(Objects(counts.clone())).shards(shards).max_size(max).build();
    assert_eq!(build(0, 4).unwrap_err(), BuildError::Shards { shards: 0, max_size: 4 });
    let many = build(5, 4).unwrap_err();
    assert!(many.to_string().contains("more shards (5) than max_size (4)"), "{many}");
}

/// The futures run as `tokio::spawn`ed tasks on the multi-threaded runtime, under the cap.
#[test]
fn gets_spawn_on_tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let (pool, counts) = pool(2, 3);
    rt.block_on(async {
        let tasks: Vec<_> = (0..16_u32)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        let obj = if i % 2 == 0 { pool.get().await } else { pool.get_from(&i).await };
                        drop(obj.unwrap());
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert!(counts.max_live.load(SeqCst) <= 3);
    assert_eq!((pool.status().in_use, pool.status().waiting), (0, 0));
}

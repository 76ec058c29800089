//! `cenote_sync::ShardedPool`: one `max_size` across shards, stealing, cross-shard waiting,
//! `get_from` affinity, close, and build errors. (Mirrored in `sharded_async.rs`.)

mod common;

use std::convert::Infallible;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_sync::{BuildError, Manager, ShardedPool};
use common::{Counts, Tracked};

struct Objects(Arc<Counts>);

impl Manager for Objects {
    type Connection = Tracked;
    type Error = Infallible;

    fn create(&self) -> Result<Tracked, Infallible> {
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

/// Threads hammering random shards (`get`, `get_from` a random key, `try_get`) never have
/// more than `max_size` objects alive at once, and the books balance at the end. A pool
/// whose shards each took `max_size` (no global cap) fails the first assertion.
#[test]
fn the_global_cap_holds_across_shards() {
    let (pool, counts) = pool(4, 6);
    let rounds = if cfg!(miri) { 20 } else { 400 };
    thread::scope(|s| {
        for t in 0..8_u64 {
            let pool = &pool;
            s.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                for _ in 0..rounds {
                    let got = match rng.u8(0..3) {
                        0 => pool.get().ok(),
                        1 => pool.get_from(&rng.u32(..)).ok(),
                        _ => pool.try_get(),
                    };
                    if let Some(obj) = got {
                        assert!(pool.status().in_use <= 6);
                        if rng.bool() {
                            thread::yield_now();
                        }
                        drop(obj);
                    }
                }
            });
        }
    });
    assert!(counts.max_live.load(SeqCst) <= 6, "{} objects alive at once", counts.max_live.load(SeqCst));
    let status = pool.status();
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status}");
    assert_eq!(status.size, counts.live.load(SeqCst), "every live object is in the pool");
    assert_eq!(status.idle, status.size);
    assert!(status.size <= 6 && status.max_size == 6);
    let per_shard: usize = (0..4).map(|i| pool.shard_status(i).size).sum();
    assert_eq!(per_shard, status.size);
}

/// An object idle on shard B is lent to a getter whose home is A, even though A has room:
/// no new object is created.
#[test]
fn an_idle_object_of_another_shard_is_stolen_before_creating() {
    let (pool, counts) = pool(2, 2);
    let home = pool.home_shard();
    let other = 1 - home;
    drop(pool.get_from(&key_for(&pool, other)).unwrap()); // made in `other`, idle there
    assert_eq!((pool.shard_status(other).idle, counts.created.load(SeqCst)), (1, 1));
    let stolen = pool.get().unwrap();
    assert_eq!(counts.created.load(SeqCst), 1, "stolen, not created");
    assert_eq!((pool.shard_status(other).in_use, pool.shard_status(home).size), (1, 0));
    drop(stolen);
    assert_eq!(pool.shard_status(other).idle, 1, "it went back to the shard it came from");
}

/// With every shard full, a getter waits on all of them: a return on the other shard serves
/// it while its home shard's object is never returned. (Waiting on the home shard alone
/// would time out: the timeout is the failure signal.)
#[test]
fn a_waiter_is_served_by_a_return_on_another_shard() {
    let (pool, counts) = pool(2, 2);
    let home = pool.home_shard();
    let mine = pool.get().unwrap(); // home shard: kept for the whole test
    let theirs = pool.get().unwrap(); // the other shard
    assert_eq!(pool.shard_status(1 - home).in_use, 1);
    let returner = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        drop(theirs);
    });
    let started = Instant::now();
    let got = pool.get_timeout(Duration::from_secs(5));
    assert!(got.is_ok(), "not served by the other shard's return: {:?}", got.err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(counts.created.load(SeqCst), 2, "served the returned object");
    assert_eq!((pool.status().waiting, pool.status().in_use), (0, 2));
    returner.join().unwrap();
    drop((mine, got));
}

/// A return racing a getter's steps (its steal scan, its yields, its queueing on each shard)
/// is never lost: the getter is served every time, whichever shard is its home. A lost
/// wake-up shows as a timeout.
#[test]
fn a_return_racing_a_waiter_is_never_lost() {
    let (pool, _counts) = pool(2, 2);
    let rounds = if cfg!(miri) { 10 } else { 300 };
    let mine = pool.get().unwrap(); // one shard stays full throughout
    for round in 0..rounds {
        let theirs = pool.get().unwrap();
        thread::scope(|s| {
            let waiter = s.spawn(|| pool.get_timeout(Duration::from_secs(5)).map(drop));
            if round % 2 == 0 {
                thread::yield_now();
            }
            drop(theirs); // races the waiter's steps
            assert!(waiter.join().unwrap().is_ok(), "round {round}: the return was lost");
        });
        assert_eq!(pool.status().waiting, 0);
    }
    drop(mine);
}

/// Each of several waiters (on threads with different home shards) is served, whichever
/// shard the objects come back to, and none is left waiting.
#[test]
fn waiters_of_every_home_are_served_by_returns_anywhere() {
    let (pool, _counts) = pool(2, 2);
    let held: Vec<_> = (0..2).map(|_| pool.get().unwrap()).collect();
    let served = thread::scope(|s| {
        let waiters: Vec<_> =
            (0..4).map(|_| s.spawn(|| pool.get_timeout(Duration::from_secs(5)).map(drop).is_ok())).collect();
        while pool.status().waiting < 4 {
            thread::yield_now();
        }
        drop(held);
        waiters.into_iter().map(|w| w.join().unwrap()).filter(|&ok| ok).count()
    });
    assert_eq!(served, 4);
    assert_eq!(pool.status().waiting, 0);
}

/// `get_from(&key)` lends from the key's shard while it has idle objects or room, and the same
/// key gets the same shard (and so the same warm object) again.
#[test]
fn get_from_keeps_a_key_on_its_shard() {
    let (pool, counts) = pool(4, 8);
    for key in 0..32_u32 {
        let shard = pool.shard_of(&key);
        let obj = pool.get_from(&key).unwrap();
        assert_eq!(pool.shard_status(shard).in_use, 1, "key {key} on shard {shard}");
        let id = obj.id;
        drop(obj);
        assert_eq!(pool.get_from(&key).unwrap().id, id, "the same warm object again");
    }
    assert!(counts.created.load(SeqCst) <= 4, "one object per shard sufficed");
}

/// A timeout and a close behave as a plain pool's: `Timeout` after the deadline, `Closed` at
/// once for a waiter, and for every later `get`.
#[test]
fn timeout_and_close_behave_as_a_plain_pools() {
    let (pool, _counts) = pool(2, 2);
    let held = (pool.get().unwrap(), pool.get().unwrap());
    let err = pool.get_timeout(Duration::from_millis(20)).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(pool.status().waiting, 0);
    thread::scope(|s| {
        let waiter = s.spawn(|| pool.get_timeout(Duration::from_secs(10)).map(drop));
        while pool.status().waiting == 0 {
            thread::yield_now();
        }
        pool.close();
        assert!(waiter.join().unwrap().unwrap_err().is_closed());
    });
    assert!(pool.is_closed() && pool.get().unwrap_err().is_closed());
    drop(held);
    assert_eq!(pool.status().size, 0, "returned objects are dropped once closed");
}

/// Bad shard counts are build errors that say what to do; the default fits `max_size`.
#[test]
fn bad_shard_counts_are_build_errors() {
    let counts = Arc::new(Counts::default());
    let build =
        |shards, max| ShardedPool::builder(Objects(counts.clone())).shards(shards).max_size(max).build();
    let zero = build(0, 4).unwrap_err();
    assert_eq!(zero, BuildError::Shards { shards: 0, max_size: 4 });
    assert!(zero.to_string().contains("give at least 1"), "{zero}");
    let many = build(5, 4).unwrap_err();
    assert!(many.to_string().contains("lower shards or raise max_size"), "{many}");
    let mut config = cenote_sync::Config::new(4);
    config.capacity = Some(8);
    let capacity = ShardedPool::builder(Objects(counts.clone())).config(&config).build().unwrap_err();
    assert!(matches!(capacity, BuildError::Unsupported { option: "capacity", .. }), "{capacity}");
    let small = ShardedPool::builder(Objects(counts)).max_size(1).build().unwrap();
    assert_eq!(small.shard_count(), 1, "the default number of shards is lowered to max_size");
}

/// A shard whose circuit breaker is open does not turn a `get_from` away while another
/// shard has an idle object: the key's shard is skipped for creating, and the idle object
/// elsewhere is lent (as a plain pool lends idle objects in every breaker state).
#[test]
fn an_open_breaker_on_the_keys_shard_still_lends_an_idle_object_of_another() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

    #[derive(Debug)]
    struct Down;
    impl std::fmt::Display for Down {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("down")
        }
    }
    struct Flaky(std::sync::Arc<AtomicBool>);
    impl cenote_sync::Manager for Flaky {
        type Connection = u32;
        type Error = Down;
        fn create(&self) -> Result<u32, Down> {
            if self.0.load(SeqCst) {
                Err(Down)
            } else {
                Ok(1)
            }
        }
    }
    let fail = std::sync::Arc::new(AtomicBool::new(false));
    let mut config = cenote_front::Config::new(4);
    config.circuit_breaker = Some(cenote_front::CircuitBreaker::new(1, std::time::Duration::from_secs(60)));
    config.acquire_timeout = Some(std::time::Duration::from_secs(2));
    let pool = cenote_sync::ShardedPool::builder(Flaky(std::sync::Arc::clone(&fail)))
        .shards(2)
        .config(&config)
        .build()
        .unwrap();
    let k0 = (0u64..).find(|k| pool.shard_of(k) == 0).unwrap();
    let k1 = (0u64..).find(|k| pool.shard_of(k) == 1).unwrap();
    drop(pool.get_from(&k1).unwrap()); // one idle object in shard 1
    fail.store(true, SeqCst);
    assert!(pool.get_from(&k0).unwrap_err().is_unavailable(), "the failed create opens shard 0's breaker");
    let second = pool.get_from(&k0);
    assert!(second.is_ok(), "shard 1's idle object is lent: {:?}", second.err());
}

/// Closing one shard through `shard(i)` closes the sharded pool as far as its `is_closed` and
/// its waits are concerned: the two agree.
#[test]
fn one_closed_shard_and_is_closed_agree() {
    let (pool, _counts) = pool(2, 2);
    let held = (pool.get().unwrap(), pool.get().unwrap());
    assert!(!pool.is_closed());
    pool.shard(1).close();
    assert!(pool.is_closed());
    let e = pool.get_timeout(Duration::from_millis(50)).unwrap_err();
    assert!(e.is_closed(), "{e:?}");
    drop(held);
}

//! One adapter trait per front end, implemented for cenote, the floor and every peer, and
//! constructors that build each pool with `n` objects already created and idle.
//!
//! Every constructor fills the pool before returning, so that a measured `get` finds an idle
//! object (or waits for a return) and never pays for a `create`.

use std::future::Future;
use std::hint::spin_loop;
use std::ops::{Deref, DerefMut};

use crossbeam_queue::ArrayQueue;

use crate::managers::{AsyncNumbers, Bb8Numbers, DeadpoolNumbers, R2d2Numbers, SyncNumbers};

/// A pool used from threads: `get` returns a guard that gives the object back on drop.
pub trait BlockingPool: Sync {
    /// The guard of a lent object.
    type Guard<'a>: DerefMut<Target = u64>
    where
        Self: 'a;

    /// Gets an object, waiting (in the pool's own way) until one is free.
    fn get(&self) -> Self::Guard<'_>;
}

/// A pool used from async code.
pub trait AsyncPool: Send + Sync + 'static {
    /// The guard of a lent object.
    type Guard<'a>: DerefMut<Target = u64> + Send
    where
        Self: 'a;

    /// Gets an object, waiting until one is free.
    fn get(&self) -> impl Future<Output = Self::Guard<'_>> + Send;
}

/// Spins a little, then yields the thread, until `try_get` succeeds: how a pool without a
/// blocking `get` (a bare queue, object-pool) is used from contending threads.
#[inline]
pub fn spin_then_yield<T>(mut try_get: impl FnMut() -> Option<T>) -> T {
    let mut tries = 0u32;
    loop {
        if let Some(value) = try_get() {
            return value;
        }
        if tries < 6 {
            for _ in 0..(1u32 << tries) {
                spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        tries = tries.saturating_add(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Not a pool: the harness and the OS scheduler alone.

/// Not a pool: every `get` makes a fresh object on the caller's stack, so threads share
/// nothing. What it measures is the harness and the operating system's scheduler: its
/// per-thread fairness is the best any pool can show on the same machine at the same time.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPool;

/// An object owned by its thread.
#[derive(Debug)]
pub struct Owned(u64);

impl Deref for Owned {
    type Target = u64;

    #[inline]
    fn deref(&self) -> &u64 {
        &self.0
    }
}

impl DerefMut for Owned {
    #[inline]
    fn deref_mut(&mut self) -> &mut u64 {
        &mut self.0
    }
}

impl BlockingPool for NoPool {
    type Guard<'a> = Owned;

    #[inline]
    fn get(&self) -> Owned {
        Owned(0)
    }
}

// ---------------------------------------------------------------------------------------------
// The floor: a bare ArrayQueue pop + push of the same object.

/// The floor: a bare `crossbeam_queue::ArrayQueue` of objects, popped and pushed back (spinning
/// then yielding while it is empty).
#[derive(Debug)]
pub struct Floor(pub ArrayQueue<u64>);

/// A popped object, pushed back on drop.
#[derive(Debug)]
pub struct FloorGuard<'a> {
    queue: &'a ArrayQueue<u64>,
    value: u64,
}

impl Deref for FloorGuard<'_> {
    type Target = u64;

    #[inline]
    fn deref(&self) -> &u64 {
        &self.value
    }
}

impl DerefMut for FloorGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut u64 {
        &mut self.value
    }
}

impl Drop for FloorGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // Cannot fail: the queue has room for every object.
        let _ = self.queue.push(self.value);
    }
}

impl BlockingPool for Floor {
    type Guard<'a> = FloorGuard<'a>;

    #[inline]
    fn get(&self) -> FloorGuard<'_> {
        let value = spin_then_yield(|| self.0.pop());
        FloorGuard { queue: &self.0, value }
    }
}

/// The floor awaited: the same pop + push inside a future (yielding to the executor while the
/// queue is empty), for what the async harness itself costs.
impl AsyncPool for Floor {
    type Guard<'a> = FloorGuard<'a>;

    #[inline]
    async fn get(&self) -> FloorGuard<'_> {
        loop {
            if let Some(value) = self.0.pop() {
                return FloorGuard { queue: &self.0, value };
            }
            futures_lite::future::yield_now().await;
        }
    }
}

/// The floor with `n` objects.
pub fn floor(n: usize) -> Floor {
    let queue = ArrayQueue::new(n);
    for _ in 0..n {
        let _ = queue.push(0);
    }
    Floor(queue)
}

// ---------------------------------------------------------------------------------------------
// cenote

impl BlockingPool for cenote_sync::Pool<SyncNumbers> {
    type Guard<'a> = cenote_sync::Pooled<SyncNumbers>;

    #[inline]
    fn get(&self) -> Self::Guard<'_> {
        match cenote_sync::Pool::get(self) {
            Ok(pooled) => pooled,
            Err(e) => panic!("cenote_sync get: {e}"),
        }
    }
}

impl AsyncPool for cenote_async::Pool<AsyncNumbers> {
    type Guard<'a> = cenote_async::Pooled<AsyncNumbers>;

    #[inline]
    async fn get(&self) -> Self::Guard<'_> {
        match cenote_async::Pool::get(self).await {
            Ok(pooled) => pooled,
            Err(e) => panic!("cenote_async get: {e}"),
        }
    }
}

/// cenote's blocking pool with `n` objects, all idle.
pub fn cenote_sync(n: usize) -> cenote_sync::Pool<SyncNumbers> {
    let pool = cenote_sync::Pool::new(SyncNumbers, n);
    let held: Vec<_> = (0..n).map(|_| BlockingPool::get(&pool)).collect();
    drop(held);
    pool
}

/// cenote's blocking pool with `n` objects, all idle, and `reserve(1)`: plain gets are
/// `Normal`, so each checks the reserve (for the instruction count of that path).
pub fn cenote_sync_reserved(n: usize) -> cenote_sync::Pool<SyncNumbers> {
    let pool = match cenote_sync::Pool::builder(SyncNumbers).max_size(n).reserve(1).build() {
        Ok(pool) => pool,
        Err(e) => panic!("cenote_sync build: {e}"),
    };
    let held: Vec<_> = (0..n).map(|_| pool.get_with(cenote_sync::Priority::High)).collect();
    drop(held);
    pool
}

/// cenote's blocking pool with `n` objects, all idle, and maintenance on (`min_idle(n)`: the
/// background thread runs its passes), for instruction counts "with maintenance on".
pub fn cenote_sync_maintained(n: usize) -> cenote_sync::Pool<SyncNumbers> {
    let pool = match cenote_sync::Pool::builder(SyncNumbers).max_size(n).min_idle(n).build() {
        Ok(pool) => pool,
        Err(e) => panic!("cenote_sync build: {e}"),
    };
    let held: Vec<_> = (0..n).map(|_| BlockingPool::get(&pool)).collect();
    drop(held);
    pool
}

/// cenote's async pool with `n` objects, all idle, and its background job on
/// (`maintenance_thread(true)`, `min_idle(n)`), as [`cenote_sync_maintained`].
pub fn cenote_async_maintained(n: usize) -> cenote_async::Pool<AsyncNumbers> {
    let built =
        cenote_async::Pool::builder(AsyncNumbers).max_size(n).min_idle(n).maintenance_thread(true).build();
    let pool = match built {
        Ok(pool) => pool,
        Err(e) => panic!("cenote_async build: {e}"),
    };
    fill_async(&pool, n);
    pool
}

/// cenote's async pool with `n` objects, all idle (filled under a bare `block_on`).
pub fn cenote_async(n: usize) -> cenote_async::Pool<AsyncNumbers> {
    let pool = cenote_async::Pool::new(AsyncNumbers, n);
    fill_async(&pool, n);
    pool
}

/// cenote's async pool with `n` objects, all idle, and no `acquire_timeout` (the default is
/// 30 s): `get` then neither reads the clock nor arms a timer when it has to wait.
pub fn cenote_async_no_timeout(n: usize) -> cenote_async::Pool<AsyncNumbers> {
    let pool = match cenote_async::Pool::builder(AsyncNumbers).max_size(n).acquire_timeout(None).build() {
        Ok(pool) => pool,
        Err(e) => panic!("cenote_async build: {e}"),
    };
    fill_async(&pool, n);
    pool
}

/// Gets `n` objects at once and returns them, so that `n` exist and are idle.
fn fill_async<P: AsyncPool>(pool: &P, n: usize) {
    futures_lite::future::block_on(async {
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            held.push(pool.get().await);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// An async pool used from threads through a bare `futures_lite::future::block_on` per get.

/// An async pool used from threads: each `get` runs under a bare
/// `futures_lite::future::block_on`.
#[derive(Debug)]
pub struct BlockOn<P>(pub P);

impl<P: AsyncPool> BlockingPool for BlockOn<P> {
    type Guard<'a>
        = P::Guard<'a>
    where
        P: 'a;

    #[inline]
    fn get(&self) -> P::Guard<'_> {
        futures_lite::future::block_on(self.0.get())
    }
}

// ---------------------------------------------------------------------------------------------
// object-pool 0.6: a `Mutex<Vec>` with `try_pull`; no waiting of its own.

/// object-pool 0.6 (a `parking_lot::Mutex<Vec>`), whose `try_pull` is retried with
/// [`spin_then_yield`] when it is empty.
pub struct ObjectPool(pub object_pool::Pool<u64>);

impl std::fmt::Debug for ObjectPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectPool").field("len", &self.0.len()).finish()
    }
}

impl BlockingPool for ObjectPool {
    type Guard<'a> = object_pool::Reusable<'a, u64>;

    #[inline]
    fn get(&self) -> Self::Guard<'_> {
        spin_then_yield(|| self.0.try_pull())
    }
}

/// object-pool with `n` objects.
pub fn object_pool(n: usize) -> ObjectPool {
    ObjectPool(object_pool::Pool::new(n, || 0))
}

// ---------------------------------------------------------------------------------------------
// deadpool 0.13

impl AsyncPool for deadpool::unmanaged::Pool<u64> {
    type Guard<'a> = deadpool::unmanaged::Object<u64>;

    #[inline]
    async fn get(&self) -> Self::Guard<'_> {
        match deadpool::unmanaged::Pool::get(self).await {
            Ok(object) => object,
            Err(e) => panic!("deadpool unmanaged get: {e}"),
        }
    }
}

impl AsyncPool for deadpool::managed::Pool<DeadpoolNumbers> {
    type Guard<'a> = deadpool::managed::Object<DeadpoolNumbers>;

    #[inline]
    async fn get(&self) -> Self::Guard<'_> {
        match deadpool::managed::Pool::get(self).await {
            Ok(object) => object,
            Err(e) => panic!("deadpool managed get: {e:?}"),
        }
    }
}

/// deadpool's unmanaged pool holding `n` objects.
pub fn deadpool_unmanaged(n: usize) -> deadpool::unmanaged::Pool<u64> {
    deadpool::unmanaged::Pool::from(vec![0u64; n])
}

/// deadpool's managed pool of at most `n` objects, all created and idle. No runtime is set
/// (no timeouts), so it also works under a bare `block_on`.
pub fn deadpool_managed(n: usize) -> deadpool::managed::Pool<DeadpoolNumbers> {
    let pool = match deadpool::managed::Pool::builder(DeadpoolNumbers).max_size(n).build() {
        Ok(pool) => pool,
        Err(e) => panic!("deadpool managed build: {e}"),
    };
    fill_async(&pool, n);
    pool
}

// ---------------------------------------------------------------------------------------------
// r2d2 0.8

impl BlockingPool for r2d2::Pool<R2d2Numbers> {
    type Guard<'a> = r2d2::PooledConnection<R2d2Numbers>;

    #[inline]
    fn get(&self) -> Self::Guard<'_> {
        match r2d2::Pool::get(self) {
            Ok(conn) => conn,
            Err(e) => panic!("r2d2 get: {e}"),
        }
    }
}

/// r2d2 with `n` connections, all created (r2d2's default `min_idle` is `max_size`) and idle.
pub fn r2d2(n: usize) -> r2d2::Pool<R2d2Numbers> {
    let size = u32::try_from(n).unwrap_or(u32::MAX);
    let pool = match r2d2::Pool::builder().max_size(size).build(R2d2Numbers) {
        Ok(pool) => pool,
        Err(e) => panic!("r2d2 build: {e}"),
    };
    let held: Vec<_> = (0..n).map(|_| BlockingPool::get(&pool)).collect();
    drop(held);
    pool
}

// ---------------------------------------------------------------------------------------------
// bb8 0.9 (tokio only)

impl AsyncPool for bb8::Pool<Bb8Numbers> {
    type Guard<'a> = bb8::PooledConnection<'a, Bb8Numbers>;

    #[inline]
    async fn get(&self) -> Self::Guard<'_> {
        match bb8::Pool::get(self).await {
            Ok(conn) => conn,
            Err(e) => panic!("bb8 get: {e:?}"),
        }
    }
}

/// bb8 with `n` connections, all created and idle. Must run inside a tokio runtime (bb8
/// spawns its reaper and connection tasks there).
pub async fn bb8(n: usize) -> bb8::Pool<Bb8Numbers> {
    let size = u32::try_from(n).unwrap_or(u32::MAX);
    let pool = match bb8::Pool::builder().max_size(size).build(Bb8Numbers).await {
        Ok(pool) => pool,
        Err(e) => match e {},
    };
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(AsyncPool::get(&pool).await);
    }
    drop(held);
    pool
}

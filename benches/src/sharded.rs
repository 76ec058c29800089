//! The sharded pool ([`cenote_sync::ShardedPool`]) as a [`BlockingPool`], for the `table`
//! binary's `sharded` section: the same thread workloads as the plain pool's contended rows
//! ([`crate::work::threads_for`]), on a sharded pool of as many objects.
//!
//! What to expect: on a machine with few cores, little or nothing. A plain pool's get + drop
//! moves the idle queue's head and tail lines between the cores that use it; a sharded one's
//! threads each use their home shard's lines, so it wins when those transfers are what limits
//! throughput, which takes many cores (see `cenote_front::sharded`, "Why shard").

use crate::pools::BlockingPool;
use crate::SyncNumbers;

impl BlockingPool for cenote_sync::ShardedPool<SyncNumbers> {
    type Guard<'a> = cenote_sync::ShardedPooled<SyncNumbers>;

    #[inline]
    fn get(&self) -> Self::Guard<'_> {
        match cenote_sync::ShardedPool::get(self) {
            Ok(pooled) => pooled,
            Err(e) => panic!("cenote_sync sharded get: {e}"),
        }
    }
}

/// A sharded blocking pool of `n` objects in `shards` shards, all idle (created by one
/// thread holding all `n` at once: each shard's share is filled).
///
/// # Panics
///
/// If `shards` is 0 or above `n`.
pub fn cenote_sync_sharded(shards: usize, n: usize) -> cenote_sync::ShardedPool<SyncNumbers> {
    let pool = match cenote_sync::ShardedPool::builder(SyncNumbers).shards(shards).max_size(n).build() {
        Ok(pool) => pool,
        Err(e) => panic!("sharded build: {e}"),
    };
    let held: Vec<_> = (0..n).map(|_| BlockingPool::get(&pool)).collect();
    drop(held);
    pool
}

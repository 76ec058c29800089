//! What the two keyed pools share: the key map, the global cap and its FIFO of waiters,
//! eviction, maintenance and the return path. The front ends add only how they wait and how
//! they call the manager. See the crate docs for the protocol.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::prims::{Mutex, RwLock};
use cenote_core::stats::Counter;
use cenote_core::{time, Closed, Core, Lease, Permit};
use hashbrown::HashTable;

use crate::config::KeyedConfig;

/// How often a waiter for the global cap looks again for an idle object of another key to
/// close, in case a return missed its arrival (see "A return racing a waiter" in the crate
/// docs).
pub(crate) const RECHECK: Duration = Duration::from_millis(10);

/// The state every key's sub-pool shares (reached from each core's extension value, so it
/// must not hold the key map: that would be a reference cycle through the cores).
pub(crate) struct Global<M> {
    pub(crate) manager: M,
    pub(crate) config: KeyedConfig,
    state: Mutex<GlobalState>,
    /// Waiters queued for a global place, and waiters that left the queue (served, cancelled
    /// or closed): both only grow, both change under `state`'s lock; their difference is the
    /// lock-free hint a return reads.
    queued: Counter,
    unqueued: Counter,
    pub(crate) created: Counter,
    pub(crate) dropped: Counter,
    pub(crate) evicted: Counter,
    /// Sub-pools added to and removed from the map: their difference, times `max_size`,
    /// says whether the keys together could hold more than `max_total`, the only case in
    /// which eviction (and so the order of returns across keys) can matter.
    pub(crate) subs_made: Counter,
    subs_removed: Counter,
    /// `max_total / max_size`: with more sub-pools than this, the keys could together hold
    /// more than `max_total` (see [`lru_matters`](Self::lru_matters)). Fixed at build, so that
    /// a return compares and does not multiply.
    lru_above: usize,
    /// `max_idle` if it is below `max_size` (a return then checks its key's idle count), else
    /// `None` (a key never has more idle objects than `max_size`: nothing to check).
    idle_cap: Option<usize>,
}

struct GlobalState {
    /// Global places held: by objects (in their `Entry`) and by creates in flight.
    total: usize,
    /// Waiters for a global place, oldest first.
    queue: VecDeque<Queued>,
    /// Waiters given a place that have not picked it up yet.
    granted: HashSet<u64>,
    next_id: u64,
    closed: bool,
}

struct Queued {
    id: u64,
    waker: Waker,
}

impl<M> Global<M> {
    fn new(manager: M, config: KeyedConfig) -> Self {
        // `max_size >= 1`: `KeyedConfig::check` passed.
        let lru_above = config.max_total / config.max_size.max(1);
        let max_idle = config.resolved_max_idle();
        let idle_cap = (max_idle < config.max_size).then_some(max_idle);
        Self {
            manager,
            config,
            lru_above,
            idle_cap,
            state: Mutex::new(GlobalState {
                total: 0,
                queue: VecDeque::new(),
                granted: HashSet::new(),
                next_id: 0,
                closed: false,
            }),
            queued: Counter::new(),
            unqueued: Counter::new(),
            created: Counter::new(),
            dropped: Counter::new(),
            evicted: Counter::new(),
            subs_made: Counter::new(),
            subs_removed: Counter::new(),
        }
    }

    /// Whether the keys in the map could together hold more than `max_total` (a lock-free
    /// hint): only then can a getter find the global cap reached while its key has room, and
    /// only then does a return stamp its object with the clock for the LRU order.
    #[inline]
    fn lru_matters(&self) -> bool {
        // `subs * max_size > max_total` exactly when `subs > max_total / max_size`.
        self.subs_made.get().wrapping_sub(self.subs_removed.get()) > self.lru_above
    }

    /// Whether someone may be waiting for a global place (a hint: see the crate docs).
    #[inline]
    pub(crate) fn waiters_hint(&self) -> bool {
        let left = self.unqueued.get();
        let came = self.queued.get();
        came.wrapping_sub(left) != 0
    }

    /// Gives up one global place: to the oldest waiter if there is one, else back to the
    /// pool. Wakes outside the lock.
    fn release(&self) {
        let waker = {
            let mut state = self.state.lock();
            self.release_locked(&mut state)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn release_locked(&self, state: &mut GlobalState) -> Option<Waker> {
        if let Some(next) = state.queue.pop_front() {
            self.unqueued.incr();
            state.granted.insert(next.id);
            return Some(next.waker);
        }
        state.total -= 1;
        None
    }

    /// `(total, waiting)` now.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.total, state.queue.len())
    }
}

/// One global place, held by an object (inside its [`Entry`]) or by a create in flight.
/// Dropping it gives the place to the oldest waiter, or back.
pub(crate) struct Token<M> {
    global: Arc<Global<M>>,
}

impl<M> Drop for Token<M> {
    fn drop(&mut self) {
        self.global.release();
    }
}

impl<M> std::fmt::Debug for Token<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token")
    }
}

/// What a sub-pool's slot holds: the object and its global place.
pub(crate) struct Entry<C, M> {
    pub(crate) conn: C,
    token: Token<M>,
    /// Maintenance's record of the object's idleness: the `use_count` it last saw, and since
    /// when the object has been idle at the latest (see [`Shared::maintain`]).
    seen_uses: u64,
    idle_since: u64,
}

impl<C, M> Drop for Entry<C, M> {
    fn drop(&mut self) {
        self.token.global.dropped.incr();
    }
}

/// A sub-pool's extension value: its key and the shared state.
pub(crate) struct SubExt<K, M> {
    pub(crate) key: K,
    pub(crate) global: Arc<Global<M>>,
}

/// One key's pool.
pub(crate) type SubCore<K, C, M> = Core<Entry<C, M>, SubExt<K, M>>;
/// A lent object of a key.
pub(crate) type SubLease<K, C, M> = Lease<Entry<C, M>, SubExt<K, M>>;
/// A permit to create an object for a key.
pub(crate) type SubPermit<K, C, M> = Permit<Entry<C, M>, SubExt<K, M>>;
/// A sub-pool as the map holds it: counted, so that maintenance can tell that no getter is
/// using it (`Arc::strong_count` is 1 under the shard's write lock).
pub(crate) type Sub<K, C, M> = Arc<SubCore<K, C, M>>;

/// The key map's hasher: foldhash's, randomly seeded per pool (and per process); a fixed one
/// under loom, whose models must replay each execution exactly (the eviction scan follows the
/// map's order).
///
/// Why not std's `RandomState`: SipHash-1-3 costs about a hundred instructions for a small
/// key, on every get, half of what the plain pool's whole get + drop costs; foldhash costs a
/// few. Its resistance to chosen-key flooding is the "minimal" kind (a random seed, no
/// cryptographic claim), which fits a pool: its keys are backends, hosts or shards, a handful
/// to a few thousand, chosen by the application; one that let outsiders choose keys would
/// have a worse problem than collisions, as every new key builds a sub-pool.
#[cfg(not(loom))]
type Hasher = foldhash::fast::RandomState;
#[cfg(loom)]
type Hasher = foldhash::fast::FixedState;

/// One shard: a hash table of `(key, sub-pool)`, probed with the hash that chose the shard
/// (one hash per lookup).
type Shard<K, C, M> = RwLock<HashTable<(K, Sub<K, C, M>)>>;

/// What [`Shared::lookup`] found.
pub(crate) enum Lookup<K, C, M> {
    /// An idle object of the key (the hot path: one shard read, no allocation, no count).
    Idle(SubLease<K, C, M>),
    /// Nothing idle: the key's sub-pool, for the slow path.
    Miss(Sub<K, C, M>),
    /// The pool is closed.
    Closed,
}

/// The key map and the global state: the body of both keyed pools.
pub(crate) struct Shared<K, C, M> {
    shards: Box<[Shard<K, C, M>]>,
    hasher: Hasher,
    pub(crate) global: Arc<Global<M>>,
}

/// What one [`maintain`](crate::sync::KeyedPool::maintain) pass did.
///
/// # Examples
///
/// ```
/// use cenote_keyed::sync::{KeyedManager, KeyedPool};
///
/// struct Numbers;
/// impl KeyedManager<u32> for Numbers {
///     type Connection = u32;
///     type Error = std::convert::Infallible;
///     fn create(&self, key: &u32) -> Result<u32, Self::Error> {
///         Ok(*key)
///     }
/// }
/// let pool = KeyedPool::builder(Numbers).build()?;
/// drop(pool.get(&1)?);
/// let pass = pool.maintain();
/// assert_eq!((pass.closed, pass.removed_keys), (0, 0)); // no idle_timeout: the object stays
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Maintained {
    /// Idle objects closed because they were idle longer than `idle_timeout`.
    pub closed: usize,
    /// Keys whose empty sub-pool was removed from the map.
    pub removed_keys: usize,
}

/// The whole pool's counts. Not a consistent snapshot.
///
/// # Examples
///
/// ```
/// use cenote_keyed::sync::{KeyedManager, KeyedPool};
///
/// struct Numbers;
/// impl KeyedManager<u32> for Numbers {
///     type Connection = u32;
///     type Error = std::convert::Infallible;
///     fn create(&self, key: &u32) -> Result<u32, Self::Error> {
///         Ok(*key)
///     }
/// }
/// let pool = KeyedPool::builder(Numbers).max_size(2).max_total(4).build()?;
/// let held = pool.get(&1)?;
/// let status = pool.global_status();
/// assert_eq!((status.max_total, status.total, status.keys, status.created), (4, 1, 1, 1));
/// drop(held);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GlobalStatus {
    /// The global cap.
    pub max_total: usize,
    /// Objects in existence across all keys, plus creates in flight.
    pub total: usize,
    /// Callers waiting for the global cap (not those waiting on their own key's cap).
    pub waiting: usize,
    /// Keys in the map.
    pub keys: usize,
    /// Objects created so far.
    pub created: usize,
    /// Objects closed so far (for any reason).
    pub dropped: usize,
    /// Idle objects closed to make room for another key.
    pub evicted: usize,
}

impl<K, C, M> Shared<K, C, M>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    C: Send + 'static,
    M: Send + Sync + 'static,
{
    pub(crate) fn new(manager: M, config: KeyedConfig) -> Self {
        let shards = (0..config.shard_count()).map(|_| RwLock::new(HashTable::new())).collect();
        Self { shards, hasher: Hasher::default(), global: Arc::new(Global::new(manager, config)) }
    }

    pub(crate) fn config(&self) -> &KeyedConfig {
        &self.global.config
    }

    /// The key's hash and shard. The shard is chosen by bits 32.. of the hash, which the
    /// table inside uses for neither its bucket index (the low bits) nor its tags (the top 7).
    // `always`: in a large binary LLVM was seen to call `hash_one` and `lookup` out of line
    // (~30% slower), which is most of what a hit costs.
    #[inline(always)]
    fn shard(&self, key: &K) -> (u64, &Shard<K, C, M>) {
        let hash = self.hasher.hash_one(key);
        // The shard count is a power of two, at most 2^16.
        (hash, &self.shards[(hash >> 32) as usize & (self.shards.len() - 1)])
    }

    /// The hot path: one read of the key's shard; an idle object if there is one, else the
    /// key's sub-pool (made now if the key is new).
    #[inline(always)]
    pub(crate) fn lookup(&self, key: &K) -> Lookup<K, C, M> {
        let (hash, shard) = self.shard(key);
        {
            let map = shard.read();
            if let Some((_, sub)) = map.find(hash, |(k, _)| k == key) {
                if let Some(lease) = sub.try_take_idle() {
                    return Lookup::Idle(lease);
                }
                if sub.is_closed() {
                    return Lookup::Closed;
                }
                return Lookup::Miss(Arc::clone(sub));
            }
        }
        self.insert(hash, shard, key)
    }

    #[cold]
    fn insert(&self, hash: u64, shard: &Shard<K, C, M>, key: &K) -> Lookup<K, C, M> {
        let mut map = shard.write();
        // Checked under the shard's write lock: `close` marks the pool closed before it
        // closes the cores shard by shard, so no sub-pool is added behind it.
        if self.global.state.lock().closed {
            return Lookup::Closed;
        }
        if let Some((_, sub)) = map.find(hash, |(k, _)| k == key) {
            return Lookup::Miss(Arc::clone(sub));
        }
        let max = self.global.config.max_size;
        let ext = SubExt { key: key.clone(), global: Arc::clone(&self.global) };
        // `build` allocated a sub-pool of this size once, so only running out of memory can
        // fail here, which aborts like any other allocation in Rust.
        let core = Core::new(max, max, ext).unwrap_or_else(|e| panic!("allocating a key's sub-pool: {e}"));
        let sub = Arc::new(core);
        map.insert_unique(hash, (key.clone(), Arc::clone(&sub)), |(k, _)| self.hasher.hash_one(k));
        self.global.subs_made.incr();
        Lookup::Miss(sub)
    }

    /// The key's sub-pool if it exists.
    pub(crate) fn get_sub(&self, key: &K) -> Option<Sub<K, C, M>> {
        let (hash, shard) = self.shard(key);
        shard.read().find(hash, |(k, _)| k == key).map(|(_, sub)| Arc::clone(sub))
    }

    /// Every key now.
    pub(crate) fn keys(&self) -> Vec<K> {
        let mut keys = Vec::new();
        for shard in self.shards.iter() {
            keys.extend(shard.read().iter().map(|(k, _)| k.clone()));
        }
        keys
    }

    pub(crate) fn key_count(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    pub(crate) fn global_status(&self) -> GlobalStatus {
        let (total, waiting) = self.global.counts();
        GlobalStatus {
            max_total: self.global.config.max_total,
            total,
            waiting,
            keys: self.key_count(),
            created: self.global.created.get(),
            dropped: self.global.dropped.get(),
            evicted: self.global.evicted.get(),
        }
    }

    /// Closes the least recently used idle object of a key other than `except` (the oldest
    /// `last_used` among the oldest idle object of each key), so that its global place goes
    /// to the oldest waiter (or back to the pool). `false` if no other key has an idle
    /// object. A slow-path scan over the keys with idle objects.
    pub(crate) fn evict_lru(&self, except: &K) -> bool {
        let mut best: Option<(u64, Sub<K, C, M>)> = None;
        for shard in self.shards.iter() {
            let map = shard.read();
            for (key, sub) in map.iter() {
                if key == except || sub.status().idle == 0 {
                    continue;
                }
                // The idle queue is oldest return first, and a visit keeps its order: the
                // first object visited is this key's least recently used.
                let mut first = None;
                sub.retain(|_, meta| {
                    first.get_or_insert(meta.last_used);
                    true
                });
                if let Some(at) = first {
                    if best.as_ref().is_none_or(|(oldest, _)| at < *oldest) {
                        best = Some((at, Arc::clone(sub)));
                    }
                }
            }
        }
        let Some((_, sub)) = best else { return false };
        match sub.try_take_idle() {
            Some(lease) => {
                self.global.evicted.incr();
                // Drops the entry: its token goes to the oldest waiter.
                Lease::retire(lease);
                true
            }
            // Taken meanwhile by its own key: look again.
            None => true,
        }
    }

    /// Closes idle objects past `idle_timeout` and removes the sub-pools that hold nothing
    /// (no object, no permit, no waiter, no getter holding it).
    ///
    /// A return reads no clock (unless eviction needs the order), so idleness is measured
    /// here: an object lent since the last pass (its `use_count` moved) is taken to be idle
    /// from now on; one not lent since is closed once `idle_timeout` has passed since then
    /// (or since its creation, or its last stamped return). So an object is never closed
    /// before it has been idle for `idle_timeout`, and at most one maintenance interval
    /// after.
    pub(crate) fn maintain(&self) -> Maintained {
        let mut pass = Maintained::default();
        if let Some(timeout) = self.global.config.idle_timeout {
            let now = time::now();
            let timeout = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
            for shard in self.shards.iter() {
                let subs: Vec<_> = shard.read().iter().map(|(_, sub)| Arc::clone(sub)).collect();
                for sub in subs {
                    pass.closed += sub.retain(|entry, meta| {
                        if meta.use_count != entry.seen_uses {
                            // Lent since the last look: idle since its last return at the
                            // latest, which is before now.
                            entry.seen_uses = meta.use_count;
                            entry.idle_since = now;
                            return true;
                        }
                        now.saturating_sub(entry.idle_since.max(meta.last_used)) < timeout
                    });
                }
            }
        }
        for shard in self.shards.iter() {
            let mut map = shard.write();
            let before = map.len();
            // Under the write lock no getter can clone a sub-pool out of this shard, so a
            // count of 1 means none holds one; size 0 means no object or permit is out.
            map.retain(|(_, sub)| {
                let status = sub.status();
                !(Arc::strong_count(sub) == 1 && status.size == 0 && status.waiting == 0)
            });
            let removed = before - map.len();
            self.global.subs_removed.add(removed);
            pass.removed_keys += removed;
        }
        pass
    }

    /// Closes the pool: waiters for the global cap get `Closed`, every sub-pool is closed
    /// (idle objects dropped now, lent ones when they return).
    pub(crate) fn close(&self) {
        let wakers: Vec<Waker> = {
            let mut state = self.global.state.lock();
            state.closed = true;
            let queue = std::mem::take(&mut state.queue);
            self.global.unqueued.add(queue.len());
            queue.into_iter().map(|q| q.waker).collect()
        };
        for waker in wakers {
            waker.wake();
        }
        for shard in self.shards.iter() {
            // Taking the write lock orders us after any `insert` that saw the pool open.
            let subs: Vec<_> = shard.write().iter().map(|(_, sub)| Arc::clone(sub)).collect();
            for sub in subs {
                sub.close();
            }
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.global.state.lock().closed
    }
}

/// A wait for one global place: queued in FIFO order across keys. Dropping it at any point
/// gives back what it was granted.
pub(crate) struct PlaceWait<M> {
    global: Arc<Global<M>>,
    id: Option<u64>,
}

impl<M> PlaceWait<M> {
    pub(crate) fn new(global: &Arc<Global<M>>) -> Self {
        Self { global: Arc::clone(global), id: None }
    }

    /// Takes a place if one is free and nobody is queued, or if one was granted; else queues
    /// (the first time) or updates the waker.
    pub(crate) fn poll(&mut self, waker: &Waker) -> Poll<Result<Token<M>, Closed>> {
        let mut state = self.global.state.lock();
        let token = || Token { global: Arc::clone(&self.global) };
        match self.id {
            None => {
                if state.closed {
                    return Poll::Ready(Err(Closed));
                }
                if state.queue.is_empty() && state.total < self.global.config.max_total {
                    state.total += 1;
                    return Poll::Ready(Ok(token()));
                }
                let id = state.next_id;
                state.next_id += 1;
                state.queue.push_back(Queued { id, waker: waker.clone() });
                self.global.queued.incr();
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                if state.closed {
                    // `close` emptied the queue; a place granted before it is given back (no
                    // object is created into a closed pool).
                    if state.granted.remove(&id) {
                        state.total -= 1;
                    }
                    self.id = None;
                    return Poll::Ready(Err(Closed));
                }
                if state.granted.remove(&id) {
                    self.id = None;
                    return Poll::Ready(Ok(token()));
                }
                if let Some(queued) = state.queue.iter_mut().find(|q| q.id == id) {
                    if !queued.waker.will_wake(waker) {
                        queued.waker = waker.clone();
                    }
                }
                Poll::Pending
            }
        }
    }

    /// Whether this wait is in the queue.
    pub(crate) fn is_queued(&self) -> bool {
        self.id.is_some()
    }
}

impl<M> Drop for PlaceWait<M> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let waker = {
            let mut state = self.global.state.lock();
            if state.granted.remove(&id) {
                // Granted but not picked up: pass it on.
                self.global.release_locked(&mut state)
            } else {
                if let Some(at) = state.queue.iter().position(|q| q.id == id) {
                    state.queue.remove(at);
                    self.global.unqueued.incr();
                }
                None
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<M> std::fmt::Debug for PlaceWait<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaceWait").field("queued", &self.id.is_some()).finish()
    }
}

/// Fills `permit` with a new object holding `token`, and stamps it.
pub(crate) fn fill<K, C, M>(permit: SubPermit<K, C, M>, conn: C, token: Token<M>) -> SubLease<K, C, M> {
    let now = time::now();
    let mut lease = Permit::fill(permit, Entry { conn, token, seen_uses: 1, idle_since: now });
    let meta = Lease::meta_mut(&mut lease);
    meta.created = now;
    meta.last_used = now;
    Lease::ext(&lease).global.created.incr();
    lease
}

/// The return path of both `Pooled`s, after the manager's `has_broken` said `broken`.
#[inline]
pub(crate) fn give_back<K, C, M>(mut lease: SubLease<K, C, M>, broken: bool) {
    if broken {
        Lease::retire(lease);
        return;
    }
    if Lease::ext(&lease).global.lru_matters() {
        // The order of returns across keys, for eviction. Not needed otherwise (idle
        // timeouts are measured by maintenance), so the hot path reads no clock.
        Lease::meta_mut(&mut lease).last_used = time::now();
    }
    let global = &Lease::ext(&lease).global;
    // Someone waits for a global place: this object's place is theirs (fairness across keys,
    // see the crate docs), so close the object instead of keeping it idle.
    let hand_off = global.waiters_hint();
    let over_idle = global.idle_cap.is_some_and(|cap| Lease::status(&lease).idle >= cap);
    if hand_off || over_idle {
        Lease::retire(lease);
    } else {
        drop(lease);
    }
}

/// A deadline in `cenote_core::time` ticks.
pub(crate) fn deadline(timeout: Option<Duration>) -> u64 {
    timeout.map_or(time::NEVER, time::after)
}

//! A keyed pool built on [`cenote_core`]'s public API alone: one sub-pool per key (a reverse
//! proxy's or an HTTP client's connections per backend, a database client's per shard), a
//! per-key `max_size` and `max_idle`, a global `max_total` across keys, and fair waiting
//! across keys.
//!
//! Two mirrored front ends share everything but their waiting: [`sync`] (threads park) and
//! [`nonblocking`] (futures, any executor). The async one is called `nonblocking` because
//! `async` is a keyword (a module named `r#async` would have to be spelled so at every use).
//! Configuration ([`KeyedConfig`], [`Builder`], [`BuildError`]), the key map, the global cap,
//! eviction and maintenance are written once, in a module both use; so are the steps of a
//! `get` that do not wait and the lent object's guard (a second one), and the methods that
//! do not wait (`status`, `keys`, `maintain`, `close`, ...) with their examples (macros each
//! front end invokes with the words its examples differ in). Each front end's own file holds
//! its manager trait, its `get` and its waits. Errors and per-key
//! status are the front ends' own types ([`Error`], [`Status`]), so a keyed pool answers like
//! a plain `cenote-sync` or `cenote-async` pool.
//!
//! This crate is also the proof that other crates can embed the core: it has no `unsafe`, no
//! atomics of its own (its counters are [`cenote_core::stats`]), and uses nothing of the core
//! that is not public API.
//!
//! ```
//! use cenote_keyed::sync::{KeyedManager, KeyedPool};
//!
//! struct Backends;
//! impl KeyedManager<u16> for Backends {
//!     type Connection = String;
//!     type Error = std::io::Error;
//!     fn create(&self, port: &u16) -> Result<String, std::io::Error> {
//!         Ok(format!("127.0.0.1:{port}")) // a real manager would connect here
//!     }
//! }
//!
//! let pool = KeyedPool::builder(Backends).max_size(4).max_total(8).build()?;
//! let conn = pool.get(&8080)?;
//! assert_eq!(*conn, "127.0.0.1:8080");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Lookup
//!
//! The key map is a sharded `parking_lot::RwLock<HashMap<K, Arc<Core>>>` (four shards per
//! CPU by default, [`KeyedConfig::shards`]). A `get` that finds an idle object of an existing
//! key hashes the key once (foldhash, randomly seeded: see `shared::Hasher` for why not std's
//! SipHash), takes one shard's read lock, looks the key up and pops the idle object (the core's
//! lock-free `try_take_idle`) under it: no global lock, no allocation, and not even a
//! reference count (the lent object keeps its sub-pool's memory alive, as every core lease
//! does). Only a key's first use takes its shard's write lock. Why not a concurrent-map crate:
//! `dashmap` is the same design (sharded `RwLock`s) with an API that hands out guards, and
//! the lock-free maps (`papaya`, `scc`) add epoch-based reclamation and a dependency for a
//! read path that is already one uncontended-in-the-common-case read lock; `parking_lot` is
//! already in the workspace, and the sharded map is forty lines we can reason about
//! (maintenance's "nobody holds this sub-pool" test needs the write lock anyway).
//!
//! **What a hit costs** (callgrind, `profile single keyed` against `profile single cenote`
//! in `cenote-benches`): about 262 instructions per get + drop against the plain pool's 218,
//! but four locked read-modify-writes against two (the core's pop and push, and the shard
//! lock's acquire and release), and on x86 those dominate: a hit takes about 1.6× the plain
//! pool's time. A map whose read side takes no locked operation would close most of that gap;
//! `papaya` is not one (its `pin` is an `xchg`, so three locked operations, measured about
//! 2 ns faster than the read lock, not enough to change the design for).
//!
//! # The global cap: protocol
//!
//! Each object holds one *global place* (a token inside the object's slot entry); a create in
//! flight holds one too. A place is taken under one `parking_lot::Mutex` (the slow path only:
//! a lend or a return of an idle object never touches it), and given back when the object is
//! closed, however that happens (returned broken, retired, evicted, dropped by a closing core,
//! by maintenance, or by a panic unwinding a create), because the token's `Drop` does it. So
//! `total` (places held) never exceeds `max_total`, and nothing leaks.
//!
//! Why a token and not the core's [`Hooks::place_freed`](cenote_core::Hooks::place_freed):
//! that hook fires whenever a core's size goes down, including when a permit is given back
//! unfilled, and a permit the core hands out (to `try_acquire`, or straight to a waiter of the
//! same key) carries no global place until this crate attaches one. The hook cannot tell the
//! two apart (it gets the core's extension value, not the slot), so counting global places
//! with it would drift; the token is dropped exactly when a global place is freed, on every
//! path, and needs no hook at all.
//!
//! `get(&key)`:
//!
//! 1. Hot path: an idle object of `key` (above).
//! 2. Else the key's own cap: the core's `try_acquire`, or its fair wait (`acquire_blocking`,
//!    or the `acquire` future) for a return on this key or a permit. A permit means "this
//!    key has room for one more".
//! 3. With a permit, a global place: taken at once if one is free *and nobody is queued*;
//!    else the caller joins the one FIFO queue of all keys' waiters. While queued it looks,
//!    in turn, for an object of its own key that came back (it takes it, giving its permit
//!    and its place in line back), and for an idle object of *another* key to close: the
//!    least recently used one (the oldest `last_used` among each key's oldest idle object).
//!    Closing it frees a place, which goes to the *oldest* waiter, not necessarily the one
//!    that closed it. It then waits until it is granted a place.
//! 4. With a permit and a place, `create(&key)`; the object is stamped and lent.
//!
//! A freed place goes to the front of the queue, under the lock: `release` pops the oldest
//! waiter, marks it granted and wakes it outside the lock; with nobody queued, `total` goes
//! down. A waiter that gives up (a timeout, a dropped future) leaves the queue under the lock,
//! and if it had been granted a place meanwhile it passes the place on the same way: nothing
//! given is lost, whoever is last.
//!
//! **Fairness across keys.** Places are granted strictly in arrival order, whatever the key,
//! and a newcomer does not take a free place while anyone is queued. A stream of gets and
//! returns on key A cannot starve a waiter on key B: a return that finds someone queued for a
//! place (a lock-free hint: two [`stats::Counter`](cenote_core::stats::Counter)s of arrivals
//! and departures) closes its object instead of keeping it idle, so its place goes to the
//! oldest waiter. Within one key the core's own wait list is fair.
//!
//! **A return racing a waiter.** The hint is read with relaxed loads (the crate has no
//! atomics of its own, and a `SeqCst` pair on every return would cost the hot path), so a
//! return can miss a waiter that is queueing at that moment and keep its object idle. The
//! waiter does not depend on it: a queued waiter looks again for an idle object to close every
//! 10 ms until it is served, so a missed hand-off costs at most that delay, never the object.
//!
//! **Checked by loom.** `loom-tests/tests/keyed_handoff.rs` models the hand-off (under
//! `--cfg loom` the crate's locks are loom's): a return on key A racing a waiter on key B and a
//! getter on key D that evicts another key's idle object, and a granted waiter giving up as
//! another place is released; no place is lost or counted twice, the cap holds, both waiters are
//! served.
//!
//! # Idle objects and the key map
//!
//! `maintain()` (call it from a thread or task of your own; the pool starts none) closes idle
//! objects idle for `idle_timeout` and removes each sub-pool that holds nothing (no object,
//! no permit, no waiter) and that no getter holds (its `Arc` count is 1 under its shard's
//! write lock), so the map does not grow without bound. A later `get` on that key makes a
//! fresh sub-pool.
//!
//! A return reads no clock: idleness is measured by `maintain()` itself (an object lent since
//! its last pass counts as idle from that pass on), so an object is closed after being idle
//! for at least `idle_timeout` and at most one maintenance interval more. Only when the keys
//! in the map could together hold more than `max_total` (so that eviction can happen) does a
//! return stamp its object with the clock, for the LRU order across keys.
//!
//! # Core API this crate needed
//!
//! [`Lease::status`](cenote_core::Lease::status): a returning guard reads its key's idle
//! count (for `max_idle`) without a pool handle.
#![forbid(unsafe_code)]
// Under loom only the shared module and its model entry points are built.
#![cfg_attr(loom, allow(dead_code, unused_imports))]
#![doc(test(attr(deny(warnings))))]

#[cfg(loom)]
#[doc(hidden)]
#[path = "loom_model.rs"]
pub mod __loom;
#[cfg(not(loom))]
mod api;
mod config;
#[cfg(not(loom))]
mod lend;
#[cfg(not(loom))]
pub mod nonblocking;
mod prims;
mod shared;
#[cfg(not(loom))]
pub mod sync;
#[cfg(not(loom))]
mod timer;

#[cfg(not(loom))]
pub use cenote_front::{Error, Status};
pub use config::{
    BuildError, BuildPool, Builder, KeyedConfig, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_SIZE, DEFAULT_MAX_TOTAL,
};
pub use shared::{GlobalStatus, Maintained};

//! A fast, fair, lock-free pool of reusable objects for async code on any executor: the
//! async front end of [cenote].
//!
//! Give it a [`Manager`] with `async fn create` (database connections, sockets, clients);
//! [`Pool::get`]`.await` lends an idle object, creates one if the pool has room, or waits for a
//! return, up to `acquire_timeout` (30 s by default). No runtime is a dependency: the same
//! pool works on tokio (multi- or current-thread), smol, async-std, or a bare
//! `futures_lite::future::block_on`, and its `get()` future is `Send` and cancel-safe.
//!
//! ```
//! use std::convert::Infallible;
//! use cenote_async::{Manager, Pool};
//!
//! struct Buffers;
//!
//! impl Manager for Buffers {
//!     type Connection = Vec<u8>;
//!     type Error = Infallible;
//!     async fn create(&self) -> Result<Vec<u8>, Infallible> {
//!         Ok(Vec::with_capacity(4096))
//!     }
//!     async fn reset(&self, buf: &mut Vec<u8>) -> Result<(), Infallible> {
//!         buf.clear();
//!         Ok(())
//!     }
//! }
//!
//! # futures_lite::future::block_on(async {
//! let pool = Pool::builder(Buffers).max_size(8).build()?;
//! let mut buf = pool.get().await?;
//! buf.extend_from_slice(b"hello");
//! drop(buf); // back in the pool; reset before its next use
//! assert!(pool.get().await?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Relationship with peers
//!
//! Like deadpool and bb8 it pools objects for async code; unlike them it names no runtime,
//! its hot path takes no lock and allocates nothing (not even while waiting), waiters are
//! served fairly, and dropping a `Pooled` never spawns a task. For threads use `cenote-sync`,
//! which has the same API without `.await`.
//!
//! # Features
//!
//! * `serde`: `Config` loads from TOML or YAML (`Config::from_toml_str`, `from_yaml_str`,
//!   `from_file`), `Pools` loads a file of named pools (`connection_pools: { database: {...} }`),
//!   and a bad value is a `ConfigFileError` naming the field and the value; build a pool with
//!   `Pool::builder(manager).config(&pools["database"])`. The accepted shape, durations
//!   (`"30s"`, `"none"`) and aliases are in `cenote_front`'s docs, "Configuration from a file".
//!
//! [cenote]: https://github.com/cenote-rs/cenote
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod maintenance;
mod manager;
mod pool;
mod priority;
mod sharded;
mod timer;
mod watch;

#[cfg(feature = "prometheus")]
pub use cenote_front::PoolCollector;
pub use cenote_front::{
    Autoscale, BuildError, CircuitBreaker, Closed, Config, Dropped, Error, Handle, Histogram, Maintenance,
    Metrics, Priority, ResizeError, RetryPolicy, RunError, Shutdown, SlotMeta, Status, AGE_AFTER,
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_SIZE,
};
#[cfg(feature = "serde")]
pub use cenote_front::{ConfigFileError, Format, Pools};
pub use manager::Manager;
pub use pool::{Async, Pool};
pub use sharded::{ShardedBuilder, ShardedPool, ShardedPooled};

/// Configures a [`Pool`]: see [`cenote_front::Builder`] for the options (the same in both
/// front ends). Get one from [`Pool::builder`].
pub type Builder<M> = cenote_front::Builder<Async<M>>;

/// An object lent by a [`Pool`]. Dropping it returns the object, synchronously and without
/// spawning anything: [`Manager::has_broken`] runs on the dropping thread (a broken object is
/// dropped and its place freed), and [`Manager::reset`] runs in the next getter's task before
/// the object is lent again. See [`cenote_front::Pooled`].
pub type Pooled<M> = cenote_front::Pooled<Async<M>>;

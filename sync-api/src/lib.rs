//! A fast, fair, lock-free pool of reusable objects for threads: the blocking front end of
//! [cenote].
//!
//! Give it a [`Manager`] that creates objects (database connections, sockets, clients,
//! buffers); [`Pool::get`] lends an idle one, creates one if the pool has room, or parks the
//! thread until one is returned, up to `acquire_timeout` (30 s by default). The returned
//! [`Pooled`] guard puts the object back when dropped.
//!
//! ```
//! use std::convert::Infallible;
//! use cenote_sync::{Manager, Pool};
//!
//! struct Buffers;
//!
//! impl Manager for Buffers {
//!     type Connection = Vec<u8>;
//!     type Error = Infallible;
//!     fn create(&self) -> Result<Vec<u8>, Infallible> {
//!         Ok(Vec::with_capacity(4096))
//!     }
//!     fn reset(&self, buf: &mut Vec<u8>) -> Result<(), Infallible> {
//!         buf.clear();
//!         Ok(())
//!     }
//! }
//!
//! let pool = Pool::builder(Buffers).max_size(8).build()?;
//! let mut buf = pool.get()?;
//! buf.extend_from_slice(b"hello");
//! drop(buf); // reset and back in the pool
//! assert!(pool.get()?.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Relationship with peers
//!
//! Like r2d2, it is blocking; unlike r2d2 its hot path takes no lock and allocates nothing,
//! waiting threads are served fairly, and a pool can be resized and closed. For async code
//! use `cenote-async`, which has the same API with `.await`. Both are thin layers over
//! `cenote-core`, which other pooling crates can build on.
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
mod run;
mod sharded;

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
pub use pool::{Blocking, Pool};
pub use sharded::{ShardedBuilder, ShardedPool, ShardedPooled};

/// Configures a [`Pool`]: see [`cenote_front::Builder`] for the options (the same in both
/// front ends). Get one from [`Pool::builder`].
pub type Builder<M> = cenote_front::Builder<Blocking<M>>;

/// An object lent by a [`Pool`]. Dropping it returns the object: on the dropping thread,
/// [`Manager::has_broken`], then [`Manager::reset`]; if either says the object is unusable it
/// is dropped and its place freed. See [`cenote_front::Pooled`].
pub type Pooled<M> = cenote_front::Pooled<Blocking<M>>;

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
//! [cenote]: https://github.com/cenote-rs/cenote
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod manager;
mod pool;
mod pooled;

pub use builder::{Builder, DEFAULT_MAX_SIZE};
pub use cenote_core::{
    BuildError, ConfigError as ResizeError, Error, SlotMeta, Status, DEFAULT_ACQUIRE_TIMEOUT,
};
pub use manager::Manager;
pub use pool::Pool;
pub use pooled::Pooled;

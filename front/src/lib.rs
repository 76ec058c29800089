//! What the two [cenote] front ends share, written once: configuration ([`Config`],
//! [`Builder`]), errors ([`Error`], [`BuildError`]), [`Status`], the lent-object guard
//! ([`Pooled`]), the pool handle's common methods ([`Handle`]) and the retry policy of `get`
//! ([`Attempt`]).
//!
//! Most users never name this crate: `cenote-sync` and `cenote-async` re-export what they
//! need, and their `Pool` types deref to [`Handle`]. It is the layer between the protocol
//! (`cenote-core`, `no_std`, no clock, no policy) and a front end's waiting (threads parking,
//! or futures): generic over a [`Front`], which each front end implements on a marker type.
//!
//! # What both front ends do the same way
//!
//! * `build()` checks the configuration and allocates the slots; it creates no object, never
//!   blocks, and never fails because the backend is down. `Pool::warm()` (blocking, or
//!   `.await`ed) creates objects until `min_idle` are idle, and returns how many it created
//!   or the first create error.
//! * `reset` runs after an object is returned and before it is lent again; if it fails the
//!   object is dropped. The blocking front end runs it on the returning thread; the async one
//!   in the next getter's task (a drop cannot await, and nothing is spawned from a drop).
//! * A failing `create` is retried with a growing pause until `acquire_timeout`, and the
//!   timeout carries the last error; with no deadline the first error is returned at once
//!   ([`Attempt`]).
//!
//! [cenote]: https://github.com/cenote-rs/cenote
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod attempt;
mod builder;
mod config;
mod error;
mod front;
mod handle;
mod maintain;
mod pooled;

pub use attempt::Attempt;
pub use builder::Builder;
pub use cenote_core::{ConfigError as ResizeError, SlotMeta};
pub use config::{
    BuildError, Config, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_CREATE_BACKOFF, DEFAULT_HEALTH_CHECK_TIMEOUT,
    DEFAULT_MAINTENANCE_INTERVAL, DEFAULT_MAX_SIZE,
};
pub use error::{Error, Status};
pub use front::{CoreOf, Entry, Front, LeaseOf, PermitOf, Return, Shared};
pub use handle::{Handle, Lifeline, Shutdown, ShuttingDown, WeakHandle};
pub use maintain::{Maintenance, Pass, Visit};
pub use pooled::Pooled;

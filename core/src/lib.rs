//! The `no_std`, lock-free core of the [cenote] object pool.
//!
//! `cenote-core` holds a fixed array of slots, a lock-free queue of idle slot indices, an
//! atomic permit counter and an intrusive FIFO of waiters, and nothing else: no clock, no
//! runtime, no allocation after construction, and no reference count touched when an
//! object is lent or returned. The `cenote-sync` (blocking `get()`) and
//! `cenote-async` (`get().await` on any executor) crates are thin front ends over it; build
//! your own pool on it when those do not fit, for example a keyed pool with one [`Core`] per
//! key.
//!
//! Most users want a front end, not this crate: `cenote-sync` or `cenote-async` add a
//! `Manager` that creates and checks objects, timeouts, and a builder.
//!
//! # What the core does and does not do
//!
//! * [`Core::try_acquire`] answers at once ([`TryAcquire`]): an idle object ([`Lease`]), a
//!   [`Permit`] to create one into a vacant slot, exhausted, or closed.
//! * [`Core::acquire`] (async, any executor; a named future, [`Acquire`], that you can store
//!   in your own types) and [`Core::acquire_blocking`] (threads, `std` feature) wait. Waiters are served fairly: async waiters strictly in order (returns go
//!   straight to the oldest), blocking ones with bounded overtaking (see
//!   [`STARVE_AFTER_MISSES`]).
//! * [`Core::acquire_until`] waits with a deadline in the caller's clock ticks, without a
//!   timer per waiter: the caller keeps one timer per pool, asked for through a [`Watch`], and
//!   a [`WeakCore`] (which keeps the pool's memory, not the pool, alive) wakes the waiters due
//!   when it fires ([`WeakCore::expire_waiters`]).
//! * A dropped [`Lease`] returns its object; [`Lease::retire`] drops it and frees its place;
//!   [`Lease::detach`] takes it out for good. A dropped [`Permit`] gives its place back.
//! * [`Lease::mark_lent`] records when and where an object was lent (two atomic stores, only
//!   for a front end that asks), and [`Core::for_each_lent`] reads every record from another
//!   thread, for leak reports.
//! * Waiters have a [`Priority`] ([`Core::try_acquire_with`], [`Acquire::with_priority`],
//!   [`Core::acquire_blocking_with`]): classes are served in order, FIFO within a class, with
//!   aging ([`AGE_AFTER`]); [`Core::set_reserve`] keeps the last objects or places for `High`.
//! * [`Core::close`], [`Core::resize`] (within the capacity fixed at construction) and
//!   [`Core::retain`] (visit idle objects, for eviction).
//!
//! # Example: a pool of your own
//!
//! ```
//! use cenote_core::{Acquired, Core, Lease, Permit};
//!
//! /// A tiny pool of buffers that creates them on demand.
//! struct BufferPool(Core<Vec<u8>>);
//!
//! impl BufferPool {
//!     fn new(max: usize) -> Self {
//!         Self(Core::new(max, max, ()).expect("max > 0"))
//!     }
//!
//!     fn get(&self) -> Lease<Vec<u8>> {
//!         match self.0.acquire_blocking(cenote_core::time::NEVER).expect("never closed, no deadline") {
//!             Acquired::Idle(mut buf) => {
//!                 buf.clear();
//!                 buf
//!             }
//!             Acquired::Vacant(permit) => Permit::fill(permit, Vec::with_capacity(4096)),
//!         }
//!     }
//! }
//!
//! let pool = BufferPool::new(2);
//! let mut a = pool.get();
//! a.extend_from_slice(b"abc");
//! drop(a);
//! let b = pool.get();
//! assert!(b.is_empty() && b.capacity() >= 4096);
//! assert_eq!(Lease::meta(&b).use_count, 2);
//! ```
//!
//! # Features
//!
//! * `std` (default): [`Core::acquire_blocking`] (threads park) and std's mutex around the
//!   wait list. Without it the crate is `#![no_std]` + `alloc`, the wait list's lock is a spin
//!   lock (held for a few pointer writes), and async waiting works the same.
//!
//! [cenote]: https://github.com/cenote-rs/cenote
#![no_std]
#![doc(test(attr(deny(warnings))))]
#![warn(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core, clippy::std_instead_of_alloc)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
mod blocking;
mod error;
mod handle;
mod lease;
mod lent;
mod pool;
mod priority;
mod queue;
mod rawlock;
mod release;
mod slot;
pub mod stats;
mod sync;
pub mod time;
/// Test hooks for the workspace's race tests under Miri; only in builds with
/// `RUSTFLAGS="--cfg cenote_hooks"` (never in a normal build), not part of the API.
#[cfg(all(cenote_hooks, feature = "std", not(loom)))]
#[doc(hidden)]
pub mod __hooks {
    /// Runs `f` once, on this thread, right after its next idle-queue push's last store: the
    /// store after which another thread may free the pool.
    pub fn after_next_push(f: fn()) {
        crate::queue::hook::AFTER_PUSH.with(|h| h.set(Some(f)));
    }
}
mod wait;
mod waitlist;
mod wake;
mod watch;
mod weak;

pub use error::{Closed, ConfigError, WaitError};
pub use lease::{Lease, Permit};
pub use lent::Lent;
pub use pool::{Acquired, Core, CoreStatus, Hooks, TryAcquire, Vacated, STARVE_AFTER_MISSES};
pub use priority::{Priority, AGE_AFTER};
pub use slot::SlotMeta;
pub use wait::{Acquire, NoWatch, Watch};
pub use weak::WeakCore;

#[cfg(test)]
mod priority_tests;
#[cfg(test)]
mod tests;

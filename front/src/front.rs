//! What a front end tells the shared layer, and what the layer keeps in the core.

use core::fmt::{Debug, Display};
use core::time::Duration;
use std::time::Instant;

use cenote_core::SlotMeta;

use crate::{Config, Handle};

/// A front end: the types of its manager and objects, how it wraps a pool handle, and what it
/// does with an object being returned.
///
/// Implemented once per front end on a marker type (`cenote_sync::Blocking<M>`,
/// `cenote_async::Async<M>`); the shared [`Builder`](crate::Builder),
/// [`Pooled`](crate::Pooled) and [`Handle`] are generic over it, so that what both front
/// ends do is written once. A third front end (or a pool built on the core with its own
/// manager trait) implements it the same way.
pub trait Front: Sized + Send + Sync + 'static {
    /// The user's manager.
    type Manager: Send + Sync + 'static;
    /// The pooled object.
    type Connection: Send + 'static;
    /// What the manager fails with.
    type Error: Debug + Display + Send + 'static;
    /// The front end's pool handle, made from a [`Handle`] by [`Builder::build`](crate::Builder::build).
    type Pool;

    /// Wraps a newly built pool.
    fn pool(handle: Handle<Self>) -> Self::Pool;

    /// What to do with an object being returned, on the returning thread, synchronously
    /// (nothing is spawned from a drop): the blocking front end runs the manager's
    /// `has_broken` and `reset` here; the async one runs `has_broken` and leaves `reset` to
    /// the next getter's task.
    fn on_return(manager: &Self::Manager, conn: &mut Self::Connection) -> Return;
}

/// What [`Front::on_return`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Return {
    /// Put it back, ready to lend.
    Keep,
    /// Put it back; the manager's `reset` must run before it is lent again.
    KeepUnreset,
    /// Drop it and free its place.
    Retire,
}

/// What the pool keeps in each slot: the object and the front end's per-object state.
#[derive(Debug)]
pub struct Entry<C> {
    pub(crate) conn: C,
    /// The object was returned and `reset` has not run since (async front end).
    pub(crate) unreset: bool,
}

impl<C> Entry<C> {
    pub(crate) fn new(conn: C) -> Self {
        Self { conn, unreset: false }
    }
}

/// The core of a pool of front end `F`: slots holding [`Entry`]s, and [`Shared`] in the
/// core's extension value.
pub type CoreOf<F> = cenote_core::Core<Entry<<F as Front>::Connection>, Shared<F>>;
/// A lease of [`CoreOf<F>`].
pub type LeaseOf<F> = cenote_core::Lease<Entry<<F as Front>::Connection>, Shared<F>>;
/// A permit of [`CoreOf<F>`].
pub type PermitOf<F> = cenote_core::Permit<Entry<<F as Front>::Connection>, Shared<F>>;

/// What a pool keeps in the core's extension value: its manager, the validated configuration,
/// and the epoch of the slot time stamps.
#[derive(Debug)]
pub struct Shared<F: Front> {
    /// The user's manager.
    pub manager: F::Manager,
    /// The configuration, validated.
    pub config: Config,
    /// Whether a time-based option is set, so that lending and returning read the clock.
    clock: bool,
    epoch: Instant,
}

/// What to do with an idle object about to be lent (see [`Shared::check_idle`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum CheckOut {
    /// Too old or idle too long: drop it.
    Expired,
    /// Run the manager's health check first.
    Validate,
    /// Lend it as it is.
    Lend,
}

impl<F: Front> Shared<F> {
    pub(crate) fn new(manager: F::Manager, config: Config) -> Self {
        Self { manager, clock: config.needs_clock(), config, epoch: Instant::now() }
    }

    /// Whether a time-based option is set (so that the time stamps are kept).
    #[inline]
    pub fn uses_clock(&self) -> bool {
        self.clock
    }

    /// Nanoseconds since the pool was built: the unit of the slot time stamps and of the
    /// deadlines given to the core.
    pub fn now(&self) -> u64 {
        self.ticks_at(Instant::now())
    }

    /// The instant the pool's clock counts from (`now() == 0`).
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// `at` in the ticks of [`now`](Shared::now) (0 if before the epoch, `u64::MAX` if too far).
    pub fn ticks_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Stamps a newly created object (only when the clock is in use).
    pub(crate) fn stamp_created(&self, meta: &mut SlotMeta, lent: bool) {
        if self.clock {
            let now = self.now();
            meta.created = now;
            meta.last_used = now;
            if lent {
                meta.checked_out = now;
            }
        }
    }

    /// Stamps an object being returned (only when the clock is in use).
    #[inline]
    pub(crate) fn stamp_returned(&self, meta: &mut SlotMeta) {
        if self.clock {
            meta.last_used = self.now();
        }
    }

    /// Applies `max_lifetime`, `idle_timeout`, `validate_on_acquire` and
    /// `health_check_interval` to an idle object about to be lent, and stamps it as lent.
    /// Reads the clock only when a time-based option is set.
    #[inline]
    pub(crate) fn check_idle(&self, meta: &mut SlotMeta) -> CheckOut {
        let mut validate = self.config.validate_on_acquire;
        if self.clock {
            let now = self.now();
            let age = now.saturating_sub(meta.created);
            let idle = now.saturating_sub(meta.last_used);
            let older =
                |limit: Option<Duration>, ns: u64| limit.is_some_and(|d| u128::from(ns) >= d.as_nanos());
            if older(self.config.max_lifetime, age) || older(self.config.idle_timeout, idle) {
                return CheckOut::Expired;
            }
            validate |= older(self.config.health_check_interval, idle);
            meta.checked_out = now;
        }
        if validate {
            CheckOut::Validate
        } else {
            CheckOut::Lend
        }
    }
}

//! Filling the pool to `min_idle` (`warm`, maintenance refills) without overshooting it when
//! several fillers run at once.
//!
//! A filler decides to create from "idle objects plus creates for idle objects in flight" being
//! below `min_idle`. Counting only idle objects is not enough: `warm()` and a background refill
//! running together each see one idle object missing and both create, ending one above
//! `min_idle`. The count of fills in flight and the check are kept under one small lock
//! ([`Filling`]), and a fill leaves the count only after its object is in the idle queue, under
//! the same lock: a filler never sees a created object in neither place. This is the cold path
//! (one lock per object created by a filler); `get` never takes it.

use core::fmt;
use std::sync::{Mutex, PoisonError};

use cenote_core::{Lease, Permit};

use crate::front::{Entry, Front, PermitOf};
use crate::Handle;

/// Creates for idle objects in flight (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Filling(Mutex<usize>);

/// A permit to create one idle object for `min_idle` (from [`Handle::warm_permit`]): counted as
/// a fill in flight until it is filled ([`Handle::fill_idle`]) or dropped (the create failed:
/// its place is freed).
#[must_use = "dropping a fill gives its place back"]
pub struct Fill<'a, F: Front> {
    handle: &'a Handle<F>,
    permit: Option<PermitOf<F>>,
    /// Counted against `max_pending_creates` until the fill ends (dropped after the permit).
    _slot: crate::CreateSlot<'a, F>,
    /// When the create began and the pool's generation then (metrics, `refresh`).
    creating: crate::metrics::Creating,
}

/// What a filler does next (from [`Handle::warm_step`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum WarmStep<'a, F: Front> {
    /// Create one object into this fill.
    Create(Fill<'a, F>),
    /// `min_idle` objects are idle or being created (or the pool is full): nothing to do.
    Warm,
    /// Every create slot (`max_pending_creates`) is taken, or the objects still missing for
    /// `min_idle` are being created by other fillers: wait on this (at most
    /// [`RECHECK`](crate::RECHECK)) and ask again (`warm`: it returns once `min_idle` objects
    /// are idle, or creates itself if another filler's create failed), or give up for now (a
    /// maintenance pass).
    Busy(crate::SlotWait<'a>),
}

impl<F: Front> Handle<F> {
    /// For front ends' `warm` and refills: a permit to create one more idle object while idle
    /// objects plus fills in flight are fewer than `min_idle` and the pool has room; `None`
    /// when warm (or full). Concurrent fillers never take the pool past `min_idle` between
    /// them.
    pub fn warm_permit(&self) -> Option<Fill<'_, F>> {
        match self.warm_step() {
            WarmStep::Create(fill) => Some(fill),
            WarmStep::Warm | WarmStep::Busy(_) => None,
        }
    }

    /// For front ends' `warm`: as [`warm_permit`](Handle::warm_permit), and when the only
    /// reason not to create is that `max_pending_creates` creates are in flight, a wait for a
    /// slot ([`WarmStep::Busy`]).
    pub fn warm_step(&self) -> WarmStep<'_, F> {
        let shared = self.shared();
        let min_idle = shared.min_idle();
        let mut filling = shared.filling.0.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = self.core().status().idle;
        if idle >= min_idle {
            return WarmStep::Warm;
        }
        if idle.saturating_add(*filling) >= min_idle {
            // The rest are being created by other fillers: wait for them to end (each ends
            // under this lock, after this listener is made: its wake is not missed).
            return WarmStep::Busy(shared.wait_for_fills());
        }
        let slot = loop {
            if let Some(slot) = shared.try_create_slot() {
                break slot;
            }
            if let Some(wait) = shared.wait_for_create_slot() {
                return WarmStep::Busy(wait);
            }
        };
        let Some(permit) = self.core().try_reserve() else { return WarmStep::Warm };
        *filling += 1;
        let creating = self.begin_create();
        WarmStep::Create(Fill { handle: self, permit: Some(permit), _slot: slot, creating })
    }

    /// For front ends' `warm` and refills: puts a newly created object into `fill` as an idle
    /// object.
    pub fn fill_idle(&self, mut fill: Fill<'_, F>, conn: F::Connection) {
        let Some(permit) = fill.permit.take() else { return };
        let born = self.shared().created(fill.creating);
        let mut lease = Permit::fill(permit, Entry::new(conn, born, fill.creating.generation));
        let meta = Lease::meta_mut(&mut lease);
        meta.use_count = 0;
        self.shared().stamp_created(meta, false);
        self.shared().create_succeeded();
        // Into the idle queue (or to a waiter) and out of the fills in flight at once, so that
        // no filler counts it in neither place.
        let mut filling = self.shared().filling.0.lock().unwrap_or_else(PoisonError::into_inner);
        Lease::release(lease);
        *filling -= 1;
        drop(filling);
        drop(fill); // its permit is gone: only the bookkeeping below is left
    }
}

impl<F: Front> Drop for Fill<'_, F> {
    fn drop(&mut self) {
        let filled = self.permit.is_none();
        drop(self.permit.take()); // a failed create: its place is freed
        if !filled {
            let mut filling = self.handle.shared().filling.0.lock().unwrap_or_else(PoisonError::into_inner);
            *filling -= 1;
        }
    }
}

impl<F: Front> fmt::Debug for Fill<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fill").finish_non_exhaustive()
    }
}

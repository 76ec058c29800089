//! What the two front ends' `get` and `Pooled` share: the steps of a get that do not wait
//! ([`step`], [`Shared::place_step`]) and the guard of a lent object ([`Guard`]). Each front
//! end keeps only how it waits (parking, or awaiting) and how it calls its manager.

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use std::hash::Hash;
use std::task::{Poll, Waker};

use cenote_core::{Closed, Lease, TryAcquire};

use crate::shared::{self, Lookup, PlaceWait, Shared, Sub, SubLease, SubPermit, Token};

/// A front end's manager trait as the shared code needs it: the object type and the
/// return-time check (synchronous in both front ends, as a drop cannot await). Implemented
/// for a marker type per front end, for every manager of that front end.
pub(crate) trait Front<K, M>: 'static {
    /// The pooled object.
    type Conn: Send + 'static;

    /// The manager's `has_broken`.
    fn has_broken(manager: &M, key: &K, conn: &mut Self::Conn) -> bool;
}

/// Where a get stands after one look at its key without waiting.
pub(crate) enum Step<K, C, M> {
    /// An idle object of the key: to validate (if the pool does) and lend.
    Idle(SubLease<K, C, M>),
    /// The key has room for one more: the permit, for which a global place comes next.
    Vacant(SubPermit<K, C, M>),
    /// The key is at its `max_size`: wait on its sub-pool's own fair queue.
    Exhausted(Sub<K, C, M>),
    /// The pool is closed.
    Closed,
}

/// One look at the key, from what [`Shared::lookup`] found: an idle object, or else the
/// key's own cap (the core's `try_acquire`).
pub(crate) fn step<K, C, M>(found: Lookup<K, C, M>) -> Step<K, C, M> {
    let sub = match found {
        Lookup::Idle(lease) => return Step::Idle(lease),
        Lookup::Miss(sub) => sub,
        Lookup::Closed => return Step::Closed,
    };
    match sub.try_acquire() {
        TryAcquire::Idle(lease) => Step::Idle(lease),
        TryAcquire::Vacant(permit) => Step::Vacant(permit),
        TryAcquire::Closed => Step::Closed,
        TryAcquire::Exhausted => Step::Exhausted(sub),
    }
}

/// What the wait for a global place ended with.
pub(crate) enum Placed<K, C, M> {
    /// A global place: create the object.
    Token(Token<M>),
    /// An object of our own key came back meanwhile (our permit and our place in line go back
    /// as they drop).
    Idle(SubLease<K, C, M>),
}

impl<K, C, M> Shared<K, C, M>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    C: Send + 'static,
    M: Send + Sync + 'static,
{
    /// The part of the wait for a global place that does not wait: a place if one is free (or
    /// was granted), else an object of our own key that came back, else close another key's
    /// least recently used idle object (its place goes to the oldest waiter, maybe us) and look
    /// again. `Pending` when there is nothing left but to wait (queued, with `waker`).
    pub(crate) fn place_step(
        &self,
        wait: &mut PlaceWait<M>,
        waker: &Waker,
        key: &K,
    ) -> Poll<Result<Placed<K, C, M>, Closed>> {
        loop {
            if let Poll::Ready(placed) = wait.poll(waker) {
                return Poll::Ready(placed.map(Placed::Token));
            }
            if let Some(lease) = self.get_sub(key).and_then(|sub| sub.try_take_idle()) {
                return Poll::Ready(Ok(Placed::Idle(lease)));
            }
            if !self.evict_lru(key) {
                return Poll::Pending;
            }
        }
    }
}

/// A lent object: what each front end's `Pooled` holds. Dropping it returns the object to its
/// own key (see [`shared::give_back`]) after the manager's `has_broken`.
pub(crate) struct Guard<K, M, F: Front<K, M>> {
    lease: Option<SubLease<K, F::Conn, M>>,
    _front: PhantomData<fn() -> F>,
}

impl<K, M, F: Front<K, M>> Guard<K, M, F> {
    #[inline]
    pub(crate) fn new(lease: SubLease<K, F::Conn, M>) -> Self {
        Self { lease: Some(lease), _front: PhantomData }
    }

    #[inline]
    fn lease(&self) -> &SubLease<K, F::Conn, M> {
        self.lease.as_ref().unwrap_or_else(|| unreachable!("taken only in drop"))
    }

    /// The key this object belongs to.
    pub(crate) fn key(&self) -> &K {
        &Lease::ext(self.lease()).key
    }

    /// Closes the object instead of returning it.
    pub(crate) fn discard(mut self) {
        if let Some(lease) = self.lease.take() {
            Lease::retire(lease);
        }
    }
}

impl<K, M, F: Front<K, M>> Deref for Guard<K, M, F> {
    type Target = F::Conn;

    #[inline]
    fn deref(&self) -> &F::Conn {
        &self.lease().conn
    }
}

impl<K, M, F: Front<K, M>> DerefMut for Guard<K, M, F> {
    #[inline]
    fn deref_mut(&mut self) -> &mut F::Conn {
        &mut self.lease.as_mut().unwrap_or_else(|| unreachable!("taken only in drop")).conn
    }
}

impl<K, M, F: Front<K, M>> Drop for Guard<K, M, F> {
    #[inline]
    fn drop(&mut self) {
        let Some(mut lease) = self.lease.take() else { return };
        let broken = std::thread::panicking() || {
            let (ext, entry) = Lease::split_mut(&mut lease);
            F::has_broken(&ext.global.manager, &ext.key, &mut entry.conn)
        };
        shared::give_back(lease, broken);
    }
}

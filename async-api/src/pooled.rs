//! The guard of a lent object.

use core::fmt;
use core::ops::{Deref, DerefMut};

use cenote_core::{Lease, SlotMeta};

use crate::pool::PoolLease;
use crate::Manager;

/// An object lent by a [`Pool`](crate::Pool). Dropping it returns the object.
///
/// Return is synchronous and cheap, and spawns nothing: [`Manager::has_broken`] runs on the
/// dropping thread (a broken object is dropped and its place freed), and the object is marked
/// so that [`Manager::reset`] runs in the next borrower's task before it is lent again. An
/// object dropped while its holder is panicking is not put back.
#[must_use = "dropping a Pooled returns the object at once"]
#[clippy::has_significant_drop]
pub struct Pooled<M: Manager> {
    /// `None` only after `detach` or `retire` took it.
    lease: Option<PoolLease<M>>,
}

impl<M: Manager> Pooled<M> {
    #[inline]
    pub(crate) fn new(lease: PoolLease<M>) -> Self {
        Self { lease: Some(lease) }
    }

    #[inline]
    fn lease(&self) -> &PoolLease<M> {
        self.lease.as_ref().unwrap_or_else(|| unreachable!("a Pooled holds its lease until dropped"))
    }

    #[inline]
    pub(crate) fn lease_mut(&mut self) -> &mut PoolLease<M> {
        self.lease.as_mut().unwrap_or_else(|| unreachable!("a Pooled holds its lease until dropped"))
    }

    /// What the pool knows about this object: when it was created (if a time-based option is
    /// set), how often it has been lent.
    pub fn meta(this: &Self) -> &SlotMeta {
        Lease::meta(this.lease())
    }

    /// Takes the object out of the pool for good and frees its place for a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_async::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     async fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// # futures_lite::future::block_on(async {
    /// let pool = cenote_async::Pool::new(M, 1);
    /// let conn: u8 = cenote_async::Pooled::detach(pool.get().await?);
    /// assert_eq!(conn, 1);
    /// assert_eq!(pool.status().size, 0);
    /// # Ok::<(), cenote_async::Error<std::convert::Infallible>>(())
    /// # }).unwrap();
    /// ```
    pub fn detach(mut this: Self) -> M::Connection {
        let lease =
            this.lease.take().unwrap_or_else(|| unreachable!("a Pooled holds its lease until dropped"));
        Lease::detach(lease)
    }

    /// Drops the object instead of returning it, freeing its place.
    pub(crate) fn retire(mut this: Self) {
        if let Some(lease) = this.lease.take() {
            Lease::retire(lease);
        }
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    #[inline]
    fn deref(&self) -> &M::Connection {
        self.lease()
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    #[inline]
    fn deref_mut(&mut self) -> &mut M::Connection {
        self.lease_mut()
    }
}

/// Retires the lease if dropped while still holding it: a panicking `has_broken` must not
/// put the object back.
struct RetireOnUnwind<T, E>(Option<Lease<T, E>>);

impl<T, E> Drop for RetireOnUnwind<T, E> {
    fn drop(&mut self) {
        if let Some(lease) = self.0.take() {
            Lease::retire(lease);
        }
    }
}

impl<M: Manager> Drop for Pooled<M> {
    #[inline]
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else { return };
        if std::thread::panicking() {
            return Lease::retire(lease);
        }
        let mut guard = RetireOnUnwind(Some(lease));
        let lease = guard.0.as_mut().unwrap_or_else(|| unreachable!());
        let (shared, conn, meta) = Lease::parts_mut(lease);
        if shared.manager.has_broken(conn) {
            return; // `guard` retires it
        }
        meta.needs_reset = true;
        shared.stamp_returned(meta);
        if let Some(lease) = guard.0.take() {
            Lease::release(lease);
        }
    }
}

impl<M: Manager> fmt::Debug for Pooled<M>
where
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled").field("object", &**self).field("meta", Pooled::meta(self)).finish()
    }
}

//! The guard of a lent object, the same in both front ends.

use core::fmt;
use core::ops::{Deref, DerefMut};

use cenote_core::{Lease, SlotMeta};

use crate::front::{Front, LeaseOf, Return};

/// An object lent by a pool. Dropping it returns the object.
///
/// On return, on the dropping thread and without spawning anything, the front end decides
/// what to do with it ([`Front::on_return`]): `cenote-sync` runs the manager's `has_broken`
/// and `reset`; `cenote-async` runs `has_broken` and leaves its async `reset` to the next
/// getter's task, just before the object is lent again. In both, an object whose check or
/// reset fails is dropped and its place freed, and so is an object dropped while its holder
/// is panicking (its state is unknown).
///
/// A `Pooled` that is leaked (`mem::forget`, a cycle of `Rc`s) never returns: its object
/// and its place are gone for the pool's life, and `close` cannot drop it.
///
/// # Examples
///
/// ```
/// # struct M; impl cenote_sync::Manager for M { type Connection = Vec<u8>; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<Vec<u8>, Self::Error> { Ok(Vec::new()) } }
/// let pool = cenote_sync::Pool::new(M, 1);
/// let mut buf = pool.get()?; // a `Pooled`: derefs to the object
/// buf.push(1);
/// assert_eq!(cenote_sync::Pooled::meta(&buf).use_count, 1);
/// drop(buf); // back in the pool
/// assert_eq!(*pool.get()?, [1]);
/// # Ok::<(), cenote_sync::Error<std::convert::Infallible>>(())
/// ```
#[must_use = "dropping a Pooled returns the object at once"]
#[clippy::has_significant_drop]
pub struct Pooled<F: Front> {
    /// `None` only after `detach` or `retire` took it.
    lease: Option<LeaseOf<F>>,
}

const HELD: &str = "a Pooled holds its lease until dropped";

impl<F: Front> Pooled<F> {
    #[inline]
    pub(crate) fn new(lease: LeaseOf<F>) -> Self {
        Self { lease: Some(lease) }
    }

    #[inline]
    fn lease(&self) -> &LeaseOf<F> {
        self.lease.as_ref().unwrap_or_else(|| unreachable!("{HELD}"))
    }

    #[inline]
    fn lease_mut(&mut self) -> &mut LeaseOf<F> {
        self.lease.as_mut().unwrap_or_else(|| unreachable!("{HELD}"))
    }

    /// Records where and when this object is lent (only with `leak_detection_threshold`).
    #[inline]
    pub(crate) fn mark_lent(&self, location: &'static core::panic::Location<'static>) {
        let lease = self.lease();
        Lease::ext(lease).mark_lent(lease, location);
    }

    /// Takes the lease out, clearing its lend record (only with `leak_detection_threshold`).
    #[inline]
    fn take_lease(&mut self) -> Option<LeaseOf<F>> {
        let lease = self.lease.take()?;
        Lease::ext(&lease).clear_lent(&lease);
        Some(lease)
    }

    /// Applies the health options to this object, about to be lent.
    #[inline]
    pub(crate) fn check_idle(&mut self) -> crate::front::CheckOut {
        let (shared, entry, meta) = Lease::parts_mut(self.lease_mut());
        shared.check_idle(entry, meta)
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
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::new(M, 1);
    /// let conn: u8 = cenote_sync::Pooled::detach(pool.get()?);
    /// assert_eq!(conn, 1);
    /// assert_eq!(pool.status().size, 0);
    /// # Ok::<(), cenote_sync::Error<std::convert::Infallible>>(())
    /// ```
    pub fn detach(mut this: Self) -> F::Connection {
        let lease = this.take_lease().unwrap_or_else(|| unreachable!("{HELD}"));
        Lease::detach(lease).conn
    }

    /// Drops the object now instead of returning it, and frees its place: for an object the
    /// caller knows is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::new(M, 1);
    /// cenote_sync::Pooled::retire(pool.get()?);
    /// assert_eq!(pool.status().size, 0);
    /// # Ok::<(), cenote_sync::Error<std::convert::Infallible>>(())
    /// ```
    pub fn retire(mut this: Self) {
        if let Some(lease) = this.take_lease() {
            Lease::retire(lease);
        }
    }

    /// For front ends: the object is handed to the caller now, after every check passed:
    /// counted in the pool's `acquired` (a store on the slot's own cache line, no shared
    /// read-modify-write). Objects lent by `lend_created` are counted there.
    #[inline]
    pub fn lent(this: &mut Self) {
        Lease::count_use(this.lease_mut());
    }

    /// For front ends: [`retire`](Pooled::retire), counted in the pool's metrics under
    /// `reason` (a failed check, a failed reset, ...).
    pub fn retire_because(mut this: Self, reason: crate::metrics::Dropped) {
        if let Some(mut lease) = this.lease.take() {
            lease.dropped = Some(reason);
            Lease::retire(lease);
        }
    }

    /// Counts an error against this object: the kind a user sees (a query that failed with a
    /// connection error, a protocol error) that may mean the object is broken. The pool then
    /// runs the manager's `check` on it before lending it again (a connection whose backend
    /// was terminated does not fail the next borrower too), and with `max_errors(Some(n))`
    /// drops it when it is returned with `n` errors. The count is in
    /// [`meta`](Pooled::meta)`.errors`, and stays with the object.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).max_size(1).max_errors(Some(2)).build()?;
    /// let mut conn = pool.get()?;
    /// cenote_sync::Pooled::report_error(&mut conn);
    /// drop(conn);
    /// assert_eq!(pool.status().idle, 1, "one error: kept");
    /// let mut conn = pool.get()?;
    /// cenote_sync::Pooled::report_error(&mut conn);
    /// drop(conn);
    /// assert_eq!(pool.status().size, 0, "two errors: dropped on return");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report_error(this: &mut Self) {
        let meta = Lease::meta_mut(this.lease_mut());
        meta.errors = meta.errors.saturating_add(1);
    }

    /// For front ends: the object just passed the manager's `check` (before being lent):
    /// errors reported so far are accounted for.
    #[inline]
    pub fn check_passed(this: &mut Self) {
        let (_, entry, meta) = Lease::parts_mut(this.lease_mut());
        entry.errors_checked = meta.errors;
    }

    /// For front ends: whether the manager's `reset` must run before the object is lent
    /// ([`Return::KeepUnreset`] on its last return, and no [`reset_done`](Pooled::reset_done)
    /// since).
    #[inline]
    pub fn needs_reset(this: &Self) -> bool {
        this.lease().unreset
    }

    /// For front ends: the manager's `reset` has run on the object.
    #[inline]
    pub fn reset_done(this: &mut Self) {
        this.lease_mut().unreset = false;
    }
}

impl<F: Front> Deref for Pooled<F> {
    type Target = F::Connection;

    #[inline]
    fn deref(&self) -> &F::Connection {
        &self.lease().conn
    }
}

impl<F: Front> DerefMut for Pooled<F> {
    #[inline]
    fn deref_mut(&mut self) -> &mut F::Connection {
        &mut self.lease_mut().conn
    }
}

/// Retires the lease if dropped while still holding it: a panicking `has_broken` or `reset`
/// must not put a half-checked object back.
struct RetireOnUnwind<T, E>(Option<Lease<T, E>>);

impl<T, E> Drop for RetireOnUnwind<T, E> {
    #[inline]
    fn drop(&mut self) {
        if let Some(lease) = self.0.take() {
            retire_cold(lease);
        }
    }
}

/// `Lease::retire` out of line: on a return, retiring is the rare branch.
#[cold]
#[inline(never)]
fn retire_cold<T, E>(lease: Lease<T, E>) {
    Lease::retire(lease);
}

impl<F: Front> Drop for Pooled<F> {
    #[inline]
    fn drop(&mut self) {
        let Some(lease) = self.take_lease() else { return };
        if std::thread::panicking() {
            return Lease::retire(lease);
        }
        let mut guard = RetireOnUnwind(Some(lease));
        let lease = guard.0.as_mut().unwrap_or_else(|| unreachable!("{HELD}"));
        let (shared, entry, meta) = Lease::parts_mut(lease);
        if shared.config.max_errors.is_some_and(|max| meta.errors >= max) {
            log::debug!(
                "pool {}: dropped an object returned with {} errors",
                shared.config.name,
                meta.errors
            );
            entry.dropped = Some(crate::metrics::Dropped::Errors);
            return; // `guard` retires it
        }
        if shared.is_stale(entry) {
            log::debug!("pool {}: dropped a returned object created before a refresh", shared.config.name);
            entry.dropped = Some(crate::metrics::Dropped::Refreshed);
            return; // `guard` retires it
        }
        match F::on_return(&shared.manager, &mut entry.conn) {
            Return::Retire => {
                entry.dropped = Some(crate::metrics::Dropped::Broken);
                return; // `guard` retires it
            }
            Return::ResetFailed => {
                entry.dropped = Some(crate::metrics::Dropped::ResetFailed);
                return; // `guard` retires it
            }
            Return::KeepUnreset => entry.unreset = true,
            Return::Keep => {}
        }
        shared.stamp_returned(meta);
        shared.stamp_idle(entry);
        if let Some(lease) = guard.0.take() {
            Lease::release(lease);
        }
    }
}

/// Shows the slot's metadata, not the object: a `Pooled` is `Debug` whatever the connection
/// is (so that `pool.get().unwrap_err()` compiles for any manager).
impl<F: Front> fmt::Debug for Pooled<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled").field("meta", Pooled::meta(self)).finish_non_exhaustive()
    }
}

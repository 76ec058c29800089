//! Ownership tokens handed out by the core: a lent object and a permit to create one.
//!
//! Neither holds a counted reference to the pool. Each is counted in the pool's `live`
//! instead, which keeps the pool's memory alive until the token is given back (see
//! "Lifetime without reference counts on the hot path" in `pool.rs`).

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use crate::pool::{Inner, Vacated};
use crate::slot::SlotMeta;
use crate::sync::Ordering;

/// An object lent out by a [`Core`](crate::Core). Dropping it returns the object to the pool.
///
/// A lease owns its slot: it is the only way to reach the object until it is returned,
/// retired or detached. It is `'static` and keeps the pool's memory alive, but it is not a
/// handle: if every [`Core`](crate::Core) handle is dropped, the pool closes and the object
/// is dropped when the lease returns it.
#[must_use = "dropping a lease returns its object at once"]
pub struct Lease<T, E = ()> {
    /// Invariant: points to a live `Inner` in which this lease is counted in `live`, and
    /// `slots[index]` is occupied and owned by this lease.
    inner: NonNull<Inner<T, E>>,
    index: u32,
    /// Owns a `T` (for drop check and auto traits).
    _object: PhantomData<T>,
}

// SAFETY: a lease hands out `&mut T` and may drop the `T` or, as the last user of the pool,
// the whole pool (with `E` and other `T`s) on the thread it is sent to: `T: Send` and
// `E: Send`. Through it, `&E` is reached from that thread: `E: Sync`.
unsafe impl<T: Send, E: Send + Sync> Send for Lease<T, E> {}
// SAFETY: `&Lease` gives `&T` and `&E` only (`&mut` needs `&mut Lease`): `T: Sync`,
// `E: Sync`.
unsafe impl<T: Sync, E: Sync> Sync for Lease<T, E> {}

impl<T, E> Lease<T, E> {
    /// # Invariant
    ///
    /// The caller owns `index`, its slot is occupied, and the caller hands its count of
    /// `live` to the new lease. Every lease is built here.
    #[inline]
    pub(crate) fn new(inner: &Inner<T, E>, index: u32) -> Self {
        debug_assert!(inner.slot(index).value.with_mut(|v| {
            // SAFETY: the caller owns `index` (invariant of `new`).
            unsafe { (*v).is_some() }
        }));
        Self { inner: inner.this(), index, _object: PhantomData }
    }

    #[inline(always)]
    pub(crate) fn inner(&self) -> &Inner<T, E> {
        // SAFETY: the lease is counted in `live`, so the pool is not freed before the lease
        // gives that count up, which it does only when it is consumed (type invariant).
        unsafe { self.inner.as_ref() }
    }

    /// The slot this lease owns.
    #[inline(always)]
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// The extension value of the pool this lease came from.
    #[inline]
    pub fn ext(this: &Self) -> &E {
        this.inner().ext()
    }

    /// Counts of the pool this lease came from, as [`Core::status`](crate::Core::status)
    /// gives them (not a snapshot). For a layer that holds leases but no pool handle: a keyed
    /// pool's guard deciding, when its object comes back, whether the key already has its
    /// `max_idle` idle objects.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Core, Lease, Permit};
    ///
    /// let core = Core::<u32>::new(2, 2, ()).unwrap();
    /// Permit::fill_idle(core.try_reserve().unwrap(), 1);
    /// let lease = Permit::fill(core.try_reserve().unwrap(), 2);
    /// let status = Lease::status(&lease);
    /// assert_eq!((status.size, status.idle), (2, 1));
    /// ```
    pub fn status(this: &Self) -> crate::CoreStatus {
        this.inner().status()
    }

    /// The slot's metadata.
    #[inline]
    pub fn meta(this: &Self) -> &SlotMeta {
        // SAFETY: the lease owns the slot (type invariant); the shared borrow of `this` keeps
        // `meta_mut` and `split_mut` from aliasing it.
        this.inner().slot(this.index).meta.with_mut(|meta| unsafe { &*meta })
    }

    /// The slot's metadata, to update (the core only maintains `use_count`).
    #[inline]
    pub fn meta_mut(this: &mut Self) -> &mut SlotMeta {
        // SAFETY: the lease owns the slot; the unique borrow of `this` makes this unique.
        this.inner().slot(this.index).meta.with_mut(|meta| unsafe { &mut *meta })
    }

    /// Counts one use of this slot in the pool's [`Core::uses`](crate::Core::uses): for a
    /// layer above that counts lends to its users (and not, say, a maintenance pass's visits)
    /// without a shared read-modify-write. A load and a store on the slot's own cache line,
    /// which the lease's holder already writes.
    #[inline]
    pub fn count_use(this: &mut Self) {
        let slots = &this.inner().slots;
        debug_assert!((this.index as usize) < slots.len());
        // SAFETY: a lease's index is a slot of its pool (type invariant: indices come from the
        // pool's queues, which hold only `0..capacity`), so it is in bounds.
        let uses = &unsafe { slots.get_unchecked(this.index as usize) }.uses;
        // ORDERING: `Relaxed`: a count. Only the slot's owner writes it (ownership passes
        // with the release/acquire of the queues and nodes that hand the slot on), so the
        // load sees the last store and the store loses no increment; readers (`Core::uses`)
        // see some recent value, and each slot's value only grows.
        uses.store(uses.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }

    /// The pool's extension value and the object, together: a front end calls its manager
    /// (kept in the extension) on the object it is returning.
    #[inline]
    pub fn split_mut(this: &mut Self) -> (&E, &mut T) {
        let inner = this.inner();
        // SAFETY: the lease owns the occupied slot (type invariant); the unique borrow of
        // `this` makes the object reference unique. `ext` is shared state, not the slot.
        let object = inner.slot(this.index).value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_mut().unwrap_unchecked()
        });
        (inner.ext(), object)
    }

    /// The pool's extension value, the object and its metadata, together.
    #[inline]
    pub fn parts_mut(this: &mut Self) -> (&E, &mut T, &mut SlotMeta) {
        let inner = this.inner();
        let slot = inner.slot(this.index);
        // SAFETY: the lease owns the occupied slot (type invariant); the unique borrow of
        // `this` makes both references unique, and they point to different cells.
        let object = slot.value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_mut().unwrap_unchecked()
        });
        // SAFETY: as above.
        let meta = slot.meta.with_mut(|meta| unsafe { &mut *meta });
        (inner.ext(), object, meta)
    }

    /// Returns the object to the pool (the same as dropping the lease).
    #[inline]
    pub fn release(this: Self) {
        let (inner, index) = Self::into_parts(this);
        // SAFETY: `into_parts` gave us `Inner::this` with the lease's occupied slot and count
        // of `live`, which we give up here (as `Drop` does; called directly so that the push
        // is inlined into the caller instead of going through the drop glue).
        unsafe { Inner::release_slot(inner, index) };
    }

    /// Drops the object and frees its place in the pool: for broken objects, or an object
    /// whose holder panicked.
    pub fn retire(this: Self) {
        let (inner, index) = Self::into_parts(this);
        // SAFETY: `into_parts` gave us `Inner::this` with the lease's slot and count of
        // `live`, which keeps the pool alive until one of these gives it up.
        if !unsafe { Inner::with_handle(inner, |inner| inner.retire_slot(index, Vacated::Retired)) } {
            // SAFETY: as above; no handle is left.
            unsafe { Inner::retire_orphaned(inner, index, Vacated::Retired) };
        }
    }

    /// Takes the object out of the pool for good and frees its place.
    pub fn detach(this: Self) -> T {
        /// Frees the place (as the last access to the pool), also if the hook panics.
        struct Release<T, E>(NonNull<Inner<T, E>>);
        impl<T, E> Drop for Release<T, E> {
            fn drop(&mut self) {
                // SAFETY: we hold the lease's count of `live` (`into_parts`), given up here.
                if !unsafe { Inner::with_handle(self.0, Inner::release_place) } {
                    // SAFETY: as above; no handle is left, and this is our last access.
                    unsafe { Inner::release_orphaned(self.0) };
                }
            }
        }
        let (inner, index) = Self::into_parts(this);
        // SAFETY: as in `retire`; the reference ends with this statement.
        let (value, meta) = unsafe { inner.as_ref() }.vacate(index);
        let release = Release(inner);
        // SAFETY: alive until `release` gives up our count (after this).
        unsafe { inner.as_ref() }.call_vacated(value.as_ref(), &meta, Vacated::Detached);
        drop(release);
        // The slot was occupied (type invariant).
        value.unwrap_or_else(|| unreachable!("a lease's slot is occupied"))
    }

    /// Consumes the lease without returning its object: the caller takes over its slot and
    /// its count of `live`.
    fn into_parts(this: Self) -> (NonNull<Inner<T, E>>, u32) {
        let this = ManuallyDrop::new(this);
        (this.inner, this.index)
    }
}

impl<T, E> Deref for Lease<T, E> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the lease owns the slot and it is occupied (type invariant); the shared
        // borrow of `self` keeps `deref_mut` from aliasing the reference.
        self.inner().slot(self.index).value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_ref().unwrap_unchecked()
        })
    }
}

impl<T, E> DerefMut for Lease<T, E> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and the unique borrow of `self` makes the reference unique.
        self.inner().slot(self.index).value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_mut().unwrap_unchecked()
        })
    }
}

impl<T, E> Drop for Lease<T, E> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the lease holds `Inner::this`, its occupied slot and its count of `live`
        // (type invariant), and gives them up here: its last access to the pool, which may
        // be gone right after.
        unsafe { Inner::release_slot(self.inner, self.index) };
    }
}

impl<T: fmt::Debug, E> fmt::Debug for Lease<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease").field("slot", &self.index).field("object", &**self).finish()
    }
}

/// The right to create one object into a vacant slot. Dropping it unfilled gives the place
/// back (and wakes a waiter), so a failed, panicking or cancelled create leaks nothing.
#[must_use = "dropping a permit gives its place back"]
pub struct Permit<T, E = ()> {
    /// Invariant: points to a live `Inner` in which this permit is counted in `live`, and
    /// `slots[index]` is vacant and owned by this permit.
    inner: NonNull<Inner<T, E>>,
    index: u32,
    _object: PhantomData<T>,
}

// SAFETY: a permit becomes a lease (`fill`) on the thread it is sent to, and may drop the
// pool as its last user: as for `Lease`.
unsafe impl<T: Send, E: Send + Sync> Send for Permit<T, E> {}
// SAFETY: `&Permit` gives `&E` only.
unsafe impl<T, E: Sync> Sync for Permit<T, E> {}

impl<T, E> Permit<T, E> {
    /// # Invariant
    ///
    /// The caller owns the vacant slot `index` and hands its count of `live` to the permit.
    #[inline]
    pub(crate) fn new(inner: &Inner<T, E>, index: u32) -> Self {
        Self { inner: inner.this(), index, _object: PhantomData }
    }

    #[inline(always)]
    fn inner(&self) -> &Inner<T, E> {
        // SAFETY: the permit is counted in `live` (type invariant), as for `Lease::inner`.
        unsafe { self.inner.as_ref() }
    }

    /// The extension value of the pool this permit came from.
    #[inline]
    pub fn ext(this: &Self) -> &E {
        this.inner().ext()
    }

    /// Puts a newly created object into the slot and lends it to the caller.
    #[inline]
    pub fn fill(this: Self, value: T) -> Lease<T, E> {
        let this = ManuallyDrop::new(this);
        let inner = this.inner();
        let slot = inner.slot(this.index);
        // SAFETY: the permit owns the vacant slot (type invariant).
        slot.value.with_mut(|v| unsafe { *v = Some(value) });
        // SAFETY: as above.
        slot.meta.with_mut(|meta| unsafe { *meta = SlotMeta { use_count: 1, ..SlotMeta::default() } });
        // The permit's slot and count of `live` pass to the lease.
        Lease::new(inner, this.index)
    }

    /// Puts a newly created object into the slot and makes it idle (warming the pool).
    pub fn fill_idle(this: Self, value: T) {
        let this = ManuallyDrop::new(this);
        // SAFETY: the permit owns the vacant slot (type invariant).
        this.inner().slot(this.index).value.with_mut(|v| unsafe { *v = Some(value) });
        // SAFETY: the permit's pointer, now-occupied slot and count of `live` go to the pool:
        // the last access.
        unsafe { Inner::release_slot(this.inner, this.index) };
    }
}

impl<T, E> Drop for Permit<T, E> {
    fn drop(&mut self) {
        // Cannot fail: at most `capacity` indices exist. Pushed before `live` drops.
        let _ = self.inner().vacant.push(self.index);
        // SAFETY: the permit holds `Inner::this` and its count of `live` (type invariant),
        // and gives the count up here, as its last access.
        if !unsafe { Inner::with_handle(self.inner, Inner::release_place) } {
            // SAFETY: as above; no handle is left.
            unsafe { Inner::release_orphaned(self.inner) };
        }
    }
}

impl<T, E> fmt::Debug for Permit<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("slot", &self.index).finish()
    }
}

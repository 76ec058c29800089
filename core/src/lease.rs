//! Ownership tokens handed out by the core: a lent object and a permit to create one.

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use crate::pool::Core;
use crate::slot::SlotMeta;
use crate::sync::Arc;

/// An object lent out by a [`Core`]. Dropping it returns the object to the pool.
///
/// A lease owns its slot: it is the only way to reach the object until it is returned,
/// retired or detached, and it keeps the core alive (it is `'static`).
#[must_use = "dropping a lease returns its object at once"]
pub struct Lease<T, E = ()> {
    /// Invariant: `core.slots[index]` is occupied and owned by this lease.
    core: ManuallyDrop<Arc<Core<T, E>>>,
    index: u32,
    /// `Lease` hands out `&T` through `&self`, so it is `Sync` only if `T` is.
    _object: PhantomData<T>,
}

impl<T, E> Lease<T, E> {
    /// # Invariant
    ///
    /// The caller owns `index` and its slot is occupied. Every lease is built here.
    #[inline]
    pub(crate) fn new(core: Arc<Core<T, E>>, index: u32) -> Self {
        debug_assert!(core.slot(index).value.with_mut(|v| {
            // SAFETY: the caller owns `index` (invariant of `new`).
            unsafe { (*v).is_some() }
        }));
        Self { core: ManuallyDrop::new(core), index, _object: PhantomData }
    }

    /// The core this lease came from.
    #[inline]
    pub fn core(this: &Self) -> &Arc<Core<T, E>> {
        &this.core
    }

    /// The slot's metadata.
    #[inline]
    pub fn meta(this: &Self) -> &SlotMeta {
        // SAFETY: the lease owns the slot (type invariant); the shared borrow of `this` keeps
        // `meta_mut` from aliasing it.
        this.core.slot(this.index).meta.with_mut(|meta| unsafe { &*meta })
    }

    /// The slot's metadata, to update (the core only maintains `use_count`).
    #[inline]
    pub fn meta_mut(this: &mut Self) -> &mut SlotMeta {
        // SAFETY: the lease owns the slot; the unique borrow of `this` makes this unique.
        this.core.slot(this.index).meta.with_mut(|meta| unsafe { &mut *meta })
    }

    /// The core's extension value and the object, together: a front end calls its manager
    /// (kept in the extension) on the object it is returning.
    #[inline]
    pub fn split_mut(this: &mut Self) -> (&E, &mut T) {
        let core: &Core<T, E> = &this.core;
        // SAFETY: the lease owns the occupied slot (type invariant); the unique borrow of
        // `this` makes the object reference unique. `ext` is shared state, not the slot.
        let object = core.slot(this.index).value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_mut().unwrap_unchecked()
        });
        (core.ext(), object)
    }

    /// Returns the object to the pool (the same as dropping the lease).
    #[inline]
    pub fn release(this: Self) {
        drop(this);
    }

    /// Drops the object and frees its place in the pool: for broken objects, or an object
    /// whose holder panicked.
    pub fn retire(this: Self) {
        let (core, index) = Self::into_parts(this);
        core.retire_slot(index);
    }

    /// Takes the object out of the pool for good and frees its place.
    pub fn detach(this: Self) -> T {
        let (core, index) = Self::into_parts(this);
        let value = core.vacate(index);
        core.release_place();
        // The slot was occupied (type invariant).
        value.unwrap_or_else(|| unreachable!("a lease's slot is occupied"))
    }

    fn into_parts(this: Self) -> (Arc<Core<T, E>>, u32) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never used or dropped again, so the `Arc` is moved out once.
        let core = unsafe { ManuallyDrop::take(&mut this.core) };
        (core, this.index)
    }
}

impl<T, E> Deref for Lease<T, E> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the lease owns the slot and it is occupied (type invariant); the shared
        // borrow of `self` keeps `deref_mut` from aliasing the reference.
        self.core.slot(self.index).value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_ref().unwrap_unchecked()
        })
    }
}

impl<T, E> DerefMut for Lease<T, E> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and the unique borrow of `self` makes the reference unique.
        self.core.slot(self.index).value.with_mut(|value| unsafe {
            debug_assert!((*value).is_some());
            (*value).as_mut().unwrap_unchecked()
        })
    }
}

impl<T, E> Drop for Lease<T, E> {
    #[inline]
    fn drop(&mut self) {
        self.core.release_slot(self.index);
        // SAFETY: `drop` runs once and the field is not used after this.
        unsafe { ManuallyDrop::drop(&mut self.core) };
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
    /// Invariant: `core.slots[index]` is vacant and owned by this permit, and the permit is
    /// counted in `core.live`.
    core: ManuallyDrop<Arc<Core<T, E>>>,
    index: u32,
}

impl<T, E> Permit<T, E> {
    #[inline]
    pub(crate) fn new(core: Arc<Core<T, E>>, index: u32) -> Self {
        Self { core: ManuallyDrop::new(core), index }
    }

    /// The core this permit came from.
    #[inline]
    pub fn core(this: &Self) -> &Arc<Core<T, E>> {
        &this.core
    }

    /// Puts a newly created object into the slot and lends it to the caller.
    #[inline]
    pub fn fill(this: Self, value: T) -> Lease<T, E> {
        let (core, index) = Self::into_parts(this);
        let slot = core.slot(index);
        // SAFETY: the permit owns the vacant slot (type invariant).
        slot.value.with_mut(|v| unsafe { *v = Some(value) });
        // SAFETY: as above.
        slot.meta.with_mut(|meta| unsafe { *meta = SlotMeta { use_count: 1, ..SlotMeta::default() } });
        Lease::new(core, index)
    }

    /// Puts a newly created object into the slot and makes it idle (warming the pool).
    pub fn fill_idle(this: Self, value: T) {
        let (core, index) = Self::into_parts(this);
        let slot = core.slot(index);
        // SAFETY: the permit owns the vacant slot (type invariant).
        slot.value.with_mut(|v| unsafe { *v = Some(value) });
        core.release_slot(index);
    }

    fn into_parts(this: Self) -> (Arc<Core<T, E>>, u32) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never used or dropped again, so the `Arc` is moved out once.
        let core = unsafe { ManuallyDrop::take(&mut this.core) };
        (core, this.index)
    }
}

impl<T, E> Drop for Permit<T, E> {
    fn drop(&mut self) {
        // Cannot fail: at most `capacity` indices exist. Pushed before `live` drops.
        let _ = self.core.vacant.push(self.index);
        self.core.release_place();
        // SAFETY: `drop` runs once and the field is not used after this.
        unsafe { ManuallyDrop::drop(&mut self.core) };
    }
}

impl<T, E> fmt::Debug for Permit<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("slot", &self.index).finish()
    }
}

//! The lifetime of a pool: `Core` handles, the teardown when the last one goes, and freeing
//! the allocation after the last lease or permit (see "Lifetime without reference counts on
//! the hot path" in `pool.rs`).

use core::marker::PhantomData;
use core::ptr::NonNull;

use alloc::boxed::Box;

use crate::pool::{Core, Inner, ORPHAN};
use crate::sync::{fence, AtomicUsize, Ordering};

/// Counts one more handle of a kind (`Core`s in `handles`, `WeakCore`s in `weak`), made from
/// one the caller holds.
pub(crate) fn count_one_more(count: &AtomicUsize, what: &str) {
    // ORDERING: `Relaxed`, as `Arc::clone`: the caller's own handle keeps the pool (or its
    // memory) alive meanwhile; no other state is published.
    let old = count.fetch_add(1, Ordering::Relaxed);
    if old > isize::MAX as usize {
        // As `Arc`: a count this large means handles are being leaked in a loop.
        panic!("cenote: too many {what} handles");
    }
}

impl<T, E> Clone for Core<T, E> {
    fn clone(&self) -> Self {
        count_one_more(&self.inner().handles, "Core");
        Self { inner: self.inner, _owns: PhantomData }
    }
}

impl<T, E> Drop for Core<T, E> {
    fn drop(&mut self) {
        // ORDERING: `Release`, as `Arc::drop`: everything this handle did happens-before the
        // teardown, which the last dropper starts after an `Acquire` fence.
        if self.inner().handles.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: `handles` went to 0: this was the last handle, and `inner` is alive because
        // the allocation is freed only by `orphan` (here) or by the last lease or permit after
        // `orphan` added `ORPHAN` to `live`.
        unsafe { Inner::orphan(self.inner) };
    }
}

impl<T, E> Inner<T, E> {
    /// Closes and drains a pool whose last handle is gone, then frees it now if no lease or
    /// permit is out, or leaves that to the last of them.
    ///
    /// # Safety
    ///
    /// `this` points to a live `Inner` whose `handles` count has just reached 0, and `orphan`
    /// is called once for it.
    unsafe fn orphan(this: NonNull<Self>) {
        // SAFETY: alive (caller's contract); it cannot be freed before `ORPHAN` is added below.
        let inner = unsafe { this.as_ref() };
        inner.close();
        // ORDERING: `AcqRel`: the release half publishes the drain to whoever frees; the
        // acquire half sees every lease's and permit's work if we free here.
        let outstanding = inner.counts.live.fetch_add(ORPHAN, Ordering::AcqRel);
        if outstanding == 0 {
            // SAFETY: no handle, lease or permit is left, and `live` can no longer change:
            // the pool's own count of `weak` is given up, once.
            unsafe { Self::release_weak(this) };
        }
    }

    /// Gives up one count of `weak` (a `WeakCore`'s, or the pool's own once no handle, lease
    /// or permit is left) and frees the allocation if it was the last.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this` of a live allocation; the caller holds the count it gives up
    /// and does not touch the pool afterwards.
    pub(crate) unsafe fn release_weak(this: NonNull<Self>) {
        // ORDERING: `Release`, as `Arc::drop`: everything this count's holder did
        // happens-before the free, which the last one does after an `Acquire` fence.
        // SAFETY: alive until our count is given up, by this very RMW.
        if unsafe { this.as_ref() }.weak.fetch_sub(1, Ordering::Release) != 1 {
            return;
        }
        fence(Ordering::Acquire);
        // SAFETY: `weak` reached 0: no weak handle is left, and the pool's own count was given
        // up, which happens only when no handle, lease or permit is left.
        unsafe { Self::free(this) };
    }

    /// Frees the allocation.
    ///
    /// # Safety
    ///
    /// `this` came from `Core::new`, no handle, weak handle, lease or permit refers to it any
    /// more, and it is freed once.
    unsafe fn free(this: NonNull<Self>) {
        // SAFETY: allocated by `Box::new` in `Core::new`; unique now (caller's contract).
        drop(unsafe { Box::from_raw(this.as_ptr()) });
    }

    /// The pointer to this allocation that may free it (see `this`).
    #[inline(always)]
    pub(crate) fn this(&self) -> NonNull<Self> {
        self.this
    }

    /// Runs `f` holding a temporary handle, so that everything `f` touches stays alive even
    /// after it gives up the caller's lease or permit. Returns `false` without running `f` if
    /// no handle is left: the pool is closed and being (or already) drained.
    ///
    /// Takes the pointer, not `&self`: dropping the temporary handle may free the pool, which
    /// must not happen while a reference to it is a live function argument.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this` of a pool in which the caller holds a count of `live` (a lease
    /// or permit) or a handle, so it is alive on entry.
    pub(crate) unsafe fn with_handle(this: NonNull<Self>, f: impl FnOnce(&Self)) -> bool {
        // SAFETY: alive on entry (caller's contract); this reference is not used after the
        // temporary handle is dropped.
        let handles = unsafe { &this.as_ref().handles };
        // ORDERING: `Relaxed`: only the CAS below decides, and it re-reads on failure.
        let mut count = handles.load(Ordering::Relaxed);
        loop {
            if count == 0 {
                return false;
            }
            // ORDERING: `Relaxed` on success as for `Arc::clone` (our lease or permit keeps the
            // pool alive meanwhile); `Relaxed` on failure: we only retry.
            match handles.compare_exchange_weak(count, count + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => count = actual,
            }
        }
        // Dropping the temporary handle at the end (or on unwind) may tear the pool down.
        let handle: Core<T, E> = Core { inner: this, _owns: PhantomData };
        f(handle.inner());
        drop(handle);
        true
    }

    /// Gives up one count of `live` held by a lease or permit of a pool with no handles left,
    /// as the caller's very last access to the pool: frees it if this was the last count.
    ///
    /// # Safety
    ///
    /// `this` is `Inner::this`; the caller holds one count of `live`, gives it up here, and
    /// does not touch the pool afterwards.
    pub(crate) unsafe fn release_orphaned(this: NonNull<Self>) {
        // ORDERING: `AcqRel`, as for the last `Arc` drop: our release publishes our work to
        // whoever frees; our acquire, if we free, sees everyone else's.
        // SAFETY: alive until our count is given up, by this very RMW.
        let previous = unsafe { this.as_ref() }.counts.live.fetch_sub(1, Ordering::AcqRel);
        if previous == ORPHAN | 1 {
            // SAFETY: `live` reached `ORPHAN`: no handle (it is orphaned), lease or permit is
            // left, and `orphan` saw `live != 0`, so it left giving up the pool's own count of
            // `weak` to us.
            unsafe { Self::release_weak(this) };
        }
    }
}

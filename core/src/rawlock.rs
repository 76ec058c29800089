//! The wait list's lock: std's mutex with `std`, a spin lock without it, loom's mutex under
//! loom. Held for a few pointer writes (see `waitlist.rs`).

#[cfg(all(not(feature = "std"), not(loom)))]
use crate::sync::Ordering;

/// A raw lock around the list's links.
pub(crate) struct RawLock {
    #[cfg(all(feature = "std", not(loom)))]
    mutex: std::sync::Mutex<()>,
    #[cfg(loom)]
    mutex: loom::sync::Mutex<()>,
    #[cfg(all(not(feature = "std"), not(loom)))]
    locked: core::sync::atomic::AtomicBool,
}

/// Proof that the lock is held; unlocks on drop.
pub(crate) struct RawGuard<'a> {
    #[cfg(all(feature = "std", not(loom)))]
    _guard: std::sync::MutexGuard<'a, ()>,
    #[cfg(loom)]
    _guard: loom::sync::MutexGuard<'a, ()>,
    #[cfg(all(not(feature = "std"), not(loom)))]
    locked: &'a core::sync::atomic::AtomicBool,
}

impl RawLock {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(any(feature = "std", loom))]
            mutex: Default::default(),
            #[cfg(all(not(feature = "std"), not(loom)))]
            locked: core::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn lock(&self) -> RawGuard<'_> {
        #[cfg(all(feature = "std", not(loom)))]
        return RawGuard {
            // Poisoning cannot happen (no code that can panic runs under the lock), and the
            // list stays consistent if it did: ignore it.
            _guard: self.mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        #[cfg(loom)]
        return RawGuard { _guard: self.mutex.lock().unwrap() };
        #[cfg(all(not(feature = "std"), not(loom)))]
        {
            let mut backoff = crate::sync::Backoff::default();
            // ORDERING: `Acquire` on taking the lock pairs with the `Release` that frees it, so
            // the previous holder's writes to the links are visible.
            while self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                backoff.snooze();
            }
            RawGuard { locked: &self.locked }
        }
    }
}

#[cfg(all(not(feature = "std"), not(loom)))]
impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        // ORDERING: `Release` publishes our writes to the links to the next holder.
        self.locked.store(false, Ordering::Release);
    }
}

//! How a waiter is woken, and waking batches of them after the wait list's lock is released.

use core::task::Waker;

/// How to wake a waiter.
pub(crate) enum Wake {
    /// An async waiter's task.
    Task(Waker),
    /// A blocking waiter's thread.
    #[cfg(feature = "std")]
    Thread(crate::sync::Thread),
}

impl Wake {
    /// Wakes the waiter. Runs foreign code (the executor's waker): never under the lock.
    pub(crate) fn wake(self) {
        match self {
            Self::Task(waker) => waker.wake(),
            #[cfg(feature = "std")]
            Self::Thread(thread) => thread.unpark(),
        }
    }
}

/// How many wakers `close` and `expire` collect under the lock, on the stack, before they
/// unlock and wake them.
pub(crate) const WAKE_BATCH: usize = 8;

/// Wakes a batch of wakers collected under the lock (after unlocking, as every wake). If one
/// waker panics, the rest of the batch is still woken (see `WakeRest`) and the panic goes on
/// to the caller.
pub(crate) fn wake_all(batch: &mut [Option<Wake>]) {
    let mut rest = WakeRest(batch.iter_mut());
    while let Some(wake) = rest.0.by_ref().find_map(Option::take) {
        wake.wake();
    }
}

/// The wakers of a batch not woken yet. If one waker panics, the others are still woken as
/// the panic unwinds (a second panic then aborts, as any panic in a drop while unwinding), so
/// that one bad waker does not leave the other waiters of its batch asleep (their nodes are
/// served, or their deadlines cleared, already).
struct WakeRest<'a>(core::slice::IterMut<'a, Option<Wake>>);

impl Drop for WakeRest<'_> {
    fn drop(&mut self) {
        for wake in self.0.by_ref().filter_map(Option::take) {
            wake.wake();
        }
    }
}

//! How a timed waiter asks for the pool's timer: [`Watch`], and [`NoWatch`] for waiters
//! without a deadline.

/// How a timed waiter ([`Core::acquire_until`](crate::Core::acquire_until)) asks for a call to
/// [`WeakCore::expire_waiters`](crate::WeakCore::expire_waiters).
///
/// Implemented for every `FnMut(u64)` closure; implement it on a type of your own (a handle to
/// your pool's timer) to be able to name the future's type, [`Acquire<'_, T, E, YourWatch>`](crate::Acquire).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use cenote_core::{Acquire, Core, Permit, Watch};
///
/// /// The pool's one timer: the earliest time it was asked to fire at.
/// struct Timer<'a>(&'a Cell<u64>);
///
/// impl Watch for Timer<'_> {
///     fn watch(&mut self, deadline: u64) {
///         self.0.set(self.0.get().min(deadline));
///     }
/// }
///
/// /// A type that holds a wait can name it.
/// struct TimedGet<'a> {
///     wait: Acquire<'a, u32, (), Timer<'a>>,
/// }
///
/// let core = Core::<u32>::new(1, 1, ()).unwrap();
/// let _held = Permit::fill(core.try_reserve().unwrap(), 7);
/// let due = Cell::new(u64::MAX);
/// let get = TimedGet { wait: core.acquire_until(100, Timer(&due)) };
/// # futures_lite::future::block_on(async {
/// let mut wait = std::pin::pin!(get.wait);
/// assert!(futures_lite::future::poll_once(wait.as_mut()).await.is_none());
/// assert_eq!(due.get(), 100); // the timer must fire at 100
/// # });
/// ```
pub trait Watch {
    /// Called (outside any lock, on the waiter's task) when the waiter's `deadline` is earlier
    /// than any call to `expire_waiters` already promised: see to it that
    /// `expire_waiters(now)` runs once `now >= deadline`, and again at each time it returns.
    fn watch(&mut self, deadline: u64);
}

impl<F: FnMut(u64)> Watch for F {
    #[inline]
    fn watch(&mut self, deadline: u64) {
        self(deadline);
    }
}

/// The [`Watch`] of a waiter without a deadline ([`Core::acquire`](crate::Core::acquire)): never called.
///
/// # Examples
///
/// ```
/// use cenote_core::{Acquire, Core, NoWatch};
///
/// let core = Core::<u32>::new(1, 1, ()).unwrap();
/// let _wait: Acquire<'_, u32, (), NoWatch> = core.acquire();
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoWatch;

impl Watch for NoWatch {
    #[inline]
    fn watch(&mut self, _deadline: u64) {}
}

//! The blocking wait: [`Core::acquire_blocking`] and [`Core::acquire_blocking_with`], the
//! same protocol as the async wait (`wait.rs`) with the node on the caller's stack and the
//! thread parked.

use crate::error::Closed;
use crate::pool::{Acquired, Core, TryAcquire};
use crate::priority::Priority;
use crate::wait::{Looked, Wait};
use crate::waitlist::{Wake, NO_DEADLINE, WAITING};

impl<T, E> Core<T, E> {
    /// Waits for an idle object or a permit to create one, parking the thread, until
    /// `deadline`, in the ticks of [`time`](crate::time) ([`time::NEVER`](crate::time::NEVER):
    /// no limit; [`time::after`](crate::time::after) makes one from a timeout).
    ///
    /// # Errors
    ///
    /// [`WaitError::Timeout`](crate::WaitError::Timeout) when the deadline passes first,
    /// [`WaitError::Closed`](crate::WaitError::Closed) if the pool is closed.
    ///
    /// # Blocking
    ///
    /// Parks the calling thread until an object is returned, a place is freed, the pool is
    /// closed, or the deadline passes. Do not call it on an async executor's thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_core::{time, Core, Permit, WaitError};
    ///
    /// let core = Core::<u32>::new(1, 1, ()).unwrap();
    /// let held = Permit::fill(core.try_reserve().unwrap(), 7);
    /// let soon = time::after(Duration::from_millis(10));
    /// assert_eq!(core.acquire_blocking(soon).err(), Some(WaitError::Timeout));
    /// drop(held);
    /// assert!(core.acquire_blocking(time::NEVER).is_ok());
    /// ```
    #[cfg(feature = "std")]
    #[inline]
    pub fn acquire_blocking(&self, deadline: u64) -> Result<Acquired<T, E>, crate::WaitError> {
        self.acquire_blocking_with(deadline, Priority::Normal)
    }

    /// [`acquire_blocking`](Core::acquire_blocking) for a waiter of class `priority`: served
    /// after waiting waiters of higher classes and before those of lower ones, within the
    /// aging bound ([`AGE_AFTER`](crate::AGE_AFTER)); a `Normal` or `Low` waiter does not take
    /// the [reserve](Core::set_reserve).
    ///
    /// # Errors
    ///
    /// As for [`acquire_blocking`](Core::acquire_blocking).
    ///
    /// # Blocking
    ///
    /// As for [`acquire_blocking`](Core::acquire_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_core::{time, Core, Permit, Priority, WaitError};
    ///
    /// let core = Core::<u32>::new(2, 2, ()).unwrap();
    /// core.set_reserve(1).unwrap();
    /// let held = Permit::fill(core.try_reserve().unwrap(), 7);
    /// let soon = time::after(Duration::from_millis(10));
    /// // The one place left is the reserve: Normal times out, High gets it.
    /// assert_eq!(core.acquire_blocking_with(soon, Priority::Normal).err(), Some(WaitError::Timeout));
    /// assert!(core.acquire_blocking_with(time::NEVER, Priority::High).is_ok());
    /// # drop(held);
    /// ```
    #[cfg(feature = "std")]
    pub fn acquire_blocking_with(
        &self,
        deadline: u64,
        priority: Priority,
    ) -> Result<Acquired<T, E>, crate::WaitError> {
        match self.try_acquire_with(priority) {
            TryAcquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
            TryAcquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
            TryAcquire::Closed => return Err(crate::WaitError::Closed),
            TryAcquire::Exhausted => {}
        }
        // A short, bounded backoff before parking (a few µs of spinning, then a few yields):
        // with objects held briefly, one is usually back by then, and a thread that parks and
        // is unparked pays two context switches for it. Once waiters are served directly,
        // returns skip the idle queue and this only finds freed places.
        // (Not under loom: a bounded loop of retries only multiplies the states to explore.)
        #[cfg(not(loom))]
        let mut backoff = crate::sync::Backoff::default();
        #[cfg(not(loom))]
        while !backoff.is_completed() {
            backoff.snooze();
            match self.try_acquire_with(priority) {
                TryAcquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
                TryAcquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
                TryAcquire::Closed => return Err(crate::WaitError::Closed),
                TryAcquire::Exhausted => {}
            }
            if deadline != crate::time::NEVER && crate::time::now() >= deadline {
                break;
            }
        }
        let inner = self.inner();
        let mut wait = core::pin::pin!(Wait::new(inner, true, NO_DEADLINE, priority));
        let found = loop {
            let (node, armed, waiter) = wait.as_mut().project();
            match waiter.look_or_link(node, Wake::Thread(crate::sync::current())) {
                Looked::Found(found) => break found,
                Looked::Linked(_) => *armed = true,
            }
            let state = loop {
                let state = wait.state();
                if state != WAITING {
                    break state;
                }
                if deadline == crate::time::NEVER {
                    crate::sync::park();
                    continue;
                }
                #[cfg(loom)]
                crate::sync::park();
                #[cfg(not(loom))]
                {
                    let left = crate::time::until(deadline);
                    if !left.is_zero() {
                        crate::sync::park_timeout(left);
                        continue;
                    }
                    if wait.as_mut().unlink() {
                        // Timed out before anyone served us. One last look.
                        return match inner.try_take(priority) {
                            Some(found) => found.map_err(|Closed| crate::WaitError::Closed),
                            None => Err(crate::WaitError::Timeout),
                        };
                    }
                    // Served as the deadline passed: act on it.
                }
            };
            let (node, armed, waiter) = wait.as_mut().project();
            *armed = false;
            if let Some(found) = waiter.on_served(node, state) {
                break found;
            }
        };
        found.map_err(|Closed| crate::WaitError::Closed)
    }
}

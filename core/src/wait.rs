//! Waiting for an object: the async and the blocking wait loops.
//!
//! Both loops are the same protocol (see `pool.rs`): count ourselves in `waiters`, register a
//! listener, look again, sleep, and on waking look first in the hand-off queue. The listener
//! lives on the stack of the blocking call or inside the async future (`listener!`), so
//! waiting allocates nothing.

use event_listener::{listener, Event, Listener};

use crate::error::Closed;
use crate::pool::{Acquire, Acquired, Core, Inner, STARVE_AFTER_MISSES};
use crate::queue::GATE_WAITERS;
use crate::release::Tag;
use crate::sync::{seqcst_fence_for_loom, Ordering};

/// A caller between "I will wait" and "I am done waiting": keeps `waiters` and the starving
/// count right on every exit, including a panic or a dropped future.
struct Waiter<'a, T, E> {
    core: &'a Inner<T, E>,
    misses: u32,
    starving: bool,
}

impl<'a, T, E> Waiter<'a, T, E> {
    fn new(core: &'a Inner<T, E>) -> Self {
        // ORDERING: `SeqCst` increment, then the `SeqCst` RMW that sets the gate: the waiter's
        // half of the return ↔ wait pair (see `pool.rs`). Every gated push after the gate RMW
        // fails and takes the slow path, which synchronises with the RMW and so sees the
        // increment; every push before it is seen by our looks at the queue.
        core.waiters.fetch_add(1, Ordering::SeqCst);
        core.idle.set_gate(GATE_WAITERS);
        seqcst_fence_for_loom();
        Self { core, misses: 0, starving: false }
    }

    /// The event to listen on: starving waiters have their own, served first.
    fn event(&self) -> &'a Event<Tag> {
        if self.starving {
            &self.core.priority
        } else {
            &self.core.event
        }
    }

    /// A wakeup that found nothing.
    fn missed(&mut self) {
        self.misses += 1;
        if self.misses >= STARVE_AFTER_MISSES && !self.starving {
            self.starving = true;
            self.core.set_starving(true);
        }
    }
}

impl<T, E> Drop for Waiter<'_, T, E> {
    fn drop(&mut self) {
        if self.starving {
            self.core.set_starving(false);
        }
        // ORDERING: `SeqCst` decrement, gate RMW, `SeqCst` re-read: the last waiter to leave
        // opens the gate, then looks again. A waiter that arrived in between either set the
        // gate before our clear (we see its increment below, set the gate again and wake it,
        // since a gated push may have gone through while the gate was clear) or after it
        // (its own looks see any push made while the gate was clear).
        if self.core.waiters.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.core.idle.clear_gate(GATE_WAITERS);
            seqcst_fence_for_loom();
            if self.core.waiters.load(Ordering::SeqCst) != 0 {
                self.core.idle.set_gate(GATE_WAITERS);
                self.core.notify_hint();
            }
        }
    }
}

/// A registered listener that, if dropped before its notification was consumed, discards
/// the notification and passes what it stood for on (`Core::pass_on`).
struct Registered<'a, T, E, L: Listener<Tag>> {
    core: &'a Inner<T, E>,
    listener: Option<L>,
}

impl<T, E, L: Listener<Tag>> Registered<'_, T, E, L> {
    /// The notification was consumed: nothing to pass on.
    fn consumed(&mut self) {
        // Dropping a listener that has fired, after its notification was taken, is a no-op.
        self.listener = None;
    }
}

impl<T, E, L: Listener<Tag>> Drop for Registered<'_, T, E, L> {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            // `discard` removes the listener without forwarding its notification; if it had
            // one, we received something (an object or permit in the hand-off queue, or a
            // hint) and must pass it on ourselves, so that nothing is lost when we are last.
            if listener.discard() {
                self.core.pass_on();
            }
        }
    }
}

impl<T, E> Core<T, E> {
    /// Waits for an idle object or a permit to create one, for as long as it takes.
    ///
    /// Put a timeout around it with whatever timer you have; dropping the future at any
    /// point is safe (see below). The future allocates nothing.
    ///
    /// # Errors
    ///
    /// [`Closed`] if the pool is closed before or during the wait.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the future holds nothing but a registered listener between polls. If it is
    /// dropped after it was woken for an object or a freed place, it passes that on to the
    /// next waiter (or back to the pool), so no object, permit or wakeup is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_core::{Acquired, Core};
    ///
    /// let core = Core::<u32>::new(1, 1, ()).unwrap();
    /// # futures_lite::future::block_on(async {
    /// let lease = match core.acquire().await.unwrap() {
    ///     Acquired::Idle(lease) => lease,
    ///     Acquired::Vacant(permit) => cenote_core::Permit::fill(permit, 7),
    /// };
    /// assert_eq!(*lease, 7);
    /// # });
    /// ```
    pub async fn acquire(&self) -> Result<Acquired<T, E>, Closed> {
        match self.try_acquire() {
            Acquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
            Acquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
            Acquire::Closed => return Err(Closed),
            Acquire::Exhausted => {}
        }
        let inner = self.inner();
        let mut waiter = Waiter::new(inner);
        let mut woken = None;
        loop {
            listener!(waiter.event() => listener);
            let mut registered = Registered { core: inner, listener: Some(listener) };
            if let Some(found) = inner.try_acquire_waiting(woken) {
                return found;
            }
            if woken.is_some() {
                waiter.missed();
            }
            let Some(listener) = registered.listener.as_mut() else { unreachable!() };
            let tag = listener.await;
            registered.consumed();
            woken = Some(tag);
        }
    }

    /// Waits for an idle object or a permit to create one, parking the thread, until
    /// `deadline` (`None`: no limit).
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
    #[cfg(feature = "std")]
    pub fn acquire_blocking(
        &self,
        deadline: Option<std::time::Instant>,
    ) -> Result<Acquired<T, E>, crate::WaitError> {
        match self.try_acquire() {
            Acquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
            Acquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
            Acquire::Closed => return Err(crate::WaitError::Closed),
            Acquire::Exhausted => {}
        }
        // A short, bounded backoff before parking (a few µs of spinning, then a few yields):
        // with objects held briefly, one is usually back by then, and a thread that parks and
        // is unparked pays two context switches for it. Not while someone starves: then the
        // next return is handed to the oldest waiter anyway.
        // (Not under loom: a bounded loop of retries only multiplies the states to explore.)
        #[cfg(not(loom))]
        let mut backoff = crate::sync::Backoff::default();
        #[cfg(not(loom))]
        while !backoff.is_completed() {
            backoff.snooze();
            match self.try_acquire() {
                Acquire::Idle(lease) => return Ok(Acquired::Idle(lease)),
                Acquire::Vacant(permit) => return Ok(Acquired::Vacant(permit)),
                Acquire::Closed => return Err(crate::WaitError::Closed),
                Acquire::Exhausted if self.inner().is_starving() => break,
                Acquire::Exhausted => {}
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                break;
            }
        }
        let inner = self.inner();
        let mut waiter = Waiter::new(inner);
        let mut woken = None;
        loop {
            listener!(waiter.event() => listener);
            let mut registered = Registered { core: inner, listener: Some(listener) };
            if let Some(found) = inner.try_acquire_waiting(woken) {
                return found.map_err(|Closed| crate::WaitError::Closed);
            }
            if woken.is_some() {
                waiter.missed();
            }
            let Some(listener) = registered.listener.take() else { unreachable!() };
            let tag = match deadline {
                None => Some(listener.wait()),
                // `wait_deadline` removes the listener and returns its tag, if it was notified,
                // in one step under the event's lock, so a notification that races the
                // deadline is never dropped: we act on it below.
                Some(deadline) => listener.wait_deadline(deadline),
            };
            if tag.is_none() {
                // Timed out. One last look (no hand-off: we were not woken for one).
                return match inner.try_acquire_waiting(None) {
                    Some(found) => found.map_err(|Closed| crate::WaitError::Closed),
                    None => Err(crate::WaitError::Timeout),
                };
            }
            woken = tag;
        }
    }
}

//! Load shedding (`Builder::max_waiters`): a `get` that would wait while `max_waiters`
//! callers already wait fails at once with [`Error::Overloaded`].
//!
//! The count is `status().waiting` (the core's wait list plus the front end's `waiting`
//! gauge), read when a `get` is about to begin its first wait; nothing is reserved, so the
//! check races with callers entering and leaving (the bound is stated on
//! [`Builder::max_waiters`](crate::Builder::max_waiters)). A lock or a reservation counter
//! could make it exact, but only by putting a shared read-modify-write on every wait of the
//! core, which another `get` may be on the hot path of; the fast path (an idle object at once)
//! never comes here.

use crate::front::Front;
use crate::{Attempt, Error, Handle};

impl<F: Front> Handle<F> {
    /// For front ends: `attempt` is about to wait (for a return, or for a create slot). `Ok`
    /// to go ahead: no `max_waiters`, this `get` was let in before, or fewer than
    /// `max_waiters` callers are waiting.
    ///
    /// # Errors
    ///
    /// [`Error::Overloaded`] when `max_waiters` callers are waiting already (counted in
    /// `Metrics::overloaded`).
    #[inline]
    pub fn admit(&self, attempt: &mut Attempt<'_, F>) -> Result<(), Error<F::Error>> {
        match self.shared().config.max_waiters {
            Some(max_waiters) if !attempt.admitted => self.admit_slow(attempt, max_waiters),
            _ => Ok(()),
        }
    }

    #[cold]
    fn admit_slow(&self, attempt: &mut Attempt<'_, F>, max_waiters: usize) -> Result<(), Error<F::Error>> {
        let waiting = self.status().waiting;
        if waiting >= max_waiters {
            self.shared().books.overloaded.incr();
            return Err(Error::Overloaded { waiting, max_waiters });
        }
        attempt.admitted = true;
        Ok(())
    }
}

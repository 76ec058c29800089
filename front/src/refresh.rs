//! Soft eviction: [`Handle::refresh`] retires every object created before the call, idle ones
//! at once and lent ones when they come back, and lets maintenance (or getters) create their
//! replacements. What a service does after a credential rotation or a database failover.
//!
//! # Generations
//!
//! The pool keeps a generation number ([`Shared`]'s `generation`, a core
//! [`Counter`](cenote_core::stats::Counter)), and each [`Entry`](crate::Entry) the generation
//! read just before its `create` began (so an object whose create was under way when `refresh`
//! was called is old too: it may have connected with the old credentials). `refresh` bumps the
//! generation, then drops the idle objects of older generations. An object of an older
//! generation is retired, never put back, wherever the pool next looks at it: when it is
//! returned, when it is about to be lent, and when a maintenance pass visits it.
//!
//! # The race with a return, and why checking on lend closes it
//!
//! A return that read the generation just before `refresh` bumped it keeps its object, and
//! its push to the idle queue may land after `refresh`'s sweep: that object is then idle with
//! an old generation. Checking on the return alone cannot close this (the two steps of a
//! return, reading the generation and pushing, are not one atomic step). The check on lend
//! does: a `get` ordered after `refresh` returned (the same thread, or any thread that has
//! synchronised with it) reads the generation after the bump in happens-before order, so by
//! the coherence of that one atomic it sees the new value (or a later one), even with
//! `Relaxed` accesses; and it reads the entry's own generation, written before the object was
//! first lent and passed along with the slot's ownership. So no `get` ordered after
//! `refresh()` returns is ever handed an object created before it. A `get` running
//! concurrently with `refresh` may still receive an old object (it is not ordered after the
//! call); that object is retired when it is returned. The loom model
//! `refresh_races_a_return` (`loom-tests/tests/refresh.rs`) explores these interleavings on
//! the core's primitives.

use cenote_core::Core;

use crate::front::{Entry, Front, Shared};
use crate::Handle;

impl<F: Front> Shared<F> {
    /// The current generation: read it just before a `create` begins, and give it to
    /// [`Handle::lend_created`] (fills record it themselves).
    #[inline]
    pub fn generation(&self) -> usize {
        self.generation.get()
    }

    /// Whether `entry` was created before the last [`refresh`](Handle::refresh).
    #[inline]
    pub(crate) fn is_stale<C>(&self, entry: &Entry<C>) -> bool {
        entry.generation < self.generation.get()
    }
}

impl<F: Front> Handle<F> {
    /// Retires every object created before this call (soft eviction, e.g. after rotating the
    /// database credentials or a failover): the idle ones now, the lent ones when they are
    /// returned (or, if a return races this call, when one is next about to be lent). No
    /// `get` that begins after `refresh` returns receives an old object. Returns how many idle
    /// objects it dropped now.
    ///
    /// Replacements are created as usual: by maintenance for `min_idle` (a background pass is
    /// woken at once), and by getters on demand. An object whose `create` was under way when
    /// `refresh` was called counts as old (it may have used the old credentials). Never
    /// blocks, runs no manager method, and costs the hot path nothing but one relaxed load on
    /// each lend and return.
    ///
    /// # Examples
    ///
    /// ```
    /// # struct M(std::sync::atomic::AtomicU32); impl cenote_sync::Manager for M { type Connection = u32; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u32, Self::Error> { Ok(self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) } }
    /// let pool = cenote_sync::Pool::new(M(0.into()), 2);
    /// let (old_idle, old_held) = (pool.get()?, pool.get()?);
    /// drop(old_idle);
    /// assert_eq!(pool.refresh(), 1, "the idle one, now");
    /// drop(old_held);
    /// assert_eq!(pool.status().size, 0, "the lent one, when it came back");
    /// assert_eq!(*pool.get()?, 2, "a new object");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refresh(&self) -> usize {
        let shared = self.shared();
        shared.generation.incr();
        let current = shared.generation.get();
        let core: &Core<_, _> = self.core();
        let dropped = core.retain(|entry: &mut Entry<F::Connection>, _| entry.generation >= current);
        // Wakes a sleeping async `maintenance()` future: it looks at the pool and runs a pass
        // (it ends only if the pool is closed). The blocking front end wakes its thread itself.
        shared.lifecycle.notify(usize::MAX);
        log::info!(
            "pool {}: refresh: objects created before now are retired ({dropped} idle dropped now, the lent ones when they return)",
            shared.config.name
        );
        dropped
    }
}

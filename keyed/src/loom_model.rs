//! Entry points for the loom models in `loom-tests` (`--cfg loom` builds only; not API): the
//! global cap's protocol at the level of the shared module, with `u32` keys and objects.

use std::task::{Poll, Waker};

use cenote_core::TryAcquire;

use crate::config::KeyedConfig;
use crate::shared::{self, Lookup, PlaceWait, Shared, SubLease, Token};

/// A keyed pool's shared state, without a front end.
pub struct Model {
    shared: Shared<u32, u32, ()>,
}

/// An object of a key, lent out.
pub struct Obj(SubLease<u32, u32, ()>);

/// A global place, held (as a create in flight holds one).
pub struct Place(#[allow(dead_code)] Token<()>);

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Model")
    }
}

impl std::fmt::Debug for Obj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Obj")
    }
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Place")
    }
}

impl Model {
    /// A pool of `max_size` per key and `max_total` in all, one shard.
    pub fn new(max_size: usize, max_total: usize) -> Self {
        let config = KeyedConfig { max_size, max_total, shards: Some(1), ..KeyedConfig::default() };
        Self { shared: Shared::new((), config) }
    }

    /// Creates an object for `key` in a free place (panics if there is none).
    pub fn create(&self, key: u32) -> Obj {
        let Lookup::Miss(sub) = self.shared.lookup(&key) else { panic!("nothing idle expected") };
        let TryAcquire::Vacant(permit) = sub.try_acquire() else { panic!("room on the key expected") };
        let mut wait = PlaceWait::new(&self.shared.global);
        let Poll::Ready(Ok(token)) = wait.poll(Waker::noop()) else { panic!("a free place expected") };
        Obj(shared::fill(permit, key, token))
    }

    /// Returns an object, as dropping a `Pooled` does.
    pub fn give_back(obj: Obj) {
        shared::give_back(obj.0, false);
    }

    /// A getter's wait for a global place on `key`, as the blocking front end runs it: claim
    /// or queue, close another key's LRU idle object, else wait; the 10 ms recheck is a
    /// yield (loom runs the others first).
    pub fn wait_place(&self, key: u32) -> Place {
        let mut wait = PlaceWait::new(&self.shared.global);
        loop {
            match wait.poll(Waker::noop()) {
                Poll::Ready(Ok(token)) => return Place(token),
                Poll::Ready(Err(_)) => panic!("the model never closes"),
                Poll::Pending => {}
            }
            if self.shared.evict_lru(&key) {
                continue;
            }
            loom::thread::yield_now();
        }
    }

    /// Queues for a global place on `key` (or takes a free one), gives the runtime a chance
    /// to grant it, and gives up: what a timed-out or cancelled getter does.
    pub fn wait_and_give_up(&self, key: u32) {
        let _ = key;
        let mut wait = PlaceWait::new(&self.shared.global);
        let first = wait.poll(Waker::noop());
        loom::thread::yield_now();
        drop(first);
        drop(wait);
    }

    /// `(total, waiting)` of the global cap.
    pub fn counts(&self) -> (usize, usize) {
        self.shared.global.counts()
    }

    /// Objects closed so far.
    pub fn dropped(&self) -> usize {
        self.shared.global.dropped.get()
    }

    /// `(size, idle)` of `key`'s sub-pool.
    pub fn key(&self, key: u32) -> (usize, usize) {
        self.shared.get_sub(&key).map_or((0, 0), |sub| {
            let status = sub.status();
            (status.size, status.idle)
        })
    }
}

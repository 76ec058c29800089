//! The keyed pool for threads: `get` parks the calling thread.
//!
//! The same pool as [`nonblocking`](crate::nonblocking), with blocking waits: the per-key wait
//! is the core's [`Core::acquire_blocking`](cenote_core::Core::acquire_blocking), the wait for
//! the global cap parks on the crate's FIFO of waiters (see the crate docs for the protocol).
//!
//! # Examples
//!
//! ```
//! use std::convert::Infallible;
//! use cenote_keyed::sync::{KeyedManager, KeyedPool};
//!
//! /// Makes one "connection" per host.
//! struct Hosts;
//!
//! impl KeyedManager<&'static str> for Hosts {
//!     type Connection = String;
//!     type Error = Infallible;
//!     fn create(&self, host: &&'static str) -> Result<String, Infallible> {
//!         Ok(format!("connected to {host}"))
//!     }
//! }
//!
//! let pool = KeyedPool::builder(Hosts).max_size(2).max_total(3).build()?;
//! let a = pool.get(&"a.example")?;
//! assert_eq!(*a, "connected to a.example");
//! let b = pool.get(&"b.example")?;
//! drop(a); // back to a.example's sub-pool
//! assert!(pool.try_get(&"a.example").is_some()); // idle: lent again, nothing created
//! assert!(pool.try_get(&"c.example").is_none()); // never creates
//! assert_eq!(pool.global_status().created, 2);
//! # drop(b);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt::{Debug, Display};
use std::hash::Hash;
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

use cenote_core::{time, Acquired, Lease, Permit, WaitError};
use cenote_front::Error;

use crate::lend::{self, Guard, Placed, Step};
use crate::shared::{self, Lookup, PlaceWait, Shared, SubLease, SubPermit, RECHECK};

/// Creates and checks the objects of each key, for the blocking keyed pool.
///
/// Only [`create`](KeyedManager::create) is required.
///
/// # Examples
///
/// ```
/// use cenote_keyed::sync::KeyedManager;
///
/// struct Buffers;
///
/// impl KeyedManager<usize> for Buffers {
///     type Connection = Vec<u8>;
///     type Error = std::convert::Infallible;
///     /// A buffer of the key's capacity.
///     fn create(&self, capacity: &usize) -> Result<Vec<u8>, Self::Error> {
///         Ok(Vec::with_capacity(*capacity))
///     }
///     fn has_broken(&self, _capacity: &usize, buf: &mut Vec<u8>) -> bool {
///         buf.len() > 1 << 20 // grew too large: drop it
///     }
/// }
/// # let _ = cenote_keyed::sync::KeyedPool::builder(Buffers).build();
/// ```
pub trait KeyedManager<K>: Send + Sync + 'static {
    /// The pooled object.
    type Connection: Send + 'static;
    /// What `create` fails with.
    type Error: Debug + Display + Send + 'static;

    /// Makes a new object for `key`.
    ///
    /// # Errors
    ///
    /// Whatever went wrong; `get` returns it as [`Error::Create`] (a keyed pool does not
    /// retry: the caller knows whether another key would do).
    fn create(&self, key: &K) -> Result<Self::Connection, Self::Error>;

    /// A health check run before an idle object is lent, when the pool validates
    /// (`validate_on_acquire`). `false` closes the object.
    fn is_valid(&self, key: &K, conn: &mut Self::Connection) -> bool {
        let _ = (key, conn);
        true
    }

    /// A cheap check run when an object is returned: `true` closes it.
    fn has_broken(&self, key: &K, conn: &mut Self::Connection) -> bool {
        let _ = (key, conn);
        false
    }
}

/// A pool of objects by key, for threads: one sub-pool (a [`cenote_core::Core`]) per key,
/// made on its first use, with a per-key `max_size` and `max_idle` and a global `max_total`.
///
/// A cheap handle: clones share one pool. See the [module docs](self) for an example and
/// the crate docs for how waiting across keys works.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)]
/// # use cenote_keyed::sync::{KeyedManager, KeyedPool, Pooled};
/// # struct Numbers;
/// # impl KeyedManager<u32> for Numbers {
/// #     type Connection = u32;
/// #     type Error = std::convert::Infallible;
/// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
/// # }
/// let pool = KeyedPool::builder(Numbers).max_size(2).max_total(4).build()?;
/// let other = pool.clone(); // the same pool
/// let one = other.get(&1)?;
/// assert_eq!(pool.status(&1).unwrap().in_use, 1);
/// drop(one);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyedPool<K, M: KeyedManager<K>> {
    shared: Arc<Shared<K, M::Connection, M>>,
}

crate::api::pool_impls!(Blocking);

/// Wakes a parked thread: the blocking wait's side of the global FIFO, which stores wakers.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

impl<K, M> KeyedPool<K, M>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    M: KeyedManager<K>,
{
    crate::api::pool_methods!("sync", "fn", "", "", "");

    /// Lends an object of `key`: an idle one, a new one if the key and the pool have room, or
    /// waits for one, up to `acquire_timeout`. When the pool is at `max_total` and `key` has
    /// nothing idle, the least recently used idle object of another key is closed to make
    /// room; if no key has one, the caller waits in one FIFO across keys.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the wait passed `acquire_timeout`, [`Error::Closed`], or
    /// [`Error::Create`] with the manager's error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key * 10) }
    /// # }
    /// let pool = KeyedPool::builder(Numbers).build()?;
    /// assert_eq!(*pool.get(&4)?, 40);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn get(&self, key: &K) -> Result<Pooled<K, M>, Error<M::Error>> {
        self.get_within(key, self.config().acquire_timeout)
    }

    /// [`get`](Self::get) with its own timeout instead of `acquire_timeout`.
    ///
    /// # Errors
    ///
    /// As for [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// let pool = KeyedPool::builder(Numbers).max_size(1).build()?;
    /// let held = pool.get(&1)?;
    /// let err = pool.get_timeout(&1, Duration::from_millis(10)).unwrap_err();
    /// assert!(err.is_timeout());
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, key: &K, timeout: Duration) -> Result<Pooled<K, M>, Error<M::Error>> {
        self.get_within(key, Some(timeout))
    }

    /// Lends an idle object of `key` now, or `None`: never waits, never creates.
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// let pool = KeyedPool::builder(Numbers).build()?;
    /// assert!(pool.try_get(&1).is_none());
    /// drop(pool.get(&1)?);
    /// assert_eq!(pool.try_get(&1).as_deref(), Some(&1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self, key: &K) -> Option<Pooled<K, M>> {
        loop {
            let lease = self.shared.get_sub(key)?.try_take_idle()?;
            if let Some(lease) = self.validated(lease) {
                return Some(Pooled::new(lease));
            }
        }
    }

    fn validated(&self, mut lease: SubLease<K, M::Connection, M>) -> Option<SubLease<K, M::Connection, M>> {
        if !self.config().validate_on_acquire {
            return Some(lease);
        }
        let (ext, entry) = Lease::split_mut(&mut lease);
        if ext.global.manager.is_valid(&ext.key, &mut entry.conn) {
            Some(lease)
        } else {
            Lease::retire(lease);
            None
        }
    }

    /// `get` within `timeout`. The hot path (an idle object, no validation) is inlined into
    /// the caller; everything else, the clock read for the deadline included, is out of line.
    #[inline]
    fn get_within(&self, key: &K, timeout: Option<Duration>) -> Result<Pooled<K, M>, Error<M::Error>> {
        match self.shared.lookup(key) {
            Lookup::Idle(lease) if !self.config().validate_on_acquire => Ok(Pooled::new(lease)),
            found => self.get_slow(key, timeout, found),
        }
    }

    #[inline(never)]
    fn get_slow(
        &self,
        key: &K,
        timeout: Option<Duration>,
        found: Lookup<K, M::Connection, M>,
    ) -> Result<Pooled<K, M>, Error<M::Error>> {
        let deadline = shared::deadline(timeout);
        let mut found = Some(found);
        loop {
            let permit = match lend::step(found.take().unwrap_or_else(|| self.shared.lookup(key))) {
                Step::Idle(lease) => match self.validated(lease) {
                    Some(lease) => return Ok(Pooled::new(lease)),
                    None => continue,
                },
                Step::Vacant(permit) => permit,
                Step::Closed => return Err(Error::Closed),
                Step::Exhausted(sub) => match sub.acquire_blocking(deadline) {
                    Ok(Acquired::Idle(lease)) => match self.validated(lease) {
                        Some(lease) => return Ok(Pooled::new(lease)),
                        None => continue,
                    },
                    Ok(Acquired::Vacant(permit)) => permit,
                    Err(WaitError::Closed) => return Err(Error::Closed),
                    Err(_) => return Err(Error::Timeout { last_create_error: None }),
                },
            };
            let token = match self.wait_place(&permit, key, deadline)? {
                Placed::Token(token) => token,
                Placed::Idle(lease) => match self.validated(lease) {
                    Some(lease) => return Ok(Pooled::new(lease)),
                    None => continue,
                },
            };
            return match self.manager().create(key) {
                Ok(conn) => Ok(Pooled::new(shared::fill(permit, conn, token))),
                // The token and the permit give their places back as they drop.
                Err(e) => Err(Error::Create(e)),
            };
        }
    }

    /// Waits for a global place while holding a permit of `key`'s sub-pool: parks between
    /// looks (woken when granted a place, or after `RECHECK`), up to `deadline`.
    fn wait_place(
        &self,
        permit: &SubPermit<K, M::Connection, M>,
        key: &K,
        deadline: u64,
    ) -> Result<Placed<K, M::Connection, M>, Error<M::Error>> {
        let mut wait = PlaceWait::new(&Permit::ext(permit).global);
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            if let Poll::Ready(placed) = self.shared.place_step(&mut wait, &waker, key) {
                return placed.map_err(|_| Error::Closed);
            }
            let left = time::until(deadline);
            if left.is_zero() {
                return match wait.poll(&waker) {
                    Poll::Ready(placed) => placed.map(Placed::Token).map_err(|_| Error::Closed),
                    Poll::Pending => Err(Error::Timeout { last_create_error: None }),
                };
            }
            debug_assert!(wait.is_queued());
            std::thread::park_timeout(left.min(RECHECK));
        }
    }
}

/// An object lent by a [`KeyedPool`]. Dereferences to the object; dropping it returns the
/// object to its own key's sub-pool (after [`KeyedManager::has_broken`]; a broken object is
/// closed), or closes it when the key already keeps `max_idle` idle objects or when someone
/// waits for the global cap (its place is theirs).
///
/// # Examples
///
/// ```
/// # use cenote_keyed::sync::{KeyedManager, KeyedPool};
/// # struct Numbers;
/// # impl KeyedManager<u32> for Numbers {
/// #     type Connection = u32;
/// #     type Error = std::convert::Infallible;
/// #     fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
/// # }
/// let pool = KeyedPool::builder(Numbers).build()?;
/// let mut n = pool.get(&5)?;
/// *n += 1;
/// assert_eq!(*Pooled::key(&n), 5);
/// drop(n);
/// assert_eq!(*pool.get(&5)?, 6); // the same object, back from key 5
/// # use cenote_keyed::sync::Pooled;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pooled<K, M: KeyedManager<K>> {
    guard: Guard<K, M, Blocking>,
}

impl<K, M: KeyedManager<K>> Pooled<K, M> {
    #[inline]
    fn new(lease: SubLease<K, M::Connection, M>) -> Self {
        Self { guard: Guard::new(lease) }
    }
}

crate::api::pooled_methods!("sync", "fn", "", "", "");

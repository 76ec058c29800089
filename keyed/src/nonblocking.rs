//! The keyed pool for async code, on any executor: `get(&key).await`.
//!
//! The same pool as [`sync`](crate::sync), with futures: the per-key wait is the core's
//! [`Core::acquire`](cenote_core::Core::acquire) future, the wait for the global cap a place
//! in the crate's FIFO of waiters across keys (see the crate docs for the protocol). No
//! runtime is a dependency: timeouts use the crate's own timer thread (started on the first
//! wait that needs it), so the pool works on tokio, smol or a bare `block_on`.
//!
//! The module is `nonblocking` because `async` is a keyword: a module named `r#async` would
//! have to be spelled so at every use.
//!
//! # Cancel safety
//!
//! Dropping a `get` future at any await point loses nothing: while it waits on its key the
//! core's `acquire` future passes on whatever it was handed; while it holds a permit of its
//! key and waits for a global place, the permit goes back to its key (to the next waiter
//! there) and its place in the global queue is given up (a place granted meanwhile goes to
//! the next waiter); during `create`, the permit and the global place go back the same way.
//!
//! # Examples
//!
//! ```
//! use std::convert::Infallible;
//! use cenote_keyed::nonblocking::{KeyedManager, KeyedPool};
//!
//! /// Makes one "connection" per host.
//! struct Hosts;
//!
//! impl KeyedManager<&'static str> for Hosts {
//!     type Connection = String;
//!     type Error = Infallible;
//!     async fn create(&self, host: &&'static str) -> Result<String, Infallible> {
//!         Ok(format!("connected to {host}"))
//!     }
//! }
//!
//! # futures_lite::future::block_on(async {
//! let pool = KeyedPool::builder(Hosts).max_size(2).max_total(3).build()?;
//! let a = pool.get(&"a.example").await?;
//! assert_eq!(*a, "connected to a.example");
//! drop(a); // back to a.example's sub-pool
//! assert!(pool.try_get(&"a.example").await.is_some()); // idle: lent again, nothing created
//! assert!(pool.try_get(&"c.example").await.is_none()); // never creates
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use core::fmt::{Debug, Display};
use core::future::{poll_fn, Future};
use std::hash::Hash;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::timer::timeout_at;
use cenote_core::{time, Acquired, Lease, Permit};
use cenote_front::Error;

use crate::lend::{self, Guard, Placed, Step};
use crate::shared::{self, Lookup, PlaceWait, Shared, SubLease, SubPermit, RECHECK};

/// Creates and checks the objects of each key, for the async keyed pool, with native
/// `async fn` in traits (no `#[async_trait]`, no boxing). The futures must be `Send`, so that
/// `get` can run on multi-threaded executors.
///
/// Only [`create`](KeyedManager::create) is required.
///
/// # Examples
///
/// ```
/// use cenote_keyed::nonblocking::KeyedManager;
///
/// struct Buffers;
///
/// impl KeyedManager<usize> for Buffers {
///     type Connection = Vec<u8>;
///     type Error = std::convert::Infallible;
///     /// A buffer of the key's capacity.
///     async fn create(&self, capacity: &usize) -> Result<Vec<u8>, Self::Error> {
///         Ok(Vec::with_capacity(*capacity))
///     }
///     async fn is_valid(&self, capacity: &usize, buf: &mut Vec<u8>) -> bool {
///         buf.capacity() >= *capacity
///     }
/// }
/// # let _ = cenote_keyed::nonblocking::KeyedPool::builder(Buffers).build();
/// ```
pub trait KeyedManager<K>: Send + Sync + 'static {
    /// The pooled object.
    type Connection: Send + 'static;
    /// What `create` fails with.
    type Error: Debug + Display + Send + 'static;

    /// Makes a new object for `key`. An error is returned by `get` as [`Error::Create`] (a
    /// keyed pool does not retry: the caller knows whether another key would do).
    fn create(&self, key: &K) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// A health check run before an idle object is lent, when the pool validates
    /// (`validate_on_acquire`). `false` closes the object.
    fn is_valid(&self, key: &K, conn: &mut Self::Connection) -> impl Future<Output = bool> + Send {
        let _ = (key, conn);
        async { true }
    }

    /// A cheap synchronous check run when an object is returned (a drop cannot await):
    /// `true` closes it.
    fn has_broken(&self, key: &K, conn: &mut Self::Connection) -> bool {
        let _ = (key, conn);
        false
    }
}

/// A pool of objects by key, for async code: one sub-pool (a [`cenote_core::Core`]) per key,
/// made on its first use, with a per-key `max_size` and `max_idle` and a global `max_total`.
///
/// A cheap handle: clones share one pool. See the [module docs](self) for an example and
/// the crate docs for how waiting across keys works.
///
/// # Examples
///
/// ```
/// # #[allow(unused_imports)]
/// # use cenote_keyed::nonblocking::{KeyedManager, KeyedPool, Pooled};
/// # struct Numbers;
/// # impl KeyedManager<u32> for Numbers {
/// #     type Connection = u32;
/// #     type Error = std::convert::Infallible;
/// #     async fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
/// # }
/// # futures_lite::future::block_on(async {
/// let pool = KeyedPool::builder(Numbers).max_size(2).max_total(4).build()?;
/// let other = pool.clone(); // the same pool
/// let one = other.get(&1).await?;
/// assert_eq!(pool.status(&1).unwrap().in_use, 1);
/// drop(one);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct KeyedPool<K, M: KeyedManager<K>> {
    shared: Arc<Shared<K, M::Connection, M>>,
}

crate::api::pool_impls!(Nonblocking);

impl<K, M> KeyedPool<K, M>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    M: KeyedManager<K>,
{
    crate::api::pool_methods!(
        "nonblocking",
        "async fn",
        ".await",
        "# futures_lite::future::block_on(async {\n",
        "# }).unwrap();\n"
    );

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
    /// # use cenote_keyed::nonblocking::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     async fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key * 10) }
    /// # }
    /// # futures_lite::future::block_on(async {
    /// let pool = KeyedPool::builder(Numbers).build()?;
    /// assert_eq!(*pool.get(&4).await?, 40);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn get(&self, key: &K) -> Result<Pooled<K, M>, Error<M::Error>> {
        self.get_within(key, self.config().acquire_timeout).await
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
    /// # use cenote_keyed::nonblocking::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     async fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// # futures_lite::future::block_on(async {
    /// let pool = KeyedPool::builder(Numbers).max_size(1).build()?;
    /// let held = pool.get(&1).await?;
    /// let err = pool.get_timeout(&1, Duration::from_millis(10)).await.unwrap_err();
    /// assert!(err.is_timeout());
    /// # drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_timeout(&self, key: &K, timeout: Duration) -> Result<Pooled<K, M>, Error<M::Error>> {
        self.get_within(key, Some(timeout)).await
    }

    /// Lends an idle object of `key` now, or `None`: never waits for an object, never
    /// creates. (It awaits only the manager's `is_valid`, when the pool validates.)
    ///
    /// # Examples
    ///
    /// ```
    /// # use cenote_keyed::nonblocking::{KeyedManager, KeyedPool};
    /// # struct Numbers;
    /// # impl KeyedManager<u32> for Numbers {
    /// #     type Connection = u32;
    /// #     type Error = std::convert::Infallible;
    /// #     async fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
    /// # }
    /// # futures_lite::future::block_on(async {
    /// let pool = KeyedPool::builder(Numbers).build()?;
    /// assert!(pool.try_get(&1).await.is_none());
    /// drop(pool.get(&1).await?);
    /// assert_eq!(pool.try_get(&1).await.as_deref(), Some(&1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn try_get(&self, key: &K) -> Option<Pooled<K, M>> {
        loop {
            let lease = self.shared.get_sub(key)?.try_take_idle()?;
            if let Some(lease) = self.validated(lease).await {
                return Some(Pooled::new(lease));
            }
        }
    }

    async fn validated(
        &self,
        mut lease: SubLease<K, M::Connection, M>,
    ) -> Option<SubLease<K, M::Connection, M>> {
        if !self.config().validate_on_acquire {
            return Some(lease);
        }
        let (ext, entry) = Lease::split_mut(&mut lease);
        if ext.global.manager.is_valid(&ext.key, &mut entry.conn).await {
            Some(lease)
        } else {
            Lease::retire(lease);
            None
        }
    }

    /// `get` within `timeout`: the hot path (an idle object, no validation) runs first,
    /// without a clock read or a timer.
    async fn get_within(&self, key: &K, timeout: Option<Duration>) -> Result<Pooled<K, M>, Error<M::Error>> {
        let found = match self.shared.lookup(key) {
            Lookup::Idle(lease) if !self.config().validate_on_acquire => return Ok(Pooled::new(lease)),
            found => found,
        };
        let deadline = shared::deadline(timeout);
        if deadline == time::NEVER {
            return self.get_slow(key, found).await;
        }
        // The inner future is polled first: a get served at once registers no timer.
        timeout_at(deadline, self.get_slow(key, found))
            .await
            .unwrap_or(Err(Error::Timeout { last_create_error: None }))
    }

    async fn get_slow(
        &self,
        key: &K,
        found: Lookup<K, M::Connection, M>,
    ) -> Result<Pooled<K, M>, Error<M::Error>> {
        let mut found = Some(found);
        loop {
            let found = match lend::step(found.take().unwrap_or_else(|| self.shared.lookup(key))) {
                Step::Idle(lease) => Acquired::Idle(lease),
                Step::Vacant(permit) => Acquired::Vacant(permit),
                Step::Closed => return Err(Error::Closed),
                // The core's fair wait on this key; cancel-safe.
                Step::Exhausted(sub) => sub.acquire().await.map_err(|_| Error::Closed)?,
            };
            let permit = match found {
                Acquired::Idle(lease) => match self.validated(lease).await {
                    Some(lease) => return Ok(Pooled::new(lease)),
                    None => continue,
                },
                Acquired::Vacant(permit) => permit,
            };
            let token = match self.wait_place(&permit, key).await? {
                Placed::Token(token) => token,
                Placed::Idle(lease) => match self.validated(lease).await {
                    Some(lease) => return Ok(Pooled::new(lease)),
                    None => continue,
                },
            };
            return match self.manager().create(key).await {
                Ok(conn) => Ok(Pooled::new(shared::fill(permit, conn, token))),
                // The token and the permit give their places back as they drop.
                Err(e) => Err(Error::Create(e)),
            };
        }
    }

    /// Waits for a global place while holding a permit of `key`'s sub-pool: awaits between
    /// looks (woken when granted a place, or after `RECHECK`). Dropping the future at any
    /// await gives back what it was granted ([`PlaceWait`]'s drop).
    async fn wait_place(
        &self,
        permit: &SubPermit<K, M::Connection, M>,
        key: &K,
    ) -> Result<Placed<K, M::Connection, M>, Error<M::Error>> {
        let mut wait = PlaceWait::new(&Permit::ext(permit).global);
        loop {
            let step = poll_fn(|cx| Poll::Ready(self.shared.place_step(&mut wait, cx.waker(), key))).await;
            if let Poll::Ready(placed) = step {
                return placed.map_err(|_| Error::Closed);
            }
            // Queued: wait to be granted a place, looking again every `RECHECK`.
            if let Some(granted) = timeout_at(time::after(RECHECK), poll_fn(|cx| wait.poll(cx.waker()))).await
            {
                return granted.map(Placed::Token).map_err(|_| Error::Closed);
            }
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
/// # use cenote_keyed::nonblocking::{KeyedManager, KeyedPool};
/// # struct Numbers;
/// # impl KeyedManager<u32> for Numbers {
/// #     type Connection = u32;
/// #     type Error = std::convert::Infallible;
/// #     async fn create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }
/// # }
/// # futures_lite::future::block_on(async {
/// let pool = KeyedPool::builder(Numbers).build()?;
/// let mut n = pool.get(&5).await?;
/// *n += 1;
/// assert_eq!(*Pooled::key(&n), 5);
/// drop(n);
/// assert_eq!(*pool.get(&5).await?, 6); // the same object, back from key 5
/// # use cenote_keyed::nonblocking::Pooled;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Pooled<K, M: KeyedManager<K>> {
    guard: Guard<K, M, Nonblocking>,
}

impl<K, M: KeyedManager<K>> Pooled<K, M> {
    #[inline]
    fn new(lease: SubLease<K, M::Connection, M>) -> Self {
        Self { guard: Guard::new(lease) }
    }
}

crate::api::pooled_methods!(
    "nonblocking",
    "async fn",
    ".await",
    "# futures_lite::future::block_on(async {\n",
    "# }).unwrap();\n"
);

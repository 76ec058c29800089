//! Compile-time table of the auto traits of `cenote_async`'s types and futures, and of the
//! core's named wait futures (in the style of tokio's `tests/async_send_sync.rs`), with a
//! manager whose connection is `Send` but not `Sync` (a `Cell`), plus runtime proof that
//! `get()` spawns on tokio's multi-threaded runtime.
//!
//! A positive entry is a trait bound; a negative one (`!Sync`) uses the ambiguity trick: if the
//! type did implement the trait, two impls of `AmbiguousIf*` would apply and the call would
//! not compile. The `const _: fn()` closures are type-checked, never run.
#![allow(missing_docs)]
#![allow(dead_code, unreachable_code, unused_variables, clippy::diverging_sub_expression)]

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use cenote_async::{BuildError, Builder, Error, Manager, Pool, Pooled, ResizeError, Status};

/// Connection `Send` but not `Sync`.
struct CellManager;

impl Manager for CellManager {
    type Connection = Cell<u64>;
    type Error = String;

    async fn create(&self) -> Result<Cell<u64>, String> {
        Ok(Cell::new(0))
    }

    async fn reset(&self, conn: &mut Cell<u64>) -> Result<(), String> {
        conn.set(0);
        Ok(())
    }
}

/// Connection `Send + Sync`.
struct SyncManager;

impl Manager for SyncManager {
    type Connection = Vec<u8>;
    type Error = Infallible;

    async fn create(&self) -> Result<Vec<u8>, Infallible> {
        Ok(Vec::new())
    }
}

struct Invalid;

trait AmbiguousIfSend<A> {
    fn some_item(&self) {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<Invalid> for T {}

trait AmbiguousIfSync<A> {
    fn some_item(&self) {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<Invalid> for T {}

trait AmbiguousIfUnpin<A> {
    fn some_item(&self) {}
}
impl<T: ?Sized> AmbiguousIfUnpin<()> for T {}
impl<T: ?Sized + Unpin> AmbiguousIfUnpin<Invalid> for T {}

fn require_send<T: Send>(_: &T) {}
fn require_sync<T: Sync>(_: &T) {}
fn require_unpin<T: Unpin>(_: &T) {}

/// A value of any type, for code that is type-checked and never run.
macro_rules! into_todo {
    ($typ:ty) => {{
        let x: $typ = todo!();
        x
    }};
}

/// `assert_value!(Type: Send & !Sync & Unpin);`
macro_rules! assert_value {
    ($type:ty: $($rest:tt)*) => {
        #[allow(unreachable_code, unused_variables, clippy::diverging_sub_expression)]
        const _: fn() = || {
            let f = into_todo!($type);
            assert_traits!(f: $($rest)*);
        };
    };
}

/// Asserts the auto traits of the future built by `$expr` from the given typed bindings.
macro_rules! assert_future {
    (|$($arg:ident: $argty:ty),*| $expr:expr => $($rest:tt)*) => {
        #[allow(unreachable_code, unused_variables, clippy::diverging_sub_expression)]
        const _: fn() = || {
            $(let $arg: $argty = into_todo!($argty);)*
            let f = $expr;
            assert_traits!(f: $($rest)*);
        };
    };
}

macro_rules! assert_traits {
    ($f:ident: Send & Sync & Unpin) => {
        require_send(&$f);
        require_sync(&$f);
        require_unpin(&$f);
    };
    ($f:ident: Send & !Sync & Unpin) => {
        require_send(&$f);
        AmbiguousIfSync::some_item(&$f);
        require_unpin(&$f);
    };
    ($f:ident: Send & Sync & !Unpin) => {
        require_send(&$f);
        require_sync(&$f);
        AmbiguousIfUnpin::some_item(&$f);
    };
    ($f:ident: Send & !Sync & !Unpin) => {
        require_send(&$f);
        AmbiguousIfSync::some_item(&$f);
        AmbiguousIfUnpin::some_item(&$f);
    };
    ($f:ident: !Send & !Sync & Unpin) => {
        AmbiguousIfSend::some_item(&$f);
        AmbiguousIfSync::some_item(&$f);
        require_unpin(&$f);
    };
    ($f:ident: !Send & !Sync & !Unpin) => {
        AmbiguousIfSend::some_item(&$f);
        AmbiguousIfSync::some_item(&$f);
        AmbiguousIfUnpin::some_item(&$f);
    };
}

// The connection itself: `Send`, not `Sync`.
assert_value!(Cell<u64>: Send & !Sync & Unpin);

// The handle, the builder, errors and status are `Send + Sync` whatever the connection.
assert_value!(Pool<CellManager>: Send & Sync & Unpin);
assert_value!(Pool<SyncManager>: Send & Sync & Unpin);
assert_value!(Builder<CellManager>: Send & Sync & Unpin);
assert_value!(Builder<SyncManager>: Send & Sync & Unpin);
assert_value!(Error<String>: Send & Sync & Unpin);
assert_value!(Error<Infallible>: Send & Sync & Unpin);
assert_value!(Status: Send & Sync & Unpin);
assert_value!(BuildError: Send & Sync & Unpin);
assert_value!(ResizeError: Send & Sync & Unpin);
assert_value!(cenote_async::Priority: Send & Sync & Unpin);

// A lent object can move to another thread; it is shared between threads only if the
// connection is (`&Pooled` gives `&Connection`).
assert_value!(Pooled<CellManager>: Send & !Sync & Unpin);
assert_value!(Pooled<SyncManager>: Send & Sync & Unpin);
assert_value!(Result<Pooled<CellManager>, Error<String>>: Send & !Sync & Unpin);

// The futures are `Send`, so that they can be spawned on multi-threaded executors, even when
// the connection is not `Sync`; `get`'s future holds the object across `reset`'s await, so it
// is `Sync` only when the connection is.
assert_future!(|pool: Pool<CellManager>| pool.get() => Send & !Sync & !Unpin);
assert_future!(|pool: Pool<CellManager>, d: Duration| pool.get_timeout(d) => Send & !Sync & !Unpin);
// Warming holds no lent object across an await, so those futures are `Sync` even then.
assert_future!(|pool: Pool<CellManager>| pool.warm() => Send & Sync & !Unpin);
assert_future!(|pool: Pool<SyncManager>| pool.get() => Send & Sync & !Unpin);
assert_future!(|pool: Pool<SyncManager>, d: Duration| pool.get_timeout(d) => Send & Sync & !Unpin);
assert_future!(|pool: Pool<SyncManager>| pool.warm() => Send & Sync & !Unpin);
// Priority gets are the same futures with a class.
assert_future!(|pool: Pool<CellManager>| pool.get_with(cenote_async::Priority::High) => Send & !Sync & !Unpin);
assert_future!(|pool: Pool<CellManager>, d: Duration| pool.get_with_timeout(cenote_async::Priority::Low, d) => Send & !Sync & !Unpin);
assert_future!(|pool: Pool<SyncManager>| pool.get_with(cenote_async::Priority::High) => Send & Sync & !Unpin);

// The core's wait futures are named types: `Send` when the object is (`Sync` objects not
// needed) and the watch is, `Sync` when the watch is too, never `Unpin` (the waiter's node is
// linked by address inside the future).
assert_value!(cenote_core::Acquire<'static, Cell<u64>>: Send & Sync & !Unpin);
assert_value!(cenote_core::Acquire<'static, Cell<u64>, (), cenote_core::NoWatch>: Send & Sync & !Unpin);
assert_value!(cenote_core::Acquire<'static, Cell<u64>, (), fn(u64)>: Send & Sync & !Unpin);
assert_value!(cenote_core::Acquire<'static, Cell<u64>, (), Cell<u64>>: Send & !Sync & !Unpin);
assert_value!(cenote_core::Acquire<'static, Rc<u8>>: !Send & !Sync & !Unpin);
assert_value!(cenote_core::Acquire<'static, u8, Rc<u8>>: !Send & !Sync & !Unpin);
assert_value!(cenote_core::Acquire<'static, u8, (), Rc<u8>>: !Send & !Sync & !Unpin);
assert_future!(|core: cenote_core::Core<Cell<u64>>| core.acquire() => Send & Sync & !Unpin);
assert_future!(|core: cenote_core::Core<Cell<u64>>| core.acquire_until(1, |_| {}) => Send & Sync & !Unpin);
assert_future!(|core: cenote_core::Core<Cell<u64>>, c: Cell<u64>| core.acquire_until(1, move |t| c.set(t))
    => Send & !Sync & !Unpin);
assert_future!(|core: cenote_core::Core<Cell<u64>>, c: Rc<Cell<u64>>| core.acquire_until(1, move |t| c.set(t))
    => !Send & !Sync & !Unpin);
assert_value!(cenote_core::NoWatch: Send & Sync & Unpin);
// What `try_acquire` answers (not a future): a lease of a `!Sync` object is `!Sync`.
assert_value!(cenote_core::TryAcquire<Cell<u64>>: Send & !Sync & Unpin);
assert_value!(cenote_core::TryAcquire<Vec<u8>>: Send & Sync & Unpin);

// The `Clone` of a handle is a handle: cloning works across threads.
assert_value!(std::sync::Arc<Pool<CellManager>>: Send & Sync & Unpin);

// The sharded pool: a handle like `Pool`, and its futures as `Pool::get`'s (the wait on every
// shard is boxed, but the object is held across `reset`'s await, as in `Pool::get`).
assert_value!(cenote_async::ShardedPool<CellManager>: Send & Sync & Unpin);
assert_value!(cenote_async::ShardedBuilder<CellManager>: Send & Sync & Unpin);
assert_value!(cenote_async::ShardedPooled<CellManager>: Send & !Sync & Unpin);
assert_future!(|pool: cenote_async::ShardedPool<CellManager>| pool.get() => Send & !Sync & !Unpin);
assert_future!(|pool: cenote_async::ShardedPool<CellManager>, d: Duration| pool.get_timeout(d) => Send & !Sync & !Unpin);
assert_future!(|pool: cenote_async::ShardedPool<CellManager>| pool.get_from(&3_u8) => Send & !Sync & !Unpin);
assert_future!(|pool: cenote_async::ShardedPool<SyncManager>| pool.get() => Send & Sync & !Unpin);

/// `get`, `get_timeout` and `warm` futures run as `tokio::spawn`ed tasks on the
/// multi-threaded runtime, with a `Send + !Sync` connection.
#[test]
fn futures_spawn_on_tokio_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("runtime");
    rt.block_on(async {
        let pool = Pool::builder(CellManager).max_size(4).min_idle(2).build().expect("valid config");
        let created = tokio::spawn({
            let pool = pool.clone();
            async move { pool.warm().await }
        })
        .await
        .expect("warm task");
        assert_eq!(created.ok(), Some(2));
        assert_eq!(pool.status().idle, 2);

        let tasks: Vec<_> = (0..16u64)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let conn = if i % 2 == 0 {
                        pool.get().await.expect("get")
                    } else {
                        pool.get_timeout(Duration::from_secs(5)).await.expect("get_timeout")
                    };
                    conn.set(conn.get() + i);
                    tokio::task::yield_now().await; // a !Sync connection held across an await
                    conn.get()
                })
            })
            .collect();
        for (i, task) in (0u64..).zip(tasks) {
            assert_eq!(task.await.expect("get task"), i);
        }

        // The object handed back out of a task is `Send` too.
        let conn = tokio::spawn({
            let pool = pool.clone();
            async move { pool.get().await }
        })
        .await
        .expect("task")
        .expect("get");
        let conn = tokio::task::spawn_blocking(move || {
            conn.set(7);
            conn
        })
        .await
        .expect("moved to a blocking thread and back");
        assert_eq!(conn.get(), 7);
        drop(conn);

        let warm = Pool::builder(CellManager).max_size(3).min_idle(3).build().expect("valid config");
        tokio::spawn({
            let warm = warm.clone();
            async move { warm.warm().await }
        })
        .await
        .expect("warm task")
        .expect("CellManager's create does not fail");
        assert_eq!(warm.status().idle, 3);

        let s = pool.status();
        assert_eq!((s.in_use, s.waiting), (0, 0), "{s:?}");
    });
}

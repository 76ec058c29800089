//! The public methods both front ends' `KeyedPool` and `Pooled` have alike (those that do not
//! wait), written once. Each front end's module invokes [`pool_methods!`] inside its
//! `KeyedPool` impl and [`pooled_methods!`] beside its `Pooled`, with the few words its doc
//! examples differ in: the module's name, `fn` or `async fn` for the manager's `create`, the
//! `.await` after a `get`, and the `block_on` around an async example. So every method keeps a
//! tested example in each front end's own terms, as the standard library documents its integer
//! types.

/// An example's doc text: a manager of `u32`s (`create` returns the key) in module `$front`,
/// the body (pieces for `concat!`), and the closing `Ok`, all inside `$open` / `$close`.
macro_rules! example {
    ($front:literal, $create:literal, $open:literal, $close:literal; $($body:tt)*) => {
        concat!(
            "# Examples\n\n```\n",
            "# #[allow(unused_imports)]\n",
            "# use cenote_keyed::", $front, "::{KeyedManager, KeyedPool, Pooled};\n",
            "# struct Numbers;\n",
            "# impl KeyedManager<u32> for Numbers {\n",
            "#     type Connection = u32;\n",
            "#     type Error = std::convert::Infallible;\n",
            "#     ", $create, " create(&self, key: &u32) -> Result<u32, Self::Error> { Ok(*key) }\n",
            "# }\n",
            $open,
            $($body)*
            "# Ok::<(), Box<dyn std::error::Error>>(())\n",
            $close,
            "```"
        )
    };
}
pub(crate) use example;

/// The `KeyedPool` methods that do not wait, for the front end named by the arguments (see
/// the module docs). Invoked inside `impl<K, M> KeyedPool<K, M>`, whose `shared` field is the
/// pool's [`Shared`](crate::shared::Shared).
macro_rules! pool_methods {
    ($front:literal, $create:literal, $aw:literal, $open:literal, $close:literal) => {
        /// A builder with the default options
        /// ([`KeyedConfig::default`](crate::KeyedConfig::default)).
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).max_size(1).max_total(1).build()?;\n",
            "assert_eq!(pool.config().max_size, 1);\n",
        )]
        pub fn builder(manager: M) -> $crate::Builder<Self> {
            $crate::Builder::new(manager)
        }

        /// The pool's options.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).max_total(32).build()?;\n",
            "assert_eq!(pool.config().max_total, 32);\n",
        )]
        pub fn config(&self) -> &$crate::KeyedConfig {
            self.shared.config()
        }

        /// The manager.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).build()?;\n",
            "let _manager: &Numbers = pool.manager();\n",
        )]
        pub fn manager(&self) -> &M {
            &self.shared.global.manager
        }

        /// The counts of `key`'s sub-pool, or `None` if the key has none (never used, or
        /// removed by [`maintain`](Self::maintain)).
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).max_size(3).build()?;\n",
            "assert!(pool.status(&7).is_none());\n",
            "let held = pool.get(&7)", $aw, "?;\n",
            "let status = pool.status(&7).unwrap();\n",
            "assert_eq!((status.max_size, status.size, status.in_use), (3, 1, 1));\n",
            "# drop(held);\n",
        )]
        pub fn status(&self, key: &K) -> Option<$crate::Status> {
            self.shared.get_sub(key).map(|sub| $crate::Status::from(sub.status()))
        }

        /// The whole pool's counts.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).build()?;\n",
            "let held = pool.get(&1)", $aw, "?;\n",
            "assert_eq!(pool.global_status().total, 1);\n",
            "drop(held);\n",
        )]
        pub fn global_status(&self) -> $crate::GlobalStatus {
            self.shared.global_status()
        }

        /// The keys that have a sub-pool now.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).build()?;\n",
            "drop((pool.get(&1)", $aw, "?, pool.get(&2)", $aw, "?));\n",
            "let mut keys = pool.keys();\n",
            "keys.sort();\n",
            "assert_eq!(keys, [1, 2]);\n",
        )]
        pub fn keys(&self) -> Vec<K> {
            self.shared.keys()
        }

        /// One maintenance pass: closes idle objects idle longer than `idle_timeout` and
        /// removes the sub-pools left with nothing in them (no object, no waiter), so that the
        /// key map does not grow without bound. Call it periodically (say, every
        /// `idle_timeout / 2`) from a thread or task of your own; the pool starts none.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "# use std::time::Duration;\n",
            "let pool = KeyedPool::builder(Numbers).idle_timeout(Some(Duration::from_millis(20))).build()?;\n",
            "drop(pool.get(&1)", $aw, "?);\n",
            "std::thread::sleep(Duration::from_millis(30));\n",
            "let pass = pool.maintain();\n",
            "assert_eq!((pass.closed, pass.removed_keys), (1, 1));\n",
            "assert!(pool.keys().is_empty());\n",
        )]
        pub fn maintain(&self) -> $crate::Maintained {
            self.shared.maintain()
        }

        /// Closes the pool: waiters get [`Error::Closed`](crate::Error::Closed), idle objects
        /// are closed now and lent ones when they return, and `get` fails from now on.
        /// Idempotent.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).build()?;\n",
            "drop(pool.get(&1)", $aw, "?);\n",
            "pool.close();\n",
            "assert!(pool.is_closed() && pool.get(&1)", $aw, ".unwrap_err().is_closed());\n",
            "assert_eq!(pool.global_status().total, 0);\n",
        )]
        pub fn close(&self) {
            self.shared.close();
        }

        /// Whether [`close`](Self::close) was called.
        ///
        #[doc = $crate::api::example!($front, $create, $open, $close;
            "let pool = KeyedPool::builder(Numbers).build()?;\n",
            "assert!(!pool.is_closed());\n",
            "pool.close();\n",
            "assert!(pool.is_closed());\n",
        )]
        pub fn is_closed(&self) -> bool {
            self.shared.is_closed()
        }
    };
}
pub(crate) use pool_methods;

/// `Pooled`'s methods and trait impls, for the front end named by the arguments (see the
/// module docs). Invoked beside `pub struct Pooled<K, M: KeyedManager<K>>`, whose `guard` field
/// is a [`Guard`](crate::lend::Guard).
macro_rules! pooled_methods {
    ($front:literal, $create:literal, $aw:literal, $open:literal, $close:literal) => {
        impl<K, M: KeyedManager<K>> Pooled<K, M> {
            /// The key this object belongs to.
            ///
            #[doc = $crate::api::example!($front, $create, $open, $close;
                                                "let pool = KeyedPool::builder(Numbers).build()?;\n",
                                                "assert_eq!(*Pooled::key(&pool.get(&9)", $aw, "?), 9);\n",
                                            )]
            pub fn key(this: &Self) -> &K {
                this.guard.key()
            }

            /// Closes the object instead of returning it (for an object found unusable).
            ///
            #[doc = $crate::api::example!($front, $create, $open, $close;
                                                "let pool = KeyedPool::builder(Numbers).build()?;\n",
                                                "Pooled::discard(pool.get(&1)", $aw, "?);\n",
                                                "assert_eq!(pool.status(&1).unwrap().size, 0);\n",
                                            )]
            pub fn discard(this: Self) {
                this.guard.discard();
            }
        }

        impl<K, M: KeyedManager<K>> core::ops::Deref for Pooled<K, M> {
            type Target = M::Connection;

            #[inline]
            fn deref(&self) -> &M::Connection {
                &self.guard
            }
        }

        impl<K, M: KeyedManager<K>> core::ops::DerefMut for Pooled<K, M> {
            #[inline]
            fn deref_mut(&mut self) -> &mut M::Connection {
                &mut self.guard
            }
        }

        impl<K: core::fmt::Debug, M: KeyedManager<K>> core::fmt::Debug for Pooled<K, M>
        where
            M::Connection: core::fmt::Debug,
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct("Pooled").field("key", Self::key(self)).field("object", &**self).finish()
            }
        }
    };
}
pub(crate) use pooled_methods;

/// `KeyedPool`'s trait impls, and the front end's marker for the shared code
/// ([`Front`](crate::lend::Front), named `$front_marker`): the same in both front ends, with
/// their own `KeyedManager`. Invoked beside `pub struct KeyedPool<K, M: KeyedManager<K>>`, whose
/// `shared` field is an `Arc` of the pool's [`Shared`](crate::shared::Shared).
macro_rules! pool_impls {
    ($front_marker:ident) => {
        impl<K, M: KeyedManager<K>> Clone for KeyedPool<K, M> {
            fn clone(&self) -> Self {
                Self { shared: std::sync::Arc::clone(&self.shared) }
            }
        }

        impl<K, M: KeyedManager<K>> core::fmt::Debug for KeyedPool<K, M> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct("KeyedPool")
                    .field("config", &self.shared.global.config)
                    .finish_non_exhaustive()
            }
        }

        impl<K, M> $crate::config::sealed::Sealed for KeyedPool<K, M> where M: KeyedManager<K> {}

        impl<K, M> $crate::BuildPool for KeyedPool<K, M>
        where
            K: Eq + core::hash::Hash + Clone + Send + Sync + 'static,
            M: KeyedManager<K>,
        {
            type Manager = M;

            fn from_checked(manager: M, config: $crate::KeyedConfig) -> Self {
                Self { shared: std::sync::Arc::new($crate::shared::Shared::new(manager, config)) }
            }
        }

        /// This front end, for the shared code: its managers' objects and return check.
        struct $front_marker;

        impl<K, M: KeyedManager<K>> $crate::lend::Front<K, M> for $front_marker {
            type Conn = M::Connection;

            #[inline]
            fn has_broken(manager: &M, key: &K, conn: &mut M::Connection) -> bool {
                manager.has_broken(key, conn)
            }
        }
    };
}
pub(crate) use pool_impls;

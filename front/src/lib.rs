//! What the two [cenote] front ends share, written once: configuration ([`Config`],
//! [`Builder`]), errors ([`Error`], [`BuildError`]), [`Status`], the lent-object guard
//! ([`Pooled`]), the pool handle's common methods ([`Handle`]) and the retry policy of `get`
//! ([`Attempt`]).
//!
//! Most users never name this crate: `cenote-sync` and `cenote-async` re-export what they
//! need, and their `Pool` types deref to [`Handle`]. It is the layer between the protocol
//! (`cenote-core`, `no_std`, no clock, no policy) and a front end's waiting (threads parking,
//! or futures): generic over a [`Front`], which each front end implements on a marker type.
//!
//! # What both front ends do the same way
//!
//! * `build()` checks the configuration and allocates the slots; it creates no object, never
//!   blocks, and never fails because the backend is down. `Pool::warm()` (blocking, or
//!   `.await`ed) creates objects until `min_idle` are idle, and returns how many it created
//!   or the first create error.
//! * `reset` runs after an object is returned and before it is lent again; if it fails the
//!   object is dropped. The blocking front end runs it on the returning thread; the async one
//!   in the next getter's task (a drop cannot await, and nothing is spawned from a drop).
//! * A failing `create` is retried with a growing pause until `acquire_timeout`, and the
//!   timeout carries the last error; with no deadline the first error is returned at once
//!   ([`Attempt`]).
//! * At most `max_pending_creates` (default 2) creates run at once per pool, across `get`,
//!   `warm` and refills; other getters wait for a return or a free slot within their deadline
//!   (a caller pausing between retries keeps its slot), and are counted in
//!   `status().waiting`.
//! * Concurrent fillers (`warm`, maintenance passes) never create past `min_idle` between
//!   them ([`Fill`]).
//! * [`Handle::refresh`] retires every object created before the call (a generation number
//!   per object, checked on return, on lend and by maintenance), and with
//!   `leak_detection_threshold` each maintenance pass reports objects held too long, with
//!   where they were acquired (`get` is `#[track_caller]`).
//!
//! # Features
//!
//! * `serde`: `Config` (de)serializes, with human durations (`"30s"`) and the aliases other
//!   pools use; `Pools` is a file's map of named pools; TOML and YAML loaders
//!   (`Config::from_toml_str`, `Pools::from_file`, ...) report a `ConfigFileError` naming the
//!   field and the value. The front ends forward it as their own `serde` feature.
//!
//! # Configuration from a file
//!
//! With the `serde` feature, `Config::from_toml_str`, `Config::from_yaml_str` and
//! `Config::from_file` read one pool's options, and `Pools` (the same loaders) reads a file
//! of named pools: a top-level `connection_pools` table whose keys are the pools' names,
//! `connection_pools: { database: {...}, redis: {...} }`. A pool's `name` defaults to its key.
//!
//! ## The file shape
//!
//! One pool is a table of [`Config`]'s fields. Every field may be left out: a missing field
//! keeps its [`Config::default`] value (so leaving out `acquire_timeout` keeps 30 s; write
//! `"none"` to wait forever). An unknown field is an error that names it.
//!
//! * **Durations** are strings in [humantime](https://docs.rs/humantime)'s format: a number
//!   and a unit, `"500ms"`, `"30s"`, `"10m"`, `"1h"`, `"1h 30m"` (units `ns`, `us`, `ms`,
//!   `s`, `m`, `h`, `d`, `w`, and their long forms). A bare number is an error: the unit is
//!   never guessed.
//! * **Optional durations** (`acquire_timeout`, `create_timeout`, `idle_timeout`,
//!   `max_lifetime`, `health_check_interval`, `leak_detection_threshold`) also take `"none"` (or YAML's `null`/`~`) for
//!   "off"; TOML has no null, so `"none"` is the way to say it there.
//! * **Other optional values** (`capacity`, `maintenance_thread`, `max_errors`, `max_waiters`):
//!   leave them out (or YAML `null`) for "unset".
//! * **`create_backoff`** is a table: `create_backoff = { first = "5ms", max = "500ms" }`.
//! * **`circuit_breaker`** is a table with both fields: `circuit_breaker = { failures = 5,
//!   open_for = "5s" }`; leave it out for "off".
//!
//! ## Aliases
//!
//! The names other pools use are accepted for the same field (giving both is an error):
//!
//! | field | also accepted |
//! |---|---|
//! | `max_size` | `max_connections`, `max_pool_size` |
//! | `min_idle` | `min_size`, `min_connections` |
//! | `acquire_timeout` | `connection_timeout`, `wait_timeout` |
//! | `create_timeout` | `connect_timeout` |
//! | `idle_timeout` | `max_idle_time` |
//! | `validate_on_acquire` | `test_before_acquire`, `test_on_check_out` |
//! | `health_check_timeout` | `validation_timeout` |
//! | `create_backoff.first`, `.max` | `.initial`, `.maximum` |
//!
//! Loading only parses: the values are checked by `build()`, which returns a
//! [`BuildError`] naming the option (`max_size = 0`, say).
//!
//! ## The YAML crate
//!
//! YAML is read with [`yaml_serde`](https://docs.rs/yaml_serde), serde_yaml's continuation
//! published by the YAML organization (serde_yaml itself is archived and unmaintained): the
//! same well-tried parser and error messages (with the field path and position), maintained,
//! MIT/Apache-2.0 like cenote, and a minimum Rust (1.82) below cenote's (1.85). Of the other
//! maintained choices, `serde-saphyr` (a new parser) needs Rust 1.89, and `serde_yaml_ng`
//! (MIT only) and `serde_norway` are forks too, but not by the YAML project. TOML is read with
//! [`toml`](https://docs.rs/toml).
//!
//! [cenote]: https://github.com/cenote-rs/cenote
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod attempt;
pub mod autoscale;
pub mod background;
mod breaker;
mod builder;
mod coarse;
mod config;
#[cfg(feature = "serde")]
mod config_error;
#[cfg(feature = "serde")]
mod config_file;
#[cfg(feature = "serde")]
mod config_serde;
mod creating;
mod error;
mod fill;
mod front;
mod handle;
mod leak;
mod maintain;
mod metrics;
mod pooled;
#[cfg(feature = "prometheus")]
mod prometheus;
mod refresh;
mod retry;
mod settings;
pub mod sharded;
mod shed;
pub mod trace;

pub use attempt::{Attempt, Timeout};
pub use autoscale::Autoscale;
pub use background::Background;
pub use breaker::{CircuitBreaker, Probe};
pub use builder::Builder;
pub use cenote_core::{ConfigError as ResizeError, Priority, SlotMeta, AGE_AFTER};
pub use config::{
    BuildError, Config, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_CREATE_BACKOFF, DEFAULT_HEALTH_CHECK_TIMEOUT,
    DEFAULT_MAINTENANCE_INTERVAL, DEFAULT_MAX_PENDING_CREATES, DEFAULT_MAX_SIZE, DEFAULT_VALIDATE_IDLE_AFTER,
};
#[cfg(feature = "serde")]
pub use config_error::{ConfigFileError, Format};
#[cfg(feature = "serde")]
pub use config_file::Pools;
pub use creating::{CreateSlot, SlotWait, RECHECK};
pub use error::{Error, Status};
pub use fill::{Fill, WarmStep};
pub use front::{CoreOf, Entry, Front, LeaseOf, PermitOf, Return, Shared, TryAcquireOf};
pub use handle::{Handle, Lifeline, Shutdown, ShuttingDown, WeakHandle, SHUTDOWN_RECHECK};
pub use maintain::{Maintenance, Pass, Visit};
pub use metrics::{Closed, Creating, Dropped, Histogram, Metrics};
pub use pooled::Pooled;
#[cfg(feature = "prometheus")]
pub use prometheus::PoolCollector;
pub use retry::{Retry, RetryPolicy, RunError, DEFAULT_RETRY_BACKOFF};
pub use sharded::{default_shards, ShardedBuilder, Shards, WaitAny};

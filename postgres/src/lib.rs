//! Ready-made PostgreSQL managers for the cenote object pool, as a user of
//! `r2d2_postgres`, `bb8-postgres` or `deadpool-postgres` expects them:
//!
//! | module | front end | over | feature |
//! |---|---|---|---|
//! | [`sync`] | [`cenote_sync`] (threads) | the blocking [`postgres`] crate | `sync` (default) |
//! | [`tokio`](mod@crate::tokio) | [`cenote_async`] (tasks) | [`tokio_postgres`], on a tokio runtime | `tokio` (default) |
//!
//! Both managers are configured from a connection string (`"host=localhost user=app"` or
//! `"postgresql://app@localhost/app"`) or a ready `Config`, and a TLS connector ([`NoTls`],
//! or one from `postgres-openssl` / `postgres-native-tls`). Their `Error` is the driver's
//! error.
//!
//! # What each check costs and catches
//!
//! * `has_broken` (on every return, both managers): the driver's `is_closed()`, a flag read,
//!   no I/O. It catches a connection whose socket is known to be gone. It does **not** catch
//!   a backend terminated by the server (`pg_terminate_backend`, a restart): right after the
//!   `FATAL` error that announces it, `is_closed()` is still `false`.
//! * `check` (when the pool validates: `validate_on_acquire`, `health_check_interval`,
//!   maintenance, and before lending an object returned with an error): one round trip, an
//!   empty simple query. It catches every dead connection, at the price of a round trip.
//!
//! So report a failed query with [`Pooled::report_error`](cenote_sync::Pooled::report_error):
//! the pool then runs `check` on that connection before lending it again, and a killed
//! connection fails one query, not one per borrower:
//!
//! ```no_run
//! use cenote_postgres::sync::PgManager;
//! use cenote_postgres::NoTls;
//! use cenote_sync::{Pool, Pooled};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = PgManager::new("host=localhost user=postgres", NoTls)?;
//! let pool = Pool::builder(manager).max_size(4).build()?;
//! let mut conn = pool.get()?;
//! match conn.query_one("SELECT 1::INT4", &[]) {
//!     Ok(row) => assert_eq!(row.get::<_, i32>(0), 1),
//!     Err(e) => {
//!         Pooled::report_error(&mut conn); // checked before its next lend
//!         return Err(e.into());
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "sync")]
pub mod sync;
#[cfg(feature = "tokio")]
pub mod tokio;

/// The blocking driver, re-exported so that its version matches the manager's.
#[cfg(feature = "sync")]
pub use postgres;
/// The async driver, re-exported so that its version matches the manager's.
#[cfg(feature = "tokio")]
pub use tokio_postgres;

/// No TLS: the connector for plain TCP and unix sockets (the drivers' `NoTls`).
#[cfg(all(feature = "sync", not(feature = "tokio")))]
pub use postgres::NoTls;
/// No TLS: the connector for plain TCP and unix sockets (the drivers' `NoTls`).
#[cfg(feature = "tokio")]
pub use tokio_postgres::NoTls;

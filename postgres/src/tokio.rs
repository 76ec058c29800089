//! A [`cenote_async::Manager`] over [`tokio_postgres`].
//!
//! **Needs a tokio runtime.** A `tokio_postgres` connection is two halves: the `Client` that
//! sends queries, and a `Connection` future that does the socket I/O and must be polled for
//! the client to get any answer. [`PgManager::create`](cenote_async::Manager::create)
//! connects and hands the `Connection` to [`tokio::spawn`], so it must run
//! inside a tokio runtime: call the pool's `get`, `warm` and `maintain` (and spawn its
//! `maintenance()` future) from tokio tasks or `block_on` of a tokio runtime. Outside one,
//! `create` panics (tokio's "there is no reactor running"). The spawned task ends when the
//! client is dropped or the server closes the connection. Everything else about the pool is
//! runtime-independent; only this manager names tokio.
//!
//! ```no_run
//! use std::time::Duration;
//! use cenote_postgres::tokio::{PgManager, Pool};
//! use cenote_postgres::NoTls;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let manager = PgManager::new("postgresql://app@localhost/app", NoTls)?;
//!     let pool: Pool = Pool::builder(manager)
//!         .max_size(16)
//!         .min_idle(2)
//!         .health_check_interval(Some(Duration::from_secs(30)))
//!         .build()?;
//!     tokio::spawn(pool.maintenance()); // refills and checks; ends with the pool
//!     let conn = pool.get().await?;
//!     let n: i64 = conn.query_one("SELECT count(*) FROM pg_stat_activity", &[]).await?.get(0);
//!     println!("{n} backends");
//!     Ok(())
//! }
//! ```

use core::fmt;
use core::str::FromStr;

use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Error, NoTls, Socket};

/// A pool of async PostgreSQL connections made by a [`PgManager`].
///
/// # Examples
///
/// ```no_run
/// use cenote_postgres::tokio::{PgManager, Pool};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool: Pool = Pool::new("host=localhost user=postgres".parse::<PgManager>()?, 8);
/// pool.get().await?.batch_execute("SELECT 1").await?;
/// # Ok(())
/// # }
/// ```
pub type Pool<T = NoTls> = cenote_async::Pool<PgManager<T>>;

/// A connection lent by a [`Pool`]: derefs to [`tokio_postgres::Client`].
///
/// # Examples
///
/// ```no_run
/// use cenote_postgres::tokio::{Pool, PgManager, Pooled};
///
/// async fn count(conn: &Pooled) -> Result<i64, tokio_postgres::Error> {
///     Ok(conn.query_one("SELECT count(*) FROM pg_class", &[]).await?.get(0))
/// }
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let pool: Pool = Pool::new("host=localhost".parse::<PgManager>()?, 1);
/// println!("{}", count(&pool.get().await?).await?);
/// # Ok(())
/// # }
/// ```
pub type Pooled<T = NoTls> = cenote_async::Pooled<PgManager<T>>;

/// Makes and checks [`tokio_postgres::Client`]s for a [`cenote_async::Pool`].
///
/// * `create`: [`Config::connect`], then the connection's I/O future spawned with
///   [`tokio::spawn`] (so: inside a tokio runtime; see the
///   [module docs](self)). Bound it with the pool's `create_timeout` or a `connect_timeout` in
///   the config;
/// * `check`: an empty simple query, one round trip; the driver's error is the reason (the
///   pool bounds the checks of its maintenance passes by `health_check_timeout`);
/// * `has_broken`: [`Client::is_closed`], no I/O.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use cenote_postgres::tokio::PgManager;
/// use cenote_postgres::NoTls;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = tokio_postgres::Config::new();
/// config.host("localhost").user("app").dbname("app");
/// let manager = PgManager::from_config(config, NoTls);
/// let pool = cenote_async::Pool::builder(manager)
///     .max_size(8)
///     .create_timeout(Some(Duration::from_secs(2)))
///     .validate_on_acquire(true)
///     .build()?;
/// let row = pool.get().await?.query_one("SELECT 1::INT4", &[]).await?;
/// assert_eq!(row.get::<_, i32>(0), 1);
/// # Ok(())
/// # }
/// ```
pub struct PgManager<T = NoTls> {
    config: Config,
    tls: T,
}

impl<T> PgManager<T> {
    /// A manager for the server described by `params`: a libpq-style connection string
    /// (`"host=localhost user=app dbname=app"`) or a URL (`"postgresql://app@localhost/app"`).
    ///
    /// # Errors
    ///
    /// The string does not parse (the driver's error says where).
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_postgres::tokio::PgManager;
    /// use cenote_postgres::NoTls;
    ///
    /// assert!(PgManager::new("postgresql://app@localhost:5432/app", NoTls).is_ok());
    /// assert!(PgManager::new("postgresql://app@localhost:notaport/app", NoTls).is_err());
    /// ```
    pub fn new(params: &str, tls: T) -> Result<Self, Error> {
        Ok(Self::from_config(params.parse()?, tls))
    }

    /// A manager for the server described by `config`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_postgres::tokio::PgManager;
    /// use cenote_postgres::NoTls;
    ///
    /// let mut config = tokio_postgres::Config::new();
    /// config.host("localhost").user("app").application_name("billing");
    /// let manager = PgManager::from_config(config, NoTls);
    /// assert_eq!(manager.config().get_application_name(), Some("billing"));
    /// ```
    pub fn from_config(config: Config, tls: T) -> Self {
        Self { config, tls }
    }

    /// The connection settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_postgres::tokio::PgManager;
    ///
    /// let manager: PgManager = "host=db.internal port=6432 user=app".parse()?;
    /// assert_eq!(manager.config().get_ports(), [6432]);
    /// # Ok::<(), tokio_postgres::Error>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Parses a connection string or URL, without TLS: `"host=localhost".parse::<PgManager>()`.
impl FromStr for PgManager<NoTls> {
    type Err = Error;

    fn from_str(params: &str) -> Result<Self, Error> {
        Self::new(params, NoTls)
    }
}

/// Shows the connection settings (the password is redacted by the driver).
impl<T> fmt::Debug for PgManager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgManager").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<T> cenote_async::Manager for PgManager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Connection = Client;
    type Error = Error;

    /// Connects, and spawns the connection's I/O future on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (see the [module docs](self)).
    async fn create(&self) -> Result<Client, Error> {
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        ::tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("cenote-postgres: connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// [`check`](cenote_async::Manager::check) without the reason.
    async fn is_valid(&self, conn: &mut Client) -> bool {
        conn.simple_query("").await.is_ok()
    }

    /// An empty simple query (one round trip); the driver's error is the reason.
    async fn check(&self, conn: &mut Client) -> Result<(), Option<Error>> {
        conn.simple_query("").await.map(drop).map_err(Some)
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_closed()
    }
}

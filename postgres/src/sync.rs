//! A [`cenote_sync::Manager`] over the blocking [`postgres`] crate.
//!
//! ```no_run
//! use std::time::Duration;
//! use cenote_postgres::sync::{PgManager, Pool};
//! use cenote_postgres::NoTls;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = PgManager::new("postgresql://app@localhost/app", NoTls)?;
//! let pool: Pool = Pool::builder(manager)
//!     .max_size(8)
//!     .min_idle(2)
//!     .health_check_interval(Some(Duration::from_secs(30)))
//!     .build()?;
//! let mut conn = pool.get()?;
//! let n: i64 = conn.query_one("SELECT count(*) FROM pg_stat_activity", &[])?.get(0);
//! println!("{n} backends");
//! # Ok(())
//! # }
//! ```

use core::fmt;
use core::str::FromStr;
use std::time::Duration;

use postgres::tls::{MakeTlsConnect, TlsConnect};
use postgres::{Client, Config, Error, NoTls, Socket};

/// A pool of blocking PostgreSQL connections made by a [`PgManager`].
///
/// # Examples
///
/// ```no_run
/// use cenote_postgres::sync::{PgManager, Pool};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool: Pool = Pool::new("host=localhost user=postgres".parse::<PgManager>()?, 4);
/// pool.get()?.batch_execute("SELECT 1")?;
/// # Ok(())
/// # }
/// ```
pub type Pool<T = NoTls> = cenote_sync::Pool<PgManager<T>>;

/// A connection lent by a [`Pool`]: derefs to [`postgres::Client`].
///
/// # Examples
///
/// ```no_run
/// use cenote_postgres::sync::{Pool, PgManager, Pooled};
///
/// fn count(conn: &mut Pooled) -> Result<i64, postgres::Error> {
///     Ok(conn.query_one("SELECT count(*) FROM pg_class", &[])?.get(0))
/// }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let pool: Pool = Pool::new("host=localhost".parse::<PgManager>()?, 1);
/// println!("{}", count(&mut pool.get()?)?);
/// # Ok(())
/// # }
/// ```
pub type Pooled<T = NoTls> = cenote_sync::Pooled<PgManager<T>>;

/// The default bound on one health check: 5 s (the pool's `health_check_timeout` default).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes and checks blocking [`postgres::Client`]s for a [`cenote_sync::Pool`].
///
/// * `create`: [`Config::connect`] (bound it with a `connect_timeout` in the config: a
///   blocking create cannot be interrupted by the pool);
/// * `check`: an empty simple query, one round trip, bounded by
///   [`check_timeout`](PgManager::check_timeout); the driver's error is the reason;
/// * `has_broken`: [`Client::is_closed`], no I/O.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use cenote_postgres::sync::PgManager;
/// use cenote_postgres::NoTls;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = postgres::Config::new();
/// config.host("localhost").user("app").dbname("app").connect_timeout(Duration::from_secs(2));
/// let manager = PgManager::from_config(config, NoTls);
/// let pool = cenote_sync::Pool::builder(manager).max_size(4).validate_on_acquire(true).build()?;
/// let row = pool.get()?.query_one("SELECT 1::INT4", &[])?;
/// assert_eq!(row.get::<_, i32>(0), 1);
/// # Ok(())
/// # }
/// ```
pub struct PgManager<T = NoTls> {
    config: Config,
    tls: T,
    check_timeout: Duration,
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
    /// use cenote_postgres::sync::PgManager;
    /// use cenote_postgres::NoTls;
    ///
    /// assert!(PgManager::new("host=localhost user=app connect_timeout=2", NoTls).is_ok());
    /// assert!(PgManager::new("host=localhost nonsense", NoTls).is_err());
    /// ```
    pub fn new(params: &str, tls: T) -> Result<Self, Error> {
        Ok(Self::from_config(params.parse()?, tls))
    }

    /// A manager for the server described by `config`.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_postgres::sync::PgManager;
    /// use cenote_postgres::NoTls;
    ///
    /// let mut config = postgres::Config::new();
    /// config.host("/run/postgresql").user("app");
    /// let manager = PgManager::from_config(config, NoTls);
    /// assert_eq!(manager.config().get_user(), Some("app"));
    /// ```
    pub fn from_config(config: Config, tls: T) -> Self {
        Self { config, tls, check_timeout: DEFAULT_CHECK_TIMEOUT }
    }

    /// The longest one health check may wait for the server's answer before it counts as
    /// failed (default [`DEFAULT_CHECK_TIMEOUT`]). The blocking pool cannot interrupt a
    /// check; this bound is the driver's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_postgres::sync::PgManager;
    ///
    /// let manager = "host=localhost".parse::<PgManager>()?.check_timeout(Duration::from_secs(1));
    /// # Ok::<(), postgres::Error>(())
    /// ```
    #[must_use]
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// The connection settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use cenote_postgres::sync::PgManager;
    ///
    /// let manager: PgManager = "postgresql://app@db.internal:6432/app".parse()?;
    /// assert_eq!(manager.config().get_ports(), [6432]);
    /// # Ok::<(), postgres::Error>(())
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
        f.debug_struct("PgManager")
            .field("config", &self.config)
            .field("check_timeout", &self.check_timeout)
            .finish_non_exhaustive()
    }
}

impl<T> cenote_sync::Manager for PgManager<T>
where
    T: MakeTlsConnect<Socket> + Clone + Send + Sync + 'static,
    T::TlsConnect: Send,
    T::Stream: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    type Connection = Client;
    type Error = Error;

    fn create(&self) -> Result<Client, Error> {
        self.config.connect(self.tls.clone())
    }

    /// [`check`](cenote_sync::Manager::check) without the reason.
    fn is_valid(&self, conn: &mut Client) -> bool {
        conn.is_valid(self.check_timeout).is_ok()
    }

    /// An empty simple query (one round trip) within [`check_timeout`](PgManager::check_timeout);
    /// the driver's error is the reason.
    fn check(&self, conn: &mut Client) -> Result<(), Option<Error>> {
        conn.is_valid(self.check_timeout).map_err(Some)
    }

    fn has_broken(&self, conn: &mut Client) -> bool {
        conn.is_closed()
    }
}

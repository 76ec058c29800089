//! Loading [`Config`]s from TOML and YAML (feature `serde`): one pool's options, or a map of
//! named pools ([`Pools`]), and the error that says what is wrong ([`ConfigFileError`]).
//!
//! The accepted shape, the aliases and the choice of YAML crate are in the crate docs
//! ("Configuration from a file").

use core::fmt;
use core::ops::{Deref, DerefMut};
use std::collections::{BTreeMap, HashMap};
use std::error::Error as StdError;
use std::path::Path;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config_serde::ConfigRepr;
use crate::{Config, ConfigFileError, Format};

/// Named pools' configurations, as loaded from a file's `connection_pools` table. Derefs to
/// the `HashMap<String, Config>` it is.
///
/// A pool's `name` defaults to its key in the table (the `database` entry is named
/// `"database"` in log lines unless it sets `name`).
///
/// # Examples
///
/// ```
/// use cenote_front::Pools;
///
/// let pools = Pools::from_toml_str(r#"
///     [connection_pools.database]
///     max_size = 16
///     min_size = 2                # an alias of min_idle
///     connection_timeout = "5s"   # an alias of acquire_timeout
///
///     [connection_pools.redis]
///     max_size = 4
///     idle_timeout = "10m"
/// "#)?;
/// let database = &pools["database"];
/// assert_eq!((database.max_size, database.min_idle), (16, 2));
/// assert_eq!(database.acquire_timeout, Some(std::time::Duration::from_secs(5)));
/// assert_eq!(database.name, "database");
/// assert_eq!(pools["redis"].idle_timeout, Some(std::time::Duration::from_secs(600)));
/// # Ok::<(), cenote_front::ConfigFileError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pools(pub HashMap<String, Config>);

/// The file's top level: `connection_pools` and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table with a `connection_pools` table of named pools")]
struct PoolsFile {
    #[serde(deserialize_with = "unique_pools")]
    connection_pools: HashMap<String, ConfigRepr>,
}

/// The `connection_pools` table, a name given twice rejected (YAML would keep the last).
fn unique_pools<'de, D: Deserializer<'de>>(deserializer: D) -> Result<HashMap<String, ConfigRepr>, D::Error> {
    struct Unique;

    impl<'de> Visitor<'de> for Unique {
        type Value = HashMap<String, ConfigRepr>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table of named pools")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pools = HashMap::with_capacity(map.size_hint().unwrap_or(0).min(64));
            while let Some(name) = map.next_key::<String>()? {
                if pools.contains_key(&name) {
                    return Err(de::Error::custom(format_args!("pool `{name}` is defined twice: keep one")));
                }
                let config = map.next_value::<ConfigRepr>()?;
                pools.insert(name, config);
            }
            Ok(pools)
        }
    }

    deserializer.deserialize_map(Unique)
}

/// What [`Pools`] serializes as: sorted by name, so the output is stable.
#[derive(Serialize)]
struct PoolsFileRef<'a> {
    connection_pools: BTreeMap<&'a str, &'a Config>,
}

impl Pools {
    /// Parses a TOML document with a `[connection_pools.NAME]` table per pool.
    ///
    /// # Errors
    ///
    /// [`ConfigFileError::Invalid`] for bad TOML, an unknown field, or a value of the wrong
    /// type or format; it names the field path and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = cenote_front::Pools::from_toml_str("[connection_pools.db]\nmax_size = \"ten\"\n")
    ///     .unwrap_err();
    /// assert_eq!(err.field(), Some("connection_pools.db.max_size"));
    /// assert!(err.to_string().contains(r#"string "ten""#));
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigFileError> {
        parse(text, Format::Toml, None)
    }

    /// Parses a YAML document with a `connection_pools:` mapping of named pools.
    ///
    /// # Errors
    ///
    /// As [`Pools::from_toml_str`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pools = cenote_front::Pools::from_yaml_str(
    ///     "connection_pools:\n  database:\n    max_size: 8\n    max_idle_time: 5m\n",
    /// )?;
    /// assert_eq!(pools["database"].idle_timeout, Some(std::time::Duration::from_secs(300)));
    /// # Ok::<(), cenote_front::ConfigFileError>(())
    /// ```
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigFileError> {
        parse(text, Format::Yaml, None)
    }

    /// Reads and parses a file, as TOML (`.toml`) or YAML (`.yaml`, `.yml`) by its extension.
    ///
    /// # Errors
    ///
    /// [`ConfigFileError::Read`] if it cannot be read, [`ConfigFileError::UnknownFormat`] for
    /// another extension, else as [`Pools::from_toml_str`] (the error names the file).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let pools = cenote_front::Pools::from_file("config/pools.toml")?;
    /// let database = pools.get("database").ok_or("no `database` pool in the file")?;
    /// # let _ = database;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigFileError> {
        load(path.as_ref())
    }

    /// The map itself.
    ///
    /// # Examples
    ///
    /// ```
    /// let pools = cenote_front::Pools::from_toml_str("[connection_pools.a]\n")?;
    /// let map: std::collections::HashMap<String, cenote_front::Config> = pools.into_inner();
    /// assert_eq!(map["a"].name, "a");
    /// # Ok::<(), cenote_front::ConfigFileError>(())
    /// ```
    pub fn into_inner(self) -> HashMap<String, Config> {
        self.0
    }
}

impl Deref for Pools {
    type Target = HashMap<String, Config>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Pools {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<Pools> for HashMap<String, Config> {
    fn from(pools: Pools) -> Self {
        pools.0
    }
}

impl FromIterator<(String, Config)> for Pools {
    fn from_iter<I: IntoIterator<Item = (String, Config)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl IntoIterator for Pools {
    type Item = (String, Config);
    type IntoIter = std::collections::hash_map::IntoIter<String, Config>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// The file shape: `{ connection_pools: { NAME: { ...Config... }, ... } }`, a pool's `name`
/// defaulting to its key.
impl<'de> Deserialize<'de> for Pools {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let file = PoolsFile::deserialize(deserializer)?;
        Ok(file
            .connection_pools
            .into_iter()
            .map(|(key, repr)| {
                let config = repr.into_config(&key);
                (key, config)
            })
            .collect())
    }
}

/// The file shape, pools sorted by name, each with its `name` written out.
impl Serialize for Pools {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let connection_pools = self.0.iter().map(|(key, config)| (key.as_str(), config)).collect();
        PoolsFileRef { connection_pools }.serialize(serializer)
    }
}

impl Config {
    /// Parses one pool's options from TOML: `max_size = 16`, `idle_timeout = "10m"`, ...
    /// (the [crate docs](crate#configuration-from-a-file) list the shape and the aliases).
    /// Missing fields keep their [`Config::default`] value; the name defaults
    /// to `"cenote"`.
    ///
    /// # Errors
    ///
    /// [`ConfigFileError::Invalid`], naming the field and the value. The values are checked
    /// later, by `build()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use cenote_front::Config;
    ///
    /// let config = Config::from_toml_str(r#"
    ///     max_size = 16
    ///     test_before_acquire = true     # validate_on_acquire
    ///     acquire_timeout = "none"       # wait forever
    ///     max_lifetime = "1h"
    ///     create_backoff = { first = "10ms", max = "1s" }
    /// "#)?;
    /// assert!(config.validate_on_acquire);
    /// assert_eq!(config.acquire_timeout, None);
    /// assert_eq!(config.max_lifetime, Some(Duration::from_secs(3600)));
    /// assert_eq!(config.create_backoff, (Duration::from_millis(10), Duration::from_secs(1)));
    /// assert_eq!(config.min_idle, Config::default().min_idle);
    ///
    /// let err = Config::from_toml_str("max_sise = 4").unwrap_err();
    /// assert!(err.to_string().contains("unknown field `max_sise`"));
    /// # Ok::<(), cenote_front::ConfigFileError>(())
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigFileError> {
        parse(text, Format::Toml, None)
    }

    /// Parses one pool's options from YAML, as [`Config::from_toml_str`] does from TOML.
    ///
    /// # Errors
    ///
    /// As [`Config::from_toml_str`].
    ///
    /// # Examples
    ///
    /// ```
    /// let config = cenote_front::Config::from_yaml_str("max_size: 4\nidle_timeout: ~\n")?;
    /// assert_eq!((config.max_size, config.idle_timeout), (4, None));
    /// # Ok::<(), cenote_front::ConfigFileError>(())
    /// ```
    pub fn from_yaml_str(text: &str) -> Result<Self, ConfigFileError> {
        parse(text, Format::Yaml, None)
    }

    /// Reads one pool's options from a file, as TOML (`.toml`) or YAML (`.yaml`, `.yml`) by
    /// its extension.
    ///
    /// # Errors
    ///
    /// As [`Pools::from_file`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let config = cenote_front::Config::from_file("config/pool.yaml")?;
    /// # let _ = config;
    /// # Ok::<(), cenote_front::ConfigFileError>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigFileError> {
        load(path.as_ref())
    }
}

/// Reads `file` and parses it in the format its extension names.
fn load<T: DeserializeOwned>(file: &Path) -> Result<T, ConfigFileError> {
    let Some(format) = Format::from_path(file) else {
        return Err(ConfigFileError::UnknownFormat { file: file.to_owned() });
    };
    let text = std::fs::read_to_string(file)
        .map_err(|source| ConfigFileError::Read { file: file.to_owned(), source })?;
    parse(&text, format, Some(file))
}

/// Parses `text` as `format`, tracking the field path for the error.
fn parse<T: DeserializeOwned>(text: &str, format: Format, file: Option<&Path>) -> Result<T, ConfigFileError> {
    let invalid = |field: Option<String>,
                   position,
                   message: String,
                   source: Box<dyn StdError + Send + Sync>| {
        ConfigFileError::Invalid { file: file.map(Path::to_owned), format, field, position, message, source }
    };
    match format {
        Format::Toml => {
            let toml_error = |field, e: toml::de::Error| {
                let position = e.span().map(|span| line_column(text, span.start));
                invalid(field, position, e.message().trim_end().to_owned(), Box::new(e))
            };
            let deserializer = toml::de::Deserializer::parse(text).map_err(|e| toml_error(None, e))?;
            serde_path_to_error::deserialize(deserializer).map_err(|e| {
                let field = field_path(&e);
                toml_error(field, e.into_inner())
            })
        }
        Format::Yaml => {
            let deserializer = yaml_serde::Deserializer::from_str(text);
            serde_path_to_error::deserialize(deserializer).map_err(|e| {
                let field = field_path(&e);
                let e = e.into_inner();
                let position = e.location().map(|at| (at.line(), at.column()));
                // yaml_serde's message is "PATH: MESSAGE at line L column C": keep MESSAGE.
                let mut message = e.to_string();
                if let Some(at) = e.location() {
                    let suffix = format!(" at line {} column {}", at.line(), at.column());
                    if let Some(stripped) = message.strip_suffix(&suffix) {
                        message.truncate(stripped.len());
                    }
                }
                // Its PATH stops at the struct for an unknown field, ours names the field too.
                if let Some(end) = message.find(": ") {
                    let yaml_path = &message[..end];
                    let ours = field.as_deref().unwrap_or(".");
                    if ours == yaml_path
                        || ours.strip_prefix(yaml_path).is_some_and(|rest| rest.starts_with('.'))
                    {
                        message.drain(..end + 2);
                    }
                }
                invalid(field, position, message, Box::new(e))
            })
        }
    }
}

/// The path serde_path_to_error tracked, `None` at the top level.
fn field_path<E>(error: &serde_path_to_error::Error<E>) -> Option<String> {
    let path = error.path().to_string();
    (path != ".").then_some(path)
}

/// The line and column (from 1, in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

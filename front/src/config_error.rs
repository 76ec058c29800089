//! What goes wrong loading a configuration file (feature `serde`): [`ConfigFileError`], and
//! the [`Format`] a file was read as.

use core::fmt;
use std::error::Error as StdError;
use std::path::{Path, PathBuf};

/// A configuration file format.
///
/// # Examples
///
/// ```
/// use cenote_front::Format;
///
/// assert_eq!(Format::from_path("pools.yml".as_ref()), Some(Format::Yaml));
/// assert_eq!(Format::from_path("pools.ini".as_ref()), None);
/// assert_eq!(Format::Toml.to_string(), "TOML");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// TOML (`.toml`).
    Toml,
    /// YAML (`.yaml`, `.yml`).
    Yaml,
}

impl Format {
    /// The format a file's extension names (case-insensitive), if any.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "toml" => Some(Self::Toml),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Toml => "TOML",
            Self::Yaml => "YAML",
        })
    }
}

/// A configuration that could not be loaded: the file, the format, the field path and the
/// bad value, and what to do. [`source`](StdError::source) is the I/O or parser error.
///
/// # Examples
///
/// ```
/// let err = cenote_front::Config::from_yaml_str("idle_timeout: 10 parsecs\n").unwrap_err();
/// assert_eq!(err.field(), Some("idle_timeout"));
/// let message = err.to_string();
/// assert!(message.contains("idle_timeout") && message.contains("\"10 parsecs\""), "{message}");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// The file could not be read.
    #[non_exhaustive]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's extension names no format this crate reads.
    #[non_exhaustive]
    UnknownFormat {
        /// The file.
        file: PathBuf,
    },
    /// The text is not valid in its format, or does not fit the configuration (an unknown
    /// field, a value of the wrong type, a bad duration).
    #[non_exhaustive]
    Invalid {
        /// The file, if the text came from one.
        file: Option<PathBuf>,
        /// The format it was read as.
        format: Format,
        /// The path of the bad field (`connection_pools.database.max_size`); `None` when the
        /// text itself is malformed or the error is at the top level.
        field: Option<String>,
        /// The line and column (from 1), if the parser knows them.
        position: Option<(usize, usize)>,
        /// The parser's message, naming the bad value and what was expected.
        message: String,
        /// The parser's error.
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl ConfigFileError {
    /// The path of the bad field (`connection_pools.database.max_size`), if one is to blame.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => field.as_deref(),
            Self::Read { .. } | Self::UnknownFormat { .. } => None,
        }
    }

    /// The file, if the configuration came from one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::Read { file, .. } | Self::UnknownFormat { file } => Some(file),
            Self::Invalid { file, .. } => file.as_deref(),
        }
    }
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { file, source } => write!(
                f,
                "cannot read the pool configuration file {}: {source}; check the path (a relative one starts at the current directory)",
                file.display()
            ),
            Self::UnknownFormat { file } => write!(
                f,
                "pool configuration file {}: unknown format; name it *.toml, *.yaml or *.yml, or parse its text with from_toml_str/from_yaml_str",
                file.display()
            ),
            Self::Invalid { file, format, field, position, message, .. } => {
                match file {
                    Some(file) => write!(f, "{format} pool configuration {}", file.display())?,
                    None => write!(f, "{format} pool configuration")?,
                }
                if let Some((line, column)) = position {
                    write!(f, " (line {line}, column {column})")?;
                }
                match field {
                    Some(field) => write!(
                        f,
                        ": {field}: {message}; fix this entry (cenote's Config docs list the fields, their aliases and the duration format)"
                    ),
                    None => write!(f, ": {message}; fix the {format} at this place"),
                }
            }
        }
    }
}

impl StdError for ConfigFileError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            Self::Invalid { source, .. } => Some(&**source),
            Self::UnknownFormat { .. } => None,
        }
    }
}

//! `Config` as a serde type (feature `serde`): the file shape of one pool's options.
//!
//! [`Config`] keeps its plain Rust shape; this module maps it to and from a private mirror,
//! [`ConfigRepr`], that carries the serde attributes: human durations, the aliases, unknown
//! fields rejected, every field optional (missing ones take [`Config::default`]'s value). The
//! conversions destructure `Config` completely, so a field added to it without a file name
//! here does not compile.

use core::fmt;
use core::time::Duration;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::{Config, DEFAULT_CREATE_BACKOFF};

/// One pool's options as they are written in a file. `name: None` means "not given": a pool
/// of a [`Pools`](crate::Pools) map then takes its key as its name, a lone config `"cenote"`.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table of pool options (max_size, min_idle, ...)")]
pub(crate) struct ConfigRepr {
    #[serde(alias = "max_connections", alias = "max_pool_size")]
    max_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity: Option<usize>,
    #[serde(alias = "min_size", alias = "min_connections")]
    min_idle: usize,
    #[serde(with = "opt_duration", alias = "connection_timeout", alias = "wait_timeout")]
    acquire_timeout: Option<Duration>,
    #[serde(with = "opt_duration", alias = "connect_timeout")]
    create_timeout: Option<Duration>,
    #[serde(with = "opt_duration", alias = "max_idle_time")]
    idle_timeout: Option<Duration>,
    #[serde(with = "opt_duration")]
    max_lifetime: Option<Duration>,
    #[serde(alias = "test_before_acquire", alias = "test_on_check_out")]
    validate_on_acquire: bool,
    #[serde(with = "opt_duration")]
    health_check_interval: Option<Duration>,
    #[serde(with = "opt_duration", alias = "alive_bypass_window")]
    validate_idle_after: Option<Duration>,
    #[serde(with = "duration", alias = "validation_timeout")]
    health_check_timeout: Duration,
    create_backoff: BackoffRepr,
    #[serde(with = "duration")]
    maintenance_interval: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    maintenance_thread: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_errors: Option<u32>,
    max_pending_creates: usize,
    #[serde(with = "opt_duration")]
    leak_detection_threshold: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_waiters: Option<usize>,
    reserve: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    circuit_breaker: Option<BreakerRepr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    autoscale: Option<AutoscaleRepr>,
}

/// `autoscale = { min = 2, max = 32, cooldown = "30s" }`; a missing field keeps its default
/// ([`Autoscale::default`](crate::Autoscale)).
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table { min = 2, max = 32, cooldown = \"30s\", ... }")]
struct AutoscaleRepr {
    min: usize,
    max: usize,
    target_utilization: f64,
    scale_up_at: f64,
    scale_down_at: f64,
    #[serde(with = "duration")]
    cooldown: Duration,
    step: usize,
    #[serde(with = "duration")]
    max_wait_p99: Duration,
}

impl Default for AutoscaleRepr {
    fn default() -> Self {
        Self::from(crate::Autoscale::default())
    }
}

impl From<crate::Autoscale> for AutoscaleRepr {
    fn from(a: crate::Autoscale) -> Self {
        let crate::Autoscale {
            min,
            max,
            target_utilization,
            scale_up_at,
            scale_down_at,
            cooldown,
            step,
            max_wait_p99,
        } = a;
        Self { min, max, target_utilization, scale_up_at, scale_down_at, cooldown, step, max_wait_p99 }
    }
}

impl From<AutoscaleRepr> for crate::Autoscale {
    fn from(a: AutoscaleRepr) -> Self {
        let AutoscaleRepr {
            min,
            max,
            target_utilization,
            scale_up_at,
            scale_down_at,
            cooldown,
            step,
            max_wait_p99,
        } = a;
        Self { min, max, target_utilization, scale_up_at, scale_down_at, cooldown, step, max_wait_p99 }
    }
}

/// `circuit_breaker = { failures = 5, open_for = "5s" }`: both halves required.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table { failures = 5, open_for = \"5s\" }")]
struct BreakerRepr {
    failures: u32,
    #[serde(with = "duration")]
    open_for: Duration,
}

/// `create_backoff = { first = "5ms", max = "500ms" }`; a missing half keeps its default.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "a table { first = \"5ms\", max = \"500ms\" }")]
struct BackoffRepr {
    #[serde(with = "duration", alias = "initial")]
    first: Duration,
    #[serde(with = "duration", alias = "maximum")]
    max: Duration,
}

impl Default for BackoffRepr {
    fn default() -> Self {
        let (first, max) = DEFAULT_CREATE_BACKOFF;
        Self { first, max }
    }
}

impl Default for ConfigRepr {
    fn default() -> Self {
        let mut repr = Self::from(Config::default());
        repr.name = None;
        repr
    }
}

impl From<Config> for ConfigRepr {
    fn from(config: Config) -> Self {
        let Config {
            max_size,
            capacity,
            min_idle,
            acquire_timeout,
            create_timeout,
            idle_timeout,
            max_lifetime,
            validate_on_acquire,
            health_check_interval,
            validate_idle_after,
            health_check_timeout,
            create_backoff: (first, max),
            maintenance_interval,
            maintenance_thread,
            max_errors,
            max_pending_creates,
            leak_detection_threshold,
            max_waiters,
            reserve,
            circuit_breaker,
            name,
            autoscale,
        } = config;
        Self {
            max_size,
            capacity,
            min_idle,
            acquire_timeout,
            create_timeout,
            idle_timeout,
            max_lifetime,
            validate_on_acquire,
            health_check_interval,
            validate_idle_after,
            health_check_timeout,
            create_backoff: BackoffRepr { first, max },
            maintenance_interval,
            maintenance_thread,
            max_errors,
            max_pending_creates,
            leak_detection_threshold,
            max_waiters,
            reserve,
            circuit_breaker: circuit_breaker
                .map(|b| BreakerRepr { failures: b.failures, open_for: b.open_for }),
            name: Some(name),
            autoscale: autoscale.map(AutoscaleRepr::from),
        }
    }
}

impl ConfigRepr {
    /// The config, named `default_name` if the file gave no name.
    pub(crate) fn into_config(self, default_name: &str) -> Config {
        let Self {
            max_size,
            capacity,
            min_idle,
            acquire_timeout,
            create_timeout,
            idle_timeout,
            max_lifetime,
            validate_on_acquire,
            health_check_interval,
            validate_idle_after,
            health_check_timeout,
            create_backoff: BackoffRepr { first, max },
            maintenance_interval,
            maintenance_thread,
            max_errors,
            max_pending_creates,
            leak_detection_threshold,
            max_waiters,
            reserve,
            circuit_breaker,
            name,
            autoscale,
        } = self;
        Config {
            max_size,
            capacity,
            min_idle,
            acquire_timeout,
            create_timeout,
            idle_timeout,
            max_lifetime,
            validate_on_acquire,
            health_check_interval,
            validate_idle_after,
            health_check_timeout,
            create_backoff: (first, max),
            maintenance_interval,
            maintenance_thread,
            max_errors,
            max_pending_creates,
            leak_detection_threshold,
            max_waiters,
            reserve,
            circuit_breaker: circuit_breaker.map(|b| crate::CircuitBreaker::new(b.failures, b.open_for)),
            name: name.unwrap_or_else(|| default_name.to_owned()),
            autoscale: autoscale.map(crate::Autoscale::from),
        }
    }
}

/// Serializes as the file shape: durations as human strings (`"30s"`, `"500ms"`), an unset
/// duration as `"none"`, other unset options left out.
impl Serialize for Config {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ConfigRepr::from(self.clone()).serialize(serializer)
    }
}

/// Deserializes the file shape (see [`Config::from_toml_str`] for it): every field optional,
/// unknown fields rejected by name. Values are not checked here: `build()` does
/// ([`BuildError`](crate::BuildError)).
impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let default_name = Config::default().name;
        ConfigRepr::deserialize(deserializer).map(|repr| repr.into_config(&default_name))
    }
}

/// What a duration looks like, for error messages.
const DURATION_FORMS: &str = "a number and a unit, such as \"30s\", \"10m\", \"1h\" or \"500ms\"";

/// Parses a human duration (humantime's format: `"30s"`, `"1h 30m"`, `"500ms"`).
fn parse_duration<E: de::Error>(text: &str, optional: bool) -> Result<Duration, E> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        let or_none = if optional { ", or \"none\" to turn it off" } else { "" };
        E::custom(format_args!("invalid duration {text:?} ({e}): write {DURATION_FORMS}{or_none}"))
    })
}

/// A required duration (`"30s"`), by `#[serde(with)]`.
mod duration {
    use super::{parse_duration, Duration, DURATION_FORMS};
    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;

    pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_str(Required)
    }

    struct Required;

    impl Visitor<'_> for Required {
        type Value = Duration;

        fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "a duration: {DURATION_FORMS}")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            parse_duration(text, false)
        }
    }
}

/// An optional duration (`"30s"`, or `"none"`/null for `None`), by `#[serde(with)]`.
mod opt_duration {
    use super::{fmt, parse_duration, Duration, DURATION_FORMS};
    use serde::de::{self, Deserializer, Visitor};
    use serde::ser::Serializer;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::duration::serialize(value, serializer),
            // TOML has no null: "none" reads back in every format.
            None => serializer.serialize_str("none"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_option(Optional)
    }

    struct Optional;

    impl<'de> Visitor<'de> for Optional {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a duration ({DURATION_FORMS}) or \"none\"")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(self)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            if text.trim().eq_ignore_ascii_case("none") {
                Ok(None)
            } else {
                parse_duration(text, true).map(Some)
            }
        }
    }
}

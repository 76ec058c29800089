//! Configuration from a file (feature `serde`): the example files in TOML and YAML, every
//! alias, human durations and "none", defaults for missing fields, errors that name the field
//! and the value, round trips, and loaded configs building real pools in both front ends.

use std::convert::Infallible;
use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cenote_front::{BuildError, Config, ConfigFileError, Format, Pools};
use proptest::prelude::*;

/// `examples/config/NAME` in the workspace.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/config").join(name)
}

/// `database` and `redis` as `examples/config/pools.{toml,yaml}` write them.
fn expected_pools() -> Pools {
    let mut database = Config::new(4);
    database.acquire_timeout = Some(Duration::from_secs(10));
    database.validate_on_acquire = true;
    database.max_lifetime = None;
    database.health_check_timeout = Duration::from_secs(2);
    database.maintenance_interval = Duration::from_secs(30);
    database.create_backoff = (Duration::from_millis(5), Duration::from_millis(500));
    database.name = "database".into();

    let mut redis = Config::new(16);
    redis.name = "cache".into();
    redis.capacity = Some(32);
    redis.min_idle = 1;
    redis.acquire_timeout = Some(Duration::from_millis(500));
    redis.create_timeout = Some(Duration::from_secs(2));
    redis.idle_timeout = Some(Duration::from_secs(600));
    redis.max_lifetime = Some(Duration::from_secs(3600));
    redis.health_check_interval = Some(Duration::from_secs(30));
    redis.max_errors = Some(3);
    redis.create_backoff = (Duration::from_millis(10), Duration::from_secs(1));

    [("database".to_owned(), database), ("redis".to_owned(), redis)].into_iter().collect()
}

#[test]
fn the_example_files_load_and_agree() {
    let toml = Pools::from_file(example("pools.toml")).unwrap();
    let yaml = Pools::from_file(example("pools.yaml")).unwrap();
    assert_eq!(toml, expected_pools());
    assert_eq!(yaml, expected_pools());
    // The map is a `HashMap<String, Config>`.
    let map: std::collections::HashMap<String, Config> = yaml.into_inner();
    assert_eq!(map.len(), 2);
    // `.yml` is YAML too; the extension is matched without regard to case.
    assert_eq!(Format::from_path(Path::new("x/pools.YML")), Some(Format::Yaml));
}

#[test]
fn every_alias_sets_its_field() {
    // (alias, field, a TOML value that differs from the default)
    let cases = [
        ("min_size", "min_idle", "3"),
        ("min_connections", "min_idle", "3"),
        ("max_connections", "max_size", "7"),
        ("max_pool_size", "max_size", "7"),
        ("test_before_acquire", "validate_on_acquire", "true"),
        ("test_on_check_out", "validate_on_acquire", "true"),
        ("max_idle_time", "idle_timeout", "\"90s\""),
        ("connection_timeout", "acquire_timeout", "\"2m\""),
        ("wait_timeout", "acquire_timeout", "\"2m\""),
        ("connect_timeout", "create_timeout", "\"3s\""),
        ("validation_timeout", "health_check_timeout", "\"750ms\""),
    ];
    for (alias, field, value) in cases {
        let by_alias = Config::from_toml_str(&format!("{alias} = {value}")).unwrap();
        let by_field = Config::from_toml_str(&format!("{field} = {value}")).unwrap();
        assert_eq!(by_alias, by_field, "{alias} = {field}");
        assert_ne!(by_alias, Config::default(), "{alias} changed nothing");
        let yaml_value = value.trim_matches('"');
        let in_yaml = Config::from_yaml_str(&format!("{alias}: {yaml_value}")).unwrap();
        assert_eq!(in_yaml, by_field, "{alias} in YAML");

        // Both spellings at once is an error, not a silent choice.
        let both = Config::from_toml_str(&format!("{alias} = {value}\n{field} = {value}")).unwrap_err();
        assert!(both.to_string().contains(&format!("duplicate field `{field}`")), "{both}");
    }
    let backoff = Config::from_toml_str("create_backoff = { initial = \"1ms\", maximum = \"2s\" }").unwrap();
    assert_eq!(backoff.create_backoff, (Duration::from_millis(1), Duration::from_secs(2)));
}

#[test]
fn missing_fields_keep_the_defaults_and_pools_are_named_by_their_key() {
    assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    assert_eq!(Config::from_yaml_str("{}").unwrap(), Config::default());

    let config = Config::from_toml_str("max_size = 3\ncreate_backoff = { max = \"2s\" }").unwrap();
    let mut expected = Config::new(3);
    expected.create_backoff.1 = Duration::from_secs(2);
    assert_eq!(config, expected);

    let pools =
        Pools::from_toml_str("[connection_pools.orders]\n[connection_pools.users]\nname = \"u\"").unwrap();
    let mut orders = Config::default();
    orders.name = "orders".into();
    assert_eq!(pools["orders"], orders);
    assert_eq!(pools["users"].name, "u");
}

#[test]
fn durations_are_human_and_none_turns_one_off() {
    let config = Config::from_toml_str(
        "acquire_timeout = \"none\"\nidle_timeout = \"1h 30m\"\nmax_lifetime = \"500ms\"\nmaintenance_interval = \"10m\"",
    )
    .unwrap();
    assert_eq!(config.acquire_timeout, None);
    assert_eq!(config.idle_timeout, Some(Duration::from_secs(5400)));
    assert_eq!(config.max_lifetime, Some(Duration::from_millis(500)));
    assert_eq!(config.maintenance_interval, Duration::from_secs(600));
    for null in ["~", "null", "none", "None"] {
        let yaml = Config::from_yaml_str(&format!("acquire_timeout: {null}")).unwrap();
        assert_eq!(yaml.acquire_timeout, None, "{null}");
    }
    // A required duration has no "none".
    let err = Config::from_toml_str("maintenance_interval = \"none\"").unwrap_err();
    assert_eq!(err.field(), Some("maintenance_interval"));
}

#[test]
fn an_unknown_field_is_rejected_by_name() {
    let err = Config::from_toml_str("max_size = 4\nmax_sise = 5").unwrap_err();
    assert!(err.to_string().contains("unknown field `max_sise`"), "{err}");

    let err = Pools::from_yaml_str("connection_pools:\n  database:\n    idle_timeuot: 5m\n").unwrap_err();
    let message = err.to_string();
    assert_eq!(err.field(), Some("connection_pools.database.idle_timeuot"));
    assert!(
        message.contains("connection_pools.database.idle_timeuot: unknown field `idle_timeuot`"),
        "{message}"
    );

    let err = Pools::from_toml_str("[connection_pools.db.create_backoff]\nfirts = \"1ms\"").unwrap_err();
    assert_eq!(err.field(), Some("connection_pools.db.create_backoff.firts"));
    assert!(err.to_string().contains("unknown field `firts`"), "{err}");

    let err = Pools::from_toml_str("[pools.db]\nmax_size = 1").unwrap_err();
    assert!(err.to_string().contains("unknown field `pools`"), "{err}");
}

#[test]
fn a_bad_value_names_the_field_and_the_value() {
    let toml = "[connection_pools.database]\nmax_size = \"ten\"\n";
    let err = Pools::from_toml_str(toml).unwrap_err();
    let message = err.to_string();
    assert_eq!(err.field(), Some("connection_pools.database.max_size"));
    assert!(
        message.contains(r#"connection_pools.database.max_size: invalid type: string "ten", expected usize"#),
        "{message}"
    );
    assert!(message.contains("TOML") && message.contains("line 2"), "{message}");
    assert!(err.source().unwrap().downcast_ref::<toml::de::Error>().is_some());

    let yaml = "connection_pools:\n  database:\n    max_size: ten\n";
    let err = Pools::from_yaml_str(yaml).unwrap_err();
    let message = err.to_string();
    assert_eq!(err.field(), Some("connection_pools.database.max_size"));
    assert!(
        message.contains(r#"connection_pools.database.max_size: invalid type: string "ten", expected usize"#),
        "{message}"
    );
    assert!(message.contains("YAML") && message.contains("line 3"), "{message}");
    assert!(err.source().unwrap().downcast_ref::<yaml_serde::Error>().is_some());

    for (text, format) in [
        ("[connection_pools.redis]\nidle_timeout = \"10 parsecs\"", Format::Toml),
        ("connection_pools:\n  redis:\n    idle_timeout: 10 parsecs", Format::Yaml),
    ] {
        let err = match format {
            Format::Toml => Pools::from_toml_str(text),
            _ => Pools::from_yaml_str(text),
        }
        .unwrap_err();
        let message = err.to_string();
        assert_eq!(err.field(), Some("connection_pools.redis.idle_timeout"), "{message}");
        assert!(message.contains(r#"invalid duration "10 parsecs""#), "{message}");
        assert!(message.contains(r#""30s""#), "the message shows the format: {message}");
    }

    // A bare number is not a duration: the unit is never guessed.
    let err = Config::from_toml_str("idle_timeout = 30").unwrap_err();
    assert_eq!(err.field(), Some("idle_timeout"));
    assert!(err.to_string().contains("integer `30`"), "{err}");
    let err = Config::from_yaml_str("idle_timeout: 30").unwrap_err();
    assert_eq!(err.field(), Some("idle_timeout"));
    assert!(err.to_string().contains("\"30\""), "{err}");

    // Malformed text: no field to blame, but the place and the format.
    let err = Config::from_toml_str("max_size = = 3").unwrap_err();
    assert_eq!(err.field(), None);
    assert!(err.to_string().starts_with("TOML pool configuration (line 1"), "{err}");
}

#[test]
fn file_errors_name_the_file() {
    let missing = example("no-such-file.toml");
    let err = Pools::from_file(&missing).unwrap_err();
    assert!(matches!(err, ConfigFileError::Read { .. }), "{err:?}");
    assert_eq!(err.file(), Some(missing.as_path()));
    assert!(err.to_string().contains("no-such-file.toml"), "{err}");
    assert!(err.source().unwrap().downcast_ref::<std::io::Error>().is_some());

    let err = Config::from_file(example("pools.ini")).unwrap_err();
    assert!(matches!(err, ConfigFileError::UnknownFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("*.toml, *.yaml or *.yml"), "{err}");

    let bad = std::env::temp_dir().join(format!("cenote-config-test-{}.yaml", std::process::id()));
    std::fs::write(&bad, "connection_pools:\n  db:\n    min_idle: -1\n").unwrap();
    let err = Pools::from_file(&bad).unwrap_err();
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(err.file(), Some(bad.as_path()));
    assert_eq!(err.field(), Some("connection_pools.db.min_idle"));
    assert!(err.to_string().contains(&bad.display().to_string()), "{err}");
    assert!(err.to_string().contains("-1"), "{err}");
}

#[test]
fn loading_only_parses_and_build_checks() {
    let config = Config::from_toml_str("max_size = 0").unwrap();
    let built = cenote_sync::Pool::builder(Unit).config(&config).build();
    assert_eq!(built.err(), Some(BuildError::ZeroMaxSize));
}

#[test]
fn serialize_then_deserialize_is_the_identity() {
    let pools = expected_pools();
    let toml = toml::to_string(&pools).unwrap();
    assert!(toml.contains("max_lifetime = \"none\""), "None is written as \"none\":\n{toml}");
    assert!(toml.contains("max_lifetime = \"1h\""), "durations are human:\n{toml}");
    assert_eq!(Pools::from_toml_str(&toml).unwrap(), pools, "{toml}");
    let yaml = yaml_serde::to_string(&pools).unwrap();
    assert_eq!(Pools::from_yaml_str(&yaml).unwrap(), pools, "{yaml}");

    // Every field away from its default, odd durations included.
    let mut config = Config::new(9);
    config.capacity = Some(12);
    config.min_idle = 1;
    config.acquire_timeout = None;
    config.create_timeout = Some(Duration::new(1, 500));
    config.idle_timeout = Some(Duration::from_micros(1_500_001));
    config.max_lifetime = Some(Duration::from_secs(86_400 * 3 + 7));
    config.validate_on_acquire = true;
    config.health_check_interval = Some(Duration::from_millis(1));
    config.health_check_timeout = Duration::from_secs(61);
    config.create_backoff = (Duration::from_nanos(3), Duration::from_secs(9));
    config.maintenance_interval = Duration::from_millis(250);
    config.maintenance_thread = Some(false);
    config.max_errors = Some(0);
    config.name = "all \"set\"".into();
    assert_eq!(Config::from_toml_str(&toml::to_string(&config).unwrap()).unwrap(), config);
    assert_eq!(Config::from_yaml_str(&yaml_serde::to_string(&config).unwrap()).unwrap(), config);
    let default = Config::default();
    assert_eq!(Config::from_toml_str(&toml::to_string(&default).unwrap()).unwrap(), default);
}

/// A manager of nothing, for both front ends.
struct Unit;

impl cenote_sync::Manager for Unit {
    type Connection = ();
    type Error = Infallible;
    fn create(&self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl cenote_async::Manager for Unit {
    type Connection = ();
    type Error = Infallible;
    async fn create(&self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn a_loaded_config_builds_a_blocking_pool() {
    let pools = Pools::from_file(example("pools.toml")).unwrap();
    let database = &pools["database"];
    let builder = cenote_sync::Pool::builder(Unit).config(database);
    assert_eq!(builder.current_config(), database);
    let pool = builder.build().unwrap();
    assert_eq!(pool.config(), database);
    assert_eq!(pool.config().name, "database");
    assert_eq!(pool.status().max_size, 4);
    assert!(pool.config().validate_on_acquire, "test_before_acquire = true from the file");
    assert_eq!(pool.config().acquire_timeout, Some(Duration::from_secs(10)));
    let held: Vec<_> = (0..4).map(|_| pool.get().unwrap()).collect();
    assert!(pool.try_get().is_none(), "max_size = 4 from the file");
    drop(held);
    assert_eq!(pool.status().idle, 4);

    // The blocking front end rejects `create_timeout` (redis sets it): checked at build.
    let err = cenote_sync::Pool::builder(Unit).config(&pools["redis"]).build().err();
    assert!(matches!(err, Some(BuildError::Unsupported { option: "create_timeout", .. })), "{err:?}");
}

#[test]
fn a_loaded_config_builds_an_async_pool() {
    let pools = Pools::from_file(example("pools.yaml")).unwrap();
    let redis = &pools["redis"];
    let pool = cenote_async::Pool::builder(Unit).config(redis).build().unwrap();
    assert_eq!(pool.config(), redis);
    assert_eq!(pool.config().name, "cache");
    assert_eq!(pool.config().create_timeout, Some(Duration::from_secs(2)));
    assert_eq!(pool.status().max_size, 16);
    assert_eq!(futures_lite::future::block_on(pool.warm()).unwrap(), 1, "min_idle = 1 from the file");
    // capacity = 32 from the file: room to grow past max_size.
    pool.resize(32).unwrap();
    assert_eq!(pool.status().max_size, 32);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text is an answer, never a panic.
    #[test]
    fn no_input_panics(text in "(?s).{0,200}") {
        let _ = Config::from_toml_str(&text);
        let _ = Config::from_yaml_str(&text);
        let _ = Pools::from_toml_str(&text);
        let _ = Pools::from_yaml_str(&text);
    }

    /// Text made of the file's own pieces, to reach the deeper paths.
    #[test]
    fn no_near_miss_panics(
        key in prop::sample::select(vec!["max_size", "idle_timeout", "create_backoff", "min_size", "name", "x"]),
        value in prop::sample::select(vec!["1", "-1", "\"1s\"", "\"none\"", "{ first = \"1s\" }", "[]", "true", "\"\"", "1e99"]),
    ) {
        let text = format!("[connection_pools.p]\n{key} = {value}\n");
        let _ = Pools::from_toml_str(&text);
        let _ = Pools::from_yaml_str(&format!("connection_pools:\n  p:\n    {key}: {}\n", value.replace(" = ", ": ")));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    let toml = format!("max_size = {}{}", "[".repeat(deep), "]".repeat(deep));
    assert!(Config::from_toml_str(&toml).is_err());
    let toml = format!("connection_pools = {}", "{ a = ".repeat(deep));
    assert!(Pools::from_toml_str(&toml).is_err());
    // The YAML scanner is slower on deep flow nesting (about quadratic), so less deep here;
    // its recursion limit stops the parse either way.
    let deep = 5_000;
    let yaml = format!("max_size: {}{}", "[".repeat(deep), "]".repeat(deep));
    assert!(Config::from_yaml_str(&yaml).is_err());
    let yaml = format!("connection_pools: {}", "{a: ".repeat(deep));
    assert!(Pools::from_yaml_str(&yaml).is_err());
}

#[test]
fn a_pool_defined_twice_is_an_error() {
    let err = Pools::from_yaml_str("connection_pools:\n  a:\n    max_size: 1\n  a:\n    max_size: 2\n")
        .unwrap_err();
    assert!(err.to_string().contains("pool `a` is defined twice"), "{err}");
    assert!(Pools::from_toml_str("[connection_pools.a]\nmax_size = 1\n[connection_pools.a]\nmax_size = 2\n")
        .is_err());
    // A field given twice in one pool is an error too.
    let err = Config::from_yaml_str("max_size: 1\nmax_size: 2\n").unwrap_err();
    assert!(err.to_string().contains("duplicate field `max_size`"), "{err}");
}

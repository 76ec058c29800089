//! The builder refuses bad options with an error that says what to change; it never panics.

use std::time::Duration;

use cenote_keyed::sync::{KeyedManager, KeyedPool};
use cenote_keyed::{BuildError, KeyedConfig};

struct Numbers;

impl KeyedManager<u32> for Numbers {
    type Connection = u32;
    type Error = std::convert::Infallible;
    fn create(&self, key: &u32) -> Result<u32, Self::Error> {
        Ok(*key)
    }
}

/// A builder, the error it must give, and a phrase of its advice.
type Case = (cenote_keyed::Builder<KeyedPool<u32, Numbers>>, BuildError, &'static str);

#[test]
fn every_bad_option_is_an_error_naming_it() {
    let cases: Vec<Case> = vec![
        (KeyedPool::builder(Numbers).max_size(0), BuildError::ZeroMaxSize, "set max_size to 1 or more"),
        (
            KeyedPool::builder(Numbers).max_size(4).max_idle(5),
            BuildError::MaxIdleAboveMaxSize { max_idle: 5, max_size: 4 },
            "lower max_idle or raise max_size",
        ),
        (KeyedPool::builder(Numbers).max_total(0), BuildError::ZeroMaxTotal, "set max_total to 1 or more"),
        (
            KeyedPool::builder(Numbers).max_size(10).max_total(5),
            BuildError::MaxSizeAboveMaxTotal { max_size: 10, max_total: 5 },
            "lower max_size or raise max_total",
        ),
        (KeyedPool::builder(Numbers).shards(0), BuildError::ZeroShards, "leave shards unset"),
        (
            KeyedPool::builder(Numbers).idle_timeout(Some(Duration::ZERO)),
            BuildError::ZeroIdleTimeout,
            "give a positive duration",
        ),
        (
            KeyedPool::builder(Numbers).max_size(usize::MAX).max_total(usize::MAX),
            BuildError::MaxSizeTooLarge { max_size: usize::MAX, limit: cenote_core_limit() },
            "lower max_size",
        ),
    ];
    for (builder, expected, advice) in cases {
        let err = builder.build().unwrap_err();
        assert_eq!(err, expected);
        assert!(err.to_string().contains(advice), "{err}");
    }
}

fn cenote_core_limit() -> usize {
    (u32::MAX - 1) as usize
}

/// A size one core can be configured with but the machine cannot allocate: an error at
/// `build`, not an abort at the key's first use.
#[test]
fn a_sub_pool_too_large_to_allocate_is_a_build_error() {
    let huge = cenote_core_limit();
    let err = KeyedPool::builder(Numbers).max_size(huge).max_total(huge).build().unwrap_err();
    assert_eq!(err, BuildError::OutOfMemory { max_size: huge });
    assert!(err.to_string().contains("lower max_size"));
}

#[test]
fn a_config_value_builds_the_same_pool() {
    let mut config = KeyedConfig::default();
    config.max_size = 2;
    config.max_idle = Some(1);
    config.max_total = 4;
    config.acquire_timeout = None;
    let pool = KeyedPool::builder(Numbers).config(config.clone()).build().unwrap();
    assert_eq!(pool.config(), &config);
    let async_pool =
        cenote_keyed::nonblocking::KeyedPool::builder(AsyncNumbers).config(config.clone()).build().unwrap();
    assert_eq!(async_pool.config(), &config);
}

struct AsyncNumbers;

impl cenote_keyed::nonblocking::KeyedManager<u32> for AsyncNumbers {
    type Connection = u32;
    type Error = std::convert::Infallible;
    async fn create(&self, key: &u32) -> Result<u32, Self::Error> {
        Ok(*key)
    }
}

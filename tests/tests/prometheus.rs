//! The Prometheus export after a scripted workload, encoded to the text format by
//! `prometheus-client` and read back with a real parser (`prometheus-parse`): names, types,
//! labels and values.

use std::collections::HashMap;
use std::time::Duration;

use prometheus_client::registry::Registry;
use prometheus_parse::{Sample, Scrape, Value};

#[derive(Debug)]
struct M;

impl cenote_sync::Manager for M {
    type Connection = u8;
    type Error = String;
    fn create(&self) -> Result<u8, String> {
        std::thread::sleep(Duration::from_millis(1));
        Ok(1)
    }
    fn has_broken(&self, conn: &mut u8) -> bool {
        *conn == 0
    }
}

impl cenote_async::Manager for M {
    type Connection = u8;
    type Error = String;
    async fn create(&self) -> Result<u8, String> {
        Ok(1)
    }
}

fn scrape_text(registry: &Registry) -> (String, Scrape) {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, scrape)
}

/// The one sample named `metric` with these labels.
fn sample<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> &'a Sample {
    let found: Vec<_> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
    found[0]
}

fn number(s: &Sample) -> f64 {
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        ref other => panic!("{}: not a number: {other:?}", s.metric),
    }
}

#[test]
fn two_pools_one_registry_parse_with_the_right_names_types_labels_and_values() {
    let db = cenote_sync::Pool::builder(M).name("db").max_size(2).maintenance_thread(false).build().unwrap();
    let cache = cenote_async::Pool::builder(M).name("cache").max_size(3).build().unwrap();
    // db: two creates, a timeout, a broken return, an idle lend.
    let a = db.get().unwrap();
    let mut b = db.get().unwrap();
    assert!(db.get_timeout(Duration::from_millis(5)).is_err());
    *b = 0; // has_broken
    drop((a, b));
    drop(db.get().unwrap());
    // cache: one create, three lends.
    futures_lite::future::block_on(async {
        for _ in 0..3 {
            drop(cache.get().await.unwrap());
        }
    });
    let pools = cenote_front::PoolCollector::new();
    pools.add(&db);
    pools.add(&cache);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(pools));
    let (text, scrape) = scrape_text(&registry);

    let types: HashMap<&str, &str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_once(' ')).collect();
    for (name, kind) in [
        ("cenote_pool_size", "gauge"),
        ("cenote_pool_waiting", "gauge"),
        ("cenote_pool_created", "counter"),
        ("cenote_pool_acquired", "counter"),
        ("cenote_pool_closed", "counter"),
        ("cenote_pool_wait_seconds", "histogram"),
        ("cenote_pool_lifetime_seconds", "histogram"),
        ("cenote_pool_create_seconds", "histogram"),
    ] {
        assert_eq!(types.get(name), Some(&kind), "{name}\n{text}");
    }
    assert_eq!(text.matches("# TYPE cenote_pool_size ").count(), 1, "one family for both pools");

    let db_ = [("pool", "db")];
    let cache_ = [("pool", "cache")];
    assert_eq!(number(sample(&scrape, "cenote_pool_max_size", &db_)), 2.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_max_size", &cache_)), 3.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_size", &db_)), 1.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_idle", &db_)), 1.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_created_total", &db_)), 2.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_created_total", &cache_)), 1.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_acquired_total", &db_)), 3.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_acquired_total", &cache_)), 3.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_waited_total", &db_)), 2.0);
    assert_eq!(number(sample(&scrape, "cenote_pool_timeouts_total", &db_)), 1.0);
    assert_eq!(
        number(sample(&scrape, "cenote_pool_closed_total", &[("pool", "db"), ("reason", "broken")])),
        1.0
    );
    assert_eq!(
        number(sample(&scrape, "cenote_pool_closed_total", &[("pool", "db"), ("reason", "closed")])),
        0.0
    );
    assert_eq!(
        scrape.samples.iter().filter(|s| s.metric == "cenote_pool_closed_total").count(),
        22,
        "eleven reasons for each of two pools"
    );

    // Histograms: cumulative buckets up to +Inf, count and sum in seconds.
    let wait = sample(&scrape, "cenote_pool_wait_seconds", &db_);
    let Value::Histogram(buckets) = &wait.value else { panic!("{wait:?}") };
    assert_eq!(buckets.len(), 42, "2^10..2^50 ns and +Inf");
    assert!(buckets.windows(2).all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count));
    assert_eq!(buckets.last().unwrap().count, 3.0, "every lend: {buckets:?}");
    assert_eq!(buckets[0].count, 1.0, "the idle lend waited 0 (under 1.024 µs)");
    assert!((buckets[0].less_than - 1.024e-6).abs() < 1e-12, "{}", buckets[0].less_than);
    assert_eq!(number(sample(&scrape, "cenote_pool_wait_seconds_count", &db_)), 3.0);
    let create_sum = number(sample(&scrape, "cenote_pool_create_seconds_sum", &db_));
    assert!(create_sum >= 0.002, "two creates of at least 1 ms: {create_sum}");
    let lifetime = sample(&scrape, "cenote_pool_lifetime_seconds", &db_);
    let Value::Histogram(lifetime) = &lifetime.value else { panic!() };
    assert_eq!(lifetime.last().unwrap().count, 1.0, "one object dropped");

    // A pool that is gone stops appearing; the collector kept it neither open nor alive.
    drop(cache);
    let (text, scrape) = scrape_text(&registry);
    assert!(!text.contains(r#"pool="cache""#), "{text}");
    assert_eq!(number(sample(&scrape, "cenote_pool_max_size", &db_)), 2.0);
}

#[test]
fn register_metrics_for_a_single_pool() {
    let pool = cenote_sync::Pool::builder(M).name("solo").maintenance_thread(false).build().unwrap();
    drop(pool.get().unwrap());
    let mut registry = Registry::default();
    pool.register_metrics(&mut registry);
    let (_, scrape) = scrape_text(&registry);
    assert_eq!(number(sample(&scrape, "cenote_pool_acquired_total", &[("pool", "solo")])), 1.0);
}

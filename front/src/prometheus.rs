//! Prometheus export (feature `prometheus`, crate `prometheus-client`): the pool's
//! [`Metrics`] read at scrape time, with no second set of books.
//!
//! Names are `cenote_pool_*` in base units (seconds), each sample labelled with the pool's
//! `name` as `pool`:
//!
//! | name | type | what |
//! |---|---|---|
//! | `cenote_pool_max_size`, `_size`, `_idle`, `_in_use`, `_waiting`, `_leaked` | gauge | as in [`Metrics`] |
//! | `cenote_pool_created_total`, `_create_errors_total`, `_acquired_total`, `_waited_total`, `_timeouts_total`, `_overloaded_total`, `_unavailable_total` | counter | since build |
//! | `cenote_pool_closed_total{reason="idle_timeout"\|...}` | counter | objects dropped, by [`Dropped`](crate::Dropped) reason |
//! | `cenote_pool_wait_seconds`, `_lifetime_seconds`, `_create_seconds` | histogram | buckets at powers of two from 1.024 µs to 13 days |
//!
//! One registry can hold several pools: give them all to one [`PoolCollector`] (a metric
//! family must appear once per scrape), or call [`Handle::register_metrics`] for a registry
//! that holds just the one pool.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::front::Front;
use crate::handle::{Handle, WeakHandle};
use crate::metrics::{Histogram, Metrics};

/// A metric family: name, help, and how to read it from a snapshot.
type Family<V> = (&'static str, &'static str, fn(&Metrics) -> V);

/// Picks one histogram of a snapshot.
type HistogramOf = fn(&Metrics) -> &Histogram;

/// Reads one pool's metrics, or `None` once the pool is gone.
type Source = Arc<dyn Fn() -> Option<Metrics> + Send + Sync>;

/// A `prometheus-client` [`Collector`] for any number of pools (of either front end), read at
/// each scrape. It holds weak handles: it keeps no pool open, and a pool that is gone simply
/// stops appearing.
///
/// # Examples
///
/// ```
/// use prometheus_client::registry::Registry;
/// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
/// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
/// let db = cenote_sync::Pool::builder(M).name("db").build()?;
/// let cache = cenote_sync::Pool::builder(M).name("cache").build()?;
/// drop(db.get()?);
/// let pools = cenote_front::PoolCollector::new();
/// pools.add(&db);
/// pools.add(&cache);
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(pools));
/// let mut text = String::new();
/// prometheus_client::encoding::text::encode(&mut text, &registry)?;
/// assert!(text.contains(r#"cenote_pool_created_total{pool="db"} 1"#), "{text}");
/// assert!(text.contains(r#"cenote_pool_created_total{pool="cache"} 0"#), "{text}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct PoolCollector {
    pools: Arc<Mutex<Vec<Source>>>,
}

impl PoolCollector {
    /// A collector with no pools yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pool (a front end's `Pool` derefs to its [`Handle`]). Pools added later appear
    /// from the next scrape on.
    pub fn add<F: Front>(&self, pool: &Handle<F>) {
        let weak: WeakHandle<F> = pool.downgrade();
        let source: Source = Arc::new(move || weak.upgrade().map(|handle| handle.metrics()));
        self.pools.lock().unwrap_or_else(PoisonError::into_inner).push(source);
    }
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.pools.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("PoolCollector").field("pools", &n).finish()
    }
}

impl<F: Front> Handle<F> {
    /// Registers this pool's metrics in `registry` (see the [`PoolCollector`] docs for the
    /// names). For several pools in one registry use one [`PoolCollector`] instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use prometheus_client::registry::Registry;
    /// # struct M; impl cenote_sync::Manager for M { type Connection = u8; type Error = std::convert::Infallible;
    /// #     fn create(&self) -> Result<u8, Self::Error> { Ok(1) } }
    /// let pool = cenote_sync::Pool::builder(M).name("db").build()?;
    /// let mut registry = Registry::default();
    /// pool.register_metrics(&mut registry);
    /// let mut text = String::new();
    /// prometheus_client::encoding::text::encode(&mut text, &registry)?;
    /// assert!(text.contains("# TYPE cenote_pool_wait_seconds histogram"), "{text}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_metrics(&self, registry: &mut Registry) {
        let pools = PoolCollector::new();
        pools.add(self);
        registry.register_collector(Box::new(pools));
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        // Read the pools outside the lock: a scrape's upgraded handle may be a pool's last,
        // and its teardown (dropping idle connections) must not hold up other scrapes or adds.
        let sources: Vec<Source> = self.pools.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut gone = Vec::new();
        let mut snapshots = Vec::with_capacity(sources.len());
        for source in &sources {
            match source() {
                Some(metrics) => snapshots.push(metrics),
                None => gone.push(Arc::as_ptr(source).cast::<()>()),
            }
        }
        if !gone.is_empty() {
            // Forget pools that are gone: their weak handles would keep their memory.
            self.pools
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|s| !gone.contains(&Arc::as_ptr(s).cast::<()>()));
        }
        drop(sources);
        let gauges: [Family<u64>; 6] = [
            ("cenote_pool_max_size", "The pool's current maximum number of objects.", |m| m.max_size as u64),
            ("cenote_pool_size", "Objects in existence (idle, in use, being created).", |m| m.size as u64),
            ("cenote_pool_idle", "Objects ready to lend.", |m| m.idle as u64),
            ("cenote_pool_in_use", "Objects lent out or being created.", |m| m.in_use as u64),
            ("cenote_pool_waiting", "Callers waiting for an object.", |m| m.waiting as u64),
            ("cenote_pool_leaked", "Objects now held past the leak detection threshold.", |m| m.leaked),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for m in &snapshots {
                let labels = [("pool", &*m.name)];
                ConstGauge::new(value(m) as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        let counters: [Family<u64>; 7] = [
            ("cenote_pool_created", "Objects created.", |m| m.created),
            ("cenote_pool_create_errors", "Creates that failed (an error or create_timeout).", |m| {
                m.create_errors
            }),
            ("cenote_pool_acquired", "Objects lent to callers.", |m| m.acquired),
            ("cenote_pool_waited", "Lends that had to wait for a return or create an object first.", |m| {
                m.waited
            }),
            ("cenote_pool_timeouts", "Gets that timed out.", |m| m.timeouts),
            ("cenote_pool_overloaded", "Gets turned away at once by max_waiters (load shedding).", |m| {
                m.overloaded
            }),
            ("cenote_pool_unavailable", "Gets that failed fast while the circuit breaker was open.", |m| {
                m.unavailable
            }),
        ];
        for (name, help, value) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for m in &snapshots {
                let labels = [("pool", &*m.name)];
                ConstCounter::new(value(m)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "cenote_pool_closed",
            "Objects dropped, by reason.",
            None,
            MetricType::Counter,
        )?;
        for m in &snapshots {
            for (reason, n) in m.closed.iter() {
                let labels = [("pool", &*m.name), ("reason", reason.name())];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        let histograms: [(&str, &str, HistogramOf); 3] = [
            ("cenote_pool_wait", "How long each lend waited (0 for an idle object at once).", |m| &m.wait),
            ("cenote_pool_lifetime", "How long each dropped object lived.", |m| &m.lifetime),
            ("cenote_pool_create", "How long each successful create took.", |m| &m.create_time),
        ];
        for (name, help, histogram) in histograms {
            let mut family =
                encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
            for m in &snapshots {
                let h = histogram(m);
                let labels = [("pool", &*m.name)];
                let buckets = export_buckets(h);
                family.encode_family(&labels)?.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                    h.sum.as_secs_f64(),
                    h.count,
                    &buckets,
                    None,
                )?;
            }
        }
        Ok(())
    }
}

/// Exported bucket bounds: powers of two nanoseconds from 2^10 (1.024 µs) to 2^50 (13 days),
/// then +Inf. Each falls on a bound of the pool's own finer buckets, so regrouping loses
/// nothing (a value exactly on a power of two is counted under the next bound).
const EXPORT_FROM: u32 = 10;
const EXPORT_TO: u32 = 50;

/// The histogram's counts regrouped under the exported bounds (per bucket, not cumulative:
/// the encoder sums them).
fn export_buckets(h: &Histogram) -> Vec<(f64, u64)> {
    let mut out: Vec<(f64, u64)> =
        (EXPORT_FROM..=EXPORT_TO).map(|k| ((1u64 << k) as f64 / 1e9, 0)).chain([(f64::MAX, 0)]).collect();
    for (upper, n) in h.buckets() {
        let nanos = u64::try_from(upper.as_nanos()).unwrap_or(u64::MAX);
        // The first exported bound at or above this bucket's (inclusive) upper bound.
        let slot = (EXPORT_FROM..=EXPORT_TO).position(|k| nanos < (1u64 << k)).unwrap_or(out.len() - 1);
        out[slot].1 += n;
    }
    out
}

//! The `tracing` feature: a recording subscriber sees the spans of a get that waits, of
//! creates and of checks (with the pool's name and the outcome), and an event for each
//! object dropped, with its reason; a get that finds an idle object makes no span.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// What was seen: spans (name and fields, outcome included once recorded) and events.
#[derive(Default, Debug)]
struct Seen {
    spans: Vec<(String, HashMap<String, String>)>,
    ids: HashMap<u64, usize>,
    events: Vec<HashMap<String, String>>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}").trim_matches('"').to_owned());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut seen = self.0.lock().unwrap();
        seen.spans.push((attrs.metadata().name().to_owned(), fields));
        let at = seen.spans.len() - 1;
        seen.ids.insert(id.into_u64(), at);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut seen = self.0.lock().unwrap();
        if let Some(&at) = seen.ids.get(&id.into_u64()) {
            values.record(&mut Fields(&mut seen.spans[at].1));
        }
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = HashMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().events.push(fields);
    }
}

impl Recorder {
    /// The outcomes of the spans named `name` for pool `pool`, in order.
    fn outcomes(&self, name: &str, pool: &str) -> Vec<String> {
        let seen = self.0.lock().unwrap();
        seen.spans
            .iter()
            .filter(|(n, f)| n == name && f.get("pool").map(String::as_str) == Some(pool))
            .map(|(_, f)| f.get("outcome").cloned().unwrap_or_default())
            .collect()
    }

    /// The reasons of the `cenote.dropped` events for pool `pool`.
    fn dropped(&self, pool: &str) -> Vec<String> {
        let seen = self.0.lock().unwrap();
        seen.events
            .iter()
            .filter(|f| f.get("message").map(String::as_str) == Some("cenote.dropped"))
            .filter(|f| f.get("pool").map(String::as_str) == Some(pool))
            .filter_map(|f| f.get("reason").cloned())
            .collect()
    }

    fn span_count(&self) -> usize {
        self.0.lock().unwrap().spans.len()
    }
}

#[derive(Debug)]
struct M;

impl cenote_sync::Manager for M {
    type Connection = u8;
    type Error = String;
    fn create(&self) -> Result<u8, String> {
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
    fn has_broken(&self, conn: &mut u8) -> bool {
        *conn == 0
    }
}

#[test]
fn sync_spans_and_drop_events() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || {
        let pool = cenote_sync::Pool::builder(M)
            .name("db")
            .max_size(1)
            .validate_on_acquire(true)
            .maintenance_thread(false)
            .build()
            .unwrap();
        let mut conn = pool.get().unwrap(); // a create
        assert!(pool.get_timeout(Duration::from_millis(5)).is_err()); // a wait that times out
        *conn = 0;
        drop(conn); // broken: dropped
        drop(pool.get().unwrap()); // a create
        let before = recorder.span_count();
        drop(pool.get().unwrap()); // idle at once: only its check (validate_on_acquire)
        assert_eq!(recorder.span_count(), before + 1, "a get of an idle object makes no get span");
        pool.close();
        assert_eq!(recorder.outcomes("cenote.create", "db"), ["ok", "ok"]);
        assert_eq!(recorder.outcomes("cenote.get", "db"), ["timeout"]);
        assert_eq!(recorder.outcomes("cenote.check", "db"), ["ok"]);
        assert_eq!(recorder.dropped("db"), ["broken", "closed"]);
    });
}

#[test]
fn async_spans_and_drop_events() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, || {
        futures_lite::future::block_on(async {
            let pool = cenote_async::Pool::builder(M).name("cache").max_size(1).build().unwrap();
            let held = pool.get().await.unwrap();
            // A wait served by a return from another thread.
            let returner = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                drop(held);
            });
            let mut conn = pool.get_timeout(Duration::from_secs(10)).await.unwrap();
            returner.join().unwrap();
            *conn = 0;
            drop(conn);
            pool.close();
            assert!(pool.get().await.is_err());
        });
        assert_eq!(recorder.outcomes("cenote.create", "cache"), ["ok"]);
        assert_eq!(recorder.outcomes("cenote.get", "cache"), ["ok"]);
        assert_eq!(recorder.dropped("cache"), ["broken"]);
    });
}

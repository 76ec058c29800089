//! The accounting note in the module docs, made deterministic: a retired object is dropped
//! before its place is reused.

use super::*;

/// An object whose `Drop` (a slow close: a TLS `close_notify`, a database `Terminate`) waits
/// for a signal, telling the test when it has started.
#[derive(Debug)]
struct SlowClose {
    tracked: Tracked,
    broken: bool,
    closing: Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>,
}

impl Drop for SlowClose {
    fn drop(&mut self) {
        if let Some((started, finish)) = self.closing.take() {
            let _ = started.send(());
            let _ = finish.recv_timeout(Duration::from_secs(10));
        }
        let _ = &self.tracked; // dropped after the close
    }
}

#[derive(Debug)]
struct SlowManager(Arc<Counts>);

impl cenote_sync::Manager for SlowManager {
    type Connection = SlowClose;
    type Error = Flaky;
    fn create(&self) -> Result<SlowClose, Flaky> {
        Ok(SlowClose { tracked: Tracked::new(&self.0), broken: false, closing: None })
    }
    fn has_broken(&self, obj: &mut SlowClose) -> bool {
        obj.broken
    }
}

/// With `max_size` 1, an object returned broken is dropped (its `Drop` is a slow close) before
/// its place is freed, so a `get` waits for the close instead of creating a replacement
/// meanwhile: `max_size` bounds objects still being closed too (a server's connection limit).
/// A guard in the core frees the place even if the `Drop` panics.
#[test]
fn retired_object_is_dropped_before_its_place_is_reused() {
    let counts = Arc::new(Counts::default());
    let pool =
        cenote_sync::Pool::builder(SlowManager(Arc::clone(&counts))).max_size(1).build().expect("config");
    let mut obj = pool.get().expect("first object");
    let (started_tx, started) = std::sync::mpsc::channel();
    let (finish, finish_rx) = std::sync::mpsc::channel();
    obj.broken = true;
    obj.closing = Some((started_tx, finish_rx));
    let returner = thread::spawn(move || drop(obj));
    started.recv_timeout(Duration::from_secs(5)).expect("the broken object's Drop started");
    let replacement = pool.get_timeout(Duration::from_millis(100));
    let alive = counts.live.load(SeqCst);
    let _ = finish.send(());
    returner.join().expect("returner");
    drop(replacement);
    assert!(alive <= 1, "{alive} objects alive at once with max_size 1: the replacement was created while the retired object was still being dropped");
}

//! `validate_idle_after` (default 500 ms), both front ends: an object idle that long is
//! checked before it is lent (and dropped if the check fails), one lent again at once is not,
//! and `None` turns it off. This is what makes a default pool heal: a connection the server
//! closed while it sat idle is caught before a caller gets it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

/// Longer than the default window plus the coarse clock's resolution (100 ms) and slack.
const IDLE: Duration = Duration::from_millis(800);

#[derive(Debug, Default)]
struct Knobs {
    checks: AtomicUsize,
    dead: AtomicBool,
    created: AtomicUsize,
}

#[derive(Debug)]
struct M(Arc<Knobs>);

impl cenote_sync::Manager for M {
    type Connection = usize;
    type Error = String;
    fn create(&self) -> Result<usize, String> {
        Ok(self.0.created.fetch_add(1, SeqCst))
    }
    fn check(&self, _: &mut usize) -> Result<(), Option<String>> {
        self.0.checks.fetch_add(1, SeqCst);
        if self.0.dead.swap(false, SeqCst) {
            Err(Some("server closed the connection".into()))
        } else {
            Ok(())
        }
    }
}

impl cenote_async::Manager for M {
    type Connection = usize;
    type Error = String;
    async fn create(&self) -> Result<usize, String> {
        Ok(self.0.created.fetch_add(1, SeqCst))
    }
    async fn check(&self, _: &mut usize) -> Result<(), Option<String>> {
        self.0.checks.fetch_add(1, SeqCst);
        if self.0.dead.swap(false, SeqCst) {
            Err(Some("server closed the connection".into()))
        } else {
            Ok(())
        }
    }
}

#[test]
fn sync_default_checks_objects_idle_half_a_second() {
    let k = Arc::new(Knobs::default());
    let pool = cenote_sync::Pool::builder(M(Arc::clone(&k))).max_size(1).build().unwrap();
    assert_eq!(pool.config().validate_idle_after, Some(Duration::from_millis(500)));
    drop(pool.get().unwrap());
    drop(pool.get().unwrap());
    assert_eq!(k.checks.load(SeqCst), 0, "lent again at once: no check");
    sleep(IDLE);
    drop(pool.get().unwrap());
    assert_eq!(k.checks.load(SeqCst), 1, "idle 800 ms: checked once before the lend");
    drop(pool.get().unwrap());
    assert_eq!(k.checks.load(SeqCst), 1, "and not again right after");
    // The server closed it while it sat idle: the check fails, the caller gets a new one.
    sleep(IDLE);
    k.dead.store(true, SeqCst);
    let conn = pool.get().unwrap();
    assert_eq!((*conn, k.checks.load(SeqCst)), (1, 2), "a fresh connection, not the dead one");
    assert_eq!(pool.metrics().closed.invalid, 1);
}

#[test]
fn sync_off_never_checks() {
    let k = Arc::new(Knobs::default());
    let pool =
        cenote_sync::Pool::builder(M(Arc::clone(&k))).max_size(1).validate_idle_after(None).build().unwrap();
    drop(pool.get().unwrap());
    sleep(IDLE);
    drop(pool.get().unwrap());
    assert_eq!(k.checks.load(SeqCst), 0);
}

#[test]
fn async_default_checks_objects_idle_half_a_second() {
    futures_lite::future::block_on(async {
        let k = Arc::new(Knobs::default());
        let pool = cenote_async::Pool::builder(M(Arc::clone(&k))).max_size(1).build().unwrap();
        drop(pool.get().await.unwrap());
        drop(pool.get().await.unwrap());
        assert_eq!(k.checks.load(SeqCst), 0);
        sleep(IDLE);
        k.dead.store(true, SeqCst);
        let conn = pool.get().await.unwrap();
        assert_eq!((*conn, k.checks.load(SeqCst)), (1, 1), "checked, found dead, replaced");
        drop(conn);
        drop(pool.get().await.unwrap());
        assert_eq!(k.checks.load(SeqCst), 1);
    });
}

#[test]
fn zero_window_is_a_build_error() {
    let k = Arc::new(Knobs::default());
    let err = cenote_sync::Pool::builder(M(k)).validate_idle_after(Some(Duration::ZERO)).build().unwrap_err();
    assert!(err.to_string().contains("validate_idle_after"), "{err}");
}

//! The outage of `main.rs` once more, with the circuit breaker on (issue 14): the server is
//! stopped for [`OUTAGE`], callers `get` all along, and the test prints how long they waited.
//! Without the breaker each failing `get` waits out its `acquire_timeout` (300 ms here, the
//! figures `sync_outage` / `async_outage` print); with it, after `failures` failed connects
//! in a row the `get`s fail at once with `Unavailable` (one probe connect every `open_for`),
//! and the pool recovers at the first probe after the restart.

use super::*;
use cenote_front::{CircuitBreaker, Error};

/// Three failed connects open it; a probe every 500 ms.
const BREAKER: CircuitBreaker = CircuitBreaker { failures: 3, open_for: Duration::from_millis(500) };
/// The `acquire_timeout` of both outage tests.
const ACQUIRE: Duration = Duration::from_millis(300);

/// What the outage with the breaker on did.
#[derive(Debug, Default)]
struct Fast {
    gets: usize,
    unavailable: usize,
    /// Of those, the ones carrying the connect error.
    with_reason: usize,
    reason: Option<String>,
    timeouts: usize,
    lent: usize,
    lent_dead: usize,
    other_errors: Vec<String>,
    waited: Duration,
    max_wait: Duration,
}

impl Fast {
    fn count<E: std::error::Error + 'static>(&mut self, got: Result<bool, Error<E>>, waited: Duration) {
        self.gets += 1;
        self.waited += waited;
        self.max_wait = self.max_wait.max(waited);
        match got {
            Ok(alive) => {
                self.lent += 1;
                self.lent_dead += usize::from(!alive);
            }
            Err(Error::Unavailable { last_create_error, .. }) => {
                self.unavailable += 1;
                if let Some(e) = last_create_error {
                    self.with_reason += 1;
                    self.reason = Some(chain(&e));
                }
            }
            Err(Error::Timeout { .. }) => self.timeouts += 1,
            Err(e) => self.other_errors.push(format!("{e:?}")),
        }
    }

    fn add(&mut self, other: Fast) {
        self.gets += other.gets;
        self.unavailable += other.unavailable;
        self.with_reason += other.with_reason;
        self.reason = other.reason.or(self.reason.take());
        self.timeouts += other.timeouts;
        self.lent += other.lent;
        self.lent_dead += other.lent_dead;
        self.other_errors.extend(other.other_errors);
        self.waited += other.waited;
        self.max_wait = self.max_wait.max(other.max_wait);
    }

    fn report(&self, front: &str, probes: usize, recovery: Duration, min_idle_back: Duration) {
        let mean = self.waited / u32::try_from(self.gets.max(1)).unwrap_or(u32::MAX);
        println!(
            "{front} outage of {OUTAGE:?} with the circuit breaker on ({BREAKER:?}): {} gets, {} Unavailable \
             ({} carrying the connection error, last: {:?}), {} Timeout, {} lent ({} dead), {} other errors, \
             {probes} connection attempts; callers waited {mean:.1?} per get on average, {:.0?} at most \
             (acquire_timeout {ACQUIRE:?}); recovered {recovery:.1?} after the restart, min_idle back after \
             {min_idle_back:.1?}",
            self.gets,
            self.unavailable,
            self.with_reason,
            self.reason,
            self.timeouts,
            self.lent,
            self.lent_dead,
            self.other_errors.len(),
            self.max_wait,
        );
        assert!(self.unavailable > 0, "{front}: the breaker never turned a get away");
        assert!(self.with_reason > 0, "{front}: no Unavailable carried the connection error");
        assert!(self.other_errors.is_empty(), "{front}: gets failed otherwise: {:?}", self.other_errors);
        assert_eq!(self.lent_dead, 0, "{front}: validate_on_acquire lent a dead connection");
        // Failing fast: the mean get ends far below the timeout every caller waits out
        // without the breaker, and most gets are turned away by it.
        assert!(mean * 10 < ACQUIRE, "{front}: callers waited {mean:?} per get");
        assert!(
            self.timeouts * 10 <= self.gets,
            "{front}: {} of {} gets timed out",
            self.timeouts,
            self.gets
        );
        // One probe per open_for, plus the failures that open it and those in flight then.
        let bound = (OUTAGE.as_millis() / BREAKER.open_for.as_millis()) as usize + 16;
        assert!(probes <= bound, "{front}: {probes} connection attempts in the outage (bound {bound})");
        // The first probe after the restart closes it: at most open_for, plus a connect.
        assert!(recovery <= BREAKER.open_for + RECOVERY_BOUND, "{front}: recovery took {recovery:?}");
        assert!(min_idle_back <= MIN_IDLE_BOUND, "{front}: min_idle came back after {min_idle_back:?}");
    }
}

#[test]
fn sync_outage_with_breaker() {
    let Some((server, _lock)) = pg::server("sync_outage_with_breaker") else { return };
    if !server.ours {
        eprintln!("SKIPPED sync_outage_with_breaker: the server at CENOTE_PG_URL is not ours to stop");
        return;
    }
    const MIN_IDLE: usize = 2;
    let manager = Counted::new(SyncPg::new(&server.url, NoTls).expect("the URL parses"));
    let pool = cenote_sync::Pool::builder(manager)
        .max_size(4)
        .min_idle(MIN_IDLE)
        .validate_on_acquire(true)
        .acquire_timeout(Some(ACQUIRE))
        .maintenance_interval(Duration::from_millis(200))
        .circuit_breaker(BREAKER)
        .name("pg-sync-breaker")
        .build()
        .expect("valid options");
    pool.warm().expect("the server is up");

    let mut restart = pg::Restart { stopped: true };
    pg::ctl(&["stop", "-m", "immediate"]);
    let stopped = Instant::now();
    let attempts_before = pool.manager().create_errors.load(Relaxed) + pool.manager().created.load(Relaxed);
    let mut fast = Fast::default();
    while stopped.elapsed() < OUTAGE {
        let start = Instant::now();
        let got = pool.get().map(|mut conn| conn.simple_query("SELECT 1").is_ok());
        fast.count(got, start.elapsed());
        thread::sleep(Duration::from_millis(1)); // a caller turned away does something else
    }
    pg::ctl(&["start", "-w", "-t", "30"]);
    restart.stopped = false;
    let restarted = Instant::now();
    let probes =
        pool.manager().create_errors.load(Relaxed) + pool.manager().created.load(Relaxed) - attempts_before;
    let recovery = loop {
        if let Ok(mut conn) = pool.get() {
            if conn.simple_query("SELECT 1").is_ok() {
                break restarted.elapsed();
            }
            cenote_sync::Pooled::report_error(&mut conn);
        }
        assert!(restarted.elapsed() < RECOVERY_BOUND * 3, "sync: no recovery after the restart");
        thread::sleep(Duration::from_millis(5));
    };
    while pool.status().idle < MIN_IDLE && restarted.elapsed() < MIN_IDLE_BOUND * 2 {
        thread::sleep(Duration::from_millis(10));
    }
    fast.report("sync", probes, recovery, restarted.elapsed());
    assert!(pool.metrics().unavailable >= fast.unavailable as u64, "counted in the metrics");
}

#[test]
fn async_outage_with_breaker() {
    let Some((server, _lock)) = pg::server("async_outage_with_breaker") else { return };
    if !server.ours {
        eprintln!("SKIPPED async_outage_with_breaker: the server at CENOTE_PG_URL is not ours to stop");
        return;
    }
    const MIN_IDLE: usize = 2;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut restart = pg::Restart { stopped: false };
    runtime.block_on(async {
        let manager = Counted::new(AsyncPg::new(&server.url, NoTls).expect("the URL parses"));
        let pool = cenote_async::Pool::builder(manager)
            .max_size(8)
            .min_idle(MIN_IDLE)
            .validate_on_acquire(true)
            .acquire_timeout(Some(ACQUIRE))
            .maintenance_interval(Duration::from_millis(200))
            .circuit_breaker(BREAKER)
            .name("pg-async-breaker")
            .build()
            .expect("valid options");
        tokio::spawn(pool.maintenance());
        pool.warm().await.expect("the server is up");

        restart.stopped = true;
        tokio::task::spawn_blocking(|| pg::ctl(&["stop", "-m", "immediate"])).await.expect("pg_ctl stop");
        let stopped = Instant::now();
        let attempts = |pool: &cenote_async::Pool<Counted<AsyncPg>>| {
            pool.manager().create_errors.load(Relaxed) + pool.manager().created.load(Relaxed)
        };
        let attempts_before = attempts(&pool);
        // 16 tasks get at once, for the length of the outage (as in `async_outage`).
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut fast = Fast::default();
                    while stopped.elapsed() < OUTAGE {
                        let start = Instant::now();
                        let got = match pool.get().await {
                            Ok(conn) => Ok(conn.simple_query("SELECT 1").await.is_ok()),
                            Err(e) => Err(e),
                        };
                        fast.count(got, start.elapsed());
                        // A caller turned away does something else for a moment (here: yields
                        // a millisecond), as a service answering 503 would.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    fast
                })
            })
            .collect();
        let mut fast = Fast::default();
        for task in tasks {
            fast.add(task.await.expect("a get task panicked"));
        }
        tokio::task::spawn_blocking(|| pg::ctl(&["start", "-w", "-t", "30"])).await.expect("pg_ctl start");
        restart.stopped = false;
        let restarted = Instant::now();
        let probes = attempts(&pool) - attempts_before;
        let recovery = loop {
            if let Ok(mut conn) = pool.get().await {
                if conn.simple_query("SELECT 1").await.is_ok() {
                    break restarted.elapsed();
                }
                cenote_async::Pooled::report_error(&mut conn);
            }
            assert!(restarted.elapsed() < RECOVERY_BOUND * 3, "async: no recovery after the restart");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        while pool.status().idle < MIN_IDLE && restarted.elapsed() < MIN_IDLE_BOUND * 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        fast.report("async", probes, recovery, restarted.elapsed());
    });
    drop(restart);
}

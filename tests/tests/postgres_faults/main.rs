//! Fault tests against a real PostgreSQL, through `cenote-postgres`, in both front ends:
//! every backend killed with `pg_terminate_backend` while queries run (the kill storm), and
//! the server stopped for 3 s and started again (the outage).
//!
//! The server: `CENOTE_PG_URL`, else the one `bash scripts/postgres.sh start` wrote to
//! `target/postgres/url` (`bash scripts/test.sh` does both). Without one, each test says that
//! it was skipped and passes; under `CI=true` that is a failure. The outage tests stop and
//! start the server with `scripts/postgres.sh ctl`, so they need a cluster that script
//! started; with a server of your own (`CENOTE_PG_URL`) they are skipped.
//!
//! The tests share the server and kill or stop it, so they run one at a time (a lock).
//! Each prints its figures; see them with `--nocapture`. The outage again with the circuit
//! breaker on is in `breaker.rs`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cenote_postgres::postgres;
use cenote_postgres::tokio_postgres;
use cenote_postgres::NoTls;

mod breaker;

/// Kills the other client backends of the test database; the number killed.
const KILL: &str = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'";
/// The other client backends of the test database.
const BACKENDS: &str = "SELECT count(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'";

/// How long each kill storm runs: kills at 1, 2 and 3 s, then a second of quiet.
const STORM: Duration = Duration::from_secs(4);
const KILL_ROUNDS: u32 = 3;
/// How long the outage lasts.
const OUTAGE: Duration = Duration::from_secs(3);
/// The recovery bound after the server is back: the longest `create_backoff` pause (500 ms by
/// default) plus one connect and one check, on a loaded two-core machine: 3 s.
const RECOVERY_BOUND: Duration = Duration::from_secs(3);
/// `min_idle` restored by maintenance after the server is back: a pass every 200 ms plus the
/// refill's backoff (at most 500 ms), generously: 5 s.
const MIN_IDLE_BOUND: Duration = Duration::from_secs(5);

mod pg {
    use std::path::PathBuf;
    use std::process::Command;
    use std::sync::{Mutex, MutexGuard};

    use super::{postgres, NoTls};

    /// The server under test.
    pub(crate) struct Server {
        pub(crate) url: String,
        /// Whether `scripts/postgres.sh` started it (so the outage tests may stop it).
        pub(crate) ours: bool,
    }

    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn state() -> PathBuf {
        std::env::var_os("CENOTE_PG_STATE").map_or_else(|| root().join("target/postgres"), PathBuf::from)
    }

    fn under_ci() -> bool {
        std::env::var("CI").is_ok_and(|v| v == "true")
    }

    fn missing(test: &str, why: &str) {
        let msg = format!(
            "{test}: no PostgreSQL server: {why}. Run `bash scripts/test.sh`, or `bash scripts/postgres.sh start` first, or set CENOTE_PG_URL"
        );
        assert!(!under_ci(), "{msg} (CI=true: a missing server is a failure)");
        eprintln!("SKIPPED {msg}");
    }

    /// The server, and the lock that keeps the PostgreSQL tests apart; `None` (after saying
    /// so) when there is none and this is not CI.
    pub(crate) fn server(test: &str) -> Option<(Server, MutexGuard<'static, ()>)> {
        let from_file = std::fs::read_to_string(state().join("url")).ok().map(|u| u.trim().to_owned());
        let (url, from_env) = match std::env::var("CENOTE_PG_URL") {
            Ok(url) if !url.is_empty() => (url, true),
            _ => match &from_file {
                Some(url) => (url.clone(), false),
                None => {
                    missing(test, "CENOTE_PG_URL is not set and target/postgres/url does not exist");
                    return None;
                }
            },
        };
        if let Err(e) = postgres::Client::connect(&url, NoTls) {
            let why = format!("{url} does not answer ({})", super::chain(&e));
            assert!(!from_env, "{test}: CENOTE_PG_URL={why}");
            missing(test, &format!("{why}; target/postgres/url is stale"));
            return None;
        }
        let ours = from_file.as_deref() == Some(url.as_str()) && state().join("datadir").exists();
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Some((Server { url, ours }, lock))
    }

    /// `pg_ctl ARGS` on our cluster, as its owner, through `scripts/postgres.sh ctl`.
    pub(crate) fn ctl(args: &[&str]) {
        let status = Command::new("bash")
            .arg(root().join("scripts/postgres.sh"))
            .arg("ctl")
            .args(args)
            .status()
            .expect("bash runs");
        assert!(status.success(), "scripts/postgres.sh ctl {args:?} failed: {status}");
    }

    /// The data directory of our cluster (for the report).
    pub(crate) fn datadir() -> String {
        std::fs::read_to_string(state().join("datadir")).unwrap_or_default().trim().to_owned()
    }

    /// Starts the server again if a test stopped it and then failed.
    pub(crate) struct Restart {
        pub(crate) stopped: bool,
    }

    impl Drop for Restart {
        fn drop(&mut self) {
            if self.stopped {
                ctl(&["start", "-w", "-t", "30"]);
            }
        }
    }
}

/// Wraps a ready-made manager to count what it did.
#[derive(Debug)]
struct Counted<M> {
    inner: M,
    created: AtomicUsize,
    create_errors: AtomicUsize,
    checks_failed: AtomicUsize,
}

impl<M> Counted<M> {
    fn new(inner: M) -> Self {
        Self {
            inner,
            created: AtomicUsize::new(0),
            create_errors: AtomicUsize::new(0),
            checks_failed: AtomicUsize::new(0),
        }
    }

    fn count<T, E>(&self, created: Result<T, E>) -> Result<T, E> {
        match &created {
            Ok(_) => self.created.fetch_add(1, Relaxed),
            Err(_) => self.create_errors.fetch_add(1, Relaxed),
        };
        created
    }
}

type SyncPg = cenote_postgres::sync::PgManager;
type AsyncPg = cenote_postgres::tokio::PgManager;

impl cenote_sync::Manager for Counted<SyncPg> {
    type Connection = postgres::Client;
    type Error = postgres::Error;

    fn create(&self) -> Result<postgres::Client, postgres::Error> {
        self.count(cenote_sync::Manager::create(&self.inner))
    }

    fn check(&self, conn: &mut postgres::Client) -> Result<(), Option<postgres::Error>> {
        let checked = cenote_sync::Manager::check(&self.inner, conn);
        if checked.is_err() {
            self.checks_failed.fetch_add(1, Relaxed);
        }
        checked
    }

    fn has_broken(&self, conn: &mut postgres::Client) -> bool {
        cenote_sync::Manager::has_broken(&self.inner, conn)
    }
}

impl cenote_async::Manager for Counted<AsyncPg> {
    type Connection = tokio_postgres::Client;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        self.count(cenote_async::Manager::create(&self.inner).await)
    }

    async fn check(&self, conn: &mut tokio_postgres::Client) -> Result<(), Option<tokio_postgres::Error>> {
        let checked = cenote_async::Manager::check(&self.inner, conn).await;
        if checked.is_err() {
            self.checks_failed.fetch_add(1, Relaxed);
        }
        checked
    }

    fn has_broken(&self, conn: &mut tokio_postgres::Client) -> bool {
        cenote_async::Manager::has_broken(&self.inner, conn)
    }
}

/// What a kill storm did.
#[derive(Debug, Default)]
struct Storm {
    queries: AtomicUsize,
    failed: AtomicUsize,
    get_errors: AtomicUsize,
    /// Queries that succeeded after the last kill round.
    ok_after_last_kill: AtomicUsize,
    last_kill_done: AtomicBool,
    stop: AtomicBool,
}

impl Storm {
    fn ran(&self, ok: bool) {
        self.queries.fetch_add(1, Relaxed);
        if !ok {
            self.failed.fetch_add(1, Relaxed);
        } else if self.last_kill_done.load(Relaxed) {
            self.ok_after_last_kill.fetch_add(1, Relaxed);
        }
    }
}

/// The bound on failed queries, and why: a terminated backend breaks exactly one pooled
/// connection. That connection fails the first query sent on it after the kill; the caller
/// reports it (`Pooled::report_error`), so on return either `has_broken` (`is_closed()`, once
/// the driver has seen the socket close) drops it, or the pool runs the manager's `check`
/// before lending it again, which fails and drops it. With `validate_on_acquire` instead,
/// every lend is preceded by a check, so only the query that was in flight at the kill (or
/// sent between a passed check and the kill) fails, and the next lend's check drops the
/// connection. Either way it never fails a second query, and queries on live connections do
/// not fail. So: failed <= backends killed. (Without either, `has_broken` alone is racy:
/// `is_closed()` is still false right after the kill's FATAL error, and a connection can fail
/// its next borrower too; the bound then fails, as the issue found.)
fn assert_storm_bound(front: &str, storm: &Storm, killed: &[usize], created: usize, elapsed: Duration) {
    let (queries, failed) = (storm.queries.load(Relaxed), storm.failed.load(Relaxed));
    let total_killed: usize = killed.iter().sum();
    println!(
        "{front} kill storm: {queries} queries, {failed} failed, backends killed per round {killed:?} \
         (total {total_killed}), {created} connections created, {} get errors, {} ok after the last kill, {:.1?}",
        storm.get_errors.load(Relaxed),
        storm.ok_after_last_kill.load(Relaxed),
        elapsed,
    );
    assert!(total_killed > 0, "{front}: the kill rounds killed nothing: the test tested nothing");
    assert!(
        failed <= total_killed,
        "{front}: {failed} failed queries for {total_killed} killed backends: a dead connection was lent again after it failed"
    );
    assert_eq!(storm.get_errors.load(Relaxed), 0, "{front}: get failed during the storm");
    assert!(storm.ok_after_last_kill.load(Relaxed) > 0, "{front}: no query succeeded after the last kill");
}

/// Polls the server until it counts `expected` client backends besides this one.
fn wait_for_backends_sync(client: &mut postgres::Client, expected: usize) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n: i64 = client.query_one(BACKENDS, &[]).expect("count backends").get(0);
        if usize::try_from(n).ok() == Some(expected) || Instant::now() >= deadline {
            return n;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// How a kill storm's pool notices dead connections.
#[derive(Clone, Copy, Debug)]
enum Healing {
    /// `has_broken` on return, and a failed query reported with `Pooled::report_error`
    /// (the pool checks that connection before lending it again). No round trip on a lend.
    ReportError,
    /// `validate_on_acquire(true)`: a check (one round trip) before every lend; failed
    /// queries not reported.
    ValidateOnAcquire,
}

#[test]
fn sync_kill_storm() {
    sync_kill_storm_with(Healing::ReportError);
}

#[test]
fn sync_kill_storm_validate_on_acquire() {
    sync_kill_storm_with(Healing::ValidateOnAcquire);
}

fn sync_kill_storm_with(healing: Healing) {
    let Some((server, _lock)) = pg::server(&format!("sync_kill_storm ({healing:?})")) else { return };
    const MAX: usize = 4;
    let manager = Counted::new(SyncPg::new(&server.url, NoTls).expect("the URL parses"));
    let report = matches!(healing, Healing::ReportError);
    let pool = cenote_sync::Pool::builder(manager)
        .max_size(MAX)
        .validate_on_acquire(!report)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .name("pg-sync-storm")
        .build()
        .expect("valid options");
    let storm = Storm::default();
    let mut killer = postgres::Client::connect(&server.url, NoTls).expect("the killer connects");
    let start = Instant::now();
    let mut killed = Vec::new();
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                while !storm.stop.load(Relaxed) {
                    match pool.get() {
                        Ok(mut conn) => {
                            let ok = conn.simple_query("SELECT 1").is_ok();
                            if !ok && report {
                                cenote_sync::Pooled::report_error(&mut conn);
                            }
                            storm.ran(ok);
                        }
                        Err(e) => {
                            eprintln!("sync kill storm: get failed: {e} ({:?})", e.create_error());
                            storm.get_errors.fetch_add(1, Relaxed);
                        }
                    }
                }
            });
        }
        for round in 1..=KILL_ROUNDS {
            thread::sleep(
                (start + Duration::from_secs(round.into())).saturating_duration_since(Instant::now()),
            );
            let rows = killer.query(KILL, &[]).expect("the kill query runs");
            killed.push(rows.iter().filter(|row| row.get::<_, bool>(0)).count());
        }
        storm.last_kill_done.store(true, Relaxed);
        thread::sleep((start + STORM).saturating_duration_since(Instant::now()));
        storm.stop.store(true, Relaxed);
    });
    let elapsed = start.elapsed();
    let m = pool.manager();
    assert_storm_bound(&format!("sync ({healing:?})"), &storm, &killed, m.created.load(Relaxed), elapsed);
    println!(
        "sync ({healing:?}) kill storm: {} create errors, {} failed checks; status {}",
        m.create_errors.load(Relaxed),
        m.checks_failed.load(Relaxed),
        pool.status()
    );

    // Nothing lost: the counts balance, and max_size live connections can be had at once.
    let status = pool.status();
    assert_eq!(status.size, status.idle + status.in_use, "status balances: {status}");
    assert_eq!((status.in_use, status.waiting), (0, 0), "nobody holds or waits: {status}");
    let mut all: Vec<_> = (0..MAX).map(|_| pool.get().expect("max_size at once")).collect();
    for conn in &mut all {
        conn.simple_query("SELECT 1").expect("every connection lent after the storm is live");
    }
    assert_eq!(pool.status().size, MAX);
    // Every dead connection was replaced: the server sees exactly the pool's connections.
    let backends = wait_for_backends_sync(&mut killer, MAX);
    assert_eq!(backends, MAX as i64, "the server's backends are the pool's {MAX} live connections");
    drop(all);
}

#[test]
fn async_kill_storm() {
    async_kill_storm_with(Healing::ReportError);
}

#[test]
fn async_kill_storm_validate_on_acquire() {
    async_kill_storm_with(Healing::ValidateOnAcquire);
}

fn async_kill_storm_with(healing: Healing) {
    let Some((server, _lock)) = pg::server(&format!("async_kill_storm ({healing:?})")) else { return };
    const MAX: usize = 8;
    let report = matches!(healing, Healing::ReportError);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let manager = Counted::new(AsyncPg::new(&server.url, NoTls).expect("the URL parses"));
        let pool = cenote_async::Pool::builder(manager)
            .max_size(MAX)
            .validate_on_acquire(!report)
            .acquire_timeout(Some(Duration::from_secs(10)))
            .name("pg-async-storm")
            .build()
            .expect("valid options");
        let storm = Arc::new(Storm::default());
        let (killer, connection) =
            tokio_postgres::connect(&server.url, NoTls).await.expect("the killer connects");
        tokio::spawn(connection);
        let start = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (pool, storm) = (pool.clone(), Arc::clone(&storm));
                tokio::spawn(async move {
                    while !storm.stop.load(Relaxed) {
                        match pool.get().await {
                            Ok(mut conn) => {
                                let ok = conn.simple_query("SELECT 1").await.is_ok();
                                if !ok && report {
                                    cenote_async::Pooled::report_error(&mut conn);
                                }
                                storm.ran(ok);
                            }
                            Err(e) => {
                                eprintln!("async kill storm: get failed: {e} ({:?})", e.create_error());
                                storm.get_errors.fetch_add(1, Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        let mut killed = Vec::new();
        for round in 1..=KILL_ROUNDS {
            tokio::time::sleep_until((start + Duration::from_secs(round.into())).into()).await;
            let rows = killer.query(KILL, &[]).await.expect("the kill query runs");
            killed.push(rows.iter().filter(|row| row.get::<_, bool>(0)).count());
        }
        storm.last_kill_done.store(true, Relaxed);
        tokio::time::sleep_until((start + STORM).into()).await;
        storm.stop.store(true, Relaxed);
        for task in tasks {
            task.await.expect("a query task panicked");
        }
        let elapsed = start.elapsed();
        let m = pool.manager();
        assert_storm_bound(
            &format!("async ({healing:?})"),
            &storm,
            &killed,
            m.created.load(Relaxed),
            elapsed,
        );
        println!(
            "async ({healing:?}) kill storm: {} create errors, {} failed checks; status {}",
            m.create_errors.load(Relaxed),
            m.checks_failed.load(Relaxed),
            pool.status()
        );

        let status = pool.status();
        assert_eq!(status.size, status.idle + status.in_use, "status balances: {status}");
        assert_eq!((status.in_use, status.waiting), (0, 0), "nobody holds or waits: {status}");
        let mut all = Vec::new();
        for _ in 0..MAX {
            all.push(pool.get().await.expect("max_size at once"));
        }
        for conn in &all {
            conn.simple_query("SELECT 1").await.expect("every connection lent after the storm is live");
        }
        assert_eq!(pool.status().size, MAX);
        let deadline = Instant::now() + Duration::from_secs(3);
        let backends = loop {
            let n: i64 = killer.query_one(BACKENDS, &[]).await.expect("count backends").get(0);
            if n == MAX as i64 || Instant::now() >= deadline {
                break n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(backends, MAX as i64, "the server's backends are the pool's {MAX} live connections");
        drop(all);
    });
}

/// An error and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// What an outage did.
#[derive(Debug, Default)]
struct Outage {
    gets: usize,
    timeouts_with_reason: usize,
    /// Timeouts of callers that waited for a create slot and found no kept error left: at
    /// most `max_pending_creates` callers create at once, and an error is not `Clone`, so
    /// each failed create's error goes to one caller (more callers than failures: some get
    /// none). Bounded below (see `report`).
    timeouts_without_reason: usize,
    other_errors: Vec<String>,
    lent_dead: usize,
    reason: Option<String>,
    /// How long the gets took, together, and the longest (breaker off: each failing get
    /// waits out `acquire_timeout`; compare `breaker.rs`).
    waited: Duration,
    max_wait: Duration,
}

impl Outage {
    fn waited(&mut self, one: Duration) {
        self.waited += one;
        self.max_wait = self.max_wait.max(one);
    }
}

impl Outage {
    fn report(&self, front: &str, create_errors: usize, recovery: Duration, min_idle_back: Duration) {
        println!(
            "{front} outage of {OUTAGE:?}: {} gets, {} Timeout carrying the connection error (last: {:?}), \
             {} Timeout without one (waited for a create slot), {} other errors, {} dead connections lent, \
             {create_errors} failed connection attempts; callers waited {:.0?} per get on average, \
             {:.0?} at most (breaker off); \
             recovered {recovery:.1?} after the restart (bound {RECOVERY_BOUND:?}), min_idle back after \
             {min_idle_back:.1?} (bound {MIN_IDLE_BOUND:?})",
            self.gets,
            self.timeouts_with_reason,
            self.reason,
            self.timeouts_without_reason,
            self.other_errors.len(),
            self.lent_dead,
            self.waited / u32::try_from(self.gets.max(1)).unwrap_or(u32::MAX),
            self.max_wait,
        );
        assert!(self.timeouts_with_reason > 0, "{front}: no get timed out during the outage");
        assert!(self.other_errors.is_empty(), "{front}: gets failed otherwise: {:?}", self.other_errors);
        // Most timeouts carry the reason: a caller without an error of its own takes one the
        // pool kept from the few that create (see `timeouts_without_reason`).
        assert!(
            self.timeouts_without_reason * 4 <= self.timeouts_with_reason,
            "{front}: {} of {} timeouts carried no create error",
            self.timeouts_without_reason,
            self.timeouts_with_reason + self.timeouts_without_reason
        );
        assert_eq!(self.lent_dead, 0, "{front}: validate_on_acquire lent a dead connection");
        assert!(recovery <= RECOVERY_BOUND, "{front}: recovery took {recovery:?}");
        assert!(min_idle_back <= MIN_IDLE_BOUND, "{front}: min_idle came back after {min_idle_back:?}");
    }
}

#[test]
fn sync_outage() {
    let Some((server, _lock)) = pg::server("sync_outage") else { return };
    if !server.ours {
        eprintln!("SKIPPED sync_outage: the server at CENOTE_PG_URL was not started by scripts/postgres.sh: not ours to stop");
        return;
    }
    const MIN_IDLE: usize = 2;
    let manager = Counted::new(SyncPg::new(&server.url, NoTls).expect("the URL parses"));
    let pool = cenote_sync::Pool::builder(manager)
        .max_size(4)
        .min_idle(MIN_IDLE)
        .validate_on_acquire(true)
        .acquire_timeout(Some(Duration::from_millis(300)))
        .maintenance_interval(Duration::from_millis(200))
        .name("pg-sync-outage")
        .build()
        .expect("valid options");
    // `warm` and the maintenance thread fill min_idle together.
    pool.warm().expect("the server is up");
    assert!(pool.status().idle >= MIN_IDLE, "warm: {}", pool.status());
    pool.get().expect("a connection").simple_query("SELECT 1").expect("a query");

    let mut restart = pg::Restart { stopped: true };
    println!("sync outage: pg_ctl stop -m immediate on {}", pg::datadir());
    pg::ctl(&["stop", "-m", "immediate"]);
    let stopped = Instant::now();
    let errors_before = pool.manager().create_errors.load(Relaxed);
    let mut outage = Outage::default();
    while stopped.elapsed() < OUTAGE {
        outage.gets += 1;
        let start = Instant::now();
        let got = pool.get();
        outage.waited(start.elapsed());
        match got {
            Err(cenote_sync::Error::Timeout { last_create_error: Some(e) }) => {
                outage.timeouts_with_reason += 1;
                outage.reason = Some(chain(&e));
            }
            Err(cenote_sync::Error::Timeout { last_create_error: None }) => {
                outage.timeouts_without_reason += 1
            }
            Err(e) => outage.other_errors.push(format!("{e:?}")),
            Ok(mut conn) => {
                if conn.simple_query("SELECT 1").is_err() {
                    outage.lent_dead += 1;
                    cenote_sync::Pooled::report_error(&mut conn);
                }
            }
        }
    }
    pg::ctl(&["start", "-w", "-t", "30"]);
    restart.stopped = false;
    let restarted = Instant::now();
    let create_errors = pool.manager().create_errors.load(Relaxed) - errors_before;

    // The pool recovers by itself: the first get after the restart that works.
    let recovery = loop {
        if let Ok(mut conn) = pool.get() {
            if conn.simple_query("SELECT 1").is_ok() {
                break restarted.elapsed();
            }
            cenote_sync::Pooled::report_error(&mut conn);
        }
        assert!(restarted.elapsed() < RECOVERY_BOUND * 3, "sync: no recovery after the restart");
    };
    // Maintenance (the background thread) brings the idle connections back to min_idle.
    while pool.status().idle < MIN_IDLE && restarted.elapsed() < MIN_IDLE_BOUND * 2 {
        thread::sleep(Duration::from_millis(10));
    }
    let min_idle_back = restarted.elapsed();
    outage.report("sync", create_errors, recovery, min_idle_back);
    let status = pool.status();
    assert!(status.idle >= MIN_IDLE, "min_idle restored: {status}");
    assert_eq!(status.size, status.idle + status.in_use, "status balances: {status}");
    println!("sync outage: status after {status}");
}

#[test]
fn async_outage() {
    let Some((server, _lock)) = pg::server("async_outage") else { return };
    if !server.ours {
        eprintln!("SKIPPED async_outage: the server at CENOTE_PG_URL was not started by scripts/postgres.sh: not ours to stop");
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
            .acquire_timeout(Some(Duration::from_millis(300)))
            .maintenance_interval(Duration::from_millis(200))
            .name("pg-async-outage")
            .build()
            .expect("valid options");
        tokio::spawn(pool.maintenance());
        // `warm` and the maintenance task fill min_idle together.
        pool.warm().await.expect("the server is up");
        assert!(pool.status().idle >= MIN_IDLE, "warm: {}", pool.status());
        pool.get().await.expect("a connection").simple_query("SELECT 1").await.expect("a query");

        restart.stopped = true;
        println!("async outage: pg_ctl stop -m immediate on {}", pg::datadir());
        tokio::task::spawn_blocking(|| pg::ctl(&["stop", "-m", "immediate"])).await.expect("pg_ctl stop");
        let stopped = Instant::now();
        let errors_before = pool.manager().create_errors.load(Relaxed);
        // 16 tasks get at once, for the length of the outage.
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut outage = Outage::default();
                    while stopped.elapsed() < OUTAGE {
                        outage.gets += 1;
                        let start = Instant::now();
                        let got = pool.get().await;
                        outage.waited(start.elapsed());
                        match got {
                            Err(cenote_async::Error::Timeout { last_create_error: Some(e) }) => {
                                outage.timeouts_with_reason += 1;
                                outage.reason = Some(chain(&e));
                            }
                            Err(cenote_async::Error::Timeout { last_create_error: None }) => {
                                outage.timeouts_without_reason += 1;
                            }
                            Err(e) => outage.other_errors.push(format!("{e:?}")),
                            Ok(mut conn) => {
                                if conn.simple_query("SELECT 1").await.is_err() {
                                    outage.lent_dead += 1;
                                    cenote_async::Pooled::report_error(&mut conn);
                                }
                            }
                        }
                    }
                    outage
                })
            })
            .collect();
        // Half-way through, what `status()` says while 16 tasks are in `get`: callers pausing
        // between create retries and waiting for a create slot count as waiting.
        tokio::time::sleep_until((stopped + OUTAGE / 2).into()).await;
        println!("async outage: status half-way, 16 tasks in get: {}", pool.status());
        let mut outage = Outage::default();
        for task in tasks {
            let one = task.await.expect("a get task panicked");
            outage.gets += one.gets;
            outage.timeouts_with_reason += one.timeouts_with_reason;
            outage.timeouts_without_reason += one.timeouts_without_reason;
            outage.other_errors.extend(one.other_errors);
            outage.lent_dead += one.lent_dead;
            outage.reason = one.reason.or(outage.reason);
            outage.waited += one.waited;
            outage.max_wait = outage.max_wait.max(one.max_wait);
        }
        tokio::task::spawn_blocking(|| pg::ctl(&["start", "-w", "-t", "30"])).await.expect("pg_ctl start");
        restart.stopped = false;
        let restarted = Instant::now();
        let create_errors = pool.manager().create_errors.load(Relaxed) - errors_before;

        let recovery = loop {
            if let Ok(mut conn) = pool.get().await {
                if conn.simple_query("SELECT 1").await.is_ok() {
                    break restarted.elapsed();
                }
                cenote_async::Pooled::report_error(&mut conn);
            }
            assert!(restarted.elapsed() < RECOVERY_BOUND * 3, "async: no recovery after the restart");
        };
        while pool.status().idle < MIN_IDLE && restarted.elapsed() < MIN_IDLE_BOUND * 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let min_idle_back = restarted.elapsed();
        outage.report("async", create_errors, recovery, min_idle_back);
        let status = pool.status();
        assert!(status.idle >= MIN_IDLE, "min_idle restored: {status}");
        assert_eq!(status.size, status.idle + status.in_use, "status balances: {status}");
        println!("async outage: status after {status}");
    });
    drop(restart);
}

/// The ready-made managers' checks on a connection whose backend was terminated: `check`
/// fails with the driver's error as the reason, in both front ends. (`has_broken`, that is
/// `is_closed()`, may still be `false` right after the kill: printed, not asserted.)
#[test]
fn managers_check_gives_the_reason() {
    let Some((server, _lock)) = pg::server("managers_check_gives_the_reason") else { return };
    let mut killer = postgres::Client::connect(&server.url, NoTls).expect("the killer connects");

    let manager = SyncPg::new(&server.url, NoTls).expect("the URL parses");
    let mut conn = cenote_sync::Manager::create(&manager).expect("connects");
    assert!(cenote_sync::Manager::check(&manager, &mut conn).is_ok(), "a live connection passes");
    assert!(cenote_sync::Manager::is_valid(&manager, &mut conn), "is_valid agrees");
    assert!(!cenote_sync::Manager::has_broken(&manager, &mut conn));
    let pid: i32 = conn.query_one("SELECT pg_backend_pid()", &[]).expect("a query").get(0);
    killer.execute("SELECT pg_terminate_backend($1)", &[&pid]).expect("the kill runs");
    let broken_before = cenote_sync::Manager::has_broken(&manager, &mut conn);
    let reason =
        cenote_sync::Manager::check(&manager, &mut conn).expect_err("a killed connection fails its check");
    let reason = reason.expect("with the driver's error as the reason");
    println!(
        "sync: has_broken right after the kill: {broken_before}; check failed with: {}; has_broken after: {}",
        chain(&reason),
        cenote_sync::Manager::has_broken(&manager, &mut conn)
    );

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let manager = AsyncPg::new(&server.url, NoTls).expect("the URL parses");
        let mut conn = cenote_async::Manager::create(&manager).await.expect("connects");
        assert!(cenote_async::Manager::check(&manager, &mut conn).await.is_ok(), "a live connection passes");
        assert!(cenote_async::Manager::is_valid(&manager, &mut conn).await, "is_valid agrees");
        assert!(!cenote_async::Manager::has_broken(&manager, &mut conn));
        let pid: i32 = conn.query_one("SELECT pg_backend_pid()", &[]).await.expect("a query").get(0);
        // The blocking killer runs on a thread of its own, outside the runtime.
        let url = server.url.clone();
        std::thread::spawn(move || {
            let mut killer = postgres::Client::connect(&url, NoTls).expect("the killer connects");
            killer.execute("SELECT pg_terminate_backend($1)", &[&pid]).expect("the kill runs");
        })
        .join()
        .expect("the killer thread");
        let broken_before = cenote_async::Manager::has_broken(&manager, &mut conn);
        let reason =
            cenote_async::Manager::check(&manager, &mut conn).await.expect_err("a killed connection fails its check");
        let reason = reason.expect("with the driver's error as the reason");
        println!(
            "async: has_broken right after the kill: {broken_before}; check failed with: {}; has_broken after: {}",
            chain(&reason),
            cenote_async::Manager::has_broken(&manager, &mut conn)
        );
    });
}

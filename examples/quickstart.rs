//! Quick start: pool real SQLite connections with cenote, first from threads
//! (`cenote_sync`), then from async tasks (`cenote_async`) on tokio and on a bare
//! `futures_lite::future::block_on`, then let maintenance keep a pool healthy (a `min_idle`
//! refill, an idle reap, a graceful shutdown). The first pool's settings are read from
//! `examples/config/pools.toml` (its `database` entry), as a service would load them.
//!
//! Nothing to install: SQLite is compiled in (rusqlite's `bundled` feature) and the database
//! is a temporary file, removed at the end.
//!
//! ```text
//! cargo run -p cenote-examples --example quickstart
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

/// The errors the example passes around (`Send + Sync` so that threads and tasks can return
/// them).
type BoxError = Box<dyn Error + Send + Sync>;

/// How many threads (part 1) share how many connections.
const THREADS: usize = 8;
const ROWS_PER_THREAD: usize = 50;
/// How many tasks (part 2) share how many connections.
const TASKS: usize = 32;
const ROWS_PER_TASK: usize = 25;
const MAX_SIZE: usize = 4;

// ---------------------------------------------------------------------------------------
// The manager: how the pool opens, checks and cleans SQLite connections.
// ---------------------------------------------------------------------------------------

/// Opens connections to one SQLite file, and counts what it did so the example can show it.
struct Sqlite {
    path: PathBuf,
    opened: AtomicUsize,
    checks: AtomicUsize,
}

impl Sqlite {
    fn new(path: &Path) -> Self {
        Self { path: path.to_owned(), opened: AtomicUsize::new(0), checks: AtomicUsize::new(0) }
    }

    /// A new connection: WAL so that readers do not block the writer, and a busy timeout so
    /// that concurrent writers wait for the file lock instead of failing with SQLITE_BUSY.
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        debug_assert_eq!(mode, "wal");
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// The health check: a round trip to SQLite.
    fn ping(&self, conn: &Connection) -> bool {
        self.checks.fetch_add(1, Ordering::Relaxed);
        conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)).is_ok()
    }

    /// Cleans a returned connection: a borrower that forgot to COMMIT must not hand its open
    /// transaction to the next one.
    fn rollback_open_transaction(conn: &Connection) -> rusqlite::Result<()> {
        if conn.is_autocommit() {
            Ok(())
        } else {
            conn.execute_batch("ROLLBACK")
        }
    }
}

/// The blocking manager, for `cenote_sync::Pool`.
impl cenote_sync::Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn create(&self) -> Result<Connection, rusqlite::Error> {
        self.open()
    }

    fn is_valid(&self, conn: &mut Connection) -> bool {
        self.ping(conn)
    }

    fn reset(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        Self::rollback_open_transaction(conn)
    }
}

/// The async manager, for `cenote_async::Pool`: the same methods, as `async fn`.
///
/// rusqlite is a blocking library, so these run SQLite calls inline on the executor thread.
/// For tiny local queries in a demo that is fine; real async code would use an async driver
/// (sqlx, tokio-postgres, ...) or move the blocking calls to a blocking thread pool
/// (`tokio::task::spawn_blocking`, the `blocking` crate).
impl cenote_async::Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<Connection, rusqlite::Error> {
        self.open()
    }

    async fn is_valid(&self, conn: &mut Connection) -> bool {
        self.ping(conn)
    }

    async fn reset(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        Self::rollback_open_transaction(conn)
    }
}

// ---------------------------------------------------------------------------------------
// Part 1: threads and `cenote_sync::Pool`.
// ---------------------------------------------------------------------------------------

fn part1_threads(path: &Path) -> Result<(), BoxError> {
    println!("== Part 1: cenote_sync::Pool, {THREADS} threads sharing {MAX_SIZE} connections ==");
    // The settings come from a file: max_size 4, `SELECT 1` before lending an idle connection
    // (validate_on_acquire), a 10 s acquire timeout. `Pools` reads TOML or YAML by extension.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/pools.toml");
    let pools = cenote_sync::Pools::from_file(&file)?;
    let database = pools.get("database").ok_or("examples/config/pools.toml has no `database` pool")?;
    if database.max_size != MAX_SIZE {
        return Err(format!("this part expects max_size = {MAX_SIZE} in the `database` pool").into());
    }
    let pool = cenote_sync::Pool::builder(Sqlite::new(path)).config(database).build()?;
    let config = pool.config();
    println!(
        "built pool `{}` from examples/config/pools.toml: max_size {}, validate_on_acquire {}, acquire_timeout {:?}",
        config.name, config.max_size, config.validate_on_acquire, config.acquire_timeout
    );

    pool.get()?.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (
             id     INTEGER PRIMARY KEY,
             source TEXT    NOT NULL,
             n      INTEGER NOT NULL
         )",
    )?;
    println!("created table `events`; pool: {}", show(pool.status()));

    // Fill the pool and hold every connection, so that the workers start by waiting.
    let held: Vec<_> = (0..MAX_SIZE).map(|_| pool.get()).collect::<Result<_, _>>()?;
    println!("holding all {MAX_SIZE} connections; try_get() = {:?}", pool.try_get().map(|_| "a connection"));

    let gets = AtomicUsize::new(0);
    let started = Instant::now();
    let written = std::thread::scope(|s| -> Result<usize, BoxError> {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (pool, gets) = (&pool, &gets);
                s.spawn(move || -> Result<usize, BoxError> {
                    let source = format!("thread-{t}");
                    let mut seen = 0;
                    for n in 0..ROWS_PER_THREAD {
                        // Borrow a connection for one statement; dropping it returns it.
                        let conn = pool.get()?;
                        gets.fetch_add(1, Ordering::Relaxed);
                        conn.execute(
                            "INSERT INTO events (source, n) VALUES (?1, ?2)",
                            params![source, n as i64],
                        )?;
                        if n % 10 == 9 {
                            seen = count(&conn, "SELECT COUNT(*) FROM events")?;
                        }
                    }
                    Ok(seen)
                })
            })
            .collect();

        wait_for(|| pool.status().waiting == THREADS);
        println!("{THREADS} threads are waiting on the full pool: {}", show(pool.status()));
        drop(held);
        println!("released the {MAX_SIZE} connections; the workers take turns with them");

        let mut last_seen = 0;
        for worker in workers {
            let seen = worker.join().map_err(|_| "a worker thread panicked")??;
            last_seen = last_seen.max(seen);
        }
        Ok(last_seen)
    })?;
    let elapsed = started.elapsed();

    let conn = pool.get()?;
    let rows = count(&conn, "SELECT COUNT(*) FROM events")?;
    let sources = count(&conn, "SELECT COUNT(DISTINCT source) FROM events")?;
    println!(
        "wrote {rows} rows from {sources} threads in {elapsed:.0?} (a reader saw up to {written} rows mid-way)"
    );

    // A careless borrower: BEGIN, INSERT, no COMMIT. `reset` rolls it back on return.
    conn.execute_batch("BEGIN; INSERT INTO events (source, n) VALUES ('careless', 0);")?;
    drop(conn);
    let after = count(&*pool.get()?, "SELECT COUNT(*) FROM events")?;
    println!("a borrower returned an uncommitted INSERT; reset rolled it back: still {after} rows");

    let manager = pool.manager();
    println!(
        "connections opened: {}, gets served to the workers: {}, health checks (SELECT 1): {}",
        manager.opened.load(Ordering::Relaxed),
        gets.load(Ordering::Relaxed),
        manager.checks.load(Ordering::Relaxed),
    );
    println!("pool: {}", show(pool.status()));
    if rows != THREADS * ROWS_PER_THREAD || after != rows {
        return Err(format!("expected {} rows, found {rows} then {after}", THREADS * ROWS_PER_THREAD).into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Part 2: async tasks and `cenote_async::Pool`.
// ---------------------------------------------------------------------------------------

fn part2_async(path: &Path) -> Result<(), BoxError> {
    println!();
    println!("== Part 2: cenote_async::Pool, {TASKS} tokio tasks sharing {MAX_SIZE} connections ==");
    let pool = cenote_async::Pool::builder(Sqlite::new(path))
        .max_size(MAX_SIZE)
        .validate_on_acquire(true)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()?;

    // The pool needs no runtime; tokio is just the executor this part happens to use.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_time().build()?;
    let gets = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (pool, gets) = (pool.clone(), Arc::clone(&gets)); // a pool is a cheap handle
                tokio::spawn(async move {
                    let source = format!("task-{t}");
                    for n in 0..ROWS_PER_TASK {
                        let conn = pool.get().await?;
                        gets.fetch_add(1, Ordering::Relaxed);
                        conn.execute(
                            "INSERT INTO events (source, n) VALUES (?1, ?2)",
                            params![source, n as i64],
                        )?;
                        // Other async work while holding the connection (the `get` future of
                        // every other task waits meanwhile, without blocking a thread).
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Ok::<_, BoxError>(())
                })
            })
            .collect();

        tokio::time::sleep(Duration::from_millis(20)).await;
        println!("while the tasks run: {}", show(pool.status()));
        for task in tasks {
            task.await??;
        }
        let rows = count(&*pool.get().await?, "SELECT COUNT(*) FROM events WHERE source LIKE 'task-%'")?;
        println!("{TASKS} tasks wrote {rows} rows in {:.0?}", started.elapsed());
        if rows != TASKS * ROWS_PER_TASK {
            return Err(format!("expected {} rows, found {rows}", TASKS * ROWS_PER_TASK).into());
        }

        // `get_timeout`: with every connection lent out, a get gives up after its limit.
        let mut held = Vec::new();
        for _ in 0..MAX_SIZE {
            held.push(pool.get().await?);
        }
        let asked = Instant::now();
        match pool.get_timeout(Duration::from_millis(100)).await {
            Err(e) if e.is_timeout() => {
                println!(
                    "all {MAX_SIZE} lent out: get_timeout(100ms) gave up after {:.0?}: {e}",
                    asked.elapsed()
                );
            }
            Err(e) => return Err(e.into()),
            Ok(_) => return Err("get_timeout should have timed out on a full pool".into()),
        }
        drop(held);
        let conn = pool.get_timeout(Duration::from_millis(100)).await?;
        println!("after returning them, get_timeout(100ms) succeeds: {}", show(pool.status()));
        drop(conn);
        Ok::<_, BoxError>(())
    })?;
    drop(runtime);
    println!("tokio runtime shut down; the pool lives on: {}", show(pool.status()));

    // The same pool, driven by the simplest executor there is.
    let total: usize = futures_lite::future::block_on(async {
        let conn = pool.get().await?;
        let total = count(&conn, "SELECT COUNT(*) FROM events")?;
        Ok::<_, BoxError>(total)
    })?;
    println!("futures_lite::future::block_on: got a connection; the table holds {total} rows in all");

    let manager = pool.manager();
    println!(
        "connections opened: {}, gets served to the tasks: {}, health checks (SELECT 1): {}",
        manager.opened.load(Ordering::Relaxed),
        gets.load(Ordering::Relaxed),
        manager.checks.load(Ordering::Relaxed),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Part 3: maintenance keeps the pool healthy by itself.
// ---------------------------------------------------------------------------------------

fn part3_maintenance(path: &Path) -> Result<(), BoxError> {
    println!("== Part 3: maintenance: min_idle refilled, idle connections reaped, shutdown ==");
    let idle_timeout = Duration::from_millis(300);
    let pool = cenote_sync::Pool::builder(Sqlite::new(path))
        .name("quickstart")
        .max_size(MAX_SIZE)
        .min_idle(2)
        .idle_timeout(Some(idle_timeout))
        .maintenance_interval(Duration::from_millis(50))
        .build()?;
    // `build` creates nothing; the background maintenance thread fills min_idle at once.
    wait_for(|| pool.status().idle >= 2);
    println!("after build, maintenance filled min_idle: {}", show(pool.status()));

    // A burst opens all four; afterwards the two above min_idle idle past idle_timeout and
    // are reaped, the two kept for min_idle stay.
    let burst: Vec<_> = (0..MAX_SIZE).map(|_| pool.get()).collect::<Result<_, _>>()?;
    println!("a burst of {MAX_SIZE} gets: {}", show(pool.status()));
    drop(burst);
    wait_for(|| pool.status().size == 2);
    println!("idle longer than {idle_timeout:?}, the extras were reaped: {}", show(pool.status()));

    // A connection known to be broken is retired; maintenance opens a replacement.
    let conn = pool.get()?;
    cenote_sync::Pooled::retire(conn);
    wait_for(|| pool.status().idle == 2);
    println!("one retired, min_idle refilled: {}", show(pool.status()));

    // One pass by hand says what it did and when the next is due.
    println!("a pass by hand: {}", pool.maintain());

    let held = pool.get()?;
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(held); // a request finishing while the service shuts down
    });
    println!("shutdown: {}", pool.shutdown(Duration::from_secs(5)));
    worker.join().map_err(|_| "worker panicked")?;
    println!("connections opened: {}", pool.manager().opened.load(Ordering::Relaxed));
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let db = TempDb::new();
    println!("SQLite {} database: {}", rusqlite::version(), db.path.display());
    println!();
    part1_threads(&db.path)?;
    part2_async(&db.path)?;
    println!();
    part3_maintenance(&db.path)?;
    println!();
    println!("done; removing {}", db.path.display());
    Ok(())
}

/// The number a `SELECT COUNT(...)` query returns.
fn count(conn: &Connection, sql: &str) -> Result<usize, BoxError> {
    let n: i64 = conn.query_row(sql, [], |row| row.get(0))?;
    Ok(usize::try_from(n)?)
}

/// One line of pool counts.
fn show(s: cenote_sync::Status) -> String {
    format!(
        "max_size {} size {} idle {} in_use {} waiting {}",
        s.max_size, s.size, s.idle, s.in_use, s.waiting
    )
}

/// Spins (politely) until `done`, for at most two seconds.
fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A database file in the temp directory, removed (with its WAL files) when dropped, also
/// when the example fails.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("cenote-quickstart-{}.db", std::process::id()));
        let db = Self { path };
        db.remove(); // a leftover of an earlier run with the same process id
        db
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

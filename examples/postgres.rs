//! PostgreSQL through `cenote-postgres`: threads on a blocking pool, then tokio tasks on an
//! async pool, both with maintenance on (a `min_idle` refill and periodic health checks),
//! each killing every backend once mid-run to show the pool healing.
//!
//! ```sh
//! bash scripts/postgres.sh start    # a throwaway server (or set CENOTE_PG_URL)
//! cargo run -p cenote-examples --example postgres
//! bash scripts/postgres.sh stop
//! ```
//!
//! The server: `CENOTE_PG_URL`, else the URL `scripts/postgres.sh start` wrote to
//! `target/postgres/url`.

use std::collections::BTreeSet;
use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cenote_postgres::{postgres, sync, tokio as pg_tokio, tokio_postgres, NoTls};

const KILL: &str = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'";

fn main() -> Result<(), Box<dyn Error>> {
    let Some(url) = server_url() else {
        eprintln!(
            "no PostgreSQL server: run `bash scripts/postgres.sh start` first (it writes target/postgres/url), \
             or set CENOTE_PG_URL"
        );
        std::process::exit(2);
    };
    println!("server: {url}");
    threads(&url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(tasks(&url))?;
    Ok(())
}

fn server_url() -> Option<String> {
    if let Some(url) = std::env::var("CENOTE_PG_URL").ok().filter(|u| !u.is_empty()) {
        return Some(url);
    }
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/postgres/url");
    std::fs::read_to_string(file).ok().map(|u| u.trim().to_owned())
}

/// 8 threads, a pool of 4, 200 queries each; every backend killed once half-way.
fn threads(url: &str) -> Result<(), Box<dyn Error>> {
    let pool: sync::Pool = cenote_sync::Pool::builder(sync::PgManager::new(url, NoTls)?)
        .max_size(4)
        .min_idle(2) // refilled by the background maintenance thread
        .health_check_interval(Some(Duration::from_secs(1)))
        .acquire_timeout(Some(Duration::from_secs(5)))
        .name("pg-threads")
        .build()?;
    pool.warm()?;
    println!("threads: after warm:   {}", pool.status());

    let (queries, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let backends = Mutex::new(BTreeSet::new());
    let start = Instant::now();
    let killed = std::thread::scope(|s| -> Result<usize, Box<dyn Error + Send + Sync>> {
        for i in 0..8 {
            let (pool, queries, failed, backends) = (&pool, &queries, &failed, &backends);
            s.spawn(move || {
                for n in 0..200 {
                    let Ok(mut conn) = pool.get() else { continue };
                    queries.fetch_add(1, Relaxed);
                    match conn.query_one("SELECT pg_backend_pid(), $1::INT4 * 2", &[&(i * 1000 + n)]) {
                        Ok(row) => {
                            backends
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .insert(row.get::<_, i32>(0));
                        }
                        Err(_) => {
                            failed.fetch_add(1, Relaxed);
                            // The pool checks this connection before lending it again.
                            cenote_sync::Pooled::report_error(&mut conn);
                        }
                    }
                }
            });
        }
        // Half-way, kill every backend of the pool from a connection of our own.
        while queries.load(Relaxed) < 800 && start.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        let mut killer = postgres::Client::connect(url, NoTls)?;
        Ok(killer.query(KILL, &[])?.len())
    });
    let killed = killed.map_err(|e| e.to_string())?;
    println!(
        "threads: {} queries in {:.1?}, {killed} backends killed half-way, {} queries failed (at most one per killed connection), {} distinct backends used",
        queries.load(Relaxed),
        start.elapsed(),
        failed.load(Relaxed),
        backends.lock().map_or(0, |b| b.len()),
    );
    println!("threads: after the run: {}", pool.status());
    println!("threads: one maintenance pass now: {}", pool.maintain());
    Ok(())
}

/// 64 tokio tasks, a pool of 8, 50 queries each; every backend killed once half-way.
async fn tasks(url: &str) -> Result<(), Box<dyn Error>> {
    let pool: pg_tokio::Pool = cenote_async::Pool::builder(pg_tokio::PgManager::new(url, NoTls)?)
        .max_size(8)
        .min_idle(4)
        .health_check_interval(Some(Duration::from_secs(1)))
        .acquire_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(2)))
        .name("pg-tasks")
        .build()?;
    // Maintenance on the tokio runtime: refills min_idle, checks idle connections; it ends
    // when the pool is dropped.
    tokio::spawn(pool.maintenance());
    pool.warm().await?;
    println!("tasks:   after warm:   {}", pool.status());

    let queries = std::sync::Arc::new(AtomicUsize::new(0));
    let failed = std::sync::Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let (pool, queries, failed) = (pool.clone(), queries.clone(), failed.clone());
            tokio::spawn(async move {
                for n in 0..50 {
                    let Ok(mut conn) = pool.get().await else { continue };
                    queries.fetch_add(1, Relaxed);
                    if conn.query_one("SELECT $1::INT4 * 2", &[&(i * 1000 + n)]).await.is_err() {
                        failed.fetch_add(1, Relaxed);
                        cenote_async::Pooled::report_error(&mut conn);
                    }
                }
            })
        })
        .collect();
    while queries.load(Relaxed) < 1600 && start.elapsed() < Duration::from_secs(10) {
        tokio::task::yield_now().await;
    }
    let (killer, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    let killed = killer.query(KILL, &[]).await?.len();
    for handle in handles {
        handle.await?;
    }
    println!(
        "tasks:   {} queries in {:.1?}, {killed} backends killed half-way, {} queries failed (at most one per killed connection)",
        queries.load(Relaxed),
        start.elapsed(),
        failed.load(Relaxed),
    );
    println!("tasks:   after the run: {}", pool.status());
    println!("tasks:   one maintenance pass now: {}", pool.maintain().await);
    Ok(())
}

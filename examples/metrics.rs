//! Monitoring: a pool of real SQLite connections under a small workload, its metrics served
//! at `/metrics` in the Prometheus text format on loopback (a plain `std::net::TcpListener`,
//! no HTTP crate), scraped once over HTTP and printed, then `pool.metrics()` printed as the
//! one readable block a log line or a status page would show.
//!
//! ```text
//! cargo run -p cenote-examples --example metrics            # scrape once, print, exit
//! cargo run -p cenote-examples --example metrics -- --serve # keep serving /metrics
//! ```

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use rusqlite::Connection;

type BoxError = Box<dyn Error + Send + Sync>;

/// In-memory SQLite connections (each its own database: enough to show the pool's books).
struct Sqlite;

impl cenote_sync::Manager for Sqlite {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn create(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("CREATE TABLE t (x INTEGER)")?;
        Ok(conn)
    }

    fn check(&self, conn: &mut Connection) -> Result<(), Option<rusqlite::Error>> {
        conn.query_row("SELECT 1", [], |_| Ok(())).map_err(Some)
    }
}

fn main() -> Result<(), BoxError> {
    let serve_forever = std::env::args().any(|a| a == "--serve");
    let pool = cenote_sync::Pool::builder(Sqlite)
        .name("sqlite")
        .max_size(2)
        .acquire_timeout(Some(Duration::from_secs(2)))
        .build()?;
    let mut registry = Registry::default();
    pool.register_metrics(&mut registry);
    let registry = Arc::new(registry);

    // A workload: 4 threads on 2 connections (some gets wait), a timeout, a retired
    // connection.
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || -> Result<(), BoxError> {
                for n in 0..50 {
                    let conn = pool.get()?;
                    conn.execute("INSERT INTO t VALUES (?1)", [i * 100 + n])?;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a worker panicked")??;
    }
    let (a, b) = (pool.get()?, pool.get()?);
    let timed_out = pool.get_timeout(Duration::from_millis(10)).is_err();
    cenote_sync::Pooled::retire(a);
    drop(b);
    println!("workload done (a get timed out: {timed_out})");

    // Serve /metrics; scrape it once ourselves.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("serving http://{addr}/metrics");
    let server = {
        let registry = Arc::clone(&registry);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Err(e) = answer(stream, &registry) {
                    eprintln!("metrics: {e}");
                }
                if !serve_forever {
                    break;
                }
            }
        })
    };
    let body = scrape(&addr.to_string())?;
    server.join().map_err(|_| "the server panicked")?;
    println!("--- GET /metrics ({} lines) ---", body.lines().count());
    // The histograms' cumulative buckets make up most of the text: show those where the
    // count grows, and +Inf.
    let mut last_count = None;
    for line in body.lines() {
        if line.contains("_bucket{") && !line.contains("+Inf") {
            let count = line.rsplit(' ').next();
            if count == Some("0") || count == last_count {
                continue;
            }
            last_count = count;
        } else {
            last_count = None;
        }
        println!("{line}");
    }
    println!("--- pool.metrics() ---\n{}", pool.metrics());
    Ok(())
}

/// Answers one HTTP/1.1 request: `/metrics` with the registry's text, anything else 404.
fn answer(mut stream: TcpStream, registry: &Registry) -> Result<(), BoxError> {
    let mut request_line = String::new();
    let mut reader = BufReader::new(stream.try_clone()?);
    reader.read_line(&mut request_line)?;
    // Skip the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let (status, body) = if request_line.starts_with("GET /metrics ") {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry)?;
        ("200 OK", text)
    } else {
        ("404 Not Found", "try /metrics\n".to_owned())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

/// `GET /metrics` over a plain TCP stream; the response body.
fn scrape(addr: &str) -> Result<String, BoxError> {
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("a response without a body")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("scrape failed: {head}").into());
    }
    Ok(body.to_owned())
}

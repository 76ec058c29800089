//! A keyed pool of HTTP/1.1 keep-alive connections (`cenote_keyed::sync`): a tiny client
//! fanning requests out to three in-process backends, one sub-pool per backend, with a cap
//! per backend and a global cap across them.
//!
//! The backends listen on 127.0.0.1 (ports the OS picks), one thread per connection. Two keep
//! connections alive; the third answers `Connection: close` and hangs up after every other
//! response, as a backend behind a strict load balancer might. The client marks a connection
//! the server closed as broken (`has_broken` drops it on return), and retries a request once
//! on a fresh connection when a kept-alive one turns out to be dead.
//!
//! It prints, per backend, the connections the backend accepted against the requests it
//! served: reuse shows as far fewer connections than requests, except for the closing one.
//!
//! ```text
//! cargo run -p cenote-examples --example keyed_proxy
//! ```

use std::error::Error;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use cenote_keyed::sync::{KeyedManager, KeyedPool, Pooled};

type BoxError = Box<dyn Error + Send + Sync>;

const THREADS: usize = 6;
const REQUESTS_PER_THREAD: usize = 60;
/// Connections per backend.
const MAX_SIZE: usize = 3;
/// Connections across all backends.
const MAX_TOTAL: usize = 8;

// ---------------------------------------------------------------------------------------
// The backends.
// ---------------------------------------------------------------------------------------

/// What one backend counted.
#[derive(Default)]
struct Counts {
    connections: AtomicUsize,
    requests: AtomicUsize,
}

/// Starts a backend; `close_every`: hang up after this many responses on a connection
/// (0: keep connections alive).
fn backend(name: &'static str, close_every: usize) -> io::Result<(SocketAddr, Arc<Counts>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let counts = Arc::new(Counts::default());
    let counted = Arc::clone(&counts);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.connections.fetch_add(1, Ordering::Relaxed);
            let counts = Arc::clone(&counted);
            thread::spawn(move || {
                let _ = serve(name, stream, close_every, &counts);
            });
        }
    });
    Ok((addr, counts))
}

/// Serves requests on one connection until the client hangs up (or it is time to close).
fn serve(name: &str, stream: TcpStream, close_every: usize, counts: &Counts) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut served = 0;
    loop {
        let Some(path) = read_request(&mut reader)? else { return Ok(()) };
        served += 1;
        counts.requests.fetch_add(1, Ordering::Relaxed);
        let body = format!("{name} says hello to {path}\n");
        let close = close_every != 0 && served % close_every == 0;
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{body}",
            body.len(),
            if close { "close" } else { "keep-alive" }
        )?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// Reads one request's head; returns its path, or `None` at a clean end of stream.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            return Ok(Some(path));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The client: a connection per backend, and the keyed manager that makes them.
// ---------------------------------------------------------------------------------------

/// A kept-alive connection to one backend.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The server said `Connection: close`, or an I/O error left the stream in an unknown
    /// state: never lend it again.
    broken: bool,
}

impl Conn {
    /// One request, one response (its body).
    fn request(&mut self, path: &str) -> io::Result<String> {
        let result = self.exchange(path);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn exchange(&mut self, path: &str) -> io::Result<String> {
        write!(self.writer, "GET {path} HTTP/1.1\r\nHost: backend\r\nConnection: keep-alive\r\n\r\n")?;
        self.writer.flush()?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the backend closed the connection"));
        }
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            } else if lower.starts_with("connection:") && lower.contains("close") {
                self.broken = true;
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        String::from_utf8(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Opens connections to a backend by its address: the pool's key.
struct Http;

impl KeyedManager<SocketAddr> for Http {
    type Connection = Conn;
    type Error = io::Error;

    fn create(&self, addr: &SocketAddr) -> io::Result<Conn> {
        let writer = TcpStream::connect_timeout(addr, Duration::from_secs(2))?;
        writer.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Conn { reader: BufReader::new(writer.try_clone()?), writer, broken: false })
    }

    fn has_broken(&self, _addr: &SocketAddr, conn: &mut Conn) -> bool {
        conn.broken
    }
}

/// A request through the pool, retried once on a fresh connection if a kept-alive one was
/// dead (the backend closed it while it was idle).
fn fetch(pool: &KeyedPool<SocketAddr, Http>, addr: SocketAddr, path: &str) -> Result<String, BoxError> {
    let mut conn = pool.get(&addr)?;
    match conn.request(path) {
        Ok(body) => Ok(body),
        Err(_) => {
            Pooled::discard(conn);
            Ok(pool.get(&addr)?.request(path)?)
        }
    }
}

fn main() -> Result<(), BoxError> {
    let backends = [backend("alpha", 0)?, backend("beta", 0)?, backend("gamma (closes)", 2)?];
    let names = ["alpha", "beta", "gamma (closes every 2nd)"];
    let pool = KeyedPool::builder(Http)
        .max_size(MAX_SIZE)
        .max_total(MAX_TOTAL)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()?;

    let addrs: Vec<SocketAddr> = backends.iter().map(|(addr, _)| *addr).collect();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, addrs) = (pool.clone(), addrs.clone());
            thread::spawn(move || -> Result<usize, BoxError> {
                let mut ok = 0;
                for i in 0..REQUESTS_PER_THREAD {
                    let addr = addrs[(t + i) % addrs.len()];
                    let body = fetch(&pool, addr, &format!("/t{t}/r{i}"))?;
                    assert!(body.contains("says hello"));
                    ok += 1;
                }
                Ok(ok)
            })
        })
        .collect();
    let mut served = 0;
    for w in workers {
        served += w.join().map_err(|_| "a worker panicked")??;
    }

    println!(
        "{served} requests through a keyed pool (max_size {MAX_SIZE} per backend, max_total {MAX_TOTAL})"
    );
    println!("{:<26} {:>12} {:>9} {:>14}", "backend", "connections", "requests", "idle in pool");
    for ((addr, counts), name) in backends.iter().zip(names) {
        let idle = pool.status(addr).map_or(0, |s| s.idle);
        println!(
            "{name:<26} {:>12} {:>9} {idle:>14}",
            counts.connections.load(Ordering::Relaxed),
            counts.requests.load(Ordering::Relaxed),
        );
    }
    let status = pool.global_status();
    println!(
        "pool: {} connections created, {} closed, {} open now (of max_total {})",
        status.created, status.dropped, status.total, status.max_total
    );
    pool.close();
    Ok(())
}

//! A pool of TCP client connections (`cenote_sync`) talking to an in-process echo server:
//! many threads share a few connections, and a connection the server kills is dropped and
//! replaced without the callers having to clean up.
//!
//! The server listens on 127.0.0.1 (a port the OS picks) with one thread per connection;
//! the protocol is one line out, the same line back.
//!
//! ```text
//! cargo run -p cenote-examples --example tcp
//! ```

use std::collections::HashMap;
use std::error::Error;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cenote_sync::{Manager, Pool, Pooled};

type BoxError = Box<dyn Error + Send + Sync>;

const THREADS: usize = 6;
const REQUESTS_PER_THREAD: usize = 50;
const MAX_SIZE: usize = 3;

// ---------------------------------------------------------------------------------------
// The client side: a connection, and the manager the pool uses to make and check them.
// ---------------------------------------------------------------------------------------

/// One client connection to the echo server.
struct Client {
    /// 1 for the first connection opened, 2 for the next, ...
    id: usize,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Set when an I/O error happened: the stream's state is unknown (a request may be half
    /// written, a reply half read), so it must not be lent again.
    broken: bool,
}

impl Client {
    /// Sends `message` and waits for the echo.
    fn request(&mut self, message: &str) -> io::Result<String> {
        let reply = self.round_trip(message);
        if reply.is_err() {
            self.broken = true;
        }
        reply
    }

    fn round_trip(&mut self, message: &str) -> io::Result<String> {
        self.writer.write_all(format!("{message}\n").as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        line.truncate(line.trim_end().len());
        Ok(line)
    }

    /// Whether the server has closed (or reset) its end, without waiting: an idle connection
    /// has nothing to read, so a non-blocking `peek` answers "would block" while it is
    /// healthy, and 0 bytes (end of stream) or an error once the server is gone.
    fn peer_closed(&self) -> bool {
        let stream = self.reader.get_ref();
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let peeked = stream.peek(&mut [0; 1]);
        let restored = stream.set_nonblocking(false);
        match peeked {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => restored.is_err(),
            // End of stream, an error, or bytes nobody asked for (out of step): unusable.
            _ => true,
        }
    }
}

/// Opens connections to the echo server at `addr`.
struct EchoClients {
    addr: SocketAddr,
    opened: AtomicUsize,
}

impl Manager for EchoClients {
    type Connection = Client;
    type Error = io::Error;

    fn create(&self) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let id = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        println!("    [manager] opened connection #{id} from {}", stream.local_addr()?);
        Ok(Client { id, writer: stream.try_clone()?, reader: BufReader::new(stream), broken: false })
    }

    /// Run before lending an idle connection (`validate_on_acquire`): catches connections
    /// the server closed while they sat in the pool.
    fn is_valid(&self, conn: &mut Client) -> bool {
        let closed = conn.peer_closed();
        if closed {
            println!("    [manager] is_valid: connection #{} was closed by the server; dropping it", conn.id);
        }
        !closed
    }

    /// Run on return: catches connections that failed while lent out.
    fn has_broken(&self, conn: &mut Client) -> bool {
        if conn.broken {
            println!("    [manager] has_broken: connection #{} failed while lent out; dropping it", conn.id);
        }
        conn.broken
    }
}

// ---------------------------------------------------------------------------------------

fn main() -> Result<(), BoxError> {
    let server = EchoServer::start()?;
    println!("echo server listening on {}", server.addr);

    let pool = Pool::builder(EchoClients { addr: server.addr, opened: AtomicUsize::new(0) })
        .max_size(MAX_SIZE)
        .validate_on_acquire(true)
        .acquire_timeout(Some(Duration::from_secs(5)))
        .build()?;

    println!();
    println!(
        "== {THREADS} threads x {REQUESTS_PER_THREAD} requests through a pool of max_size {MAX_SIZE} =="
    );
    let started = Instant::now();
    std::thread::scope(|s| -> Result<(), BoxError> {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let pool = &pool;
                s.spawn(move || -> Result<(), BoxError> {
                    for i in 0..REQUESTS_PER_THREAD {
                        let message = format!("thread {t} request {i}");
                        let reply = pool.get()?.request(&message)?;
                        if reply != message {
                            return Err(format!("sent {message:?}, got {reply:?}").into());
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().map_err(|_| "a worker thread panicked")??;
        }
        Ok(())
    })?;
    let requests = THREADS * REQUESTS_PER_THREAD;
    let mut sent = requests;
    println!(
        "{requests} requests answered in {:.0?} over {} connections (the server accepted {})",
        started.elapsed(),
        pool.manager().opened.load(Ordering::Relaxed),
        server.accepted.load(Ordering::Relaxed),
    );
    // Borrow every idle connection at once to see how much each was used.
    let idle: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
    for conn in &idle {
        println!(
            "  connection #{} has been lent {} times (counting this one)",
            conn.id,
            Pooled::meta(conn).use_count
        );
    }
    drop(idle);
    println!("pool: {}", show(pool.status()));

    println!();
    println!("== The server kills a connection while it is lent out ==");
    let mut conns: Vec<_> = (0..MAX_SIZE).map(|_| pool.get()).collect::<Result<_, _>>()?;
    let victim = &conns[1];
    println!("borrowed connections {}; the server closes its end of #{}", ids(&conns), victim.id);
    server.kill(victim.writer.local_addr()?);
    for conn in &mut conns {
        sent += 1;
        match conn.request("are you there?") {
            Ok(reply) => println!("  connection #{}: {reply:?}", conn.id),
            Err(e) => println!("  connection #{}: request failed: {e}", conn.id),
        }
    }
    drop(conns); // the broken one is returned too: `has_broken` says so and the pool drops it
    println!("after returning them: {}", show(pool.status()));
    let mut conns: Vec<_> = (0..MAX_SIZE).map(|_| pool.get()).collect::<Result<_, _>>()?;
    for conn in &mut conns {
        sent += 1;
        conn.request("hello again")?;
    }
    println!(
        "borrowed {MAX_SIZE} again: connections {} all answer; the new one replaces the dead one",
        ids(&conns)
    );
    drop(conns);

    println!();
    println!("== The server closes every connection while they sit idle (say, a restart) ==");
    let idle_before = pool.status().idle;
    let opened_before = pool.manager().opened.load(Ordering::Relaxed);
    let killed = server.kill_all();
    println!("server closed {killed} connections; the pool still holds {idle_before} idle ones");
    std::thread::sleep(Duration::from_millis(50)); // let the FINs arrive
    let mut conn = pool.get()?;
    sent += 1;
    let reply = conn.request("after the restart")?;
    println!(
        "get() checked the idle connections, dropped the dead ones and opened #{}: it answers {reply:?}",
        conn.id
    );
    drop(conn);
    println!(
        "connections opened in this step: {}; pool: {}",
        pool.manager().opened.load(Ordering::Relaxed) - opened_before,
        show(pool.status())
    );

    println!();
    println!(
        "in all: {} connections opened for {} requests",
        pool.manager().opened.load(Ordering::Relaxed),
        sent
    );
    Ok(())
}

/// "#1, #2, #3"
fn ids(conns: &[Pooled<EchoClients>]) -> String {
    conns.iter().map(|c| format!("#{}", c.id)).collect::<Vec<_>>().join(", ")
}

/// One line of pool counts.
fn show(s: cenote_sync::Status) -> String {
    format!(
        "max_size {} size {} idle {} in_use {} waiting {}",
        s.max_size, s.size, s.idle, s.in_use, s.waiting
    )
}

// ---------------------------------------------------------------------------------------
// The server side: a line echo server, one thread per connection, that can kill its
// connections on demand.
// ---------------------------------------------------------------------------------------

struct EchoServer {
    addr: SocketAddr,
    accepted: AtomicUsize,
    /// The server's end of each open connection, by the client's address.
    open: Mutex<HashMap<SocketAddr, TcpStream>>,
}

impl EchoServer {
    /// Binds 127.0.0.1 on a free port and accepts on a background thread (which ends with
    /// the process).
    fn start() -> io::Result<Arc<Self>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let server = Arc::new(Self {
            addr: listener.local_addr()?,
            accepted: AtomicUsize::new(0),
            open: Mutex::default(),
        });
        let accepting = Arc::clone(&server);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepting.accepted.fetch_add(1, Ordering::Relaxed);
                let (Ok(peer), Ok(handle)) = (stream.peer_addr(), stream.try_clone()) else { continue };
                accepting.connections().insert(peer, handle);
                let server = Arc::clone(&accepting);
                std::thread::spawn(move || {
                    let _ = echo(stream); // a killed connection ends with an error: fine
                    server.connections().remove(&peer);
                });
            }
        });
        Ok(server)
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, TcpStream>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the server's end of the connection from `client`.
    fn kill(&self, client: SocketAddr) {
        if let Some(stream) = self.connections().remove(&client) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Closes every open connection; returns how many.
    fn kill_all(&self) -> usize {
        let killed: Vec<_> = self.connections().drain().collect();
        for (_, stream) in &killed {
            let _ = stream.shutdown(Shutdown::Both);
        }
        killed.len()
    }
}

/// Echoes lines until the client hangs up.
fn echo(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        writer.write_all(line.as_bytes())?;
    }
}

//! A pool of async TCP client connections (`cenote_async` on smol) talking to an in-process
//! echo server: many tasks share a few connections, and a connection the server kills is
//! dropped and replaced without the callers having to clean up.
//!
//! The same program as the `tcp` example, with `smol::net` and `.await`. The pool itself
//! names no runtime: smol here, tokio in the `quickstart` example.
//!
//! ```text
//! cargo run -p cenote-examples --example async_tcp
//! ```

use std::collections::HashMap;
use std::error::Error;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cenote_async::{Manager, Pool, Pooled};
use futures_lite::future;
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};
use smol::Timer;

type BoxError = Box<dyn Error + Send + Sync>;

const TASKS: usize = 16;
const REQUESTS_PER_TASK: usize = 50;
const MAX_SIZE: usize = 4;
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------
// The client side: a connection, and the manager the pool uses to make and check them.
// ---------------------------------------------------------------------------------------

/// One client connection to the echo server.
struct Client {
    /// 1 for the first connection opened, 2 for the next, ...
    id: usize,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// Set when an I/O error (or a timeout) happened: the stream's state is unknown, so it
    /// must not be lent again.
    broken: bool,
}

impl Client {
    /// Sends `message` and waits (up to [`REPLY_TIMEOUT`]) for the echo.
    async fn request(&mut self, message: &str) -> io::Result<String> {
        let timeout = async {
            Timer::after(REPLY_TIMEOUT).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "no reply in time"))
        };
        let reply = future::or(self.round_trip(message), timeout).await;
        if reply.is_err() {
            self.broken = true;
        }
        reply
    }

    async fn round_trip(&mut self, message: &str) -> io::Result<String> {
        self.writer.write_all(format!("{message}\n").as_bytes()).await?;
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        line.truncate(line.trim_end().len());
        Ok(line)
    }

    /// Whether the server has closed (or reset) its end, without waiting: polling a `peek`
    /// once is pending while a healthy idle connection has nothing to read, and ready with 0
    /// bytes (end of stream) or an error once the server is gone.
    async fn peer_closed(&self) -> bool {
        let mut byte = [0; 1];
        // Pending (`None`): nothing to read, alive. Ready: end of stream, an error, or bytes
        // nobody asked for (out of step): unusable.
        future::poll_once(self.writer.peek(&mut byte)).await.is_some()
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

    async fn create(&self) -> io::Result<Client> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let id = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        println!("    [manager] opened connection #{id} from {}", stream.local_addr()?);
        Ok(Client { id, writer: stream.clone(), reader: BufReader::new(stream), broken: false })
    }

    /// Run before lending an idle connection (`validate_on_acquire`): catches connections
    /// the server closed while they sat in the pool.
    async fn is_valid(&self, conn: &mut Client) -> bool {
        let closed = conn.peer_closed().await;
        if closed {
            println!("    [manager] is_valid: connection #{} was closed by the server; dropping it", conn.id);
        }
        !closed
    }

    /// Run on return (synchronously, in `Drop`): catches connections that failed while lent
    /// out.
    fn has_broken(&self, conn: &mut Client) -> bool {
        if conn.broken {
            println!("    [manager] has_broken: connection #{} failed while lent out; dropping it", conn.id);
        }
        conn.broken
    }
}

// ---------------------------------------------------------------------------------------

fn main() -> Result<(), BoxError> {
    smol::block_on(run())
}

async fn run() -> Result<(), BoxError> {
    let server = EchoServer::start().await?;
    println!("echo server listening on {}", server.addr);

    let pool = Pool::builder(EchoClients { addr: server.addr, opened: AtomicUsize::new(0) })
        .max_size(MAX_SIZE)
        .validate_on_acquire(true)
        .create_timeout(Some(Duration::from_secs(1)))
        .acquire_timeout(Some(Duration::from_secs(5)))
        .build()?;

    println!();
    println!("== {TASKS} tasks x {REQUESTS_PER_TASK} requests through a pool of max_size {MAX_SIZE} ==");
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let pool = pool.clone(); // a cheap handle
                                     // `smol::spawn` runs the task on smol's thread pool: the `get()` future is `Send`.
            smol::spawn(async move {
                for i in 0..REQUESTS_PER_TASK {
                    let message = format!("task {t} request {i}");
                    let reply = pool.get().await?.request(&message).await?;
                    if reply != message {
                        return Err(format!("sent {message:?}, got {reply:?}").into());
                    }
                }
                Ok::<_, BoxError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await?;
    }
    let requests = TASKS * REQUESTS_PER_TASK;
    let mut sent = requests;
    println!(
        "{requests} requests answered in {:.0?} over {} connections (the server accepted {})",
        started.elapsed(),
        pool.manager().opened.load(Ordering::Relaxed),
        server.accepted.load(Ordering::Relaxed),
    );
    // Borrow every connection at once to see how much each was used. (Not with `try_get`: in
    // the async pool it skips objects that still need their `reset` or, with
    // `validate_on_acquire`, a check, so here it would find nothing.)
    let mut idle = Vec::new();
    for _ in 0..pool.status().idle {
        idle.push(pool.get().await?);
    }
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
    let mut conns = Vec::new();
    for _ in 0..MAX_SIZE {
        conns.push(pool.get().await?);
    }
    let victim = &conns[1];
    println!("borrowed connections {}; the server closes its end of #{}", ids(&conns), victim.id);
    server.kill(victim.writer.local_addr()?);
    for conn in &mut conns {
        sent += 1;
        match conn.request("are you there?").await {
            Ok(reply) => println!("  connection #{}: {reply:?}", conn.id),
            Err(e) => println!("  connection #{}: request failed: {e}", conn.id),
        }
    }
    drop(conns); // the broken one is returned too: `has_broken` says so and the pool drops it
    println!("after returning them: {}", show(pool.status()));
    let mut conns = Vec::new();
    for _ in 0..MAX_SIZE {
        let mut conn = pool.get().await?;
        sent += 1;
        conn.request("hello again").await?;
        conns.push(conn);
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
    Timer::after(Duration::from_millis(50)).await; // let the FINs arrive
    let mut conn = pool.get().await?;
    sent += 1;
    let reply = conn.request("after the restart").await?;
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
        "in all: {} connections opened for {sent} requests",
        pool.manager().opened.load(Ordering::Relaxed)
    );
    Ok(())
}

/// "#1, #2, #3"
fn ids(conns: &[Pooled<EchoClients>]) -> String {
    conns.iter().map(|c| format!("#{}", c.id)).collect::<Vec<_>>().join(", ")
}

/// One line of pool counts.
fn show(s: cenote_async::Status) -> String {
    format!(
        "max_size {} size {} idle {} in_use {} waiting {}",
        s.max_size, s.size, s.idle, s.in_use, s.waiting
    )
}

// ---------------------------------------------------------------------------------------
// The server side: a line echo server, one task per connection, that can kill its
// connections on demand.
// ---------------------------------------------------------------------------------------

struct EchoServer {
    addr: SocketAddr,
    accepted: AtomicUsize,
    /// The server's end of each open connection, by the client's address.
    open: Mutex<HashMap<SocketAddr, TcpStream>>,
}

impl EchoServer {
    /// Binds 127.0.0.1 on a free port and accepts in a background task (which ends with the
    /// process).
    async fn start() -> io::Result<Arc<Self>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let server = Arc::new(Self {
            addr: listener.local_addr()?,
            accepted: AtomicUsize::new(0),
            open: Mutex::default(),
        });
        let accepting = Arc::clone(&server);
        smol::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                accepting.accepted.fetch_add(1, Ordering::Relaxed);
                accepting.connections().insert(peer, stream.clone());
                let server = Arc::clone(&accepting);
                smol::spawn(async move {
                    let _ = echo(stream).await; // a killed connection ends with an error: fine
                    server.connections().remove(&peer);
                })
                .detach();
            }
        })
        .detach();
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
async fn echo(stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.clone());
    let mut writer = stream;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        writer.write_all(line.as_bytes()).await?;
    }
}

//! The pool shapes of the README's "Patterns" section, each exercised once with its outcome
//! printed: autoscaling under a load that rises and falls, load shedding, the circuit breaker
//! on creation against a backend that goes down and comes back, the retry helper on
//! transient errors, the sharded pool (threads on their home shards, one `max_size`), and
//! priority gets with a reserve for `High` (the overflow pool).
//!
//! ```text
//! cargo run -p cenote-examples --example patterns
//! ```
//!
//! The "backend" is in-process (a flag that makes `create` fail, a counter that makes every
//! third operation fail), so that the example runs anywhere in a few seconds.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cenote_sync::{Autoscale, CircuitBreaker, Manager, Pool, Priority, RetryPolicy, RunError, ShardedPool};

/// A connection to the pretend backend.
#[derive(Debug)]
struct Conn {
    id: u32,
}

/// Why the pretend backend refused.
#[derive(Debug)]
enum BackendError {
    /// It is down: connecting fails.
    Down,
    /// A deadlock the next attempt may not hit (transient).
    Deadlock,
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Down => "connection refused",
            Self::Deadlock => "deadlock detected",
        })
    }
}

impl std::error::Error for BackendError {}

/// Makes connections unless the backend is down.
struct Backend {
    down: Arc<AtomicBool>,
    made: AtomicU32,
}

impl Manager for Backend {
    type Connection = Conn;
    type Error = BackendError;

    fn create(&self) -> Result<Conn, BackendError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(BackendError::Down);
        }
        Ok(Conn { id: self.made.fetch_add(1, Ordering::SeqCst) })
    }
}

fn backend() -> (Backend, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(false));
    (Backend { down: Arc::clone(&down), made: AtomicU32::new(0) }, down)
}

fn autoscaling() -> Result<(), Box<dyn std::error::Error>> {
    println!("== autoscaling: max_size follows the load (min 2, max 8, cooldown 200 ms)");
    let (manager, _) = backend();
    let pool = Pool::builder(manager)
        .name("autoscaled")
        .max_size(2)
        .autoscale(Some(Autoscale {
            min: 2,
            max: 8,
            cooldown: Duration::from_millis(200),
            ..Autoscale::default()
        }))
        .maintenance_thread(false) // this example runs the passes itself, to print each one
        .build()?;
    let mut held = Vec::new();
    let mut last = pool.status().max_size;
    let start = Instant::now();
    // Busy: every object is in use, and taken again as the pool grows.
    while start.elapsed() < Duration::from_secs(2) && last < 8 {
        while pool.status().in_use < pool.status().max_size {
            held.push(pool.get()?);
        }
        if let Some((from, to)) = pool.maintain().scaled {
            println!(
                "  {:>5} ms  busy ({} in use): max_size {from} -> {to}",
                start.elapsed().as_millis(),
                held.len()
            );
            last = to;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Quiet: everything comes back.
    held.clear();
    while start.elapsed() < Duration::from_secs(5) && last > 2 {
        if let Some((from, to)) = pool.maintain().scaled {
            println!("  {:>5} ms  idle: max_size {from} -> {to}", start.elapsed().as_millis());
            last = to;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    println!("  now: {}", pool.status());
    Ok(())
}

fn load_shedding() -> Result<(), Box<dyn std::error::Error>> {
    println!("== load shedding: max_waiters(2) on a pool of 1");
    let (manager, _) = backend();
    let pool = Pool::builder(manager)
        .max_size(1)
        .max_waiters(2)
        .acquire_timeout(Some(Duration::from_secs(5)))
        .build()?;
    let held = pool.get()?;
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let pool = pool.clone();
            std::thread::spawn(move || pool.get().map(|c| c.id))
        })
        .collect();
    while pool.status().waiting < 2 {
        std::thread::yield_now();
    }
    let start = Instant::now();
    match pool.get() {
        Err(e) if e.is_overloaded() => {
            println!("  third waiter turned away after {:?}: {e}", start.elapsed())
        }
        other => println!("  unexpected: {other:?}"),
    }
    drop(held);
    for waiter in waiters {
        let served = waiter.join().map_err(|_| "a waiter panicked")?;
        println!("  a queued waiter was served: {:?}", served.map_err(|e| e.to_string()));
    }
    Ok(())
}

fn circuit_breaker() -> Result<(), Box<dyn std::error::Error>> {
    println!("== circuit breaker: 3 failed creates open it for 300 ms");
    let (manager, down) = backend();
    let pool = Pool::builder(manager)
        .name("guarded")
        .max_size(2)
        .acquire_timeout(Some(Duration::from_millis(200)))
        .circuit_breaker(CircuitBreaker { failures: 3, open_for: Duration::from_millis(300) })
        .build()?;
    down.store(true, Ordering::SeqCst);
    let start = Instant::now();
    let (mut gets, mut fast, mut longest) = (0, 0, Duration::ZERO);
    while start.elapsed() < Duration::from_millis(700) {
        let began = Instant::now();
        let result = pool.get();
        let waited = began.elapsed();
        gets += 1;
        longest = longest.max(waited);
        match result {
            Err(e) if e.is_unavailable() => {
                fast += 1;
                if fast == 1 {
                    println!("  {:>4} ms  after {waited:?}: {e}", start.elapsed().as_millis());
                }
            }
            Err(e) => println!("  {:>4} ms  after {waited:?}: {e}", start.elapsed().as_millis()),
            Ok(_) => println!("  {:>4} ms  got a connection", start.elapsed().as_millis()),
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    println!(
        "  backend down for 700 ms: {gets} gets, {fast} failed fast as unavailable, the longest waited {longest:?} (acquire_timeout 200 ms)"
    );
    down.store(false, Ordering::SeqCst);
    let start = Instant::now();
    loop {
        match pool.get() {
            Ok(conn) => {
                println!(
                    "  backend back: connection {} after {:?} (the half-open probe succeeded)",
                    conn.id,
                    start.elapsed()
                );
                break;
            }
            Err(e) if start.elapsed() < Duration::from_secs(3) => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn retries() -> Result<(), Box<dyn std::error::Error>> {
    println!("== retry helper: up to 4 attempts, deadlocks are transient");
    let (manager, _) = backend();
    let pool = Pool::builder(manager).max_size(2).build()?;
    let policy = RetryPolicy::new(4, |e: &BackendError| matches!(e, BackendError::Deadlock))
        .backoff(Duration::from_millis(1), Duration::from_millis(10));
    let calls = AtomicU32::new(0);
    let answer = pool.run(
        |conn| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 {
                Err(BackendError::Deadlock)
            } else {
                Ok(format!("committed on connection {} at attempt {n}", conn.id))
            }
        },
        &policy,
    );
    println!("  {}", answer.map_err(|e| e.to_string())?);
    let gave_up = pool.run(|_conn| Err::<(), _>(BackendError::Deadlock), &policy);
    if let Err(RunError::Failed { error, attempts }) = &gave_up {
        println!("  always deadlocking: gave up after {attempts} attempts with {error:?}");
    }
    Ok(())
}

fn sharded() -> Result<(), Box<dyn std::error::Error>> {
    println!("== sharded pool: 4 shards, one max_size of 8, 8 threads");
    let (manager, _) = backend();
    let pool = ShardedPool::builder(manager).shards(4).max_size(8).build()?;
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..200 {
                    let conn = pool.get().expect("8 objects for 8 threads");
                    std::thread::sleep(Duration::from_micros(50)); // a short query
                    drop(conn);
                }
            });
        }
    });
    let status = pool.status();
    println!(
        "  after 1600 gets: {} objects (max 8), {} idle, {} waiting",
        status.size, status.idle, status.waiting
    );
    for i in 0..pool.shard_count() {
        println!("  shard {i}: {}", pool.shard_status(i));
    }
    // Affinity: one tenant's gets go to one shard.
    let shard = pool.shard_of("tenant-17");
    let conn = pool.get_from("tenant-17")?;
    println!("  get_from(\"tenant-17\"): shard {shard}, connection {}", conn.id);
    // Every shard full: a waiter is served by a return on any shard.
    let held: Vec<_> = std::iter::once(conn).chain((0..7).map(|_| pool.get().expect("room"))).collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            drop(held); // back to their own shards
        });
        let got = pool.get_timeout(Duration::from_secs(1)).map(|c| c.id);
        println!("  all 8 lent: a get waited {:?} and got {got:?}", started.elapsed());
    });
    Ok(())
}

fn priorities() -> Result<(), Box<dyn std::error::Error>> {
    println!("== priority: the reserve for High, and waiters served by class");
    let (manager, _) = backend();
    let pool = Pool::builder(manager).max_size(2).reserve(1).build()?;
    let first = pool.get_with(Priority::Normal)?;
    // One object left, and it is the reserve: Normal may not have it, High may.
    let start = Instant::now();
    let normal = pool.get_with_timeout(Priority::Normal, Duration::from_millis(50));
    println!(
        "  Normal get with only the reserve left: {:?} after {:?}",
        normal.map(|c| c.id).map_err(|e| e.to_string()),
        start.elapsed()
    );
    let high = pool.get_with(Priority::High)?;
    println!("  High get takes the reserved one: connection {}", high.id);
    drop((first, high));
    // Classes: a pool of 1, lent; queue a Low, then a Normal, then a High waiter (each queued
    // before the next), then return the object.
    let (manager, _) = backend();
    let pool = Pool::builder(manager).max_size(1).build()?;
    let first = pool.get()?;
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for (class, name) in [(Priority::Low, "Low"), (Priority::Normal, "Normal"), (Priority::High, "High")] {
        let (waiter, order) = (pool.clone(), Arc::clone(&order));
        let before = pool.status().waiting;
        waiters.push(std::thread::spawn(move || {
            let conn = waiter.get_with(class).map_err(|e| e.to_string());
            order.lock().map(|mut o| o.push(name)).ok();
            drop(conn);
        }));
        while pool.status().waiting == before {
            std::thread::yield_now();
        }
    }
    drop(first);
    for waiter in waiters {
        waiter.join().map_err(|_| "a waiter panicked")?;
    }
    println!("  queued Low, Normal, High; served {:?}", order.lock().map(|o| o.clone()).unwrap_or_default());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    autoscaling()?;
    load_shedding()?;
    circuit_breaker()?;
    retries()?;
    sharded()?;
    priorities()?;
    Ok(())
}

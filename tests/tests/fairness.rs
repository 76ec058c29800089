//! Fairness: many waiters on few objects, every wait timed, nobody starved.
//!
//! Each worker loops for a fixed time: `get` (timed), hold the object briefly, drop it, and
//! `get` again *at once*. That last part is what makes the test bite: the worker that has just
//! returned an object is always the first to ask again, while the waiter it woke is still
//! being scheduled. A pool that lets a newcomer take an object a woken waiter was about to get
//! ("barging") without a bound hands the objects back and forth between the workers that
//! already hold them, and the others starve.
//!
//! # What it would catch
//!
//! * Tasks, unbounded barging (an atomic counter plus a notify-and-retry loop: the design that
//!   async-lock's semaphore has, and cenote without the starvation hand-off of
//!   `core/src/pool.rs`). Task A drops object 1 and wakes waiter B; B is only *scheduled*, while
//!   A goes on, re-enters `get`, finds object 1 idle and takes it again, then yields; B runs,
//!   finds nothing, and re-queues at the back. A task is never preempted, so the first four
//!   holders keep the four objects for the whole run: the other 60 tasks complete ~0 gets
//!   (min ops ≪ 25% of the mean) and their first get waits the whole run (max ≈ 1.5 s > 1 s).
//! * Threads, a LIFO waiter list (a Treiber stack is the easy lock-free choice) with direct
//!   hand-off: every return goes to the newest waiter, which is the thread that returned the
//!   previous object and asked again at once; the threads at the bottom of the stack are never
//!   served while the stack is non-empty, i.e. for the whole run. (For threads, plain barging is
//!   mostly rescued by the OS: the woken waiter often preempts or out-runs the returner's
//!   `notify` syscall, so a mutex + condvar pool passes these bounds on Linux.)
//!
//! The two `*_control_is_caught` tests (ignored; run them with `--ignored`) run the same
//! harnesses over those two unfair pools and assert that the checks trip (both do: a max wait
//! of ~1.5 s and a worker with 1 get against a mean of over 1000). And cenote itself with its
//! hand-off disabled (`STARVE_AFTER_MISSES = u32::MAX`, tried by hand) fails the tokio test:
//! a task with 3 gets against a mean of 3003, a wait of 1.41 s. The thread test still passed
//! that way, for the reason above.
//!
//! The bounds are generous on purpose (the tests share two cores with other builds): a max
//! wait under 1 s while the median is well under a millisecond, and every worker completing at
//! least 25% of the mean number of gets.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long each scenario runs.
const RUN: Duration = Duration::from_millis(1500);
/// No single `get` may wait this long.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Every worker completes at least this fraction of the mean number of gets.
const MIN_SHARE: f64 = 0.25;

/// The scenarios run one at a time: each wants both cores.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The wait of every `get` of every worker.
#[derive(Debug)]
struct Summary {
    label: &'static str,
    p50: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
    min_ops: usize,
    mean_ops: f64,
    max_ops: usize,
    total_ops: usize,
}

impl Summary {
    fn new(label: &'static str, per_worker: &[Vec<Duration>]) -> Self {
        let mut all: Vec<Duration> = per_worker.iter().flatten().copied().collect();
        all.sort_unstable();
        let at =
            |q: f64| all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1))).copied();
        let ops: Vec<usize> = per_worker.iter().map(Vec::len).collect();
        let total_ops: usize = ops.iter().sum();
        let summary = Self {
            label,
            p50: at(0.50).unwrap_or_default(),
            p99: at(0.99).unwrap_or_default(),
            p999: at(0.999).unwrap_or_default(),
            max: all.last().copied().unwrap_or_default(),
            min_ops: ops.iter().copied().min().unwrap_or(0),
            mean_ops: total_ops as f64 / ops.len().max(1) as f64,
            max_ops: ops.iter().copied().max().unwrap_or(0),
            total_ops,
        };
        println!(
            "fairness[{label}]: {} gets by {} workers: wait p50 {:?} p99 {:?} p99.9 {:?} max {:?}; \
             ops per worker min {} mean {:.1} max {} (min/mean {:.2})",
            summary.total_ops,
            ops.len(),
            summary.p50,
            summary.p99,
            summary.p999,
            summary.max,
            summary.min_ops,
            summary.mean_ops,
            summary.max_ops,
            summary.min_ops as f64 / summary.mean_ops.max(1.0),
        );
        summary
    }

    /// The fairness checks: what would be violated, if anything.
    fn unfairness(&self) -> Option<String> {
        let label = self.label;
        if self.total_ops == 0 {
            return Some(format!("[{label}] no get completed at all"));
        }
        if self.max >= MAX_WAIT {
            return Some(format!(
                "[{label}] a get waited {:?} (bound {MAX_WAIT:?}; p50 {:?}, p99 {:?}): a waiter was starved",
                self.max, self.p50, self.p99
            ));
        }
        if (self.min_ops as f64) < MIN_SHARE * self.mean_ops {
            return Some(format!(
                "[{label}] a worker completed only {} gets against a mean of {:.1} (bound {:.0}%): a waiter was starved",
                self.min_ops,
                self.mean_ops,
                MIN_SHARE * 100.0
            ));
        }
        None
    }
}

/// `threads` threads loop for [`RUN`]: a timed `get()`, a ~50 µs hold (a sleep, like I/O),
/// drop, and `get` again at once. Returns every wait, per thread.
fn thread_storm<G: Send>(threads: usize, get: impl Fn() -> G + Send + Sync + 'static) -> Vec<Vec<Duration>> {
    let get = Arc::new(get);
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (get, start) = (Arc::clone(&get), Arc::clone(&start));
            thread::spawn(move || {
                let mut waits = Vec::with_capacity(1 << 16);
                start.wait();
                let until = Instant::now() + RUN;
                while Instant::now() < until {
                    let t0 = Instant::now();
                    let obj = get();
                    waits.push(t0.elapsed());
                    thread::sleep(Duration::from_micros(50));
                    drop(obj);
                }
                waits
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("a worker panicked")).collect()
}

// ---------------------------------------------------------------------------------------------
// cenote-sync

#[derive(Debug)]
struct Conns;

impl cenote_sync::Manager for Conns {
    type Connection = u64;
    type Error = Infallible;
    fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
}

#[test]
#[cfg_attr(miri, ignore = "timed: meaningless under Miri")]
fn threads_sixteen_waiters_on_two_objects() {
    let _serial = serial();
    let pool = cenote_sync::Pool::builder(Conns)
        .max_size(2)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("valid config");
    let getter = pool.clone();
    let waits = thread_storm(16, move || {
        let mut obj = getter.get().expect("get within 10 s");
        *obj += 1;
        obj
    });
    let summary = Summary::new("sync: 16 threads, 2 objects", &waits);
    if let Some(unfair) = summary.unfairness() {
        panic!("{unfair}");
    }
    let s = pool.status();
    assert_eq!((s.in_use, s.waiting, s.size), (0, 0, 2), "at rest afterwards: {s}");
}

// ---------------------------------------------------------------------------------------------
// cenote-async

#[derive(Debug)]
struct AsyncConns;

impl cenote_async::Manager for AsyncConns {
    type Connection = u64;
    type Error = Infallible;
    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
}

/// Something tasks get objects from.
trait AsyncSource: Clone + Send + Sync + 'static {
    type Guard: Send;
    fn get(&self) -> impl Future<Output = Self::Guard> + Send;
}

impl AsyncSource for cenote_async::Pool<AsyncConns> {
    type Guard = cenote_async::Pooled<AsyncConns>;
    async fn get(&self) -> Self::Guard {
        let mut obj = cenote_async::Pool::get(self).await.expect("get within 10 s");
        *obj += 1;
        obj
    }
}

/// `tasks` tasks on a tokio multi-thread runtime with 2 workers loop for [`RUN`]: a timed
/// `get`, a tiny hold (one `yield_now`: other tasks run meanwhile), drop, and `get` again at
/// once. Returns every wait, per task.
fn task_storm<S: AsyncSource>(tasks: usize, source: S) -> Vec<Vec<Duration>> {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    let start = Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (source, start) = (source.clone(), Arc::clone(&start));
            rt.spawn(async move {
                let mut waits = Vec::with_capacity(1 << 14);
                start.wait().await;
                let until = Instant::now() + RUN;
                while Instant::now() < until {
                    let t0 = Instant::now();
                    let obj = source.get().await;
                    waits.push(t0.elapsed());
                    tokio::task::yield_now().await;
                    drop(obj);
                }
                waits
            })
        })
        .collect();
    rt.block_on(async {
        let mut all = Vec::new();
        for h in handles {
            all.push(h.await.expect("a task panicked"));
        }
        all
    })
}

#[test]
#[cfg_attr(miri, ignore = "timed: meaningless under Miri")]
fn tokio_sixty_four_tasks_on_four_objects() {
    let _serial = serial();
    let pool = cenote_async::Pool::builder(AsyncConns)
        .max_size(4)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("valid config");
    let waits = task_storm(64, pool.clone());
    let summary = Summary::new("tokio multi-thread (2 workers): 64 tasks, 4 objects", &waits);
    if let Some(unfair) = summary.unfairness() {
        panic!("{unfair}");
    }
    let s = pool.status();
    assert_eq!((s.in_use, s.waiting), (0, 0), "at rest afterwards: {s}");
    assert!(s.size <= 4, "{s}");
}

// ---------------------------------------------------------------------------------------------
// Controls: the harnesses catch unfair pools

/// Waiting threads, each with the flag its object is granted by.
type Waiters = Vec<(Thread, Arc<AtomicBool>)>;

/// Threads: waiters on a LIFO stack, each return handed directly to the newest waiter.
struct LifoPool {
    /// Free objects, and the waiters (newest last).
    state: Mutex<(usize, Waiters)>,
}

struct LifoGuard(Arc<LifoPool>);

impl LifoPool {
    fn get(this: &Arc<Self>) -> LifoGuard {
        let granted = Arc::new(AtomicBool::new(false));
        {
            let mut state = this.state.lock().unwrap();
            if state.0 > 0 {
                state.0 -= 1;
                return LifoGuard(Arc::clone(this));
            }
            state.1.push((thread::current(), Arc::clone(&granted)));
        }
        while !granted.load(SeqCst) {
            thread::park();
        }
        LifoGuard(Arc::clone(this))
    }
}

impl Drop for LifoGuard {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap();
        match state.1.pop() {
            Some((waiter, granted)) => {
                granted.store(true, SeqCst);
                waiter.unpark();
            }
            None => state.0 += 1,
        }
    }
}

#[test]
#[ignore = "control experiment: shows the thread harness flags a LIFO pool (run with --ignored)"]
fn lifo_control_is_caught() {
    let _serial = serial();
    let pool = Arc::new(LifoPool { state: Mutex::new((2, Vec::new())) });
    let waits = thread_storm(16, move || LifoPool::get(&pool));
    let summary = Summary::new("control: LIFO hand-off, 16 threads, 2 objects", &waits);
    let verdict = summary.unfairness();
    println!("control verdict: {verdict:?}");
    assert!(verdict.is_some(), "the harness did not flag the LIFO pool: {summary:?}");
}

/// Tasks: an atomic counter of free objects plus a notify-and-retry loop (unbounded barging).
#[derive(Clone)]
struct BargingPool(Arc<(AtomicUsize, tokio::sync::Notify)>);

struct BargingGuard(BargingPool);

impl AsyncSource for BargingPool {
    type Guard = BargingGuard;
    async fn get(&self) -> BargingGuard {
        let (free, notify) = &*self.0;
        loop {
            let mut notified = pin!(notify.notified());
            notified.as_mut().enable();
            let n = free.load(SeqCst);
            if n > 0 && free.compare_exchange(n, n - 1, SeqCst, SeqCst).is_ok() {
                return BargingGuard(self.clone());
            }
            notified.await;
        }
    }
}

impl Drop for BargingGuard {
    fn drop(&mut self) {
        let (free, notify) = &*(self.0).0;
        free.fetch_add(1, SeqCst);
        notify.notify_one();
    }
}

#[test]
#[ignore = "control experiment: shows the task harness flags a barging pool (run with --ignored)"]
fn barging_control_is_caught() {
    let _serial = serial();
    let pool = BargingPool(Arc::new((AtomicUsize::new(4), tokio::sync::Notify::new())));
    let waits = task_storm(64, pool);
    let summary = Summary::new("control: barging counter + notify, 64 tasks, 4 objects", &waits);
    let verdict = summary.unfairness();
    println!("control verdict: {verdict:?}");
    assert!(verdict.is_some(), "the harness did not flag the barging pool: {summary:?}");
}

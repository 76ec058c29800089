//! Stress: many threads and async tasks at once over a small pool, mixing every way in and out
//! of it, with the invariants checked from outside the pool.
//!
//! Each storm runs over a pool of capacity [`CAPACITY`] with workers that mix `get`,
//! `get_timeout` with tiny timeouts (0–200 µs), `try_get`, `Pooled::detach`, broken returns
//! (`has_broken`), failing `reset`/`is_valid`, failing and panicking creates (panics caught with
//! `catch_unwind`), holders that panic, a second `get_timeout` while holding one object, and (async)
//! `get` futures cancelled at random points (`tokio::time::timeout`, `futures_lite::future::or`
//! with a short sleep, hand-polled futures dropped after one to three polls). A resizer thread
//! moves `max_size` up and down within the capacity the whole time. Then:
//!
//! * during the storm: no object is lent twice at once (an in-use flag per object), no hook runs
//!   on a lent object, the pool never drops a lent object, the objects the pool is accountable
//!   for never exceed the capacity, and after a shrink they come down to the new `max_size`
//!   once the extras have been returned;
//! * after it (quiesced): `status()` balances (nothing in use, nobody waiting, `size == idle <=
//!   max_size`), the objects alive equal `status().size`, and `max_size` objects can be taken
//!   at once, after which `try_get` and `get_timeout(0)` fail;
//! * a second, shorter storm is cut by `close()`: afterwards every object is gone, and
//!   `get`/`resize` report the pool closed;
//! * a third storm, on a fresh pool, hands some objects to a thread that holds no pool handle
//!   and returns them only after every handle is gone (the last handle closes the pool; the
//!   objects out keep its memory alive): afterwards every object has been dropped.
//!
//! # Accounting
//!
//! The core drops a retired object *before* freeing its place
//! (`retired_object_is_dropped_before_its_place_is_reused` checks it), but `Pooled::detach`
//! hands the object out of the pool, and the hooks that mark an object as leaving run before
//! the pool retires it. So the raw count of live objects may exceed the capacity
//! (`raw max live` in the printed stats). The test therefore counts the objects the
//! pool is *accountable for*: live objects minus those known to be leaving (marked before the
//! pool frees their place: broken, failed `reset`/`is_valid`, detached, holder panicked). Two
//! monotonic counters make the estimate a sound lower bound (see [`Ledger::accountable`]).
//! Objects retired by a shrink or by `close` cannot be marked in advance, so a reading above the
//! capacity is re-read for a few milliseconds before it counts as a violation.
//!
//! # Replaying
//!
//! Every run prints its seed (`CENOTE_STRESS_SEED=<n>` to replay); every assertion message and
//! every unexpected panic (through a panic hook) carries it. The seed drives every random
//! choice; thread scheduling is of course not replayable, so a replay reproduces the mix of
//! operations, not the exact interleaving.
#![allow(missing_docs)]

mod common;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{self, catch_unwind, panic_any, resume_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cenote_sync::{Error, ResizeError, Status};
use common::{Counts, Tracked};
use futures_lite::future::{or, yield_now, FutureExt as _};

/// Slots: the ceiling for `resize`, and for the objects the pool is accountable for.
const CAPACITY: usize = 6;
/// `max_size` at the start of each storm.
const INITIAL_MAX: usize = 3;
/// How long the main storm runs.
const STORM: Duration = Duration::from_millis(2500);
/// The resizer stops this long before the workers, so that extras from its last shrink are
/// returned (and retired) by the time the storm ends.
const SETTLE: Duration = Duration::from_millis(400);
/// How long the second storm runs before `close()` cuts it.
const CLOSE_STORM: Duration = Duration::from_millis(300);
/// How long the third storm runs, whose workers hand some objects to a thread without a pool
/// handle, which returns them after the last handle is gone.
const ORPHAN_STORM: Duration = Duration::from_millis(300);
/// `acquire_timeout` of the pools: a plain `get()` waiting this long is a lost wakeup or a
/// starved waiter (the holds are microseconds), so it counts as a violation.
const GET_TIMEOUT: Duration = Duration::from_secs(5);
const THREADS: usize = 12;
const TASKS: usize = 24;

// ---------------------------------------------------------------------------------------------
// Seed, panic hook, serialisation

/// The payload of panics this file causes on purpose (panicking creates, holders that panic):
/// the panic hook stays quiet for them and `catch_unwind` callers recognise them.
#[derive(Debug)]
struct Intentional;

fn is_intentional(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Intentional>()
}

/// The run's seed: `CENOTE_STRESS_SEED`, or the clock. Printed once; the panic hook installed
/// here prints it again with any unexpected panic.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let seed = match std::env::var("CENOTE_STRESS_SEED") {
            Ok(s) => s.trim().parse().expect("CENOTE_STRESS_SEED must be an unsigned 64-bit integer"),
            Err(_) => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                splitmix(now.as_nanos() as u64)
            }
        };
        eprintln!("stress: seed {seed} (replay with CENOTE_STRESS_SEED={seed})");
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if is_intentional(info.payload()) {
                return;
            }
            eprintln!("stress: unexpected panic with seed {seed} (replay with CENOTE_STRESS_SEED={seed})");
            previous(info);
        }));
        seed
    })
}

/// The storms run one at a time: each wants both cores, and they share the panic hook.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream of worker `n` (the resizer is worker `u64::MAX`).
fn rng_for(seed: u64, n: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(splitmix(seed ^ splitmix(n)))
}

// ---------------------------------------------------------------------------------------------
// The ledger: shared knobs, counters and the invariants

#[derive(Debug, Default)]
struct Stats {
    got: AtomicUsize,
    timeouts: AtomicUsize,
    timeouts_with_create_error: AtomicUsize,
    empty_try_gets: AtomicUsize,
    cancelled: AtomicUsize,
    closed: AtomicUsize,
    create_errors: AtomicUsize,
    create_panics: AtomicUsize,
    holder_panics: AtomicUsize,
    broken: AtomicUsize,
    detached: AtomicUsize,
    rejected: AtomicUsize,
    nested: AtomicUsize,
    resizes: AtomicUsize,
    settle_checks: AtomicUsize,
    /// Objects handed to the sink thread, and those of them it returned after the last pool
    /// handle was gone.
    sunk: AtomicUsize,
    orphan_returns: AtomicUsize,
}

fn bump(counter: &AtomicUsize) {
    counter.fetch_add(1, SeqCst);
}

/// Everything the workers, the manager and the checks share.
#[derive(Debug)]
struct Ledger {
    label: &'static str,
    seed: u64,
    counts: Arc<Counts>,
    /// Objects marked as leaving the pool (monotonic), and those of them dropped (monotonic).
    leaving_started: AtomicUsize,
    leaving_done: AtomicUsize,
    /// Random failures on (create errors and panics, broken returns, failed checks).
    chaos: AtomicBool,
    draws: AtomicU64,
    violations: Mutex<Vec<String>>,
    stats: Stats,
}

impl Ledger {
    fn new(label: &'static str, seed: u64) -> Arc<Self> {
        eprintln!("stress[{label}]: seed {seed} (replay with CENOTE_STRESS_SEED={seed})");
        Arc::new(Self {
            label,
            seed,
            counts: Arc::new(Counts::default()),
            leaving_started: AtomicUsize::new(0),
            leaving_done: AtomicUsize::new(0),
            chaos: AtomicBool::new(true),
            draws: AtomicU64::new(0),
            violations: Mutex::new(Vec::new()),
            stats: Stats::default(),
        })
    }

    /// `true` with probability `permille`/1000 while chaos is on.
    fn roll(&self, permille: u64) -> bool {
        if !self.chaos.load(SeqCst) {
            return false;
        }
        let n = self.draws.fetch_add(1, SeqCst);
        splitmix(self.seed ^ n.wrapping_mul(0xD1B5_4A32_D192_ED03)) % 1000 < permille
    }

    fn violation(&self, msg: String) {
        let msg = format!("[{}] seed {}: {msg}", self.label, self.seed);
        let mut violations = self.violations.lock().unwrap_or_else(PoisonError::into_inner);
        // Keep (and print) the first few: a broken protocol repeats itself thousands of times.
        if violations.len() < 50 {
            eprintln!("stress: VIOLATION {msg}");
            violations.push(msg);
        }
    }

    fn live(&self) -> usize {
        self.counts.live.load(SeqCst)
    }

    /// A lower bound of the objects the pool is accountable for (held in its slots, idle or
    /// lent, or being created under a permit).
    ///
    /// At any instant, `live - (started - done)` is at most that number: an object is marked
    /// as leaving (`started`) before the pool frees its place, and counted `done` only after
    /// it has left `live`. Reading `done`, then `live`, then `started` (monotonic counters)
    /// can only lower the estimate of the instant `live` was read.
    fn accountable(&self) -> i64 {
        let done = self.leaving_done.load(SeqCst) as i64;
        let live = self.counts.live.load(SeqCst) as i64;
        let started = self.leaving_started.load(SeqCst) as i64;
        live - started + done
    }

    /// Checks that the pool is accountable for at most `limit` objects; a reading above is
    /// re-read for ~20 ms (objects retired by a shrink or `close` are not marked in advance
    /// and outlive their place for a moment).
    fn check_at_most(&self, limit: usize, what: &str) {
        let mut reading = self.accountable();
        for _ in 0..100 {
            if reading <= limit as i64 {
                return;
            }
            thread::sleep(Duration::from_micros(200));
            reading = self.accountable();
        }
        if reading > limit as i64 {
            self.violation(format!(
                "{what}: the pool is accountable for {reading} objects for 20 ms and more, limit {limit} \
                 (live {}, leaving {})",
                self.live(),
                self.leaving_started.load(SeqCst) - self.leaving_done.load(SeqCst),
            ));
        }
    }

    /// A create failure chosen at random: an error (8%) or a panic (3%).
    fn chaotic_create(&self) -> Result<(), Flaky> {
        if self.roll(80) {
            bump(&self.stats.create_errors);
            return Err(Flaky("create failed"));
        }
        if self.roll(30) {
            bump(&self.stats.create_panics);
            panic_any(Intentional);
        }
        Ok(())
    }

    /// A hook (`reset`, `is_valid`, `has_broken`) is about to look at `obj`: it must be idle.
    fn hook_on(&self, obj: &Obj, hook: &str) {
        if obj.in_use.load(SeqCst) {
            self.violation(format!("{hook} ran on object {} while it was lent", obj.id()));
        }
    }

    /// An outcome of a `get` that panicked: ours is counted, anything else goes on unwinding.
    fn caught(&self, payload: Box<dyn Any + Send>) {
        if !is_intentional(&*payload) {
            resume_unwind(payload);
        }
    }

    /// Panics (with the seed) if anything was recorded.
    fn assert_clean(&self, phase: &str) {
        let violations = self.violations.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(
            violations.is_empty(),
            "[{}] seed {}: {} violation(s) during {phase}:\n{}",
            self.label,
            self.seed,
            violations.len(),
            violations.join("\n")
        );
    }

    fn print_stats(&self, elapsed: Duration) {
        let s = &self.stats;
        let n = |c: &AtomicUsize| c.load(SeqCst);
        eprintln!(
            "stress[{}]: {:.2?}: got {} | timeouts {} (with create error {}) | empty try_get {} | cancelled {} | \
             closed {} | create errors {} panics {} | holder panics {} | broken {} | detached {} | \
             rejected by reset/is_valid {} | nested {} | resizes {} settle checks {} | sunk {} returned after \
             the last handle {} | created {} | raw max live {} (capacity {CAPACITY})",
            self.label,
            elapsed,
            n(&s.got),
            n(&s.timeouts),
            n(&s.timeouts_with_create_error),
            n(&s.empty_try_gets),
            n(&s.cancelled),
            n(&s.closed),
            n(&s.create_errors),
            n(&s.create_panics),
            n(&s.holder_panics),
            n(&s.broken),
            n(&s.detached),
            n(&s.rejected),
            n(&s.nested),
            n(&s.resizes),
            n(&s.settle_checks),
            n(&s.sunk),
            n(&s.orphan_returns),
            n(&self.counts.created),
            n(&self.counts.max_live),
        );
    }
}

/// The managers' error.
#[derive(Debug, Clone, Copy)]
struct Flaky(&'static str);

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// The pooled object

/// A pooled object: counts itself (`Tracked`), flags itself while lent, and knows whether it
/// was marked as leaving the pool.
#[derive(Debug)]
struct Obj {
    tracked: Option<Tracked>,
    ledger: Arc<Ledger>,
    in_use: AtomicBool,
    /// Marked (and counted in `leaving_started`) before the pool frees this object's place.
    leaving: bool,
    /// Set by a holder: `has_broken` reports it.
    broken: bool,
}

impl Obj {
    fn new(ledger: &Arc<Ledger>) -> Self {
        let obj = Self {
            tracked: Some(Tracked::new(&ledger.counts)),
            ledger: Arc::clone(ledger),
            in_use: AtomicBool::new(false),
            leaving: false,
            broken: false,
        };
        ledger.check_at_most(CAPACITY, "create");
        obj
    }

    fn id(&self) -> usize {
        self.tracked.as_ref().map_or(usize::MAX, |t| t.id)
    }

    /// A getter received it: it must not be lent already.
    fn enter(&self) {
        if self.in_use.swap(true, SeqCst) {
            self.ledger.violation(format!("object {} lent twice at once", self.id()));
        }
    }

    /// The holder is done with it (before returning, detaching or breaking it).
    fn leave(&self) {
        if !self.in_use.swap(false, SeqCst) {
            self.ledger.violation(format!("object {} was not marked in use by its holder", self.id()));
        }
    }

    /// The pool will free this object's place (and drop it, or hand it out): counted now.
    fn mark_leaving(&mut self) {
        if !self.leaving {
            self.leaving = true;
            self.ledger.leaving_started.fetch_add(1, SeqCst);
        }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        if *self.in_use.get_mut() {
            self.ledger.violation(format!("object {} dropped while lent", self.id()));
        }
        // `live` goes down first, then `leaving_done` (see `Ledger::accountable`).
        drop(self.tracked.take());
        if self.leaving {
            self.ledger.leaving_done.fetch_add(1, SeqCst);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Front-end independent parts: the resizer and the checks

/// What the resizer and the checks need of a pool, whichever front end.
trait Ctl: Clone + Send + Sync + 'static {
    fn status(&self) -> Status;
    fn resize(&self, max_size: usize) -> Result<(), ResizeError>;
    fn is_closed(&self) -> bool;
}

impl Ctl for cenote_sync::Pool<SyncM> {
    fn status(&self) -> Status {
        cenote_sync::Pool::status(self)
    }
    fn resize(&self, max_size: usize) -> Result<(), ResizeError> {
        cenote_sync::Pool::resize(self, max_size)
    }
    fn is_closed(&self) -> bool {
        cenote_sync::Pool::is_closed(self)
    }
}

impl Ctl for cenote_async::Pool<AsyncM> {
    fn status(&self) -> Status {
        cenote_async::Pool::status(self)
    }
    fn resize(&self, max_size: usize) -> Result<(), ResizeError> {
        cenote_async::Pool::resize(self, max_size)
    }
    fn is_closed(&self) -> bool {
        cenote_async::Pool::is_closed(self)
    }
}

/// Resizes at random within the capacity every 0–2 ms until `until` (or until the pool is
/// closed), checking the capacity bound; one resize in eight is followed by a settle check:
/// the pool must come down to the new `max_size` within 2 s, as the extras are returned.
fn spawn_resizer<P: Ctl>(pool: P, ledger: Arc<Ledger>, until: Instant) -> thread::JoinHandle<()> {
    let mut rng = rng_for(ledger.seed, u64::MAX);
    thread::spawn(move || {
        while Instant::now() < until {
            let n = rng.usize(1..=CAPACITY);
            match pool.resize(n) {
                Ok(()) => bump(&ledger.stats.resizes),
                Err(ResizeError::Closed) if pool.is_closed() => return,
                Err(e) => ledger.violation(format!("resize({n}) within capacity failed: {e}")),
            }
            ledger.check_at_most(CAPACITY, "resizer");
            let status = pool.status();
            if status.max_size != n && !pool.is_closed() {
                ledger.violation(format!(
                    "max_size {} right after resize({n}) by the only resizer",
                    status.max_size
                ));
            }
            if status.size > CAPACITY {
                ledger.violation(format!("status size {} above capacity {CAPACITY}: {status}", status.size));
            }
            if rng.u32(0..8) == 0 {
                bump(&ledger.stats.settle_checks);
                let deadline = Instant::now() + Duration::from_secs(2);
                loop {
                    let status = pool.status();
                    let accountable = ledger.accountable();
                    if (accountable <= n as i64 && status.size <= n) || pool.is_closed() {
                        break;
                    }
                    if Instant::now() >= deadline {
                        ledger.violation(format!(
                            "2 s after resize({n}) the pool is still accountable for {accountable} objects \
                             ({status}): the extras are not retired as they return"
                        ));
                        break;
                    }
                    thread::sleep(Duration::from_micros(200));
                }
            }
            thread::sleep(Duration::from_micros(rng.u64(0..=2000)));
        }
    })
}

/// The pool at rest after a storm: nothing lent, nobody waiting, counts balanced, and the
/// objects alive are exactly those the pool holds.
fn assert_quiesced<P: Ctl>(pool: &P, ledger: &Ledger, phase: &str) {
    let (label, seed) = (ledger.label, ledger.seed);
    let s = pool.status();
    eprintln!("stress[{label}]: quiesced after {phase}: {s}");
    assert_eq!(s.in_use, 0, "[{label}] seed {seed}: {phase}: objects still in use: {s}");
    assert_eq!(s.waiting, 0, "[{label}] seed {seed}: {phase}: waiters left behind: {s}");
    assert_eq!(s.size, s.idle, "[{label}] seed {seed}: {phase}: size != idle: {s}");
    assert!(s.size <= s.max_size, "[{label}] seed {seed}: {phase}: more objects than max_size: {s}");
    let (started, done) = (ledger.leaving_started.load(SeqCst), ledger.leaving_done.load(SeqCst));
    assert_eq!(started, done, "[{label}] seed {seed}: {phase}: objects marked leaving still alive");
    assert_eq!(
        ledger.live(),
        s.size,
        "[{label}] seed {seed}: {phase}: objects alive != status().size (leaked or dropped twice): {s}"
    );
}

/// After `close()` and the storm around it: nothing left.
fn assert_closed_and_empty<P: Ctl>(pool: &P, ledger: &Ledger) {
    let (label, seed) = (ledger.label, ledger.seed);
    let s = pool.status();
    eprintln!("stress[{label}]: after close: {s}");
    assert!(pool.is_closed(), "[{label}] seed {seed}: not closed");
    assert_eq!(
        (s.size, s.idle, s.in_use, s.waiting),
        (0, 0, 0, 0),
        "[{label}] seed {seed}: after close: {s}"
    );
    assert_eq!(
        ledger.live(),
        0,
        "[{label}] seed {seed}: objects still alive after close and the last return"
    );
    assert_eq!(
        pool.resize(1),
        Err(ResizeError::Closed),
        "[{label}] seed {seed}: resize of a closed pool must fail"
    );
}

/// Small pauses of a holder (sync): nothing, a yield, a spin, or a sleep of up to 100 µs.
fn hold_sync(rng: &mut fastrand::Rng) {
    match rng.u32(0..100) {
        0..40 => {}
        40..70 => thread::yield_now(),
        70..90 => {
            for _ in 0..rng.u32(0..500) {
                std::hint::spin_loop();
            }
        }
        _ => thread::sleep(Duration::from_micros(rng.u64(0..=100))),
    }
}

/// The outcome of one `get`-like call, counted.
fn tally<T>(
    ledger: &Ledger,
    result: Result<T, Error<Flaky>>,
    plain_get: bool,
    phase_closing: bool,
) -> Option<T> {
    match result {
        Ok(t) => {
            bump(&ledger.stats.got);
            Some(t)
        }
        Err(Error::Timeout { last_create_error }) => {
            bump(&ledger.stats.timeouts);
            if last_create_error.is_some() {
                bump(&ledger.stats.timeouts_with_create_error);
            }
            if plain_get {
                ledger.violation(format!(
                    "get() timed out after {GET_TIMEOUT:?} while holds last microseconds: a lost wakeup or \
                     a starved waiter (last create error {last_create_error:?})"
                ));
            }
            None
        }
        Err(Error::Closed) => {
            bump(&ledger.stats.closed);
            if !phase_closing {
                ledger.violation("get failed with Closed before close()".to_owned());
            }
            None
        }
        Err(e) => {
            ledger.violation(format!("unexpected error from a get with a deadline: {e}"));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// cenote-sync

#[derive(Debug)]
struct SyncM {
    ledger: Arc<Ledger>,
}

impl cenote_sync::Manager for SyncM {
    type Connection = Obj;
    type Error = Flaky;

    fn create(&self) -> Result<Obj, Flaky> {
        self.ledger.chaotic_create()?;
        Ok(Obj::new(&self.ledger))
    }

    fn is_valid(&self, obj: &mut Obj) -> bool {
        self.ledger.hook_on(obj, "is_valid");
        if self.ledger.roll(30) {
            bump(&self.ledger.stats.rejected);
            obj.mark_leaving();
            return false;
        }
        true
    }

    fn reset(&self, obj: &mut Obj) -> Result<(), Flaky> {
        self.ledger.hook_on(obj, "reset");
        if self.ledger.roll(20) {
            bump(&self.ledger.stats.rejected);
            obj.mark_leaving();
            return Err(Flaky("reset failed"));
        }
        Ok(())
    }

    fn has_broken(&self, obj: &mut Obj) -> bool {
        self.ledger.hook_on(obj, "has_broken");
        if obj.broken || self.ledger.roll(20) {
            bump(&self.ledger.stats.broken);
            obj.mark_leaving();
            return true;
        }
        false
    }
}

type SyncPool = cenote_sync::Pool<SyncM>;
type SyncPooled = cenote_sync::Pooled<SyncM>;

fn sync_pool(ledger: &Arc<Ledger>) -> SyncPool {
    cenote_sync::Pool::builder(SyncM { ledger: Arc::clone(ledger) })
        .max_size(INITIAL_MAX)
        .capacity(CAPACITY)
        .acquire_timeout(Some(GET_TIMEOUT))
        .validate_on_acquire(true)
        .build()
        .expect("valid config")
}

/// Runs a `get`-like call, catching our own panics (from `create`).
fn sync_try(
    ledger: &Ledger,
    get: impl FnOnce() -> Result<SyncPooled, Error<Flaky>>,
    plain_get: bool,
    closing: bool,
) -> Option<SyncPooled> {
    match catch_unwind(AssertUnwindSafe(get)) {
        Ok(result) => tally(ledger, result, plain_get, closing),
        Err(payload) => {
            ledger.caught(payload);
            None
        }
    }
}

/// How a worker runs.
struct Mode<P> {
    until: Instant,
    /// The pool is closed under the worker: `Closed` errors are expected, and it stops once the
    /// pool is closed.
    closing: bool,
    /// Some objects go to a thread that holds no pool handle and returns them later, after
    /// the last handle may be gone.
    sink: Option<Sender<P>>,
}

impl<P> Mode<P> {
    fn storm(until: Instant) -> Self {
        Self { until, closing: false, sink: None }
    }

    fn closing(until: Instant) -> Self {
        Self { until, closing: true, sink: None }
    }

    /// Hands `obj` to the sink, sometimes (if there is one); gives it back otherwise.
    fn maybe_sink(&self, rng: &mut fastrand::Rng, obj: P) -> Option<P> {
        match &self.sink {
            Some(sink) if rng.u32(0..8) == 0 => {
                let _ = sink.send(obj);
                None
            }
            _ => Some(obj),
        }
    }
}

/// Holds objects handed over by the workers for about a millisecond (at most two at a time,
/// so that the workers are not starved), and the last ones until every worker, and with them
/// every pool handle, is gone: returns to a pool that no handle keeps alive any more.
fn spawn_sink<P: Send + 'static>(ledger: &Arc<Ledger>) -> (Sender<P>, thread::JoinHandle<()>) {
    let (tx, rx): (Sender<P>, Receiver<P>) = mpsc::channel();
    let mut rng = rng_for(ledger.seed, u64::MAX - 1);
    let ledger = Arc::clone(ledger);
    let sink = thread::spawn(move || {
        let mut held = std::collections::VecDeque::new();
        loop {
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(obj) => {
                    bump(&ledger.stats.sunk);
                    held.push_back((Instant::now(), obj));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            while held.len() > 2
                || held.front().is_some_and(|(at, _)| at.elapsed() > Duration::from_millis(1))
            {
                drop(held.pop_front());
            }
        }
        thread::sleep(Duration::from_millis(5));
        while let Some(obj) = held.pop_front() {
            bump(&ledger.stats.orphan_returns);
            drop(obj);
            thread::sleep(Duration::from_micros(rng.u64(0..=200)));
        }
    });
    (tx, sink)
}

/// After the third storm: every object gone, returns into the orphaned pool included.
fn assert_orphan_storm_clean(ledger: &Ledger) {
    let (label, seed) = (ledger.label, ledger.seed);
    ledger.assert_clean("the storm that outlives its pool handles");
    assert_eq!(
        ledger.live(),
        0,
        "[{label}] seed {seed}: objects alive after the last pool handle and the last object were dropped"
    );
    let (started, done) = (ledger.leaving_started.load(SeqCst), ledger.leaving_done.load(SeqCst));
    assert_eq!(started, done, "[{label}] seed {seed}: objects marked leaving still alive");
}

fn tiny(rng: &mut fastrand::Rng) -> Duration {
    Duration::from_micros(rng.u64(0..=200))
}

fn sync_worker(pool: SyncPool, ledger: Arc<Ledger>, mut rng: fastrand::Rng, mode: Mode<SyncPooled>) {
    let closing = mode.closing;
    while Instant::now() < mode.until && !(closing && pool.is_closed()) {
        let got = match rng.u32(0..100) {
            0..35 => sync_try(&ledger, || pool.get(), true, closing),
            35..75 => {
                let t = tiny(&mut rng);
                sync_try(&ledger, || pool.get_timeout(t), false, closing)
            }
            _ => {
                // Never creates, so never panics.
                let got = pool.try_get();
                bump(if got.is_some() { &ledger.stats.got } else { &ledger.stats.empty_try_gets });
                got
            }
        };
        let Some(obj) = got else { continue };
        obj.enter();
        hold_sync(&mut rng);
        if rng.u32(0..100) < 8 {
            // A second object while holding one: never the same object.
            bump(&ledger.stats.nested);
            let t = tiny(&mut rng);
            if let Some(second) = sync_try(&ledger, || pool.get_timeout(t), false, closing) {
                second.enter();
                hold_sync(&mut rng);
                second.leave();
                drop(second);
            }
        }
        obj.leave();
        let Some(mut obj) = mode.maybe_sink(&mut rng, obj) else { continue };
        match rng.u32(0..100) {
            0..78 => drop(obj),
            78..88 => {
                obj.broken = true;
                drop(obj);
            }
            88..95 => {
                bump(&ledger.stats.detached);
                obj.mark_leaving();
                let detached: Obj = cenote_sync::Pooled::detach(obj);
                drop(detached);
            }
            _ => {
                // The holder panics: the object must not be put back.
                bump(&ledger.stats.holder_panics);
                let result = catch_unwind(AssertUnwindSafe(move || {
                    obj.mark_leaving();
                    panic_any(Intentional);
                }));
                if let Err(payload) = result {
                    ledger.caught(payload);
                }
            }
        }
    }
    if let Some(sink) = &mode.sink {
        // The last act: an object for the sink, to return after the pool handles are gone.
        let t = Duration::from_millis(20);
        if let Some(obj) = sync_try(&ledger, || pool.get_timeout(t), false, closing) {
            let _ = sink.send(obj);
        }
    }
}

fn join_all(handles: Vec<thread::JoinHandle<()>>, ledger: &Ledger) {
    for h in handles {
        if let Err(payload) = h.join() {
            eprintln!("stress[{}]: a worker panicked; seed {}", ledger.label, ledger.seed);
            resume_unwind(payload);
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "a timed storm of threads: far too slow under Miri")]
fn stress_sync_threads() {
    let _serial = serial();
    let started = Instant::now();
    let ledger = Ledger::new("sync", seed());
    let pool = sync_pool(&ledger);

    // The storm.
    let until = Instant::now() + STORM;
    let mut handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(ledger.seed, i as u64));
            thread::spawn(move || sync_worker(pool, ledger, rng, Mode::storm(until)))
        })
        .collect();
    handles.push(spawn_resizer(pool.clone(), Arc::clone(&ledger), until - SETTLE));
    join_all(handles, &ledger);
    ledger.assert_clean("the storm");
    assert_quiesced(&pool, &ledger, "the storm");

    // `max_size` objects at once, and then nothing more.
    ledger.chaos.store(false, SeqCst);
    let (label, seed) = (ledger.label, ledger.seed);
    let max = pool.status().max_size;
    let held: Vec<_> = (0..max)
        .map(|i| {
            let obj = pool
                .get_timeout(Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("[{label}] seed {seed}: taking object {i} of {max}: {e}"));
            obj.enter();
            obj
        })
        .collect();
    assert!(pool.try_get().is_none(), "[{label}] seed {seed}: try_get with all {max} objects out");
    assert!(
        pool.get_timeout(Duration::ZERO).is_err_and(|e| e.is_timeout()),
        "[{label}] seed {seed}: get_timeout(0) with all {max} objects out"
    );
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.idle), (max, max, 0), "[{label}] seed {seed}: all out: {s}");
    assert_eq!(ledger.live(), max, "[{label}] seed {seed}: all out: objects alive");
    for obj in held {
        obj.leave();
    }
    assert_quiesced(&pool, &ledger, "taking max_size");
    ledger.chaos.store(true, SeqCst);

    // A second storm, cut by `close()`.
    let hard_stop = Instant::now() + Duration::from_secs(3);
    let mut handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (pool, ledger, rng) =
                (pool.clone(), Arc::clone(&ledger), rng_for(ledger.seed, 1000 + i as u64));
            thread::spawn(move || sync_worker(pool, ledger, rng, Mode::closing(hard_stop)))
        })
        .collect();
    handles.push(spawn_resizer(pool.clone(), Arc::clone(&ledger), hard_stop));
    thread::sleep(CLOSE_STORM);
    pool.close();
    join_all(handles, &ledger);
    ledger.assert_clean("the storm cut by close");
    assert_closed_and_empty(&pool, &ledger);
    assert!(pool.get().is_err_and(|e| e.is_closed()), "[{label}] seed {seed}: get after close");
    assert!(pool.try_get().is_none(), "[{label}] seed {seed}: try_get after close");
    drop(pool);

    // A third storm on a new pool whose handles all go while objects are still out.
    let pool = sync_pool(&ledger);
    let (sink, sink_thread) = spawn_sink::<SyncPooled>(&ledger);
    let until = Instant::now() + ORPHAN_STORM;
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, 2000 + i as u64));
            let mode = Mode { until, closing: false, sink: Some(sink.clone()) };
            thread::spawn(move || sync_worker(pool, ledger, rng, mode))
        })
        .collect();
    drop((pool, sink));
    join_all(handles, &ledger);
    join_all(vec![sink_thread], &ledger);
    assert_orphan_storm_clean(&ledger);
    ledger.print_stats(started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// cenote-async

#[derive(Debug)]
struct AsyncM {
    ledger: Arc<Ledger>,
}

impl cenote_async::Manager for AsyncM {
    type Connection = Obj;
    type Error = Flaky;

    async fn create(&self) -> Result<Obj, Flaky> {
        // A cancellation point inside `create`, sometimes.
        if self.ledger.roll(300) {
            yield_now().await;
        }
        self.ledger.chaotic_create()?;
        Ok(Obj::new(&self.ledger))
    }

    async fn is_valid(&self, obj: &mut Obj) -> bool {
        self.ledger.hook_on(obj, "is_valid");
        if self.ledger.roll(100) {
            yield_now().await;
        }
        if self.ledger.roll(30) {
            bump(&self.ledger.stats.rejected);
            obj.mark_leaving();
            return false;
        }
        true
    }

    async fn reset(&self, obj: &mut Obj) -> Result<(), Flaky> {
        self.ledger.hook_on(obj, "reset");
        if self.ledger.roll(200) {
            yield_now().await;
        }
        if self.ledger.roll(20) {
            bump(&self.ledger.stats.rejected);
            obj.mark_leaving();
            return Err(Flaky("reset failed"));
        }
        Ok(())
    }

    fn has_broken(&self, obj: &mut Obj) -> bool {
        self.ledger.hook_on(obj, "has_broken");
        if obj.broken || self.ledger.roll(20) {
            bump(&self.ledger.stats.broken);
            obj.mark_leaving();
            return true;
        }
        false
    }
}

type AsyncPool = cenote_async::Pool<AsyncM>;
type AsyncPooled = cenote_async::Pooled<AsyncM>;

fn async_pool(ledger: &Arc<Ledger>) -> AsyncPool {
    cenote_async::Pool::builder(AsyncM { ledger: Arc::clone(ledger) })
        .max_size(INITIAL_MAX)
        .capacity(CAPACITY)
        .acquire_timeout(Some(GET_TIMEOUT))
        .validate_on_acquire(true)
        .build()
        .expect("valid config")
}

/// The runtime's timer, for holds and for cancelling `get` futures.
trait Rt: Send + 'static {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// `fut`, or `None` if `d` passes first (and `fut` is dropped).
    fn timeout<F: Future + Send>(d: Duration, fut: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F::Output: Send,
    {
        or(async { Some(fut.await) }, async move {
            Self::sleep(d).await;
            None
        })
    }
}

struct Tokio;

impl Rt for Tokio {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    async fn timeout<F: Future + Send>(d: Duration, fut: F) -> Option<F::Output>
    where
        F::Output: Send,
    {
        tokio::time::timeout(d, fut).await.ok()
    }
}

struct Smol;

impl Rt for Smol {
    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
}

/// Runs a `get`-like future, catching our own panics (from `create`). `None` from the future
/// itself means it was cancelled.
async fn async_try<F>(ledger: &Ledger, get: F, plain_get: bool, closing: bool) -> Option<AsyncPooled>
where
    F: Future<Output = Option<Result<AsyncPooled, Error<Flaky>>>>,
{
    match AssertUnwindSafe(get).catch_unwind().await {
        Ok(Some(result)) => tally(ledger, result, plain_get, closing),
        Ok(None) => {
            bump(&ledger.stats.cancelled);
            None
        }
        Err(payload) => {
            ledger.caught(payload);
            None
        }
    }
}

async fn hold_async<R: Rt>(rng: &mut fastrand::Rng) {
    match rng.u32(0..100) {
        0..40 => {}
        40..80 => yield_now().await,
        _ => R::sleep(Duration::from_micros(rng.u64(0..=100))).await,
    }
}

/// Polls `pool.get()` by hand one to three times (yielding in between) and drops it if it is
/// still pending: a cancellation at an arbitrary point of its wait.
async fn hand_polled(pool: &AsyncPool, rng: &mut fastrand::Rng) -> Option<Result<AsyncPooled, Error<Flaky>>> {
    let mut fut = pin!(pool.get());
    for _ in 0..rng.u32(1..=3) {
        if let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return Some(result);
        }
        yield_now().await;
    }
    None
}

async fn async_worker<R: Rt>(
    pool: AsyncPool,
    ledger: Arc<Ledger>,
    mut rng: fastrand::Rng,
    mode: Mode<AsyncPooled>,
) {
    let closing = mode.closing;
    while Instant::now() < mode.until && !(closing && pool.is_closed()) {
        let l = &*ledger;
        let got = match rng.u32(0..100) {
            0..20 => async_try(l, async { Some(pool.get().await) }, true, closing).await,
            20..45 => {
                let t = tiny(&mut rng);
                async_try(l, async { Some(pool.get_timeout(t).await) }, false, closing).await
            }
            45..55 => {
                // Never creates, so never panics (a pending reset leaves the object idle).
                let got = pool.try_get();
                bump(if got.is_some() { &l.stats.got } else { &l.stats.empty_try_gets });
                got
            }
            55..70 => {
                let t = Duration::from_micros(rng.u64(0..=300));
                async_try(l, R::timeout(t, pool.get()), false, closing).await
            }
            70..85 => {
                let t = Duration::from_micros(rng.u64(0..=300));
                let sleep = async move {
                    R::sleep(t).await;
                    None
                };
                async_try(l, or(async { Some(pool.get().await) }, sleep), false, closing).await
            }
            _ => async_try(l, hand_polled(&pool, &mut rng), false, closing).await,
        };
        let Some(obj) = got else { continue };
        obj.enter();
        hold_async::<R>(&mut rng).await;
        if rng.u32(0..100) < 8 {
            bump(&l.stats.nested);
            let t = tiny(&mut rng);
            if let Some(second) =
                async_try(l, async { Some(pool.get_timeout(t).await) }, false, closing).await
            {
                second.enter();
                hold_async::<R>(&mut rng).await;
                second.leave();
                drop(second);
            }
        }
        obj.leave();
        let Some(mut obj) = mode.maybe_sink(&mut rng, obj) else { continue };
        match rng.u32(0..100) {
            0..78 => drop(obj),
            78..88 => {
                obj.broken = true;
                drop(obj);
            }
            88..95 => {
                bump(&l.stats.detached);
                obj.mark_leaving();
                let detached: Obj = cenote_async::Pooled::detach(obj);
                drop(detached);
            }
            _ => {
                // The holder panics after an await: the object must not be put back.
                bump(&l.stats.holder_panics);
                let result = AssertUnwindSafe(async move {
                    obj.mark_leaving();
                    yield_now().await;
                    panic_any(Intentional);
                })
                .catch_unwind()
                .await;
                if let Err(payload) = result {
                    l.caught(payload);
                }
            }
        }
        if rng.u32(0..4) == 0 {
            yield_now().await;
        }
    }
    if let Some(sink) = &mode.sink {
        // The last act: an object for the sink, to return after the pool handles are gone.
        let t = Duration::from_millis(20);
        if let Some(obj) = async_try(&ledger, async { Some(pool.get_timeout(t).await) }, false, closing).await
        {
            let _ = sink.send(obj);
        }
    }
}

/// `max_size` objects at once, and then nothing more (async).
async fn take_max_async(pool: &AsyncPool, ledger: &Ledger) {
    let (label, seed) = (ledger.label, ledger.seed);
    let max = pool.status().max_size;
    let mut held = Vec::new();
    for i in 0..max {
        let obj = pool
            .get_timeout(Duration::from_secs(2))
            .await
            .unwrap_or_else(|e| panic!("[{label}] seed {seed}: taking object {i} of {max}: {e}"));
        obj.enter();
        held.push(obj);
    }
    assert!(pool.try_get().is_none(), "[{label}] seed {seed}: try_get with all {max} objects out");
    assert!(
        pool.get_timeout(Duration::ZERO).await.is_err_and(|e| e.is_timeout()),
        "[{label}] seed {seed}: get_timeout(0) with all {max} objects out"
    );
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.idle), (max, max, 0), "[{label}] seed {seed}: all out: {s}");
    assert_eq!(ledger.live(), max, "[{label}] seed {seed}: all out: objects alive");
    for obj in held {
        obj.leave();
    }
}

/// An executor: spawns the workers and waits for all of them, propagating panics.
trait Exec {
    fn spawn_all(&self, futs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>);
    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T;
}

/// Both storms of an async front end on one executor.
fn async_storms<R: Rt>(label: &'static str, exec: &impl Exec) {
    let started = Instant::now();
    let ledger = Ledger::new(label, seed());
    let pool = async_pool(&ledger);
    let (label, seed) = (ledger.label, ledger.seed);

    let until = Instant::now() + STORM;
    let resizer = spawn_resizer(pool.clone(), Arc::clone(&ledger), until - SETTLE);
    let workers = (0..TASKS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, i as u64));
            Box::pin(async_worker::<R>(pool, ledger, rng, Mode::storm(until))) as _
        })
        .collect();
    exec.spawn_all(workers);
    join_all(vec![resizer], &ledger);
    ledger.assert_clean("the storm");
    assert_quiesced(&pool, &ledger, "the storm");

    ledger.chaos.store(false, SeqCst);
    exec.block_on(take_max_async(&pool, &ledger));
    assert_quiesced(&pool, &ledger, "taking max_size");
    ledger.chaos.store(true, SeqCst);

    let hard_stop = Instant::now() + Duration::from_secs(3);
    let resizer = spawn_resizer(pool.clone(), Arc::clone(&ledger), hard_stop);
    let closer = {
        let pool = pool.clone();
        thread::spawn(move || {
            thread::sleep(CLOSE_STORM);
            pool.close();
        })
    };
    let workers = (0..TASKS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, 1000 + i as u64));
            Box::pin(async_worker::<R>(pool, ledger, rng, Mode::closing(hard_stop))) as _
        })
        .collect();
    exec.spawn_all(workers);
    join_all(vec![resizer, closer], &ledger);
    ledger.assert_clean("the storm cut by close");
    assert_closed_and_empty(&pool, &ledger);
    assert!(
        exec.block_on(pool.get()).is_err_and(|e| e.is_closed()),
        "[{label}] seed {seed}: get after close"
    );
    assert!(pool.try_get().is_none(), "[{label}] seed {seed}: try_get after close");
    drop(pool);

    // A third storm on a new pool whose handles all go while objects are still out.
    let pool = async_pool(&ledger);
    let (sink, sink_thread) = spawn_sink::<AsyncPooled>(&ledger);
    let until = Instant::now() + ORPHAN_STORM;
    let workers = (0..TASKS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, 2000 + i as u64));
            let mode = Mode { until, closing: false, sink: Some(sink.clone()) };
            Box::pin(async_worker::<R>(pool, ledger, rng, mode)) as _
        })
        .collect();
    drop((pool, sink));
    exec.spawn_all(workers);
    join_all(vec![sink_thread], &ledger);
    assert_orphan_storm_clean(&ledger);
    ledger.print_stats(started.elapsed());
}

struct TokioExec(tokio::runtime::Runtime);

impl Exec for TokioExec {
    fn spawn_all(&self, futs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>) {
        let handles: Vec<_> = futs.into_iter().map(|f| self.0.spawn(f)).collect();
        self.0.block_on(async {
            for h in handles {
                if let Err(e) = h.await {
                    eprintln!("stress: a task failed (seed {})", seed());
                    resume_unwind(e.into_panic());
                }
            }
        });
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        self.0.block_on(fut)
    }
}

struct SmolExec {
    ex: Arc<smol::Executor<'static>>,
}

impl Exec for SmolExec {
    fn spawn_all(&self, futs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>) {
        let tasks: Vec<_> = futs.into_iter().map(|f| self.ex.spawn(f)).collect();
        // Two threads run the executor (the main thread only waits).
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let runners: Vec<_> = (0..2)
            .map(|_| {
                let (ex, stopped) = (Arc::clone(&self.ex), stopped.clone());
                thread::spawn(move || smol::block_on(ex.run(stopped.recv())))
            })
            .collect();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            smol::block_on(async {
                for t in tasks {
                    t.await;
                }
            })
        }));
        drop(stop);
        for r in runners {
            let _ = r.join();
        }
        if let Err(payload) = outcome {
            eprintln!("stress: a task failed (seed {})", seed());
            resume_unwind(payload);
        }
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        smol::block_on(fut)
    }
}

#[test]
#[cfg_attr(miri, ignore = "a timed storm of tasks: far too slow under Miri")]
fn stress_async_tokio_multi_thread() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    async_storms::<Tokio>("async/tokio", &TokioExec(rt));
}

#[test]
#[cfg_attr(miri, ignore = "a timed storm of tasks: far too slow under Miri")]
fn stress_async_smol() {
    let _serial = serial();
    async_storms::<Smol>("async/smol", &SmolExec { ex: Arc::new(smol::Executor::new()) });
}

// ---------------------------------------------------------------------------------------------
// The accounting note above, made deterministic

/// An object whose `Drop` (a slow close: a TLS `close_notify`, a database `Terminate`) waits
/// for a signal, telling the test when it has started.
#[derive(Debug)]
struct SlowClose {
    tracked: Tracked,
    broken: bool,
    closing: Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>,
}

impl Drop for SlowClose {
    fn drop(&mut self) {
        if let Some((started, finish)) = self.closing.take() {
            let _ = started.send(());
            let _ = finish.recv_timeout(Duration::from_secs(10));
        }
        let _ = &self.tracked; // dropped after the close
    }
}

#[derive(Debug)]
struct SlowManager(Arc<Counts>);

impl cenote_sync::Manager for SlowManager {
    type Connection = SlowClose;
    type Error = Flaky;
    fn create(&self) -> Result<SlowClose, Flaky> {
        Ok(SlowClose { tracked: Tracked::new(&self.0), broken: false, closing: None })
    }
    fn has_broken(&self, obj: &mut SlowClose) -> bool {
        obj.broken
    }
}

/// With `max_size` 1, an object returned broken is dropped (its `Drop` is a slow close) before
/// its place is freed, so a `get` waits for the close instead of creating a replacement
/// meanwhile: `max_size` bounds objects still being closed too (a server's connection limit).
/// A guard in the core frees the place even if the `Drop` panics.
#[test]
fn retired_object_is_dropped_before_its_place_is_reused() {
    let counts = Arc::new(Counts::default());
    let pool =
        cenote_sync::Pool::builder(SlowManager(Arc::clone(&counts))).max_size(1).build().expect("config");
    let mut obj = pool.get().expect("first object");
    let (started_tx, started) = std::sync::mpsc::channel();
    let (finish, finish_rx) = std::sync::mpsc::channel();
    obj.broken = true;
    obj.closing = Some((started_tx, finish_rx));
    let returner = thread::spawn(move || drop(obj));
    started.recv_timeout(Duration::from_secs(5)).expect("the broken object's Drop started");
    let replacement = pool.get_timeout(Duration::from_millis(100));
    let alive = counts.live.load(SeqCst);
    let _ = finish.send(());
    returner.join().expect("returner");
    drop(replacement);
    assert!(alive <= 1, "{alive} objects alive at once with max_size 1: the replacement was created while the retired object was still being dropped");
}

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

mod async_storm;
#[path = "../common/mod.rs"]
mod common;
mod retire;
mod sync_storm;
mod workers;

use workers::*;

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
    /// Maintenance passes run by the maintainer thread.
    passes: AtomicUsize,
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
             rejected by reset/is_valid {} | nested {} | resizes {} settle checks {} | passes {} | sunk {} returned after \
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
            n(&s.passes),
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

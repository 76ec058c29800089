//! Cancel safety of `cenote_async::Pool::get`: dropping its future at any await point, before
//! or after it was woken, loses no object, no place (permit) and no wakeup.
//!
//! Most tests poll `get()` futures by hand with a counting waker (the style of async-lock's
//! tests), so that the exact point of cancellation is chosen by the test: waiting for a return,
//! inside `create`, inside `reset`, inside `is_valid` (deadpool's
//! `managed_cancellation.rs` matrix). The last tests cancel at random points under load with
//! `tokio::time::timeout`.
#![allow(missing_docs)]

mod common;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use cenote_async::{Error, Manager, Pool, Pooled};
use common::{Counts, Tracked};
use futures_lite::future::{block_on, yield_now};

// ---------------------------------------------------------------------------------------------
// Hand polling

/// A waker that counts its wakeups.
#[derive(Default)]
struct Flag(AtomicUsize);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A future polled by hand, with its own counting waker.
struct Probe<F: Future> {
    fut: Pin<Box<F>>,
    flag: Arc<Flag>,
    waker: Waker,
}

impl<F: Future> Probe<F> {
    fn new(fut: F) -> Self {
        let flag = Arc::new(Flag::default());
        Self { fut: Box::pin(fut), waker: Waker::from(Arc::clone(&flag)), flag }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        self.fut.as_mut().poll(&mut Context::from_waker(&self.waker))
    }

    /// How often it was woken so far.
    fn wakes(&self) -> usize {
        self.flag.0.load(SeqCst)
    }

    #[track_caller]
    fn assert_pending(&mut self, what: &str) {
        assert!(self.poll().is_pending(), "{what}: expected Pending");
    }

    #[track_caller]
    fn expect_ready(&mut self, what: &str) -> F::Output {
        match self.poll() {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("{what}: expected Ready, got Pending"),
        }
    }
}

type GetProbe<'a> = Probe<Pin<Box<dyn Future<Output = Result<Pooled<Gated>, Error<String>>> + Send + 'a>>>;

fn probe_get(pool: &Pool<Gated>) -> GetProbe<'_> {
    Probe::new(Box::pin(pool.get()))
}

// ---------------------------------------------------------------------------------------------
// A manager whose `create`, `reset` and `is_valid` can be held at an await point

/// A door an async method waits at while it is closed; opening it wakes the waiting task.
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    closed: bool,
    /// How many calls have reached the gate.
    reached: usize,
    waker: Option<Waker>,
}

impl Gate {
    fn close(&self) {
        self.state.lock().unwrap().closed = true;
    }

    fn open(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.closed = false;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn reached(&self) -> usize {
        self.state.lock().unwrap().reached
    }

    async fn pass(&self) {
        self.state.lock().unwrap().reached += 1;
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.closed {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }
}

#[derive(Debug, Default)]
struct Gated {
    counts: Arc<Counts>,
    create: Gate,
    reset: Gate,
    valid: Gate,
    resets_done: AtomicUsize,
}

impl Manager for Gated {
    type Connection = Tracked;
    type Error = String;

    async fn create(&self) -> Result<Tracked, String> {
        self.create.pass().await;
        Ok(Tracked::new(&self.counts))
    }

    async fn reset(&self, _conn: &mut Tracked) -> Result<(), String> {
        self.reset.pass().await;
        self.resets_done.fetch_add(1, SeqCst);
        Ok(())
    }

    async fn is_valid(&self, _conn: &mut Tracked) -> bool {
        self.valid.pass().await;
        true
    }
}

fn gated_pool(max_size: usize, validate: bool) -> Pool<Gated> {
    Pool::builder(Gated::default())
        .max_size(max_size)
        .validate_on_acquire(validate)
        .build()
        .expect("valid config")
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Nothing lent, nobody waiting, every object idle.
#[track_caller]
fn assert_balanced<M: Manager>(pool: &Pool<M>) {
    let s = pool.status();
    assert_eq!(s.in_use, 0, "objects still lent or places still held: {s:?}");
    assert_eq!(s.waiting, 0, "waiters left behind: {s:?}");
    assert_eq!(s.size, s.idle, "{s:?}");
    assert!(s.size <= s.max_size, "{s:?}");
}

/// `max_size` objects can be taken at once (no place leaked), each without waiting.
#[track_caller]
fn assert_all_takeable(pool: &Pool<Gated>) {
    let max = pool.status().max_size;
    let mut all = Vec::new();
    for i in 0..max {
        let mut get = probe_get(pool);
        match get.poll() {
            Poll::Ready(Ok(conn)) => all.push(conn),
            Poll::Ready(Err(e)) => panic!("get #{i} of {max} failed: {e}"),
            Poll::Pending => {
                panic!("only {i} of max_size {max} objects could be taken at once: {:?}", pool.status())
            }
        }
    }
    assert_eq!(pool.manager().counts.live.load(SeqCst), max);
    drop(all);
    assert_balanced(pool);
}

// ---------------------------------------------------------------------------------------------
// A waiter is Pending, woken by a return, then completes

#[test]
fn waiter_is_pending_then_woken_by_a_return_then_completes() {
    let pool = gated_pool(1, false);
    let mut first = probe_get(&pool);
    let held = first.expect_ready("get on an empty pool").expect("create");
    let held_id = held.id;

    let mut waiter = probe_get(&pool);
    waiter.assert_pending("get on an exhausted pool");
    assert_eq!(waiter.wakes(), 0, "woken with nothing to take");
    assert_eq!(pool.status().waiting, 1);
    waiter.assert_pending("polled again without a return");

    drop(held);
    assert!(waiter.wakes() >= 1, "the return did not wake the waiter");
    let conn = waiter.expect_ready("woken waiter").expect("the returned object");
    assert_eq!(conn.id, held_id);
    assert_eq!(pool.status().waiting, 0);
    drop(conn);
    assert_balanced(&pool);
    assert_all_takeable(&pool);
}

// ---------------------------------------------------------------------------------------------
// The cancellation matrix: await point × (cancel before / after the wake) × (another waiter
// behind it / it is the last one)

#[derive(Clone, Copy, Debug)]
enum Point {
    /// Waiting for a return on an exhausted pool.
    Waiting,
    /// Inside the manager's `create`.
    Create,
    /// Inside the manager's `reset` (of a returned object).
    Reset,
    /// Inside `is_valid`, with `validate_on_acquire`.
    Validate,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum When {
    /// Dropped while suspended, never woken.
    BeforeWake,
    /// Dropped after it was woken, before it was polled again.
    AfterWake,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Behind {
    /// A second waiter B waits behind the cancelled getter A: it must be woken and complete.
    AnotherWaiter,
    /// A was the only one: what it was holding or woken for must be back in the pool.
    Nobody,
}

/// Runs one cell of the matrix on a `max_size` 2 pool.
fn cancel_case(point: Point, when: When, behind: Behind) {
    const MAX: usize = 2;
    let pool = gated_pool(MAX, matches!(point, Point::Validate));
    let m = pool.manager();
    let what = format!("{point:?}/{when:?}/{behind:?}");

    // Two objects exist; `first` is held and `second` is either held (Waiting: the pool is
    // exhausted) or returned (Reset, Validate: it needs a reset) or not created (Create).
    let first = block_on(pool.get()).expect("create");
    let second = block_on(pool.get()).expect("create");
    let mut held = vec![first];
    let gate = match point {
        Point::Waiting => {
            held.push(second);
            None
        }
        Point::Create => {
            drop(Pooled::detach(second)); // frees a place: A will create
            Some(&m.create)
        }
        Point::Reset => {
            drop(second); // idle, needs a reset: A will reset it
            Some(&m.reset)
        }
        Point::Validate => {
            drop(second);
            Some(&m.valid)
        }
    };
    if let Some(gate) = gate {
        gate.close();
    }

    // A gets suspended at `point`.
    let reached_before = gate.map_or(0, Gate::reached);
    let mut a = probe_get(&pool);
    a.assert_pending(&what);
    match gate {
        None => assert_eq!(pool.status().waiting, 1, "{what}"),
        Some(gate) => {
            assert_eq!(gate.reached(), reached_before + 1, "{what}: A is not suspended at {point:?}")
        }
    }
    let s = pool.status();
    assert_eq!((s.size, s.idle), (MAX, 0), "{what}: A holds the pool's last object or place: {s:?}");

    // B waits behind A: the pool is exhausted.
    let mut b = (behind == Behind::AnotherWaiter).then(|| probe_get(&pool));
    if let Some(b) = &mut b {
        b.assert_pending(&what);
        assert_eq!(pool.status().waiting, if matches!(point, Point::Waiting) { 2 } else { 1 }, "{what}");
    }

    // Wake A (or not), then drop it without polling it again.
    if when == When::AfterWake {
        match gate {
            None => drop(held.pop()), // a return wakes A, the older waiter
            Some(gate) => gate.open(),
        }
        assert!(a.wakes() >= 1, "{what}: A was not woken");
    }
    drop(a);
    if let Some(gate) = gate {
        gate.open(); // from now on everything passes
    }

    match b {
        Some(mut b) => {
            if !(when == When::BeforeWake && matches!(point, Point::Waiting)) {
                // A held an object or a place, or was woken for one: B must get it.
                assert!(b.wakes() >= 1, "{what}: dropping A did not wake B");
            } else {
                assert_eq!(b.wakes(), 0, "{what}: B woken with nothing to take");
                drop(held.pop()); // a return now goes to B
                assert!(b.wakes() >= 1, "{what}: the return did not wake B");
            }
            let conn = b.expect_ready(&format!("{what}: B")).expect("B gets an object");
            assert_eq!(pool.status().waiting, 0, "{what}");
            drop(conn);
        }
        None => {
            if when == When::BeforeWake && matches!(point, Point::Waiting) {
                drop(held.pop());
            }
            // What A held or was woken for is back: an object is idle, or a place is free.
            let s = pool.status();
            assert_eq!(s.waiting, 0, "{what}: {s:?}");
            match point {
                Point::Create => assert_eq!(s.size, 1, "{what}: A's place was not freed: {s:?}"),
                _ => assert_eq!((s.size, s.idle), (MAX, 1), "{what}: the object is not back: {s:?}"),
            }
            let conn = probe_get(&pool).expect_ready(&format!("{what}: get after A")).expect("get");
            drop(conn);
        }
    }
    drop(held);

    // An object that was cancelled mid-reset is reset again by its next getter.
    if matches!(point, Point::Reset) {
        assert!(
            m.reset.reached() > reached_before + 1,
            "{what}: the object cancelled mid-reset was lent without a reset"
        );
    }
    assert_balanced(&pool);
    assert_all_takeable(&pool);
    assert_eq!(m.counts.live.load(SeqCst), pool.status().size, "{what}");
}

macro_rules! cancel_matrix {
    ($($name:ident: $point:ident, $when:ident, $behind:ident;)*) => {$(
        #[test]
        fn $name() {
            cancel_case(Point::$point, When::$when, Behind::$behind);
        }
    )*};
}

cancel_matrix! {
    cancel_waiting_before_wake_with_waiter_behind: Waiting, BeforeWake, AnotherWaiter;
    cancel_waiting_before_wake_alone: Waiting, BeforeWake, Nobody;
    cancel_waiting_after_wake_passes_object_to_next_waiter: Waiting, AfterWake, AnotherWaiter;
    cancel_waiting_after_wake_last_waiter_returns_object_to_pool: Waiting, AfterWake, Nobody;
    cancel_in_create_before_wake_with_waiter_behind: Create, BeforeWake, AnotherWaiter;
    cancel_in_create_before_wake_alone: Create, BeforeWake, Nobody;
    cancel_in_create_after_wake_with_waiter_behind: Create, AfterWake, AnotherWaiter;
    cancel_in_create_after_wake_alone: Create, AfterWake, Nobody;
    cancel_in_reset_before_wake_with_waiter_behind: Reset, BeforeWake, AnotherWaiter;
    cancel_in_reset_before_wake_alone: Reset, BeforeWake, Nobody;
    cancel_in_reset_after_wake_with_waiter_behind: Reset, AfterWake, AnotherWaiter;
    cancel_in_reset_after_wake_alone: Reset, AfterWake, Nobody;
    cancel_in_is_valid_before_wake_with_waiter_behind: Validate, BeforeWake, AnotherWaiter;
    cancel_in_is_valid_before_wake_alone: Validate, BeforeWake, Nobody;
    cancel_in_is_valid_after_wake_with_waiter_behind: Validate, AfterWake, AnotherWaiter;
    cancel_in_is_valid_after_wake_alone: Validate, AfterWake, Nobody;
}

// ---------------------------------------------------------------------------------------------
// The key case, spelled out: a waiter woken by a return and then dropped passes the object on

#[test]
fn woken_then_dropped_older_waiter_passes_the_object_to_the_next() {
    let pool = gated_pool(1, false);
    let held = block_on(pool.get()).expect("create");
    let held_id = held.id;
    let mut a = probe_get(&pool);
    a.assert_pending("A");
    let mut b = probe_get(&pool);
    b.assert_pending("B");

    drop(held);
    assert!(a.wakes() >= 1, "the return did not wake A, the older waiter");
    assert_eq!(b.wakes(), 0, "the return woke B before A: not FIFO");
    drop(a);
    assert!(b.wakes() >= 1, "A's wakeup was lost with A");
    let conn = b.expect_ready("B").expect("B gets the object A was woken for");
    assert_eq!(conn.id, held_id);
    drop(conn);
    assert_balanced(&pool);
    assert_all_takeable(&pool);
}

#[test]
fn woken_then_dropped_last_waiter_leaves_the_object_in_the_pool() {
    let pool = gated_pool(1, false);
    let held = block_on(pool.get()).expect("create");
    let mut a = probe_get(&pool);
    a.assert_pending("A");
    drop(held);
    assert!(a.wakes() >= 1);
    drop(a);
    let s = pool.status();
    assert_eq!((s.size, s.idle, s.waiting), (1, 1, 0), "{s:?}");
    // `try_get` skips objects that await their `reset` (every returned one), so `get`, whose
    // first poll must complete.
    let conn = probe_get(&pool).expect_ready("get after the last waiter left").expect("get");
    assert_eq!(pool.manager().counts.created.load(SeqCst), 1);
    drop(conn);
    assert_balanced(&pool);
}

/// The same with a freed place instead of an object: A is woken because the holder detached
/// its object, then dropped; B must get the place and create.
#[test]
fn woken_then_dropped_waiter_passes_a_freed_place_on() {
    let pool = gated_pool(1, false);
    let held = block_on(pool.get()).expect("create");
    let mut a = probe_get(&pool);
    a.assert_pending("A");
    let mut b = probe_get(&pool);
    b.assert_pending("B");
    drop(Pooled::detach(held));
    assert!(a.wakes() >= 1, "the freed place did not wake A");
    drop(a);
    assert!(b.wakes() >= 1, "A's wakeup for a place was lost with A");
    let conn = b.expect_ready("B").expect("B creates into the freed place");
    assert_eq!(conn.id, 1);
    drop(conn);
    assert_balanced(&pool);
    assert_all_takeable(&pool);
}

/// A return, or a freed place, is handed to the oldest async waiter directly; dropped before
/// it picks it up, that waiter must pass what it was handed to B, and when it is the last
/// one, leave it in the pool.
#[test]
fn hand_off_to_a_dropped_waiter_is_passed_on() {
    for (with_b, detach) in [(true, false), (false, false), (true, true), (false, true)] {
        let what = if detach { "freed place" } else { "object" };
        let pool = gated_pool(1, false);
        let held = block_on(pool.get()).expect("create");
        let mut a = probe_get(&pool);
        a.assert_pending("A");
        let mut b = with_b.then(|| probe_get(&pool));
        if let Some(b) = &mut b {
            b.assert_pending("B, lining up behind A");
        }
        // This return (or freed place) is handed to A directly; A is dropped without looking.
        let wakes = a.wakes();
        if detach {
            drop(Pooled::detach(held));
        } else {
            drop(held);
        }
        assert!(a.wakes() > wakes, "the hand-off of a {what} did not wake A");
        if let Some(b) = &b {
            assert_eq!(b.wakes(), 0, "B was woken for the {what} handed to A");
        }
        drop(a);
        match b {
            Some(mut b) => {
                assert!(b.wakes() >= 1, "the {what} handed to A was not passed on to B");
                drop(b.expect_ready("B").expect("B gets what was handed to A"));
            }
            None => {
                let s = pool.status();
                let expected = if detach { (0, 0, 0) } else { (1, 1, 0) };
                assert_eq!((s.size, s.idle, s.waiting), expected, "the handed-off {what} is lost: {s:?}");
                drop(probe_get(&pool).expect_ready("get after A left").expect("get"));
            }
        }
        assert_balanced(&pool);
        assert_all_takeable(&pool);
        assert_eq!(pool.manager().counts.created.load(SeqCst), if detach { 2 } else { 1 });
    }
}

/// Async waiters are served in order: each return goes to the oldest waiter, and a newcomer
/// lines up behind the waiters already there, round after round.
#[test]
fn a_waiter_is_never_overtaken_by_a_newcomer() {
    let pool = gated_pool(1, false);
    let mut held = block_on(pool.get()).expect("create");
    let mut a = probe_get(&pool);
    a.assert_pending("A");
    for round in 0..4 {
        drop(held);
        let mut newcomer = probe_get(&pool);
        newcomer.assert_pending(&format!("round {round}: a newcomer must line up behind A"));
        held = a.expect_ready("A, the oldest waiter").expect("A gets the return");
        a = newcomer;
    }
    drop(held);
    drop(a.expect_ready("the last newcomer").expect("get"));
    assert_balanced(&pool);
    assert_all_takeable(&pool);
}

/// Dropping a getter with a timeout (the timer registered) while it waits leaves no waiter.
#[test]
fn dropping_a_get_timeout_future_while_waiting_leaves_nothing_behind() {
    let pool = gated_pool(1, false);
    let held = block_on(pool.get()).expect("create");
    let mut a = Probe::new(Box::pin(pool.get_timeout(Duration::from_secs(60))));
    a.assert_pending("A");
    assert_eq!(pool.status().waiting, 1);
    drop(a);
    assert_eq!(pool.status().waiting, 0);
    drop(held);
    assert_balanced(&pool);
    assert_all_takeable(&pool);
}

/// Dropping a getter in the pause between failed creates: nothing is held there.
#[test]
fn dropping_a_get_in_the_pause_after_a_failed_create_leaves_nothing_behind() {
    let pool = Pool::builder(Failing::default()).max_size(1).build().expect("valid config");
    let mut a = Probe::new(Box::pin(pool.get()));
    a.assert_pending("A, pausing after a failed create");
    assert_eq!(pool.manager().calls.load(SeqCst), 1);
    let s = pool.status();
    assert_eq!((s.size, s.waiting), (0, 1), "no place held; counted as waiting while it pauses: {s:?}");
    drop(a);
    assert_eq!(pool.status().waiting, 0, "the count goes with the dropped get");
    assert_balanced(&pool);
    pool.manager().fail.store(false, SeqCst);
    drop(probe_get_any(&pool).expect_ready("get after A").expect("create works"));
    assert_balanced(&pool);
    assert_eq!(pool.status().size, 1);
}

#[derive(Debug)]
struct Failing {
    fail: AtomicBool,
    calls: AtomicUsize,
}

impl Default for Failing {
    fn default() -> Self {
        Self { fail: AtomicBool::new(true), calls: AtomicUsize::new(0) }
    }
}

impl Manager for Failing {
    type Connection = u32;
    type Error = String;

    async fn create(&self) -> Result<u32, String> {
        self.calls.fetch_add(1, SeqCst);
        if self.fail.load(SeqCst) {
            Err("create failed".into())
        } else {
            Ok(1)
        }
    }
}

type AnyGet<'a, M> =
    Pin<Box<dyn Future<Output = Result<Pooled<M>, Error<<M as Manager>::Error>>> + Send + 'a>>;

fn probe_get_any<M: Manager>(pool: &Pool<M>) -> Probe<AnyGet<'_, M>> {
    Probe::new(Box::pin(pool.get()))
}

// ---------------------------------------------------------------------------------------------
// Random cancellation under load with `tokio::time::timeout`

/// A manager whose every method yields once, so that a timeout can cancel a getter inside any
/// of them.
#[derive(Debug, Default)]
struct Yielding {
    counts: Arc<Counts>,
    lent_twice: AtomicBool,
}

#[derive(Debug)]
struct Conn {
    _tracked: Tracked,
    lent: AtomicBool,
}

impl Manager for Yielding {
    type Connection = Conn;
    type Error = String;

    async fn create(&self) -> Result<Conn, String> {
        yield_now().await;
        Ok(Conn { _tracked: Tracked::new(&self.counts), lent: AtomicBool::new(false) })
    }

    async fn reset(&self, _conn: &mut Conn) -> Result<(), String> {
        yield_now().await;
        Ok(())
    }

    async fn is_valid(&self, _conn: &mut Conn) -> bool {
        yield_now().await;
        true
    }
}

/// A tiny deterministic PRNG (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn hold(conn: Pooled<Yielding>, me: &Yielding, rng: &mut Rng) {
    if conn.lent.swap(true, SeqCst) {
        me.lent_twice.store(true, SeqCst);
    }
    for _ in 0..rng.below(3) {
        tokio::task::yield_now().await;
    }
    if rng.below(8) == 0 {
        tokio::time::sleep(Duration::from_micros(rng.below(300))).await;
    }
    conn.lent.store(false, SeqCst);
    drop(conn);
}

/// Getters with tiny random timeouts race real getters for a while; afterwards nothing is lost.
async fn timeouts_under_load(validate: bool) {
    const MAX: usize = 4;
    const RUN: Duration = Duration::from_millis(300);
    let pool = Pool::builder(Yielding::default())
        .max_size(MAX)
        .validate_on_acquire(validate)
        .acquire_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("valid config");
    let until = Instant::now() + RUN;
    let cancelled = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..32u64 {
        let pool = pool.clone();
        let cancelled = Arc::clone(&cancelled);
        let served = Arc::clone(&served);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let impatient = t % 4 != 0; // 24 impatient getters, 8 patient ones
            while Instant::now() < until {
                if impatient {
                    let limit = Duration::from_micros(rng.below(1500));
                    match tokio::time::timeout(limit, pool.get()).await {
                        Ok(Ok(conn)) => hold(conn, pool.manager(), &mut rng).await,
                        Ok(Err(e)) => panic!("get failed: {e}"),
                        Err(_elapsed) => {
                            cancelled.fetch_add(1, SeqCst);
                        }
                    }
                } else {
                    let conn = pool.get().await.unwrap_or_else(|e| panic!("a patient get failed: {e}"));
                    served.fetch_add(1, SeqCst);
                    hold(conn, pool.manager(), &mut rng).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("task panicked");
    }
    let (cancelled, served) = (cancelled.load(SeqCst), served.load(SeqCst));
    println!("validate {validate}: {cancelled} gets cancelled by timeouts, {served} patient gets served");
    assert!(cancelled > 0, "no get was ever cancelled: the test did not test anything");
    assert!(served > 0);
    let m = pool.manager();
    assert!(!m.lent_twice.load(SeqCst), "an object was lent twice at once");
    assert!(m.counts.max_live.load(SeqCst) <= MAX);
    assert_balanced(&pool);
    assert_eq!(m.counts.live.load(SeqCst), pool.status().size);

    // No place leaked: max_size objects at once, each at once.
    let mut all = Vec::new();
    for i in 0..MAX {
        match tokio::time::timeout(Duration::from_secs(2), pool.get()).await {
            Ok(Ok(conn)) => all.push(conn),
            other => panic!(
                "only {i} of {MAX} objects could be taken after the run: {:?}",
                other.map(|r| r.map(drop))
            ),
        }
    }
    drop(all);
    assert_balanced(&pool);
}

#[test]
fn random_timeouts_under_load_multi_thread() {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().expect("runtime");
    rt.block_on(timeouts_under_load(false));
}

#[test]
fn random_timeouts_under_load_multi_thread_validating() {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().expect("runtime");
    rt.block_on(timeouts_under_load(true));
}

#[test]
fn random_timeouts_under_load_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    rt.block_on(timeouts_under_load(false));
}

//! A sequential model test of `cenote_sync::Pool`, in proptest's state-machine style done by
//! hand: proptest generates a capacity, a starting `max_size` and a list of operations; each
//! operation runs against the real pool and against [`Model`], a few lines of plain Rust that
//! say what the pool should do, and the two are compared after every step:
//!
//! * the outcome: which object a `get_timeout(0)` / `try_get` lends (FIFO reuse: the object
//!   returned longest ago), or which error (`Timeout` with or without the last create error,
//!   `Closed`), whether `resize` fails, which object `detach` hands out;
//! * the object's use count (`Pooled::meta`);
//! * `status()`: `max_size`, `size`, `idle`, `in_use`, `waiting`, and `is_closed()`;
//! * the set of objects alive (each object registers itself while it lives): nothing leaked,
//!   nothing dropped twice, and the *right* objects dropped (broken returns, detaches, returns
//!   while over `max_size` after a shrink, the oldest idle objects on a shrink, idle ones on
//!   `close`).
//!
//! `get` is `get_timeout(Duration::ZERO)`, so no step ever blocks: the model says it lends an
//! idle object if there is one, else creates one if `size < max_size` (or times out carrying
//! the create error, while creates fail), else times out with no create error.
#![allow(missing_docs)]

mod common;

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cenote_sync::{Error, Manager, Pool, Pooled, ResizeError};
use common::{Counts, Tracked};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Largest capacity generated.
const MAX_CAPACITY: usize = 5;

// ---------------------------------------------------------------------------------------------
// The system under test

/// Which objects are alive, by id.
type Registry = Arc<Mutex<BTreeSet<usize>>>;

#[derive(Debug)]
struct Obj {
    tracked: Tracked,
    alive: Registry,
    /// Set before a `ReturnBroken`: `has_broken` reports it.
    broken: bool,
}

impl Obj {
    fn id(&self) -> usize {
        self.tracked.id
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        let removed = self.alive.lock().unwrap().remove(&self.tracked.id);
        assert!(removed, "object {} dropped twice", self.tracked.id);
    }
}

#[derive(Debug)]
struct CreateFailed;

impl fmt::Display for CreateFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("create failed")
    }
}

#[derive(Debug, Default)]
struct M {
    counts: Arc<Counts>,
    alive: Registry,
    fail: AtomicBool,
}

impl Manager for M {
    type Connection = Obj;
    type Error = CreateFailed;

    fn create(&self) -> Result<Obj, CreateFailed> {
        if self.fail.load(SeqCst) {
            return Err(CreateFailed);
        }
        let tracked = Tracked::new(&self.counts);
        assert!(self.alive.lock().unwrap().insert(tracked.id), "id {} reused", tracked.id);
        Ok(Obj { tracked, alive: Arc::clone(&self.alive), broken: false })
    }

    fn has_broken(&self, obj: &mut Obj) -> bool {
        obj.broken
    }
}

// ---------------------------------------------------------------------------------------------
// Operations and the model

#[derive(Clone, Debug)]
enum Op {
    /// `get_timeout(Duration::ZERO)`: never blocks.
    Get,
    TryGet,
    /// Drop the i-th held object (mod the number held).
    Return(usize),
    /// Mark the i-th held object broken, then drop it.
    ReturnBroken(usize),
    /// `Pooled::detach` the i-th held object, then drop what it hands out.
    Detach(usize),
    Resize(usize),
    /// Toggle whether `create` fails.
    CreateFails,
    Close,
}

/// What an operation answered, in terms both sides can produce.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// An object (by id) and its use count including this loan.
    Lent {
        id: usize,
        uses: u64,
    },
    /// `try_get` found nothing.
    Nothing,
    Timeout {
        create_error: bool,
    },
    Closed,
    /// A return, a broken return, a toggle, or an op on no held object.
    Done,
    Detached(usize),
    Resized,
    ResizeClosed,
}

#[derive(Debug)]
struct Model {
    max_size: usize,
    closed: bool,
    fail: bool,
    /// Idle objects, the one returned longest ago first.
    idle: VecDeque<usize>,
    /// Held objects, in the order the test keeps them.
    held: Vec<usize>,
    next_id: usize,
    /// Use count per id.
    uses: Vec<u64>,
}

impl Model {
    fn new(max_size: usize) -> Self {
        Self {
            max_size,
            closed: false,
            fail: false,
            idle: VecDeque::new(),
            held: Vec::new(),
            next_id: 0,
            uses: Vec::new(),
        }
    }

    fn size(&self) -> usize {
        self.idle.len() + self.held.len()
    }

    fn alive(&self) -> BTreeSet<usize> {
        self.idle.iter().chain(&self.held).copied().collect()
    }

    fn lend(&mut self, id: usize) -> Outcome {
        self.uses[id] += 1;
        self.held.push(id);
        Outcome::Lent { id, uses: self.uses[id] }
    }

    fn step(&mut self, op: &Op) -> Outcome {
        match *op {
            Op::Get => {
                if self.closed {
                    Outcome::Closed
                } else if let Some(id) = self.idle.pop_front() {
                    self.lend(id)
                } else if self.size() < self.max_size {
                    if self.fail {
                        Outcome::Timeout { create_error: true }
                    } else {
                        let id = self.next_id;
                        self.next_id += 1;
                        self.uses.push(0);
                        self.lend(id)
                    }
                } else {
                    Outcome::Timeout { create_error: false }
                }
            }
            Op::TryGet => match self.idle.pop_front() {
                Some(id) if !self.closed => self.lend(id),
                _ => Outcome::Nothing,
            },
            Op::Return(i) => {
                if !self.held.is_empty() {
                    // Over `max_size` (after a shrink) or closed: the object is dropped.
                    let over = self.size() > self.max_size;
                    let id = self.held.remove(i % self.held.len());
                    if !self.closed && !over {
                        self.idle.push_back(id);
                    }
                }
                Outcome::Done
            }
            Op::ReturnBroken(i) => {
                if !self.held.is_empty() {
                    self.held.remove(i % self.held.len());
                }
                Outcome::Done
            }
            Op::Detach(i) => {
                if self.held.is_empty() {
                    Outcome::Done
                } else {
                    Outcome::Detached(self.held.remove(i % self.held.len()))
                }
            }
            Op::Resize(n) => {
                if self.closed {
                    return Outcome::ResizeClosed;
                }
                self.max_size = n;
                // Shrinking drops idle extras now, oldest first; lent extras retire on return.
                while self.size() > self.max_size && self.idle.pop_front().is_some() {}
                Outcome::Resized
            }
            Op::CreateFails => {
                self.fail = !self.fail;
                Outcome::Done
            }
            Op::Close => {
                self.closed = true;
                self.idle.clear();
                Outcome::Done
            }
        }
    }
}

/// Runs `op` on the real pool; `held` mirrors `Model::held`.
fn step_real(pool: &Pool<M>, held: &mut Vec<Pooled<M>>, op: &Op) -> Outcome {
    let mut lend = |obj: Pooled<M>| {
        let outcome = Outcome::Lent { id: obj.id(), uses: Pooled::meta(&obj).use_count };
        held.push(obj);
        outcome
    };
    match *op {
        Op::Get => match pool.get_timeout(Duration::ZERO) {
            Ok(obj) => lend(obj),
            Err(Error::Timeout { last_create_error }) => {
                Outcome::Timeout { create_error: last_create_error.is_some() }
            }
            Err(Error::Closed) => Outcome::Closed,
            Err(e) => panic!("get_timeout(0) failed with an unexpected error: {e:?}"),
        },
        Op::TryGet => pool.try_get().map_or(Outcome::Nothing, lend),
        Op::Return(i) => {
            if !held.is_empty() {
                drop(held.remove(i % held.len()));
            }
            Outcome::Done
        }
        Op::ReturnBroken(i) => {
            if !held.is_empty() {
                let mut obj = held.remove(i % held.len());
                obj.broken = true;
                drop(obj);
            }
            Outcome::Done
        }
        Op::Detach(i) => {
            if held.is_empty() {
                Outcome::Done
            } else {
                let obj = Pooled::detach(held.remove(i % held.len()));
                Outcome::Detached(obj.id())
            }
        }
        Op::Resize(n) => match pool.resize(n) {
            Ok(()) => Outcome::Resized,
            Err(ResizeError::Closed) => Outcome::ResizeClosed,
            Err(e) => panic!("resize({n}) within capacity failed: {e}"),
        },
        Op::CreateFails => {
            pool.manager().fail.fetch_xor(true, SeqCst);
            Outcome::Done
        }
        Op::Close => {
            pool.close();
            Outcome::Done
        }
    }
}

fn run(capacity: usize, max_size: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let pool = Pool::builder(M::default())
        .capacity(capacity)
        .max_size(max_size)
        // No `cenote-clock` thread: under Miri every thread must end before the process.
        .validate_idle_after(None)
        .build()
        .expect("valid config");
    let mut model = Model::new(max_size);
    let mut held = Vec::new();
    for (step, op) in ops.iter().enumerate() {
        let expected = model.step(op);
        let actual = step_real(&pool, &mut held, op);
        let at = || format!("step {step} ({op:?}), model {model:?}");
        prop_assert_eq!(&actual, &expected, "outcome at {}", at());

        let s = pool.status();
        prop_assert_eq!(s.max_size, model.max_size, "max_size at {}: {}", at(), s);
        prop_assert_eq!(s.size, model.size(), "size at {}: {}", at(), s);
        prop_assert_eq!(s.idle, model.idle.len(), "idle at {}: {}", at(), s);
        prop_assert_eq!(s.in_use, model.held.len(), "in_use at {}: {}", at(), s);
        prop_assert_eq!(s.waiting, 0, "waiting at {}: {}", at(), s);
        prop_assert_eq!(pool.is_closed(), model.closed, "is_closed at {}", at());
        let held_ids: Vec<usize> = held.iter().map(|o| o.id()).collect();
        prop_assert_eq!(&held_ids, &model.held, "held objects at {}", at());
        let alive = pool.manager().alive.lock().unwrap().clone();
        prop_assert_eq!(&alive, &model.alive(), "objects alive at {}", at());
        prop_assert_eq!(pool.manager().counts.live.load(SeqCst), model.size(), "Tracked live at {}", at());
    }
    // Everything held goes back; the pool is then at rest.
    let over = model.size() > model.max_size;
    drop(held);
    let s = pool.status();
    prop_assert_eq!((s.in_use, s.waiting), (0, 0), "at the end: {}", s);
    prop_assert_eq!(s.size, s.idle, "at the end: {}", s);
    if !over {
        prop_assert!(s.size <= s.max_size, "at the end: {}", s);
    }
    Ok(())
}

fn op(capacity: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => Just(Op::Get),
        10 => Just(Op::TryGet),
        20 => (0..8usize).prop_map(Op::Return),
        6 => (0..8usize).prop_map(Op::ReturnBroken),
        6 => (0..8usize).prop_map(Op::Detach),
        8 => (1..=capacity).prop_map(Op::Resize),
        5 => Just(Op::CreateFails),
        1 => Just(Op::Close),
    ]
}

/// A capacity, a starting `max_size` within it, and the operations.
fn scenario() -> impl Strategy<Value = (usize, usize, Vec<Op>)> {
    let len = if cfg!(miri) { 1..24usize } else { 1..96usize };
    (1..=MAX_CAPACITY).prop_flat_map(move |capacity| {
        (Just(capacity), 1..=capacity, proptest::collection::vec(op(capacity), len.clone()))
    })
}

fn config() -> Config {
    Config {
        cases: if cfg!(miri) { 8 } else { 256 },
        // Shrunk failures are printed; nothing is written next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pool_matches_model((capacity, max_size, ops) in scenario()) {
        run(capacity, max_size, &ops)?;
    }
}

/// A fixed scenario through every rule, so that a regression shows up without proptest's luck.
#[test]
fn model_walkthrough() {
    use Op::*;
    let ops = [
        Get,
        Get,
        Get,
        Get, // max_size 3: times out
        Return(0),
        Return(0),
        Get, // FIFO: object 0, returned first
        TryGet,
        TryGet,    // nothing idle
        Resize(1), // 3 lent, nothing idle: extras retire on return
        Return(0),
        Return(0), // still over: dropped
        Return(0), // size 1 == max: kept
        CreateFails,
        Get,
        Get, // at max: timeout, no create error
        Detach(0),
        Get, // room, but create fails: timeout with the create error
        CreateFails,
        Resize(3),
        Get,
        Get,
        ReturnBroken(1),
        Return(0),
        Get,
        Get,
        Resize(1), // drops the oldest idle object
        Close,
        Get,
        TryGet,
        Resize(2),
        Return(0),
        Detach(0),
    ];
    run(3, 3, &ops).unwrap();
}

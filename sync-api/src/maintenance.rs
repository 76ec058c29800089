//! Maintenance for blocking pools: one pass (`Pool::maintain`), and one shared background
//! thread that runs every blocking pool's passes.
//!
//! The thread (`cenote-maintenance`, started on first use) keeps a list of jobs, one per pool
//! with maintenance on, each due at the time its last pass named, and sleeps until the
//! earliest is due: one thread for any number of pools (a keyed pool has a core per key; a
//! thread per pool would not scale). A job holds only a weak handle, upgraded for the length
//! of a pass; the pool's handles hold a token whose drop removes the job at once, so dropping
//! the pool ends its maintenance and frees its manager then, not at the next due time. A job
//! ends too when its pool is closed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use cenote_front::{Handle, Maintenance, WeakHandle};

use crate::pool::Blocking;
use crate::Manager;

/// One maintenance pass on `handle`: reap, check, refill.
pub(crate) fn pass<M: Manager>(handle: &Handle<Blocking<M>>) -> Maintenance {
    let manager = handle.manager();
    let mut pass = handle.begin_pass();
    while let Some(mut visit) = pass.next_check() {
        let span = handle.check_span();
        let result = span.in_scope(|| manager.check(visit.conn_mut()));
        span.outcome(if result.is_ok() { "ok" } else { "failed" });
        pass.checked(visit, result);
    }
    while let Some(permit) = pass.refill_permit() {
        let span = handle.create_span();
        let created = span.in_scope(|| manager.create());
        span.outcome(if created.is_ok() { "ok" } else { "error" });
        match created {
            Ok(conn) => pass.created(permit, conn),
            Err(e) => {
                pass.create_failed(Some(&e));
                break;
            }
        }
    }
    pass.finish()
}

/// A pool's job, run by the maintenance thread: `None` when it is over.
type Run = Box<dyn FnMut() -> Option<Duration> + Send>;

struct Job {
    id: u64,
    due: Instant,
    run: Run,
    /// The pool's token: the job is over once it is gone.
    token: Weak<Token>,
}

/// Held by a pool's handles while its maintenance runs; dropping the last one removes the job.
#[derive(Debug)]
pub(crate) struct Token {
    id: u64,
}

impl Drop for Token {
    fn drop(&mut self) {
        let scheduler = scheduler();
        let mut jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        // Not there while its pass runs: the thread drops it after the pass (the token is gone).
        let removed = jobs.list.iter().position(|job| job.id == self.id).map(|i| jobs.list.swap_remove(i));
        drop(jobs);
        // The job's weak handle (and, if it was the last thing holding it, the pool's memory
        // and manager) goes here, on the thread that dropped the pool.
        drop(removed);
    }
}

impl Token {
    /// Makes the pool's next pass due now (after a `refresh`: its replacements are wanted
    /// now). A job whose pass is running has its next one due at once when it ends.
    pub(crate) fn wake(&self) {
        let scheduler = scheduler();
        let mut jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match jobs.list.iter_mut().find(|job| job.id == self.id) {
            Some(job) => job.due = Instant::now(),
            None => jobs.woken.push(self.id),
        }
        drop(jobs);
        scheduler.changed.notify_one();
    }
}

#[derive(Default)]
struct Jobs {
    /// Jobs woken while their pass ran (see [`Token::wake`]).
    woken: Vec<u64>,
    list: Vec<Job>,
    next_id: u64,
    thread_started: bool,
}

struct Scheduler {
    jobs: Mutex<Jobs>,
    changed: Condvar,
}

fn scheduler() -> &'static Scheduler {
    static SCHEDULER: OnceLock<Scheduler> = OnceLock::new();
    SCHEDULER.get_or_init(|| Scheduler { jobs: Mutex::new(Jobs::default()), changed: Condvar::new() })
}

/// Starts background maintenance for the pool behind `weak`, with a first pass now. Returns
/// the token the pool's handles keep.
///
/// # Panics
///
/// If the maintenance thread cannot be spawned (the OS refused a thread).
pub(crate) fn start<M: Manager>(weak: WeakHandle<Blocking<M>>) -> Arc<Token> {
    let scheduler = scheduler();
    let mut jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
    let id = jobs.next_id;
    jobs.next_id += 1;
    let token = Arc::new(Token { id });
    let name = weak.shared().config.name.clone();
    let run: Run = Box::new(move || {
        let handle = weak.upgrade()?;
        let report = pass(&handle);
        report.next
    });
    log::debug!("pool {name}: background maintenance started");
    jobs.list.push(Job { id, due: Instant::now(), run, token: Arc::downgrade(&token) });
    if !jobs.thread_started {
        std::thread::Builder::new()
            .name("cenote-maintenance".into())
            .spawn(|| run_jobs(self::scheduler()))
            .expect("cenote: could not spawn the maintenance thread");
        jobs.thread_started = true;
    }
    drop(jobs);
    scheduler.changed.notify_one();
    token
}

/// The maintenance thread: runs each job when due, forever (it owns no pool).
fn run_jobs(scheduler: &Scheduler) {
    let mut jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let now = Instant::now();
        let Some(i) = (0..jobs.list.len()).min_by_key(|&i| jobs.list[i].due) else {
            jobs = scheduler.changed.wait(jobs).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        let due = jobs.list[i].due;
        if due > now {
            jobs = scheduler.changed.wait_timeout(jobs, due - now).unwrap_or_else(PoisonError::into_inner).0;
            continue;
        }
        let mut job = jobs.list.swap_remove(i);
        drop(jobs);
        // A panicking manager ends its own pool's maintenance, not the thread's.
        let next = catch_unwind(AssertUnwindSafe(|| (job.run)())).ok().flatten();
        jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match next {
            Some(next) if job.token.strong_count() > 0 => {
                job.due = Instant::now() + next;
                if let Some(i) = jobs.woken.iter().position(|&id| id == job.id) {
                    jobs.woken.swap_remove(i);
                    job.due = Instant::now();
                }
                jobs.list.push(job);
            }
            _ => {
                jobs.woken.retain(|&id| id != job.id);
                drop(jobs);
                drop(job); // may free a dropped pool's memory and manager
                jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

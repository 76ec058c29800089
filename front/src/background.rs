//! The shared background thread (`cenote-maintenance`) that runs every pool's background
//! jobs: a blocking pool's maintenance passes, an async pool's reaping when no
//! `maintenance()` future was spawned.
//!
//! The thread (started on first use) keeps a list of jobs, one per pool, each due at the time
//! its last run named, and sleeps until the earliest is due: one thread for any number of
//! pools (a keyed pool has a core per key; a thread per pool would not scale). A job holds
//! only a weak handle, upgraded for the length of a run; the pool's handles hold a
//! [`Background`] token whose drop removes the job at once, so dropping the pool ends its
//! job and frees its manager then, not at the next due time. A job ends too when a run says
//! so (its pool was closed, or is gone).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::{Front, Handle, Maintenance, WeakHandle};

/// A pool's job: `None` when it is over, else the pause before its next run.
type Run = Box<dyn FnMut() -> Option<Duration> + Send>;

struct Job {
    id: u64,
    due: Instant,
    run: Run,
    /// The pool's token: the job is over once it is gone.
    token: Weak<Background>,
}

/// Held by a pool's handles while its background job runs; dropping the last one removes
/// the job (see the module docs of [`Handle::start_background`]).
#[derive(Debug)]
pub struct Background {
    id: u64,
}

impl Drop for Background {
    fn drop(&mut self) {
        let scheduler = scheduler();
        let mut jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        // Not there while its run is in progress: the thread drops it after (the token is gone).
        let removed = jobs.list.iter().position(|job| job.id == self.id).map(|i| jobs.list.swap_remove(i));
        drop(jobs);
        // The job's weak handle (and, if it was the last thing holding it, the pool's memory
        // and manager) goes here, on the thread that dropped the pool.
        drop(removed);
    }
}

impl Background {
    /// Makes the job's next run due now (after a `refresh`: its replacements are wanted now).
    /// A job whose run is in progress has its next one due at once when it ends.
    pub fn wake(&self) {
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
    /// Jobs woken while their run was in progress (see [`Background::wake`]).
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

impl<F: Front> Handle<F> {
    /// For front ends: runs `run` on the shared `cenote-maintenance` thread (see the
    /// [module docs](crate::background)), first now, then each time after the pause it
    /// returns, until it returns `None` or the returned token's last clone is dropped. `run`
    /// gets a handle for the length of one run (the job keeps only a weak one); `None` when
    /// the pool is gone. The blocking front end runs its maintenance passes so; the async
    /// one, when no `maintenance()` future runs, [`reap_pass`](Handle::reap_pass).
    ///
    /// # Panics
    ///
    /// If the thread cannot be spawned (the OS refused a thread).
    pub fn start_background(
        &self,
        mut run: impl FnMut(&Handle<F>) -> Option<Duration> + Send + 'static,
    ) -> Arc<Background> {
        let weak: WeakHandle<F> = self.downgrade();
        start(
            &self.config().name,
            Box::new(move || {
                let handle = weak.upgrade()?;
                run(&handle)
            }),
        )
    }

    /// For front ends: a maintenance pass that calls no manager method: reaps idle objects
    /// past `max_lifetime` or `idle_timeout` (or created before a `refresh`), reports leaks
    /// and calls `on_metrics` when due, but neither checks nor creates. What an async pool's
    /// background job runs while no `maintenance()` future does (a check or create is async
    /// and belongs on the user's executor).
    pub fn reap_pass(&self) -> Maintenance {
        let mut pass = self.begin_pass();
        // An object due for a check goes back unchecked: a getter checks it before lending.
        while let Some(visit) = pass.next_check() {
            drop(visit);
        }
        pass.finish()
    }

    /// For the async front end: starts its background reaping ([`reap_pass`](Handle::reap_pass)
    /// on the shared thread), which stands aside while a maintenance loop of the front end's
    /// own runs (one holding [`Shared::maintaining`](crate::Shared::maintaining)).
    pub fn start_reaping(&self) -> Arc<Background> {
        self.start_background(|handle| {
            let shared = handle.shared();
            if shared.maintained.get() > 0 {
                return Some(shared.maintenance_interval());
            }
            handle.reap_pass().next
        })
    }

    /// Whether this pool's configuration asks for the background work that needs no manager
    /// call: `idle_timeout`, `max_lifetime`, `leak_detection_threshold`, an `on_metrics`
    /// callback, or autoscaling.
    pub fn wants_reaping(&self) -> bool {
        let config = self.config();
        config.idle_timeout.is_some()
            || config.max_lifetime.is_some()
            || config.leak_detection_threshold.is_some()
            || self.shared().on_metrics.is_some()
            || config.autoscale.is_some()
    }
}

fn start(name: &str, run: Run) -> Arc<Background> {
    let scheduler = scheduler();
    let mut jobs = scheduler.jobs.lock().unwrap_or_else(PoisonError::into_inner);
    let id = jobs.next_id;
    jobs.next_id += 1;
    let token = Arc::new(Background { id });
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
        // A panicking manager ends its own pool's job, not the thread.
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

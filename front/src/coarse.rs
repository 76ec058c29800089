//! The thread that ticks the core's coarse clock ([`cenote_core::time::coarse_now`]) for
//! `validate_idle_after`: one per process (`cenote-clock`), started by the first pool that
//! uses it, ticking every 100 ms while any such pool is alive and parked while none is.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// How often the coarse clock is ticked: its resolution.
pub(crate) const TICK: Duration = Duration::from_millis(100);

/// Pools using the clock, and the condition the thread parks on while there are none.
struct Users {
    count: Mutex<usize>,
    changed: Condvar,
}

fn users() -> &'static Users {
    static USERS: OnceLock<Users> = OnceLock::new();
    static STARTED: OnceLock<()> = OnceLock::new();
    let users = USERS.get_or_init(|| Users { count: Mutex::new(0), changed: Condvar::new() });
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new().name("cenote-clock".into()).spawn(move || run(users));
        if let Err(e) = spawned {
            // Without the thread the clock stands still: objects are then never "idle long",
            // and `validate_idle_after` checks nothing (as if it were off). Say so once.
            log::warn!(
                "cenote: could not start the cenote-clock thread ({e}); validate_idle_after is inactive"
            );
        }
    });
    users
}

fn run(users: &'static Users) {
    loop {
        {
            let mut count = users.count.lock().unwrap_or_else(PoisonError::into_inner);
            while *count == 0 {
                count = users.changed.wait(count).unwrap_or_else(PoisonError::into_inner);
            }
        }
        cenote_core::time::tick_coarse();
        std::thread::sleep(TICK);
    }
}

/// Held by a pool that uses the coarse clock: keeps it ticking until dropped.
#[derive(Debug)]
pub(crate) struct ClockUser(());

impl ClockUser {
    pub(crate) fn new() -> Self {
        let users = users();
        cenote_core::time::tick_coarse();
        *users.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        users.changed.notify_one();
        Self(())
    }
}

impl Drop for ClockUser {
    fn drop(&mut self) {
        let users = users();
        let mut count = users.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count = count.saturating_sub(1);
    }
}

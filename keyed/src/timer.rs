//! A runtime-free timer for the async keyed pool: one thread (`cenote-keyed-timer`, started on
//! first use) sleeps until the earliest registered deadline and wakes the futures due. Only
//! slow paths use it: a `get` that has to wait (its timeout, and the waiters' periodic look for
//! an idle object to close); a `get` served at once registers nothing.
//!
//! The clock, not the thread, decides: [`Sleep`] checks `cenote_core::time::now()` when
//! polled, so a late or spurious wakeup costs an extra poll, never a wrong answer.

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use cenote_core::time;
use parking_lot::{Condvar, Mutex};

struct Timer {
    state: Mutex<State>,
    wake: Condvar,
}

struct State {
    /// `(deadline, id)` to the waker of the future waiting for it.
    due: BTreeMap<(u64, u64), Waker>,
    next_id: u64,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            state: Mutex::new(State { due: BTreeMap::new(), next_id: 0 }),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("cenote-keyed-timer".into())
            .spawn(move || run(timer))
            .unwrap_or_else(|e| panic!("starting the keyed pool's timer thread: {e}"));
        timer
    })
}

fn run(timer: &'static Timer) -> ! {
    let mut state = timer.state.lock();
    loop {
        let now = time::now();
        let mut woken = Vec::new();
        while let Some(entry) = state.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            woken.push(entry.remove());
        }
        if !woken.is_empty() {
            drop(state);
            for waker in woken {
                waker.wake();
            }
            state = timer.state.lock();
            continue;
        }
        match state.due.keys().next() {
            Some(&(at, _)) => {
                let _ = timer.wake.wait_for(&mut state, time::until(at));
            }
            None => timer.wake.wait(&mut state),
        }
    }
}

/// A future that completes at `deadline` (in `cenote_core::time` ticks). Registers with the
/// timer only when first polled before its deadline; deregisters on drop.
pub(crate) struct Sleep {
    deadline: u64,
    key: Option<(u64, u64)>,
}

pub(crate) fn sleep_until(deadline: u64) -> Sleep {
    Sleep { deadline, key: None }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if time::now() >= self.deadline {
            self.deregister();
            return Poll::Ready(());
        }
        if self.deadline == time::NEVER {
            return Poll::Pending;
        }
        let timer = timer();
        let mut state = timer.state.lock();
        match self.key {
            Some(key) => {
                if let Some(waker) = state.due.get_mut(&key) {
                    if !waker.will_wake(cx.waker()) {
                        *waker = cx.waker().clone();
                    }
                } else {
                    // Fired meanwhile (the clock said not yet): register again.
                    state.due.insert(key, cx.waker().clone());
                }
            }
            None => {
                let key = (self.deadline, state.next_id);
                state.next_id += 1;
                let earliest = state.due.keys().next().is_none_or(|first| key < *first);
                state.due.insert(key, cx.waker().clone());
                self.key = Some(key);
                if earliest {
                    timer.wake.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Sleep {
    fn deregister(&mut self) {
        if let Some(key) = self.key.take() {
            timer().state.lock().due.remove(&key);
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// Runs `fut` until it completes (`Some`) or `deadline` passes (`None`; `fut` is dropped
/// first). `fut` is polled first, so a ready future wins over a passed deadline.
pub(crate) async fn timeout_at<F: Future>(deadline: u64, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut sleep = sleep_until(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if Pin::new(&mut sleep).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

//! Tests of the timer: deadlines, registration and deregistration, wakers, threads.

use super::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Wake;
use std::time::{Duration, Instant};

use cenote_core::time;

use futures_lite::future::{block_on, pending, ready, yield_now};

/// Generous upper bound on how late a timer may fire on a loaded CI box.
const SLACK: Duration = Duration::from_millis(500);

/// The timer is process-global and `registered_count` sees every test's
/// entries, so tests that register timers run one at a time.
/// (`parking_lot` mutexes do not poison, so a failing test does not take
/// the others down with it.)
static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

fn serial() -> parking_lot::MutexGuard<'static, ()> {
    SERIAL.lock()
}

/// A waker that counts how often it is woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

#[test]
fn sleep_completes_at_deadline() {
    let _serial = serial();
    let deadline = Instant::now() + Duration::from_millis(50);
    block_on(sleep_until(time::at(deadline)));
    let now = Instant::now();
    assert!(now >= deadline, "woke {:?} early", deadline - now);
    assert!(now < deadline + SLACK, "woke {:?} late", now - deadline);
}

#[test]
fn expired_sleep_is_ready_without_registering() {
    let _serial = serial();
    let before = registered_count();
    let mut sleep = sleep_until(time::at(Instant::now()));
    assert_eq!(poll_once(&mut sleep, Waker::noop()), Poll::Ready(()));
    assert!(sleep.registration.is_none());
    assert_eq!(registered_count(), before);
}

#[test]
fn timeout_of_pending_future_returns_none_after_deadline() {
    let _serial = serial();
    let before = registered_count();
    let deadline = Instant::now() + Duration::from_millis(50);
    assert_eq!(block_on(timeout_at(time::at(deadline), pending::<()>())), None);
    let now = Instant::now();
    assert!(now >= deadline, "timed out {:?} early", deadline - now);
    assert!(now < deadline + SLACK, "timed out {:?} late", now - deadline);
    // The sleep completed and was dropped: nothing is left behind.
    assert_eq!(registered_count(), before);
}

#[test]
fn timeout_of_ready_future_returns_some_without_registering() {
    let _serial = serial();
    let before = registered_count();
    let far = Instant::now() + Duration::from_secs(3600);
    assert_eq!(block_on(timeout_at(time::at(far), ready(7))), Some(7));
    // The future is polled first, so it wins over an expired deadline.
    assert_eq!(block_on(timeout_at(time::at(Instant::now()), ready(8))), Some(8));
    assert_eq!(registered_count(), before);
}

#[test]
fn timeout_of_quickly_woken_future_returns_some_and_deregisters() {
    let _serial = serial();
    let before = registered_count();
    let far = Instant::now() + Duration::from_secs(3600);
    let fut = async {
        yield_now().await;
        9
    };
    assert_eq!(block_on(timeout_at(time::at(far), fut)), Some(9));
    assert_eq!(registered_count(), before);
}

#[test]
fn timeout_drops_the_future_on_timeout() {
    struct SetOnDrop(Arc<AtomicUsize>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let _serial = serial();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = SetOnDrop(drops.clone());
    let fut = async move {
        let _guard = guard;
        pending::<()>().await;
    };
    let deadline = Instant::now() + Duration::from_millis(20);
    assert_eq!(block_on(timeout_at(time::at(deadline), fut)), None);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_a_registered_sleep_deregisters_it() {
    let _serial = serial();
    let before = registered_count();
    let mut sleep = sleep_until(time::at(Instant::now() + Duration::from_secs(3600)));
    // Unpolled: nothing registered.
    assert_eq!(registered_count(), before);
    assert_eq!(poll_once(&mut sleep, Waker::noop()), Poll::Pending);
    assert_eq!(registered_count(), before + 1);
    assert!(format!("{sleep:?}").contains("registered: true"));
    // Polling again with the same waker keeps one registration.
    assert_eq!(poll_once(&mut sleep, Waker::noop()), Poll::Pending);
    assert_eq!(registered_count(), before + 1);
    drop(sleep);
    assert_eq!(registered_count(), before);

    // The freed slot is reused, and stale handles cannot be confused
    // with the new occupant.
    let mut again = sleep_until(time::at(Instant::now() + Duration::from_secs(3600)));
    assert_eq!(poll_once(&mut again, Waker::noop()), Poll::Pending);
    assert_eq!(registered_count(), before + 1);
    drop(again);
    assert_eq!(registered_count(), before);
}

#[test]
fn repolling_with_a_new_waker_replaces_the_old_one() {
    let _serial = serial();
    let (first_count, first) = counting_waker();
    let (second_count, second) = counting_waker();
    let deadline = Instant::now() + Duration::from_millis(50);
    let mut sleep = sleep_until(time::at(deadline));
    assert_eq!(poll_once(&mut sleep, &first), Poll::Pending);
    assert_eq!(poll_once(&mut sleep, &second), Poll::Pending);

    std::thread::sleep(Duration::from_millis(50) + SLACK);
    assert_eq!(first_count.0.load(Ordering::SeqCst), 0);
    assert_eq!(second_count.0.load(Ordering::SeqCst), 1);
    // The entry fired; the next poll completes and deregisters.
    let before_ready = registered_count();
    assert_eq!(poll_once(&mut sleep, &second), Poll::Ready(()));
    assert!(sleep.registration.is_none());
    assert_eq!(registered_count(), before_ready - 1);
}

#[test]
fn earlier_registration_preempts_a_later_one() {
    // The timer thread is already waiting for a far deadline when a much
    // earlier one arrives: it must be notified, not oversleep.
    let _serial = serial();
    let mut far = sleep_until(time::at(Instant::now() + Duration::from_secs(3600)));
    assert_eq!(poll_once(&mut far, Waker::noop()), Poll::Pending);
    std::thread::sleep(Duration::from_millis(20)); // let the thread park
    let deadline = Instant::now() + Duration::from_millis(30);
    block_on(sleep_until(time::at(deadline)));
    assert!(Instant::now() < deadline + SLACK);
    drop(far);
}

#[test]
fn many_concurrent_sleeps_across_threads_all_complete() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 25;

    let _serial = serial();
    let before = registered_count();
    let start = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                // Interleave deadlines across threads, registered in
                // descending order within each thread so that most
                // registrations are earlier than the current minimum
                // (exercising the notify path) and the rest are not.
                let mut sleeps: Vec<(Instant, Option<Sleep>)> = (0..PER_THREAD)
                    .rev()
                    .map(|i| {
                        let offset = Duration::from_millis(((i * THREADS + t) * 2) as u64 + 10);
                        let deadline = start + offset;
                        (deadline, Some(sleep_until(time::at(deadline))))
                    })
                    .collect();
                let mut late = Duration::ZERO;
                block_on(poll_fn(|cx| {
                    for (deadline, slot) in &mut sleeps {
                        if let Some(sleep) = slot {
                            if Pin::new(sleep).poll(cx).is_ready() {
                                let now = Instant::now();
                                assert!(now >= *deadline, "woke early");
                                late = late.max(now - *deadline);
                                *slot = None;
                            }
                        }
                    }
                    if sleeps.iter().all(|(_, slot)| slot.is_none()) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                }));
                late
            })
        })
        .collect();
    for handle in handles {
        let late = handle.join().expect("sleeper thread panicked");
        assert!(late < SLACK, "a sleep completed {late:?} late");
    }
    assert_eq!(registered_count(), before);
}

#[test]
fn timer_thread_is_named() {
    /// Records the name of the thread that wakes it.
    struct NameRecorder(Arc<parking_lot::Mutex<Option<String>>>);
    impl Wake for NameRecorder {
        fn wake(self: Arc<Self>) {
            *self.0.lock() = std::thread::current().name().map(str::to_owned);
        }
    }

    let _serial = serial();
    // The name is observable from inside a waker the timer thread calls.
    let seen = Arc::new(parking_lot::Mutex::new(None::<String>));
    let waker = Waker::from(Arc::new(NameRecorder(seen.clone())));
    let mut sleep = sleep_until(time::at(Instant::now() + Duration::from_millis(10)));
    assert_eq!(poll_once(&mut sleep, &waker), Poll::Pending);
    std::thread::sleep(Duration::from_millis(10) + SLACK);
    assert_eq!(seen.lock().as_deref(), Some("cenote-timer"));
}

#[test]
fn futures_are_send_sync_unpin_where_expected() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync_unpin<T: Send + Sync + Unpin>() {}

    assert_send_sync_unpin::<Sleep>();
    assert_send(&timeout_at(time::at(Instant::now()), ready(1)));
    assert_send(&timeout_at(time::at(Instant::now()), pending::<String>()));
}

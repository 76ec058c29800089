//! What both storms' workers share: how a worker runs, the sink that outlives the pool's
//! handles, and joining.

use super::*;

/// How a worker runs.
pub(crate) struct Mode<P> {
    pub(crate) until: Instant,
    /// The pool is closed under the worker: `Closed` errors are expected, and it stops once the
    /// pool is closed.
    pub(crate) closing: bool,
    /// Some objects go to a thread that holds no pool handle and returns them later, after
    /// the last handle may be gone.
    pub(crate) sink: Option<Sender<P>>,
}

impl<P> Mode<P> {
    pub(crate) fn storm(until: Instant) -> Self {
        Self { until, closing: false, sink: None }
    }

    pub(crate) fn closing(until: Instant) -> Self {
        Self { until, closing: true, sink: None }
    }

    /// Hands `obj` to the sink, sometimes (if there is one); gives it back otherwise.
    pub(crate) fn maybe_sink(&self, rng: &mut fastrand::Rng, obj: P) -> Option<P> {
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
pub(crate) fn spawn_sink<P: Send + 'static>(ledger: &Arc<Ledger>) -> (Sender<P>, thread::JoinHandle<()>) {
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
pub(crate) fn assert_orphan_storm_clean(ledger: &Ledger) {
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

/// A tiny duration: a hold or a timeout of 0–200 µs.
pub(crate) fn tiny(rng: &mut fastrand::Rng) -> Duration {
    Duration::from_micros(rng.u64(0..=200))
}

/// Joins the storm's threads; a worker's panic is re-raised with the seed printed.
pub(crate) fn join_all(handles: Vec<thread::JoinHandle<()>>, ledger: &Ledger) {
    for h in handles {
        if let Err(payload) = h.join() {
            eprintln!("stress[{}]: a worker panicked; seed {}", ledger.label, ledger.seed);
            resume_unwind(payload);
        }
    }
}

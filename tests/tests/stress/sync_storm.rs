//! The storms over cenote-sync: threads.

use super::*;

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

impl Ctl for cenote_sync::Pool<SyncM> {
    fn status(&self) -> Status {
        cenote_front::Handle::status(self)
    }
    fn resize(&self, max_size: usize) -> Result<(), ResizeError> {
        cenote_front::Handle::resize(self, max_size)
    }
    fn is_closed(&self) -> bool {
        cenote_front::Handle::is_closed(self)
    }
}

fn sync_pool(ledger: &Arc<Ledger>) -> SyncPool {
    cenote_sync::Pool::builder(SyncM { ledger: Arc::clone(ledger) })
        .max_size(INITIAL_MAX)
        .capacity(CAPACITY)
        .acquire_timeout(Some(GET_TIMEOUT))
        .validate_on_acquire(true)
        // Maintenance passes run on a thread of the storm's own (`spawn_maintainer`): they
        // visit idle objects to check them (`health_check_interval`) and refill `min_idle`.
        .min_idle(1)
        .health_check_interval(Some(Duration::from_millis(1)))
        .maintenance_thread(false)
        .build()
        .expect("valid config")
}

/// Runs maintenance passes every 0–2 ms until `until`: each takes idle objects out to check
/// them and puts them back, and refills `min_idle`, racing the workers, the resizer and (in
/// the closing storm) `close`. A create that panics in a refill is caught like a worker's.
fn spawn_maintainer(pool: SyncPool, ledger: Arc<Ledger>, until: Instant) -> thread::JoinHandle<()> {
    let mut rng = rng_for(ledger.seed, u64::MAX - 1);
    thread::spawn(move || {
        while Instant::now() < until && !pool.is_closed() {
            match catch_unwind(AssertUnwindSafe(|| pool.maintain())) {
                Ok(_) => bump(&ledger.stats.passes),
                Err(payload) => ledger.caught(payload),
            }
            thread::sleep(Duration::from_micros(rng.u64(0..2_000)));
        }
    })
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
    handles.push(spawn_maintainer(pool.clone(), Arc::clone(&ledger), until - SETTLE));
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

//! The storms over cenote-async: tokio multi-thread and smol tasks.

use super::*;

#[derive(Debug)]
struct AsyncM {
    ledger: Arc<Ledger>,
}

impl cenote_async::Manager for AsyncM {
    type Connection = Obj;
    type Error = Flaky;

    async fn create(&self) -> Result<Obj, Flaky> {
        // A cancellation point inside `create`, sometimes.
        if self.ledger.roll(300) {
            yield_now().await;
        }
        self.ledger.chaotic_create()?;
        Ok(Obj::new(&self.ledger))
    }

    async fn is_valid(&self, obj: &mut Obj) -> bool {
        self.ledger.hook_on(obj, "is_valid");
        if self.ledger.roll(100) {
            yield_now().await;
        }
        if self.ledger.roll(30) {
            bump(&self.ledger.stats.rejected);
            obj.mark_leaving();
            return false;
        }
        true
    }

    async fn reset(&self, obj: &mut Obj) -> Result<(), Flaky> {
        self.ledger.hook_on(obj, "reset");
        if self.ledger.roll(200) {
            yield_now().await;
        }
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

type AsyncPool = cenote_async::Pool<AsyncM>;
type AsyncPooled = cenote_async::Pooled<AsyncM>;

impl Ctl for cenote_async::Pool<AsyncM> {
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

fn async_pool(ledger: &Arc<Ledger>) -> AsyncPool {
    cenote_async::Pool::builder(AsyncM { ledger: Arc::clone(ledger) })
        .max_size(INITIAL_MAX)
        .capacity(CAPACITY)
        .acquire_timeout(Some(GET_TIMEOUT))
        .validate_on_acquire(true)
        // Maintenance passes run on a thread of the storm's own (`spawn_maintainer`).
        .min_idle(1)
        .health_check_interval(Some(Duration::from_millis(1)))
        .build()
        .expect("valid config")
}

/// Runs maintenance passes (`pool.maintain()`, on a bare `block_on` of a thread of its own:
/// the async front end needs no executor) every 0–2 ms until `until`, racing the tasks and
/// the resizer; a refill's panicking create is caught like a worker's.
fn spawn_maintainer(pool: AsyncPool, ledger: Arc<Ledger>, until: Instant) -> thread::JoinHandle<()> {
    let mut rng = rng_for(ledger.seed, u64::MAX - 1);
    thread::spawn(move || {
        while Instant::now() < until && !pool.is_closed() {
            match catch_unwind(AssertUnwindSafe(|| futures_lite::future::block_on(pool.maintain()))) {
                Ok(_) => bump(&ledger.stats.passes),
                Err(payload) => ledger.caught(payload),
            }
            thread::sleep(Duration::from_micros(rng.u64(0..2_000)));
        }
    })
}

/// The runtime's timer, for holds and for cancelling `get` futures.
trait Rt: Send + 'static {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// `fut`, or `None` if `d` passes first (and `fut` is dropped).
    fn timeout<F: Future + Send>(d: Duration, fut: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F::Output: Send,
    {
        or(async { Some(fut.await) }, async move {
            Self::sleep(d).await;
            None
        })
    }
}

struct Tokio;

impl Rt for Tokio {
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    async fn timeout<F: Future + Send>(d: Duration, fut: F) -> Option<F::Output>
    where
        F::Output: Send,
    {
        tokio::time::timeout(d, fut).await.ok()
    }
}

struct Smol;

impl Rt for Smol {
    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
}

/// Runs a `get`-like future, catching our own panics (from `create`). `None` from the future
/// itself means it was cancelled.
async fn async_try<F>(ledger: &Ledger, get: F, plain_get: bool, closing: bool) -> Option<AsyncPooled>
where
    F: Future<Output = Option<Result<AsyncPooled, Error<Flaky>>>>,
{
    match AssertUnwindSafe(get).catch_unwind().await {
        Ok(Some(result)) => tally(ledger, result, plain_get, closing),
        Ok(None) => {
            bump(&ledger.stats.cancelled);
            None
        }
        Err(payload) => {
            ledger.caught(payload);
            None
        }
    }
}

async fn hold_async<R: Rt>(rng: &mut fastrand::Rng) {
    match rng.u32(0..100) {
        0..40 => {}
        40..80 => yield_now().await,
        _ => R::sleep(Duration::from_micros(rng.u64(0..=100))).await,
    }
}

/// Polls `pool.get()` by hand one to three times (yielding in between) and drops it if it is
/// still pending: a cancellation at an arbitrary point of its wait.
async fn hand_polled(pool: &AsyncPool, rng: &mut fastrand::Rng) -> Option<Result<AsyncPooled, Error<Flaky>>> {
    let mut fut = pin!(pool.get());
    for _ in 0..rng.u32(1..=3) {
        if let Poll::Ready(result) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            return Some(result);
        }
        yield_now().await;
    }
    None
}

async fn async_worker<R: Rt>(
    pool: AsyncPool,
    ledger: Arc<Ledger>,
    mut rng: fastrand::Rng,
    mode: Mode<AsyncPooled>,
) {
    let closing = mode.closing;
    while Instant::now() < mode.until && !(closing && pool.is_closed()) {
        let l = &*ledger;
        let got = match rng.u32(0..100) {
            0..20 => async_try(l, async { Some(pool.get().await) }, true, closing).await,
            20..45 => {
                let t = tiny(&mut rng);
                async_try(l, async { Some(pool.get_timeout(t).await) }, false, closing).await
            }
            45..55 => {
                // Never creates, so never panics (a pending reset leaves the object idle).
                let got = pool.try_get();
                bump(if got.is_some() { &l.stats.got } else { &l.stats.empty_try_gets });
                got
            }
            55..70 => {
                let t = Duration::from_micros(rng.u64(0..=300));
                async_try(l, R::timeout(t, pool.get()), false, closing).await
            }
            70..85 => {
                let t = Duration::from_micros(rng.u64(0..=300));
                let sleep = async move {
                    R::sleep(t).await;
                    None
                };
                async_try(l, or(async { Some(pool.get().await) }, sleep), false, closing).await
            }
            _ => async_try(l, hand_polled(&pool, &mut rng), false, closing).await,
        };
        let Some(obj) = got else { continue };
        obj.enter();
        hold_async::<R>(&mut rng).await;
        if rng.u32(0..100) < 8 {
            bump(&l.stats.nested);
            let t = tiny(&mut rng);
            if let Some(second) =
                async_try(l, async { Some(pool.get_timeout(t).await) }, false, closing).await
            {
                second.enter();
                hold_async::<R>(&mut rng).await;
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
                bump(&l.stats.detached);
                obj.mark_leaving();
                let detached: Obj = cenote_async::Pooled::detach(obj);
                drop(detached);
            }
            _ => {
                // The holder panics after an await: the object must not be put back.
                bump(&l.stats.holder_panics);
                let result = AssertUnwindSafe(async move {
                    obj.mark_leaving();
                    yield_now().await;
                    panic_any(Intentional);
                })
                .catch_unwind()
                .await;
                if let Err(payload) = result {
                    l.caught(payload);
                }
            }
        }
        if rng.u32(0..4) == 0 {
            yield_now().await;
        }
    }
    if let Some(sink) = &mode.sink {
        // The last act: an object for the sink, to return after the pool handles are gone.
        let t = Duration::from_millis(20);
        if let Some(obj) = async_try(&ledger, async { Some(pool.get_timeout(t).await) }, false, closing).await
        {
            let _ = sink.send(obj);
        }
    }
}

/// `max_size` objects at once, and then nothing more (async).
async fn take_max_async(pool: &AsyncPool, ledger: &Ledger) {
    let (label, seed) = (ledger.label, ledger.seed);
    let max = pool.status().max_size;
    let mut held = Vec::new();
    for i in 0..max {
        let obj = pool
            .get_timeout(Duration::from_secs(2))
            .await
            .unwrap_or_else(|e| panic!("[{label}] seed {seed}: taking object {i} of {max}: {e}"));
        obj.enter();
        held.push(obj);
    }
    assert!(pool.try_get().is_none(), "[{label}] seed {seed}: try_get with all {max} objects out");
    assert!(
        pool.get_timeout(Duration::ZERO).await.is_err_and(|e| e.is_timeout()),
        "[{label}] seed {seed}: get_timeout(0) with all {max} objects out"
    );
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.idle), (max, max, 0), "[{label}] seed {seed}: all out: {s}");
    assert_eq!(ledger.live(), max, "[{label}] seed {seed}: all out: objects alive");
    for obj in held {
        obj.leave();
    }
}

/// An executor: spawns the workers and waits for all of them, propagating panics.
trait Exec {
    fn spawn_all(&self, futs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>);
    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T;
}

/// Both storms of an async front end on one executor.
fn async_storms<R: Rt>(label: &'static str, exec: &impl Exec) {
    let started = Instant::now();
    let ledger = Ledger::new(label, seed());
    let pool = async_pool(&ledger);
    let (label, seed) = (ledger.label, ledger.seed);

    let until = Instant::now() + STORM;
    let resizer = spawn_resizer(pool.clone(), Arc::clone(&ledger), until - SETTLE);
    let maintainer = spawn_maintainer(pool.clone(), Arc::clone(&ledger), until - SETTLE);
    let workers = (0..TASKS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, i as u64));
            Box::pin(async_worker::<R>(pool, ledger, rng, Mode::storm(until))) as _
        })
        .collect();
    exec.spawn_all(workers);
    join_all(vec![resizer, maintainer], &ledger);
    ledger.assert_clean("the storm");
    assert_quiesced(&pool, &ledger, "the storm");

    ledger.chaos.store(false, SeqCst);
    exec.block_on(take_max_async(&pool, &ledger));
    assert_quiesced(&pool, &ledger, "taking max_size");
    ledger.chaos.store(true, SeqCst);

    let hard_stop = Instant::now() + Duration::from_secs(3);
    let resizer = spawn_resizer(pool.clone(), Arc::clone(&ledger), hard_stop);
    let closer = {
        let pool = pool.clone();
        thread::spawn(move || {
            thread::sleep(CLOSE_STORM);
            pool.close();
        })
    };
    let workers = (0..TASKS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, 1000 + i as u64));
            Box::pin(async_worker::<R>(pool, ledger, rng, Mode::closing(hard_stop))) as _
        })
        .collect();
    exec.spawn_all(workers);
    join_all(vec![resizer, closer], &ledger);
    ledger.assert_clean("the storm cut by close");
    assert_closed_and_empty(&pool, &ledger);
    assert!(
        exec.block_on(pool.get()).is_err_and(|e| e.is_closed()),
        "[{label}] seed {seed}: get after close"
    );
    assert!(pool.try_get().is_none(), "[{label}] seed {seed}: try_get after close");
    drop(pool);

    // A third storm on a new pool whose handles all go while objects are still out.
    let pool = async_pool(&ledger);
    let (sink, sink_thread) = spawn_sink::<AsyncPooled>(&ledger);
    let until = Instant::now() + ORPHAN_STORM;
    let workers = (0..TASKS)
        .map(|i| {
            let (pool, ledger, rng) = (pool.clone(), Arc::clone(&ledger), rng_for(seed, 2000 + i as u64));
            let mode = Mode { until, closing: false, sink: Some(sink.clone()) };
            Box::pin(async_worker::<R>(pool, ledger, rng, mode)) as _
        })
        .collect();
    drop((pool, sink));
    exec.spawn_all(workers);
    join_all(vec![sink_thread], &ledger);
    assert_orphan_storm_clean(&ledger);
    ledger.print_stats(started.elapsed());
}

struct TokioExec(tokio::runtime::Runtime);

impl Exec for TokioExec {
    fn spawn_all(&self, futs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>) {
        let handles: Vec<_> = futs.into_iter().map(|f| self.0.spawn(f)).collect();
        self.0.block_on(async {
            for h in handles {
                if let Err(e) = h.await {
                    eprintln!("stress: a task failed (seed {})", seed());
                    resume_unwind(e.into_panic());
                }
            }
        });
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        self.0.block_on(fut)
    }
}

struct SmolExec {
    ex: Arc<smol::Executor<'static>>,
}

impl Exec for SmolExec {
    fn spawn_all(&self, futs: Vec<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>) {
        let tasks: Vec<_> = futs.into_iter().map(|f| self.ex.spawn(f)).collect();
        // Two threads run the executor (the main thread only waits).
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let runners: Vec<_> = (0..2)
            .map(|_| {
                let (ex, stopped) = (Arc::clone(&self.ex), stopped.clone());
                thread::spawn(move || smol::block_on(ex.run(stopped.recv())))
            })
            .collect();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            smol::block_on(async {
                for t in tasks {
                    t.await;
                }
            })
        }));
        drop(stop);
        for r in runners {
            let _ = r.join();
        }
        if let Err(payload) = outcome {
            eprintln!("stress: a task failed (seed {})", seed());
            resume_unwind(payload);
        }
    }

    fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        smol::block_on(fut)
    }
}

#[test]
#[cfg_attr(miri, ignore = "a timed storm of tasks: far too slow under Miri")]
fn stress_async_tokio_multi_thread() {
    let _serial = serial();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    async_storms::<Tokio>("async/tokio", &TokioExec(rt));
}

#[test]
#[cfg_attr(miri, ignore = "a timed storm of tasks: far too slow under Miri")]
fn stress_async_smol() {
    let _serial = serial();
    async_storms::<Smol>("async/smol", &SmolExec { ex: Arc::new(smol::Executor::new()) });
}

//! Maintenance for async pools: one pass (`Pool::maintain().await`), and the background
//! future (`Pool::maintenance()`) to spawn on any executor.
//!
//! The future holds only a weak handle: for each pass it takes a handle and drops it before
//! it sleeps, and it sleeps on the pool's own timer thread (no runtime named) until the next
//! pass is due or the pool is closed or dropped, which wakes it to end at once.

use cenote_core::time;
use cenote_front::{Handle, Maintenance, WeakHandle};
use core::pin::pin;

use crate::pool::Async;
use crate::timer::timeout_at;
use crate::Manager;

/// One maintenance pass on `handle`: reap, check (each within `health_check_timeout`),
/// refill (each create within `create_timeout`, if set).
pub(crate) async fn pass<M: Manager>(handle: &Handle<Async<M>>) -> Maintenance {
    let manager = handle.manager();
    let config = handle.config();
    let mut pass = handle.begin_pass();
    while let Some(mut visit) = pass.next_check() {
        let span = handle.check_span();
        let result = {
            let check = pin!(manager.check(visit.conn_mut()));
            let check = span.clone().wrap(check);
            // A check still running at the limit counts as failed: its object is dropped.
            timeout_at(time::after(config.health_check_timeout), check).await.unwrap_or(Err(None))
        };
        span.outcome(if result.is_ok() { "ok" } else { "failed" });
        pass.checked(visit, result);
    }
    while let Some(permit) = pass.refill_permit() {
        let span = handle.create_span();
        let create = pin!(manager.create());
        let create = span.clone().wrap(create);
        let created = match config.create_timeout {
            Some(limit) => timeout_at(time::after(limit), create).await,
            None => Some(create.await),
        };
        span.outcome(match &created {
            Some(Ok(_)) => "ok",
            Some(Err(_)) => "error",
            None => "timeout",
        });
        match created {
            Some(Ok(conn)) => pass.created(permit, conn),
            Some(Err(e)) => {
                pass.create_failed(Some(e));
                break;
            }
            None => {
                pass.create_failed(None);
                break;
            }
        }
    }
    pass.finish()
}

/// The background maintenance loop of the pool behind `weak`.
pub(crate) async fn run<M: Manager>(weak: WeakHandle<Async<M>>) {
    let name = weak.shared().config.name.clone();
    log::debug!("pool {name}: background maintenance started");
    // The background reaping stands aside while this loop runs (the weak handle keeps the
    // counter's memory, not the pool, alive).
    let _maintaining = weak.shared().maintaining();
    loop {
        let Some(handle) = weak.upgrade() else { break };
        let report = pass(&handle).await;
        drop(handle);
        let Some(next) = report.next else { break };
        // Listen first, then look: a close or drop between the pass and the sleep is seen.
        let closing = weak.closing();
        match weak.upgrade() {
            Some(handle) if !handle.is_closed() => drop(handle),
            _ => break,
        }
        // Woken early by a close or the last handle going: the next round sees it and ends.
        let _woken = timeout_at(time::after(next), closing).await;
    }
    log::debug!("pool {name}: background maintenance ended");
}

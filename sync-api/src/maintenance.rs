//! Maintenance for blocking pools: one pass (`Pool::maintain`), run in the background by the
//! shared `cenote-maintenance` thread ([`Handle::start_background`]: one thread for every
//! pool, each job holding only a weak handle).

use cenote_front::{Handle, Maintenance};

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
                pass.create_failed(Some(e));
                break;
            }
        }
    }
    pass.finish()
}

//! The `sharded` section: the sharded pool against the plain pool, threads doing get + drop
//! with tiny work, at 2, 4 and 16 threads (the pools of `cenote_benches::sharded`). Both pools
//! run in the same rounds, interleaved, so that the machine's load is shared out evenly.

use std::fmt::Write as _;

use cenote_benches::work::{self, Hold, RunConfig};
use cenote_benches::{pools, sharded};

use super::{fmt_mops, paired_ratio, progress, rounds, verdict, Plan, Summary, Verdict};

/// `(threads, objects)` of each row: the contended section's 2 threads on 4 objects, objects
/// enough for every thread (nobody waits; what is measured is the idle queues), then fewer
/// objects than threads (waiting on every shard).
const CONFIGS: [(usize, usize); 5] = [(2, 4), (2, 16), (4, 16), (16, 16), (16, 4)];

#[derive(Clone, Copy)]
enum Impl {
    Plain,
    Sharded,
}

/// What the section measured: per row, the plain pool's and the sharded pool's summaries.
pub(super) struct Results {
    shards: usize,
    rows: Vec<[Summary; 2]>,
}

pub(super) fn run(plan: &Plan) -> Results {
    let shards = std::thread::available_parallelism().map_or(1, usize::from);
    let rows = CONFIGS
        .iter()
        .map(|&(threads, objects)| {
            progress(&format!("sharded: {threads} threads, {objects} objects, {shards} shards"));
            let plain = pools::cenote_sync(objects);
            let sharded = sharded::cenote_sync_sharded(shards.min(objects), objects);
            let cfg = RunConfig {
                workers: threads,
                objects,
                duration: plan.thread_time,
                hold: Hold::Tiny,
                record_waits: false,
                count_allocs: false,
            };
            let mut summaries =
                rounds(&[Impl::Plain, Impl::Sharded], plan.thread_rounds, |which| match which {
                    Impl::Plain => work::threads_for(&plain, &cfg),
                    Impl::Sharded => work::threads_for(&sharded, &cfg),
                })
                .into_iter();
            let (Some(plain), Some(sharded)) = (summaries.next(), summaries.next()) else {
                unreachable!("two impls, two summaries")
            };
            [plain, sharded]
        })
        .collect();
    Results { shards, rows }
}

pub(super) fn report(out: &mut String, verdicts: &mut Vec<Verdict>, results: &Results) {
    let shards = results.shards;
    let _ = writeln!(out, "## Sharded pool: threads doing get + drop\n");
    let _ = writeln!(
        out,
        "`cenote_sync::ShardedPool` with {shards} shards (the machine's parallelism; fewer if \
         there are fewer objects) against one `cenote_sync::Pool` of as many objects, in the \
         same rounds. Each thread gets from its home shard (threads are given homes \
         round-robin), steals from another shard when its own has no idle object, and waits on \
         every shard when none has. Cost ratio: the median of per-round ratios of inverse \
         throughput (below 1: the sharded pool is faster). On a machine with few cores a gain \
         is not expected (see `cenote_front::sharded`, \"Why shard\", for the many-core \
         model).\n"
    );
    let _ = writeln!(out, "| threads | objects | plain | sharded | sharded ÷ plain |");
    let _ = writeln!(out, "|--:|--:|--:|--:|--:|");
    for (&(threads, objects), [plain, sharded]) in CONFIGS.iter().zip(&results.rows) {
        let cost = |s: &Summary| s.round_ops.iter().map(|ops| 1e6 / ops).collect::<Vec<_>>();
        let ratio = paired_ratio(&cost(sharded), &cost(plain));
        let cell = |s: &Summary| format!("{} Mops/s (fairness {:.2})", fmt_mops(s.ops_per_sec), s.fairness);
        let _ =
            writeln!(out, "| {threads} | {objects} | {} | {} | {ratio:.2}× |", cell(plain), cell(sharded));
        verdicts.push(verdict(
            ratio <= 1.25,
            format!("sharded, {threads} threads on {objects} objects: within 1.25× the plain pool's cost ({ratio:.2}×)"),
        ));
    }
    let _ = writeln!(out);
}

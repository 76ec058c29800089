//! Instructions per get + drop, counted by `valgrind --tool=callgrind` on the `profile`
//! binary's single-thread run: deterministic, so that they can be compared across machines and
//! runs where timings cannot.
//!
//! Each figure is `(total at N ops − total at M ops) / (N − M)`: the start-up (building and
//! filling the pool, the runtime's own set-up) is the same in both runs and cancels out.
//! Callgrind counts every thread of the process, so a background thread that did work during
//! the run (cenote's maintenance or clock thread) would show; they sleep here.
//!
//! ```text
//! cargo build --release -p cenote-benches --bin profile
//! for n in 200000 1200000; do
//!   PROFILE_OPS=$n valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/profile single cenote 1 2>&1 | grep Collected
//! done
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The operation counts of the two runs whose difference is measured.
pub const OPS: (u64, u64) = (200_000, 1_200_000);

/// The `profile` workloads counted, in the order the table shows them, with what each is.
pub const WORKLOADS: [(&str, &str); 7] = [
    ("floor", "floor: bare ArrayQueue pop + push"),
    ("floor-async", "floor (block_on): the same awaited under one block_on per get"),
    ("cenote", "cenote_sync"),
    ("cenote-maintained", "cenote_sync, min_idle set (maintenance thread on)"),
    ("async", "cenote_async (block_on)"),
    ("async-maintained", "cenote_async (block_on), min_idle set, background job on"),
    ("card", "design card's pool"),
];

/// The `profile` binary beside the running one (same target directory), if it was built.
pub fn profile_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile = exe.with_file_name(format!("profile{}", std::env::consts::EXE_SUFFIX));
    profile.is_file().then_some(profile)
}

/// Whether `valgrind` runs here.
pub fn valgrind_available() -> bool {
    Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Total instructions callgrind counted for `profile single WORKLOAD 1` at `ops` operations.
fn total(profile: &Path, workload: &str, ops: u64) -> Result<u64, String> {
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(profile)
        .args(["single", workload, "1"])
        .env("PROFILE_OPS", ops.to_string())
        .output()
        .map_err(|e| format!("could not run valgrind: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "valgrind on `profile single {workload}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
        ));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("Collected :"))
        .ok_or_else(|| format!("no `Collected` line from callgrind for {workload}"))?;
    let number = line.rsplit(':').next().unwrap_or("").trim().replace(',', "");
    number.parse().map_err(|e| format!("callgrind's count {number:?} for {workload}: {e}"))
}

/// Instructions per get + drop of `workload` (see the module docs).
///
/// # Errors
///
/// Valgrind could not run, or its output had no count.
pub fn per_op(profile: &Path, workload: &str) -> Result<f64, String> {
    let (few, many) = OPS;
    let small = total(profile, workload, few)?;
    let large = total(profile, workload, many)?;
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    Ok(large.saturating_sub(small) as f64 / (many - few) as f64)
}

/// The instruction counts of every workload, or why there are none.
#[derive(Debug)]
pub enum Counts {
    /// Per workload (as [`WORKLOADS`]): instructions per get + drop, or the error.
    Counted(Vec<(&'static str, &'static str, Result<f64, String>)>),
    /// Nothing counted, and why (valgrind or the profile binary missing).
    Skipped(String),
}

/// Counts every workload of [`WORKLOADS`] (about 10 s each under valgrind), reporting progress
/// through `progress`.
pub fn count_all(mut progress: impl FnMut(&str)) -> Counts {
    if !valgrind_available() {
        return Counts::Skipped("valgrind is not installed (`apt-get install valgrind`)".into());
    }
    let Some(profile) = profile_binary() else {
        return Counts::Skipped(
            "the profile binary is not built beside this one (`cargo build --release -p cenote-benches --bin profile`)"
                .into(),
        );
    };
    let mut out = Vec::new();
    for (workload, what) in WORKLOADS {
        progress(&format!("instructions: {workload}"));
        out.push((workload, what, per_op(&profile, workload)));
    }
    Counts::Counted(out)
}

/// The instruction targets: `(met, text)` each, and a markdown table of the counts.
pub fn report(counts: &Counts) -> (String, Vec<(bool, String)>) {
    use std::fmt::Write as _;
    let mut out = String::from("## Instructions per get + drop (callgrind, single thread)\n\n");
    let rows = match counts {
        Counts::Skipped(why) => {
            let _ = writeln!(out, "Not counted: {why}.\n");
            return (out, vec![(false, format!("instruction counts: not counted ({why})"))]);
        }
        Counts::Counted(rows) => rows,
    };
    let get = |name: &str| rows.iter().find(|r| r.0 == name).and_then(|r| r.2.as_ref().ok().copied());
    let floor = get("floor");
    let floor_async = get("floor-async");
    let _ = writeln!(
        out,
        "`(N − M) / ({} − {})` of two runs of `profile single WORKLOAD 1` with `PROFILE_OPS` M and N: \
         deterministic, the same on any x86-64 machine with the same build.\n",
        OPS.1, OPS.0
    );
    let _ = writeln!(out, "| workload | instructions | ÷ floor | ÷ floor (block_on) |\n|---|---:|---:|---:|");
    for (workload, what, count) in rows {
        match count {
            Ok(n) => {
                let ratio = |base: Option<f64>| base.map_or("-".into(), |b| format!("{:.2}×", n / b));
                let _ = writeln!(
                    out,
                    "| {what} (`{workload}`) | {n:.1} | {} | {} |",
                    ratio(floor),
                    ratio(floor_async)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| {what} (`{workload}`) | error: {e} | | |");
            }
        }
    }
    out.push('\n');
    let mut verdicts = Vec::new();
    let mut target = |name: &str, base: Option<f64>, base_name: &str, limit: f64| match (get(name), base) {
        (Some(n), Some(b)) => verdicts.push((
            n <= b * limit,
            format!("instructions: {name} {n:.1} ≤ {limit}× {base_name} ({:.1}): {:.2}×", b * limit, n / b),
        )),
        _ => verdicts.push((false, format!("instructions: {name} ≤ {limit}× {base_name}: not counted"))),
    };
    target("cenote", floor, "floor", 1.3);
    target("async", floor_async, "floor (block_on)", 1.8);
    // Issue 10's bound: the hot path with the health options built may not grow past 5% over
    // its count before them (178.0 at commit 3a6a501, this workload).
    target("cenote-maintained", Some(178.0), "the count before the health work (178.0)", 1.05);
    (out, verdicts)
}

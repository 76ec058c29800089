//! One place in the pool: an object (or nothing) and what the pool knows about it.

use crate::sync::{AtomicUsize, Cell};

/// What the pool records about the object in a slot.
///
/// The core keeps no clock: `created`, `last_used` and `checked_out` are ticks of whatever
/// clock the front end uses (the cenote front ends store nanoseconds since the pool was built)
/// and stay `0` until the front end writes them. The core itself maintains only `use_count`.
/// The front ends write the time stamps only when a feature that reads them is enabled, so
/// that the hot path does not read a clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SlotMeta {
    /// When the object was created, in the front end's ticks.
    pub created: u64,
    /// When the object was last returned to the pool, in the front end's ticks.
    pub last_used: u64,
    /// When the object was last lent out, in the front end's ticks.
    pub checked_out: u64,
    /// How many times the object has been lent out, counting the current loan. Maintained
    /// by the core.
    pub use_count: u64,
    /// Errors reported against the object by its users (a front end's
    /// `Pooled::report_error`); 0 for a new object.
    pub errors: u32,
}

/// A slot: storage for one object and its metadata.
///
/// # Ownership
///
/// A slot index lives in exactly one place at a time: the idle queue, the vacant queue, a
/// waiter's node (given, not yet picked up), a `Lease`, a `Permit`, or the hands of a core
/// function between two of those. Whoever holds the index owns the slot and is the only one
/// who touches `value` and `meta`; passing an index through a queue or a node passes
/// ownership with its release/acquire (the cells' stamps, loom's mutex, the node's state).
/// That is what makes the unsynchronised `Cell`s sound.
///
/// # Layout
///
/// Aligned (and so padded) to a cache-line pair where the CPU prefetches lines in pairs
/// (x86-64, aarch64: 128 bytes, as `crossbeam_utils::CachePadded`), to a line elsewhere: the
/// holder of an object writes its slot on every lend and return (the use counts, the idle
/// stamp), and two threads holding neighbouring objects must not write the same line.
#[derive(Debug)]
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), repr(align(128)))]
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), repr(align(64)))]
pub(crate) struct Slot<T> {
    /// `Some` while the slot holds an object (idle or lent), `None` while vacant.
    pub(crate) value: Cell<Option<T>>,
    pub(crate) meta: Cell<SlotMeta>,
    /// Uses counted by the layer above (`Lease::count_use`), over every object this slot has
    /// held: never reset, so the sum over slots only grows. Written only by the slot's owner
    /// (a load and a store, no RMW), read by anyone (`Core::uses`).
    pub(crate) uses: AtomicUsize,
    /// When and where the current lend began, if the front end records it (atomics: read by
    /// other threads, see `lent.rs`).
    pub(crate) lent: crate::lent::LentRecord,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Self {
            value: Cell::new(None),
            meta: Cell::new(SlotMeta::default()),
            uses: AtomicUsize::new(0),
            lent: crate::lent::LentRecord::new(),
        }
    }
}

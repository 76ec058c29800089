//! The one door through which the core reaches atomics, cells, `Arc` and its queues.
//!
//! Under `--cfg loom` everything here is swapped for a loom-aware stand-in so that the loom
//! models in `loom-tests/` explore the real protocol code. crossbeam's `ArrayQueue` is not
//! instrumented for loom, so under loom the queues are a `loom::sync::Mutex<VecDeque>` with
//! the same interface: every push and pop is then a lock acquire and release, which is at
//! least as strong as the `SeqCst` CAS and fence that the real queue performs (see
//! `pool.rs`, "Memory ordering").

// `Arc` stays std's even under loom: the API takes `self: &Arc<Self>`, which only std's
// `Arc` allows as a receiver. Its reference counts are not part of the protocol under test.
pub(crate) use alloc::sync::Arc;
#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};

/// A `SeqCst` fence under loom, nothing otherwise.
///
/// The protocol's Dekker pairs are `SeqCst` RMW (or crossbeam's `SeqCst` CAS) followed by a
/// `SeqCst` load, which the C++20 model orders through the single total order of `SeqCst`
/// operations. Loom models `SeqCst` accesses as acquire/release only and models just
/// `SeqCst` fences, so under loom each such pair gets an explicit fence between its halves:
/// the model then checks the protocol's logic under the same guarantee the real build has.
#[inline(always)]
pub(crate) fn seqcst_fence_for_loom() {
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::SeqCst);
}

/// An `UnsafeCell` with loom's closure-based interface, so that loom can check accesses.
#[derive(Debug)]
pub(crate) struct Cell<T>(
    #[cfg(not(loom))] core::cell::UnsafeCell<T>,
    #[cfg(loom)] loom::cell::UnsafeCell<T>,
);

impl<T> Cell<T> {
    pub(crate) fn new(value: T) -> Self {
        #[cfg(not(loom))]
        return Self(core::cell::UnsafeCell::new(value));
        #[cfg(loom)]
        return Self(loom::cell::UnsafeCell::new(value));
    }

    /// Runs `f` with a mutable pointer to the value.
    ///
    /// The caller upholds the aliasing rules: the pointer is dereferenced only by the owner of
    /// the slot (see `Slot`).
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(loom))]
        return f(self.0.get());
        #[cfg(loom)]
        return self.0.with_mut(f);
    }
}

/// A bounded multi-producer multi-consumer FIFO queue of `u32` slot indices.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct Queue(crossbeam_queue::ArrayQueue<u32>);

#[cfg(not(loom))]
impl Queue {
    pub(crate) fn new(cap: usize) -> Self {
        Self(crossbeam_queue::ArrayQueue::new(cap.max(1)))
    }

    /// Pushes `value`; gives it back if the queue is full.
    #[inline]
    pub(crate) fn push(&self, value: u32) -> Result<(), u32> {
        self.0.push(value)
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<u32> {
        self.0.pop()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct Queue {
    items: loom::sync::Mutex<alloc::collections::VecDeque<u32>>,
    cap: usize,
}

#[cfg(loom)]
impl Queue {
    pub(crate) fn new(cap: usize) -> Self {
        Self { items: loom::sync::Mutex::new(alloc::collections::VecDeque::new()), cap: cap.max(1) }
    }

    /// Like crossbeam's `push`, whose `SeqCst` CAS publishes the value: the fence after the
    /// unlock stands for it (see `seqcst_fence_for_loom`).
    pub(crate) fn push(&self, value: u32) -> Result<(), u32> {
        let mut items = self.items.lock().unwrap();
        if items.len() == self.cap {
            return Err(value);
        }
        items.push_back(value);
        drop(items);
        loom::sync::atomic::fence(Ordering::SeqCst);
        Ok(())
    }

    /// Like crossbeam's `pop`, which declares "empty" only after a `SeqCst` fence.
    pub(crate) fn pop(&self) -> Option<u32> {
        loom::sync::atomic::fence(Ordering::SeqCst);
        self.items.lock().unwrap().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }
}

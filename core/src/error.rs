//! Errors of the core.

use core::fmt;

/// Why a [`Core`](crate::Core) could not be built or resized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_size` was 0: a pool must be able to hold at least one object.
    ZeroMaxSize,
    /// `max_size` was larger than `capacity`, the number of slots allocated up front.
    MaxSizeAboveCapacity {
        /// The requested maximum size.
        max_size: usize,
        /// The fixed capacity.
        capacity: usize,
    },
    /// `capacity` was larger than [`Core::MAX_CAPACITY`](crate::Core::MAX_CAPACITY).
    CapacityTooLarge {
        /// The requested capacity.
        capacity: usize,
    },
    /// The slots and queues for `capacity` could not be allocated (they are allocated once,
    /// up front, and the allocator refused).
    OutOfMemory {
        /// The requested capacity.
        capacity: usize,
        /// The bytes the pool asked for, in all.
        bytes: u64,
    },
    /// The pool is closed; it can no longer be resized.
    Closed,
    /// The reserve for `High` ([`Core::set_reserve`](crate::Core::set_reserve)) was not below
    /// `max_size`, so `Normal` and `Low` callers could never get anything.
    ReserveNotBelowMaxSize {
        /// The reserve.
        reserve: usize,
        /// The maximum size it was checked against.
        max_size: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ZeroMaxSize => f.write_str("max_size is 0; a pool needs room for at least one object"),
            Self::MaxSizeAboveCapacity { max_size, capacity } => write!(
                f,
                "max_size {max_size} is larger than capacity {capacity}; raise capacity (slots are allocated once, up front) or lower max_size"
            ),
            Self::CapacityTooLarge { capacity } => write!(
                f,
                "capacity {capacity} is larger than the largest supported capacity {}",
                crate::Core::<()>::MAX_CAPACITY
            ),
            Self::OutOfMemory { capacity, bytes } => write!(
                f,
                "could not allocate {bytes} bytes for a pool of capacity {capacity} (slots and queues are allocated once, up front); lower capacity to what the pool can really need"
            ),
            Self::Closed => f.write_str("the pool is closed and can no longer be resized"),
            Self::ReserveNotBelowMaxSize { reserve, max_size } => write!(
                f,
                "reserve {reserve} is not below max_size {max_size}, so Normal and Low gets could never be served; lower the reserve below max_size (or raise max_size above it)"
            ),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The pool was closed while, or before, waiting for an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the pool is closed")
    }
}

impl core::error::Error for Closed {}

/// Why a blocking wait ended without an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitError {
    /// The deadline passed first.
    Timeout,
    /// The pool was closed.
    Closed,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for an object"),
            Self::Closed => f.write_str("the pool is closed"),
        }
    }
}

impl core::error::Error for WaitError {}

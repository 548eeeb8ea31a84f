//! What a queue has done so far.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of a [`BoundedQueue`](crate::BoundedQueue)'s counters.
///
/// `produced` counts items enqueued; `consumed` items received; `dropped_incoming` and
/// `dropped_oldest` items discarded by the policy; `dropped_closed` items still queued when the
/// last receiver went; `rejected` items handed back to the sender by the policy. So
/// sent = produced + dropped_incoming + rejected (+ items refused because the queue was closed),
/// and produced = consumed + dropped_oldest + dropped_closed + depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// Items enqueued.
    pub produced: u64,
    /// Items received by consumers.
    pub consumed: u64,
    /// Incoming items discarded by `DropIncoming`.
    pub dropped_incoming: u64,
    /// Queued items evicted by `DropOldest`.
    pub dropped_oldest: u64,
    /// Items still queued when the last receiver was dropped.
    pub dropped_closed: u64,
    /// Items handed back by `Reject`, `BlockFor` or a full `try_send`.
    pub rejected: u64,
    /// Items queued now.
    pub depth: usize,
    /// The deepest the queue has been.
    pub peak_depth: usize,
    /// Senders waiting for space now.
    pub waiting_producers: usize,
    /// Receivers waiting for an item now.
    pub waiting_consumers: usize,
}

/// Keeps a hot counter on a cache line of its own, so senders and receivers on different
/// cores do not pass one line back and forth on every item.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Written by senders on every item.
    pub(crate) produced: Padded<AtomicU64>,
    /// Written by receivers on every item.
    pub(crate) consumed: Padded<AtomicU64>,
    pub(crate) dropped_incoming: AtomicU64,
    pub(crate) dropped_oldest: AtomicU64,
    pub(crate) dropped_closed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) peak_depth: AtomicUsize,
}

impl Counters {
    /// The counters, with the depth and waiters read from the channel underneath.
    pub(crate) fn snapshot(&self, depth: usize, producers: usize, consumers: usize) -> QueueStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        QueueStats {
            produced: get(&self.produced),
            consumed: get(&self.consumed),
            dropped_incoming: get(&self.dropped_incoming),
            dropped_oldest: get(&self.dropped_oldest),
            dropped_closed: get(&self.dropped_closed),
            rejected: get(&self.rejected),
            depth,
            peak_depth: self.peak_depth.load(Ordering::Relaxed),
            waiting_producers: producers,
            waiting_consumers: consumers,
        }
    }
}

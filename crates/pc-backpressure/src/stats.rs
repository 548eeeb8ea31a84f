//! What a queue has done so far.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of a [`BoundedQueue`](crate::BoundedQueue)'s counters.
///
/// `produced` counts items enqueued; `consumed` items received; `dropped_incoming` and
/// `dropped_oldest` items discarded by the policy; `expired` items dropped by the
/// [`Discipline`](crate::Discipline) or past their deadline; `dropped_closed` items still
/// queued when the last receiver went; `rejected` items handed back to the sender because the
/// queue was full (by the policy, or at the end of the caller's own `send_timeout`). So sent = produced + dropped_incoming + rejected (+ items refused because the queue
/// was closed), and produced = consumed + dropped_oldest + expired + dropped_closed + depth.
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
    /// Queued items dropped when reached: past CoDel's target under a standing queue, or past
    /// their deadline.
    pub expired: u64,
    /// Items still queued when the last receiver was dropped.
    pub dropped_closed: u64,
    /// Items handed back for want of room: by `Reject`, `BlockFor`, a full `try_send`, or the
    /// caller's `send_timeout` (through [`Producer`](pc_core::Producer)) running out.
    pub rejected: u64,
    /// Items queued now.
    pub depth: usize,
    /// The deepest the queue has been.
    pub peak_depth: usize,
    /// The weight held now (without [`max_weight`](crate::BoundedQueueBuilder::max_weight),
    /// 0): the queued items' and that of sends placing theirs.
    pub weight: u64,
    /// Senders waiting for space now: for a free slot, or for their item's weight.
    pub waiting_producers: usize,
    /// Receivers waiting for an item now.
    pub waiting_consumers: usize,
}

/// What the channel under a queue reports about itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Channel {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) depth: usize,
    pub(crate) waiting_senders: usize,
    pub(crate) waiting_receivers: usize,
}

impl Channel {
    pub(crate) fn of_sender<T>(tx: &pc_core::channel::Sender<T>) -> Self {
        let counts = tx.counts().unwrap_or_default();
        Self {
            sent: counts.sent,
            received: counts.received,
            depth: tx.len(),
            waiting_senders: tx.waiting_senders(),
            waiting_receivers: tx.waiting_receivers(),
        }
    }

    pub(crate) fn of_receiver<T>(rx: &pc_core::channel::Receiver<T>) -> Self {
        let counts = rx.counts().unwrap_or_default();
        Self {
            sent: counts.sent,
            received: counts.received,
            depth: rx.len(),
            waiting_senders: rx.waiting_senders(),
            waiting_receivers: rx.waiting_receivers(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) dropped_incoming: AtomicU64,
    pub(crate) dropped_oldest: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) dropped_closed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) peak_depth: AtomicUsize,
}

impl Counters {
    /// The counters, with what the channel underneath counts anyway: items in and out
    /// (`sent`, `received`: evictions and drops at close are receives too), depth, waiters.
    pub(crate) fn snapshot(&self, channel: Channel) -> QueueStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let taken_out = get(&self.dropped_oldest) + get(&self.expired) + get(&self.dropped_closed);
        QueueStats {
            produced: channel.sent,
            consumed: channel.received.saturating_sub(taken_out),
            dropped_incoming: get(&self.dropped_incoming),
            dropped_oldest: get(&self.dropped_oldest),
            expired: get(&self.expired),
            dropped_closed: get(&self.dropped_closed),
            rejected: get(&self.rejected),
            depth: channel.depth,
            peak_depth: self.peak_depth.load(Ordering::Relaxed),
            weight: 0,
            waiting_producers: channel.waiting_senders,
            waiting_consumers: channel.waiting_receivers,
        }
    }
}

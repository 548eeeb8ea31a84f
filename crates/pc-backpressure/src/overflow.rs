//! `Overflow`: what a full queue does with the next item.

use std::time::Duration;

/// What [`Sender::send`](crate::Sender::send) does when the queue is full.
///
/// Whatever the policy, every item is delivered, handed back in an error, or counted as dropped
/// (in [`QueueStats`](crate::QueueStats), the probe, and the drop hook): never lost silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait for space, however long it takes.
    #[default]
    Block,
    /// Wait for space at most this long, then hand the item back
    /// ([`OfferError::TimedOut`](crate::OfferError::TimedOut)).
    BlockFor(Duration),
    /// Hand the item back at once ([`OfferError::Rejected`](crate::OfferError::Rejected)).
    Reject,
    /// Discard the incoming item: counted as dropped with `DropReason::Full` and passed to the
    /// drop hook; the send reports success.
    DropIncoming,
    /// Evict the oldest queued item to make room: the evicted item is counted as dropped with
    /// `DropReason::Oldest` and passed to the drop hook; the new item is enqueued.
    DropOldest,
}

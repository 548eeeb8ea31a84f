//! `OfferError`: why a queue did not take an item, with the item.

use std::error::Error;
use std::fmt;

use pc_core::{ProduceError, ProduceErrorKind};

/// Why [`Sender::send`](crate::Sender::send) did not enqueue the item; the item is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum OfferError<T> {
    /// The queue is closed.
    Closed(T),
    /// The queue was full and its policy is `Reject`.
    Rejected(T),
    /// The queue stayed full for the whole `BlockFor` time.
    TimedOut(T),
}

impl<T> OfferError<T> {
    /// The item that was not enqueued.
    pub fn into_inner(self) -> T {
        match self {
            Self::Closed(item) | Self::Rejected(item) | Self::TimedOut(item) => item,
        }
    }

    /// Whether the queue was closed (rather than full).
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for OfferError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(_) => f.write_str("Closed(..)"),
            Self::Rejected(_) => f.write_str("Rejected(..)"),
            Self::TimedOut(_) => f.write_str("TimedOut(..)"),
        }
    }
}

impl<T> fmt::Display for OfferError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(_) => f.write_str("sending into a closed queue"),
            Self::Rejected(_) => f.write_str("the queue is full and rejects new items"),
            Self::TimedOut(_) => f.write_str("the queue stayed full for the whole wait"),
        }
    }
}

impl<T> Error for OfferError<T> {}

/// Each way the queue did not take an item, as the [`Producer`](pc_core::Producer) trait's
/// kind: `Closed`, `Rejected` or `TimedOut`.
impl<T> From<OfferError<T>> for ProduceError<T> {
    fn from(err: OfferError<T>) -> Self {
        match err {
            OfferError::Closed(item) => Self::closed(item),
            OfferError::Rejected(item) => Self::new(item, ProduceErrorKind::Rejected),
            OfferError::TimedOut(item) => Self::new(item, ProduceErrorKind::TimedOut),
        }
    }
}

//! Errors, one type per operation.
//!
//! Every error of an operation that carried an item hands that item back, so nothing is lost
//! silently: `SendError<T>(pub T)`, `TrySendError::Full(T)`, `SendTimeoutError::Timeout(T)` and so
//! on, each with `into_inner()`. Their `Debug` does not require `T: Debug`.

use std::error::Error;
use std::fmt;

/// The item could not be sent because the channel is closed; the item is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// Returns the item that could not be sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending into a closed channel")
    }
}

impl<T> Error for SendError<T> {}

/// Why a [`try_send`](crate::Producer::try_send) failed; the item is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum TrySendError<T> {
    /// The channel is full.
    Full(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// Returns the item that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(item) | Self::Closed(item) => item,
        }
    }

    /// Whether the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("sending into a full channel"),
            Self::Closed(_) => f.write_str("sending into a closed channel"),
        }
    }
}

impl<T> Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(err: SendError<T>) -> Self {
        Self::Closed(err.0)
    }
}

/// Why a [`send_timeout`](crate::Producer::send_timeout) failed; the item is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum SendTimeoutError<T> {
    /// No space became free before the timeout.
    Timeout(T),
    /// The channel is closed.
    Closed(T),
}

impl<T> SendTimeoutError<T> {
    /// Returns the item that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Timeout(item) | Self::Closed(item) => item,
        }
    }

    /// Whether the timeout elapsed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout(_))
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed(_))
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("Timeout(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("timed out waiting for space in the channel"),
            Self::Closed(_) => f.write_str("sending into a closed channel"),
        }
    }
}

impl<T> Error for SendTimeoutError<T> {}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(err: SendError<T>) -> Self {
        Self::Closed(err.0)
    }
}

/// The channel is closed and every queued item has been received.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving from a closed and empty channel")
    }
}

impl Error for RecvError {}

/// Why a [`try_recv`](crate::Consumer::try_recv) returned no item.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing is queued right now.
    Empty,
    /// The channel is closed and every queued item has been received.
    Closed,
}

impl TryRecvError {
    /// Whether the channel was empty but open.
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// Whether the channel was closed and drained.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("receiving from an empty channel"),
            Self::Closed => f.write_str("receiving from a closed and empty channel"),
        }
    }
}

impl Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        Self::Closed
    }
}

/// Why a [`recv_timeout`](crate::Consumer::recv_timeout) returned no item.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum RecvTimeoutError {
    /// No item arrived before the timeout.
    Timeout,
    /// The channel is closed and every queued item has been received.
    Closed,
}

impl RecvTimeoutError {
    /// Whether the timeout elapsed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }

    /// Whether the channel was closed and drained.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for an item"),
            Self::Closed => f.write_str("receiving from a closed and empty channel"),
        }
    }
}

impl Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        Self::Closed
    }
}

/// A reservation could not be made because the channel is closed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct ReserveError;

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reserving a slot in a closed channel")
    }
}

impl Error for ReserveError {}

/// Why a [`try_reserve`](crate::channel::Sender::try_reserve) failed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum TryReserveError {
    /// Every slot is taken.
    Full,
    /// The channel is closed.
    Closed,
}

impl TryReserveError {
    /// Whether every slot was taken.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full)
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, Self::Closed)
    }
}

impl fmt::Display for TryReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("reserving a slot in a full channel"),
            Self::Closed => f.write_str("reserving a slot in a closed channel"),
        }
    }
}

impl Error for TryReserveError {}

impl From<ReserveError> for TryReserveError {
    fn from(_: ReserveError) -> Self {
        Self::Closed
    }
}

/// Why [`reserve_many`](crate::channel::Sender::reserve_many) or
/// [`try_reserve_many`](crate::channel::Sender::try_reserve_many) gave no permits.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
#[non_exhaustive]
pub enum ReserveManyError {
    /// More slots than the channel has: they could never be free at once.
    TooMany {
        /// Slots asked for.
        requested: usize,
        /// The channel's capacity.
        capacity: usize,
    },
    /// Fewer slots are free than asked for, or a sender waits ahead (`try_reserve_many` only).
    Full,
    /// The channel is closed.
    Closed,
}

impl fmt::Display for ReserveManyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany {
                requested,
                capacity,
            } => write!(
                f,
                "reserving {requested} slots in a channel of capacity {capacity}"
            ),
            Self::Full => f.write_str("reserving slots in a full channel"),
            Self::Closed => f.write_str("reserving slots in a closed channel"),
        }
    }
}

impl Error for ReserveManyError {}

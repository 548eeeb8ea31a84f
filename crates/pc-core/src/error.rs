//! Errors, one type per operation.
//!
//! Every error of an operation that carried an item hands that item back, so nothing is lost
//! silently: `SendError<T>(pub T)`, `TrySendError::Full(T)`, `SendTimeoutError::Timeout(T)` and so
//! on, each with `into_inner()`. Their `Debug` does not require `T: Debug`.
//!
//! The channel's own methods fail only by closing, being full or timing out, each with its own
//! type as tokio and async-channel spell them. The [`Producer`](crate::Producer) trait stands for
//! blocks with policies too, so its methods share one [`ProduceError`] whose
//! [`kind`](ProduceError::kind) tells a close from a refusal and from a backend failure; the
//! [`Consumer`](crate::Consumer) trait's share one [`ConsumeError`], which tells the end of the
//! items from a backend failure.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

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

/// Why a [`try_send`](crate::channel::Sender::try_send) failed; the item is handed back.
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

/// Why a [`send_timeout`](crate::channel::Sender::send_timeout) failed; the item is handed back.
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

/// Why a [`Producer`](crate::Producer) did not take an item: closed, refused by its policy, or
/// failed in its backend. The item is handed back either way.
///
/// The [`Producer`](crate::Producer) trait stands for many blocks, so its error says which of
/// those it was: generic code keeps going after a refusal and stops at a close.
///
/// ```
/// use pc_core::{Producer, ProduceErrorKind, channel};
///
/// # tokio_test::block_on(async {
/// let (tx, rx) = channel::bounded::<u32>(1)?;
/// Producer::try_send(&tx, 1)?;
/// let full = Producer::try_send(&tx, 2).unwrap_err();
/// assert!(full.is_refused());
/// assert_eq!((full.kind(), full.into_inner()), (ProduceErrorKind::Full, 2));
/// drop(rx);
/// let closed = Producer::send(&tx, 3).await.unwrap_err();
/// assert!(closed.is_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct ProduceError<T> {
    item: T,
    kind: ProduceErrorKind,
    source: Option<Box<dyn Error + Send + Sync>>,
}

/// Which way a [`ProduceError`] came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProduceErrorKind {
    /// The producer is closed: no later send succeeds.
    Closed,
    /// No room right now (a `try_send` on a full queue). A refusal.
    Full,
    /// No room, or no permit, came within the time allowed: the caller's `send_timeout`, or a
    /// policy that waits a bounded time. A refusal.
    TimedOut,
    /// The producer's policy refused the item while open (a full queue under a rejecting
    /// policy, a closed priority level). A refusal.
    Rejected,
    /// A rate limit has no permit for it right now. A refusal.
    OverLimit,
    /// The backend failed (a lost connection, an item that could not be encoded); see
    /// [`Error::source`]. The producer stays open and a later send may succeed.
    Failed,
}

impl ProduceErrorKind {
    /// Whether this kind is a refusal by policy: the producer is open and may take a later item.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::Full | Self::TimedOut | Self::Rejected | Self::OverLimit
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Closed => "sending into a closed producer",
            Self::Full => "sending into a full producer",
            Self::TimedOut => "timed out waiting for room in the producer",
            Self::Rejected => "the producer's policy rejected the item",
            Self::OverLimit => "the producer's rate limit has no permit now",
            Self::Failed => "the producer's backend failed",
        }
    }
}

impl<T> ProduceError<T> {
    /// An error of `kind` handing back `item`.
    pub fn new(item: T, kind: ProduceErrorKind) -> Self {
        Self {
            item,
            kind,
            source: None,
        }
    }

    /// The producer is closed.
    pub fn closed(item: T) -> Self {
        Self::new(item, ProduceErrorKind::Closed)
    }

    /// The backend failed with `source`.
    pub fn failed(item: T, source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            item,
            kind: ProduceErrorKind::Failed,
            source: Some(source.into()),
        }
    }

    /// Which way it came about.
    pub fn kind(&self) -> ProduceErrorKind {
        self.kind
    }

    /// Whether the producer is closed: stop sending.
    pub fn is_closed(&self) -> bool {
        self.kind == ProduceErrorKind::Closed
    }

    /// Whether the policy refused the item while open (`Full`, `TimedOut`, `Rejected`,
    /// `OverLimit`): a later item may be taken.
    pub fn is_refused(&self) -> bool {
        self.kind.is_refusal()
    }

    /// Whether the backend failed; [`Error::source`] says how.
    pub fn is_failed(&self) -> bool {
        self.kind == ProduceErrorKind::Failed
    }

    /// The item that was not taken.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// Returns the item that was not taken.
    pub fn into_inner(self) -> T {
        self.item
    }

    /// Its kind and the item, the source (if any) dropped: handy to match or compare.
    ///
    /// ```
    /// use pc_core::{ProduceError, ProduceErrorKind};
    ///
    /// let err = ProduceError::new(7, ProduceErrorKind::Rejected);
    /// assert_eq!(err.into_parts(), (ProduceErrorKind::Rejected, 7));
    /// ```
    pub fn into_parts(self) -> (ProduceErrorKind, T) {
        (self.kind, self.item)
    }

    /// The same error over `f(item)`: for a producer that wraps items on their way in.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> ProduceError<U> {
        ProduceError {
            item: f(self.item),
            kind: self.kind,
            source: self.source,
        }
    }
}

impl<T> fmt::Debug for ProduceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ProduceError");
        out.field("kind", &self.kind);
        if let Some(source) = &self.source {
            out.field("source", source);
        }
        out.finish_non_exhaustive()
    }
}

impl<T> fmt::Display for ProduceError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl<T> Error for ProduceError<T> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl<T> From<SendError<T>> for ProduceError<T> {
    fn from(err: SendError<T>) -> Self {
        Self::closed(err.0)
    }
}

impl<T> From<TrySendError<T>> for ProduceError<T> {
    fn from(err: TrySendError<T>) -> Self {
        match err {
            TrySendError::Full(item) => Self::new(item, ProduceErrorKind::Full),
            TrySendError::Closed(item) => Self::closed(item),
        }
    }
}

impl<T> From<SendTimeoutError<T>> for ProduceError<T> {
    fn from(err: SendTimeoutError<T>) -> Self {
        match err {
            SendTimeoutError::Timeout(item) => Self::new(item, ProduceErrorKind::TimedOut),
            SendTimeoutError::Closed(item) => Self::closed(item),
        }
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

/// Why a [`try_recv`](crate::channel::Receiver::try_recv) returned no item.
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

/// Why a [`recv_timeout`](crate::channel::Receiver::recv_timeout) returned no item.
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

/// Why a [`Consumer`](crate::Consumer) gave no item: closed and drained, empty, timed out, or
/// failed in its backend.
///
/// The [`Consumer`](crate::Consumer) trait stands for distributed queues too, whose reads can
/// fail while the queue goes on: its error tells the end of the items
/// ([`is_closed`](Self::is_closed)) from a failure ([`is_failed`](Self::is_failed), with the
/// backend's error as [`Error::source`]), after which a later receive may succeed. Generic code
/// stops at a close and reports a failure.
///
/// It is `Clone` (the source is shared), so one failure can be reported to every receive that
/// waited on it; two errors are equal when their kinds are and they share the same source.
///
/// ```
/// use pc_core::{ConsumeErrorKind, Consumer, channel};
///
/// # tokio_test::block_on(async {
/// let (tx, rx) = channel::bounded::<u32>(1)?;
/// let empty = Consumer::try_recv(&rx).unwrap_err();
/// assert_eq!(empty.kind(), ConsumeErrorKind::Empty);
/// drop(tx);
/// let closed = Consumer::recv(&rx).await.unwrap_err();
/// assert!(closed.is_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct ConsumeError {
    kind: ConsumeErrorKind,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

/// Which way a [`ConsumeError`] came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsumeErrorKind {
    /// The consumer is closed and every item has been received: no later receive succeeds.
    Closed,
    /// Nothing is queued right now (a `try_recv`).
    Empty,
    /// Nothing came within the time allowed (a `recv_timeout`).
    TimedOut,
    /// The backend failed (a read refused by the server, a lost stream); see
    /// [`Error::source`]. The consumer stays open and a later receive may succeed, unless the
    /// consumer gave up on its backend with this failure: then it is closed, and the next
    /// receive says [`Closed`](Self::Closed).
    Failed,
}

impl ConsumeErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Closed => "receiving from a closed and drained consumer",
            Self::Empty => "receiving from an empty consumer",
            Self::TimedOut => "timed out waiting for an item",
            Self::Failed => "the consumer's backend failed",
        }
    }
}

impl ConsumeError {
    /// An error of `kind`, with no source.
    pub const fn new(kind: ConsumeErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// The consumer is closed and drained.
    pub const fn closed() -> Self {
        Self::new(ConsumeErrorKind::Closed)
    }

    /// The backend failed with `source`.
    ///
    /// ```
    /// use pc_core::ConsumeError;
    /// use std::error::Error;
    ///
    /// let err = ConsumeError::failed("NOGROUP no such consumer group");
    /// assert!(err.is_failed());
    /// assert_eq!(err.source().unwrap().to_string(), "NOGROUP no such consumer group");
    /// assert_eq!(err.clone(), err);
    /// ```
    pub fn failed(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::failed_shared(Arc::from(source.into()))
    }

    /// The backend failed with `source`, shared with other errors that report it.
    pub fn failed_shared(source: Arc<dyn Error + Send + Sync>) -> Self {
        Self {
            kind: ConsumeErrorKind::Failed,
            source: Some(source),
        }
    }

    /// Which way it came about.
    pub fn kind(&self) -> ConsumeErrorKind {
        self.kind
    }

    /// Whether the consumer is closed and drained: stop receiving.
    pub fn is_closed(&self) -> bool {
        self.kind == ConsumeErrorKind::Closed
    }

    /// Whether nothing was queued (a `try_recv`).
    pub fn is_empty(&self) -> bool {
        self.kind == ConsumeErrorKind::Empty
    }

    /// Whether the time allowed ran out (a `recv_timeout`).
    pub fn is_timeout(&self) -> bool {
        self.kind == ConsumeErrorKind::TimedOut
    }

    /// Whether the backend failed; [`Error::source`] says how.
    pub fn is_failed(&self) -> bool {
        self.kind == ConsumeErrorKind::Failed
    }
}

impl From<ConsumeErrorKind> for ConsumeError {
    fn from(kind: ConsumeErrorKind) -> Self {
        Self::new(kind)
    }
}

impl PartialEq for ConsumeError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && match (&self.source, &other.source) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for ConsumeError {}

impl fmt::Debug for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("ConsumeError");
        out.field("kind", &self.kind);
        if let Some(source) = &self.source {
            out.field("source", source);
        }
        out.finish()
    }
}

impl fmt::Display for ConsumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl Error for ConsumeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl From<RecvError> for ConsumeError {
    fn from(_: RecvError) -> Self {
        Self::closed()
    }
}

impl From<TryRecvError> for ConsumeError {
    fn from(err: TryRecvError) -> Self {
        match err {
            TryRecvError::Empty => Self::new(ConsumeErrorKind::Empty),
            TryRecvError::Closed => Self::closed(),
        }
    }
}

impl From<RecvTimeoutError> for ConsumeError {
    fn from(err: RecvTimeoutError) -> Self {
        match err {
            RecvTimeoutError::Timeout => Self::new(ConsumeErrorKind::TimedOut),
            RecvTimeoutError::Closed => Self::closed(),
        }
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

//! The sending half of [`channel`](super).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use super::blocking;
use super::chan::{Chan, Placed, Refused};
use super::permit::{OwnedPermit, Permit, Permits};
use super::send;
use super::sink::SendSink;
use super::weak::WeakSender;
use crate::BuildError;
use crate::error::{
    ProduceError, ReserveError, ReserveManyError, SendError, SendTimeoutError, TryReserveError,
    TrySendError,
};
use crate::loom::Arc;
use crate::probe::{WaitKind, WaitTimer};

/// The sending half of a channel; clone it for more producers.
///
/// Dropping the last `Sender` closes the channel: receivers drain what is queued, then see
/// [`RecvError`](crate::RecvError).
///
/// Sends and reservations that wait for space are served in the order they started waiting: a
/// slot that frees goes to the one that has waited longest, and `try_send` or `try_reserve`
/// fail while any waits, so a newcomer never takes a slot a waiting sender is owed.
pub struct Sender<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Self {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.remove_sender() {
            self.chan.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("chan", &self.chan).finish()
    }
}

impl<T> Sender<T> {
    channel_state_accessors!();

    /// Sends `item`, waiting for a free slot if the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding the item if the channel is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes means the item was not enqueued; the item is
    /// dropped with the future. To wait without giving up the item, use
    /// [`reserve`](Sender::reserve) or [`send_timeout`](Sender::send_timeout).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(1)?;
    /// tx.send("hello").await?;
    /// assert_eq!(rx.recv().await?, "hello");
    /// drop(rx);
    /// // Closed: the item comes back.
    /// assert_eq!(tx.send("lost?").await.unwrap_err().into_inner(), "lost?");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn send(&self, item: T) -> send::Send<'_, T> {
        send::Send::new(&self.chan, item)
    }

    /// Sends `item` if a slot is free right now and no send waits for one.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], each holding the item.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(1)?;
    /// tx.try_send(1)?;
    /// let full = tx.try_send(2).unwrap_err();
    /// assert!(full.is_full());
    /// assert_eq!(full.into_inner(), 2);
    /// rx.close();
    /// assert!(tx.try_send(3).unwrap_err().is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(item).map_err(|refused| match refused {
            Refused::Full(item) => TrySendError::Full(item),
            Refused::Closed(item) => TrySendError::Closed(item),
        })
    }

    /// Sends `item` now, full or not: when the channel is full, the oldest item in it is taken
    /// out to make room and returned, as async-channel's `force_send` does. This is the
    /// drop-oldest policy as one step of the channel, with no evict-and-retry loop.
    ///
    /// The oldest item is the head of the queue, or, when every queued item has already been
    /// handed to a waiting receive that has not run yet, one of those (the receive gets `item`
    /// in its place). Waiting sends keep their turn: `item` never takes a slot one is owed.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Closed`] holding the item if the channel is closed;
    /// [`TrySendError::Full`] holding it only when every slot is held by a [`Permit`], so that
    /// no item can be displaced.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = channel::bounded(2)?;
    /// assert_eq!(tx.force_send(1)?, None);
    /// assert_eq!(tx.force_send(2)?, None);
    /// assert_eq!(tx.force_send(3)?, Some(1)); // full: the oldest makes room
    /// assert_eq!(rx.try_recv(), Ok(2));
    /// assert_eq!(rx.try_recv(), Ok(3));
    /// # Ok(())
    /// # }
    /// ```
    pub fn force_send(&self, item: T) -> Result<Option<T>, TrySendError<T>> {
        self.chan.force_send(item).map_err(|refused| match refused {
            Refused::Full(item) => TrySendError::Full(item),
            Refused::Closed(item) => TrySendError::Closed(item),
        })
    }

    /// Sends `item`, waiting at most `timeout` for a free slot.
    ///
    /// Requires a tokio runtime with the time driver.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], each holding the item.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Sender::send): cancelling drops the item, while an elapsed timeout hands it
    /// back.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = channel::bounded(1)?;
    /// tx.send_timeout(1, Duration::from_millis(10)).await?;
    /// // Full for 10 ms: the item comes back, unlike a send under `tokio::time::timeout`.
    /// let late = tx.send_timeout(2, Duration::from_millis(10)).await.unwrap_err();
    /// assert!(late.is_timeout());
    /// assert_eq!(late.into_inner(), 2);
    /// assert_eq!(rx.recv().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut send = self.send(item);
        match tokio::time::timeout(timeout, &mut send).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(SendError(item))) => Err(SendTimeoutError::Closed(item)),
            // The item never left the send: withdrawn, a grant goes to the next in line.
            Err(_elapsed) => Err(SendTimeoutError::Timeout(send.withdraw())),
        }
    }

    /// Sends every item of `items` in order, waiting for space as needed, and returns how many
    /// were sent. See [`Producer::send_all`](crate::Producer::send_all).
    ///
    /// # Errors
    ///
    /// Stops at the first item refused because the channel is closed and returns it in a
    /// [`SendError`]; later items stay in the iterator.
    ///
    /// # Cancel safety
    ///
    /// Items sent before cancellation stay sent; the item being sent is dropped.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(8)?;
    /// assert_eq!(tx.send_all(1..=3).await?, 3);
    /// assert_eq!((rx.try_recv()?, rx.try_recv()?, rx.try_recv()?), (1, 2, 3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn send_all<I: IntoIterator<Item = T>>(
        &self,
        items: I,
    ) -> Result<usize, SendError<T>> {
        let mut sent = 0;
        for item in items {
            self.send(item).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Waits for a free slot and holds it for you: [`Permit::send`] then enqueues without
    /// waiting.
    ///
    /// A permit reserved before the channel is closed can still be used after the close;
    /// receivers wait for outstanding permits before they report the channel closed.
    ///
    /// # Errors
    ///
    /// [`ReserveError`] if the channel is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled reservation holds no slot, and since the item was never handed
    /// over, nothing is lost. This is the way to wait for space inside `select!`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pc_core::channel;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = channel::bounded::<String>(1)?;
    /// tx.send("first".to_string()).await?;
    ///
    /// let item = "second".to_string();
    /// tokio::select! {
    ///     permit = tx.reserve() => permit?.send(item)?,
    ///     _ = tokio::time::sleep(Duration::from_millis(5)) => {
    ///         // The channel stayed full; the item is still ours.
    ///         assert_eq!(item, "second");
    ///     }
    /// }
    /// assert_eq!(rx.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn reserve(&self) -> Reserve<'_, T> {
        Reserve {
            sender: self,
            wait: WaitGrants::new(&self.chan, 1),
        }
    }

    /// Takes a free slot right now and holds it for you, if no send or reservation waits for
    /// one.
    ///
    /// # Errors
    ///
    /// [`TryReserveError::Full`] when every slot is taken (or owed to a waiting sender),
    /// [`TryReserveError::Closed`] when the channel is closed.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(1)?;
    /// let permit = tx.try_reserve()?;
    /// assert!(tx.try_reserve().unwrap_err().is_full(), "the one slot is held");
    /// permit.send("reserved")?;
    /// assert_eq!(rx.try_recv()?, "reserved");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TryReserveError> {
        match self.chan.try_grant(1) {
            Ok(()) => Ok(Permit::new(self)),
            Err(Refused::Full(())) => Err(TryReserveError::Full),
            Err(Refused::Closed(())) => Err(TryReserveError::Closed),
        }
    }

    /// Waits until `n` slots are free at once and holds them: the [`Permits`] yield one
    /// [`Permit`] each, and give back the slots of those not taken when dropped. A batch
    /// reserved in one step, as tokio's `reserve_many`.
    ///
    /// Waits are served in order: while this one waits for its `n` slots, later sends and
    /// reservations wait behind it. `n` of 0 gives no permits at once.
    ///
    /// # Errors
    ///
    /// [`ReserveManyError::TooMany`] at once when `n` exceeds the capacity (the slots could
    /// never be free together); [`ReserveManyError::Closed`] if the channel is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled reservation holds no slot; slots granted to it meanwhile go to
    /// the next in line.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = channel::bounded::<u32>(4)?;
    /// // Three items go in together, or none.
    /// for (permit, item) in tx.reserve_many(3).await?.zip([1, 2, 3]) {
    ///     permit.send(item)?;
    /// }
    /// assert_eq!(rx.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reserve_many(&self, n: usize) -> Result<Permits<'_, T>, ReserveManyError> {
        self.check_many(n)?;
        if WaitGrants::new(&self.chan, n).await {
            Ok(Permits::new(self, n))
        } else {
            Err(ReserveManyError::Closed)
        }
    }

    /// Takes `n` free slots right now and holds them, if they are free and no send or
    /// reservation waits ahead. See [`reserve_many`](Sender::reserve_many).
    ///
    /// # Errors
    ///
    /// [`ReserveManyError::TooMany`] when `n` exceeds the capacity, [`ReserveManyError::Full`]
    /// when fewer than `n` slots are free (or a sender waits ahead),
    /// [`ReserveManyError::Closed`] when the channel is closed.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(4)?;
    /// let mut permits = tx.try_reserve_many(3)?;
    /// assert!(tx.try_reserve_many(2).is_err(), "only 1 slot left");
    /// for word in ["a", "b", "c"] {
    ///     permits.next().expect("one permit per slot").send(word)?;
    /// }
    /// assert_eq!(rx.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_reserve_many(&self, n: usize) -> Result<Permits<'_, T>, ReserveManyError> {
        self.check_many(n)?;
        match self.chan.try_grant(n) {
            Ok(()) => Ok(Permits::new(self, n)),
            Err(Refused::Full(())) => Err(ReserveManyError::Full),
            Err(Refused::Closed(())) => Err(ReserveManyError::Closed),
        }
    }

    /// Changes the capacity of a bounded channel while it runs. Room it adds goes at once to
    /// the senders and reservations parked for it, in the order they came. Room it takes away
    /// is never made by dropping items: what is queued stays, and sends wait until the
    /// excess has drained below the new capacity (`len()` may exceed `capacity()` until then).
    /// A reservation of several slots parked before the capacity shrank below its size is
    /// granted once it is alone in the channel.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for 0, [`BuildError::Invalid`] on an unbounded channel.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(2)?;
    /// tx.send_all([1, 2]).await?;
    /// tx.set_capacity(3)?; // one more slot, at once
    /// tx.try_send(3)?;
    /// tx.set_capacity(1)?; // nothing is dropped: the three drain first
    /// assert_eq!((tx.len(), tx.capacity()), (3, Some(1)));
    /// assert!(tx.try_send(4).unwrap_err().is_full());
    /// assert_eq!(rx.recv_batch(&mut Vec::new(), 3, std::time::Duration::ZERO).await, 3);
    /// tx.try_send(4)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), BuildError> {
        if self.chan.capacity().is_none() {
            return Err(BuildError::Invalid {
                setting: "capacity",
                reason: "an unbounded channel has no capacity to change".into(),
            });
        }
        if capacity == 0 {
            return Err(BuildError::Zero {
                setting: "capacity",
            });
        }
        self.chan.set_capacity(capacity);
        Ok(())
    }

    fn check_many(&self, n: usize) -> Result<(), ReserveManyError> {
        match self.chan.capacity() {
            Some(capacity) if n > capacity => Err(ReserveManyError::TooMany {
                requested: n,
                capacity,
            }),
            _ => Ok(()),
        }
    }

    /// [`reserve`](Sender::reserve), for a permit that owns this sender: it can move into a
    /// spawned task. See [`OwnedPermit`].
    ///
    /// # Errors
    ///
    /// [`ReserveError`] if the channel is closed (the sender is dropped then).
    ///
    /// # Cancel safety
    ///
    /// As `reserve`: a cancelled reservation holds no slot (the sender is dropped with it).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(1)?;
    /// let permit = tx.clone().reserve_owned().await?;
    /// // The slot travels into a task that makes the item there.
    /// tokio::spawn(async move { permit.send(42) }).await??;
    /// assert_eq!(rx.recv().await?, 42);
    /// # drop(tx);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, ReserveError> {
        self.reserve().await?.keep_grant();
        Ok(OwnedPermit::new(self))
    }

    /// Sends `item` from code outside async, blocking the thread while the channel is full.
    ///
    /// It parks the calling thread: call it from a plain thread (or `spawn_blocking`), never
    /// from a task on an async runtime's worker, whose other tasks it would hold up.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding the item if the channel is closed.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = channel::bounded(1)?;
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         tx.send_blocking(i).unwrap();
    ///     }
    /// });
    /// let got: Vec<u32> = std::iter::from_fn(|| rx.recv_blocking().ok()).collect();
    /// producer.join().unwrap();
    /// assert_eq!(got, [0, 1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_blocking(&self, item: T) -> Result<(), SendError<T>> {
        blocking::block_on(self.send(item))
    }

    /// Completes once the channel is closed: by a `close` on either side, or when every
    /// receiver is gone. A producer can stop making items that nobody would take.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = channel::bounded::<u32>(1)?;
    /// let watcher = tokio::spawn(async move {
    ///     tx.closed().await;
    ///     "nobody listens"
    /// });
    /// drop(rx);
    /// assert_eq!(watcher.await?, "nobody listens");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn closed(&self) {
        let mut watch = Watch {
            chan: &self.chan,
            key: None,
        };
        std::future::poll_fn(|cx| {
            if self.chan.poll_closed(&mut watch.key, cx) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
    }

    /// A [`WeakSender`]: it does not keep the channel open, and gives a `Sender` back while
    /// one is alive.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded::<u8>(1)?;
    /// let weak = tx.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(tx); // the last strong sender: closed
    /// assert!(rx.is_closed() && weak.upgrade().is_none());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn downgrade(&self) -> WeakSender<T> {
        WeakSender {
            chan: Arc::clone(&self.chan),
        }
    }

    /// Closes the channel for every sender: later sends and reservations fail, handing their
    /// item back, while receivers drain what is queued (and what outstanding permits send).
    /// Returns `true` if this call closed it.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(2)?;
    /// tx.send(1).await?;
    /// assert!(tx.close());
    /// assert!(!tx.close(), "already closed");
    /// assert!(tx.send(2).await.is_err());
    /// assert_eq!(rx.recv().await?, 1); // what was queued still comes out
    /// assert!(rx.recv().await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed, by a `close` call or because every receiver is gone.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded::<u8>(1)?;
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Turns this sender into a [`futures_sink::Sink`].
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// use futures_util::SinkExt;
    ///
    /// let (tx, rx) = channel::bounded(4)?;
    /// let mut sink = tx.into_sink();
    /// sink.send(1).await?;
    /// drop(sink); // its sender was the last: the channel closes
    /// assert_eq!(rx.recv().await?, 1);
    /// assert!(rx.recv().await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn into_sink(self) -> SendSink<T> {
        SendSink::new(self)
    }
}

/// The future of [`Sender::reserve`]: a [`Permit`] once a slot is granted, or
/// [`ReserveError`] if the channel is closed first.
///
/// It is `Unpin`. Dropping it before it completes holds no slot: one granted to it meanwhile
/// goes to the next in line.
#[must_use = "futures do nothing unless polled"]
pub struct Reserve<'a, T> {
    sender: &'a Sender<T>,
    wait: WaitGrants<'a, T>,
}

impl<'a, T> Future for Reserve<'a, T> {
    type Output = Result<Permit<'a, T>, ReserveError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let granted = ready!(Pin::new(&mut self.wait).poll(cx));
        Poll::Ready(match granted {
            true => Ok(Permit::new(self.sender)),
            false => Err(ReserveError),
        })
    }
}

impl<T> fmt::Debug for Reserve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve")
            .field("waiting", &self.wait.key.is_some())
            .finish_non_exhaustive()
    }
}

/// A wait in line until `n` slots are granted (`true`) or the channel is closed (`false`),
/// reporting the time blocked to the probe once it parks; withdrawn when dropped.
struct WaitGrants<'a, T> {
    chan: &'a Chan<T>,
    n: usize,
    /// Its slot among the parked senders, while it waits.
    key: Option<usize>,
    /// Dropped where it lies when the wait ends (moving it out first costs a stall).
    blocked: Option<WaitTimer<'a>>,
}

impl<'a, T> WaitGrants<'a, T> {
    fn new(chan: &'a Chan<T>, n: usize) -> Self {
        Self {
            chan,
            n,
            key: None,
            blocked: None,
        }
    }
}

impl<T> Future for WaitGrants<'_, T> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        match this.chan.poll_reserve(&mut this.key, this.n, cx) {
            Placed::Yes => Poll::Ready(true),
            Placed::Closed => Poll::Ready(false),
            Placed::Waiting => {
                if this.blocked.is_none() {
                    this.blocked = Some(WaitTimer::timed(
                        this.chan.probe.as_ref(),
                        WaitKind::SendBlocked,
                    ));
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for WaitGrants<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.chan.cancel_reserve(key);
        }
    }
}

/// A watching registration (`closed`), given up when its future is dropped.
struct Watch<'a, T> {
    chan: &'a Chan<T>,
    key: Option<usize>,
}

impl<T> Drop for Watch<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.chan.drop_watch(key);
        }
    }
}

/// The channel's own methods, their errors mapped to a [`ProduceError`] kind: `Closed`, `Full`
/// or `TimedOut`. The channel has no policy, so it never refuses an item otherwise.
impl<T: Send> crate::Producer<T> for Sender<T> {
    fn send(&self, item: T) -> impl Future<Output = Result<(), ProduceError<T>>> + Send {
        let send = Sender::send(self, item);
        async move { send.await.map_err(ProduceError::from) }
    }

    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        Sender::try_send(self, item).map_err(ProduceError::from)
    }

    fn send_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ProduceError<T>>> + Send {
        let send = Sender::send_timeout(self, item, timeout);
        async move { send.await.map_err(ProduceError::from) }
    }

    fn close(&self) -> bool {
        Sender::close(self)
    }

    fn send_all<I>(&self, items: I) -> impl Future<Output = Result<usize, ProduceError<T>>> + Send
    where
        I: IntoIterator<Item = T> + Send,
        I::IntoIter: Send,
    {
        let send = Sender::send_all(self, items);
        async move { send.await.map_err(ProduceError::from) }
    }

    fn is_closed(&self) -> bool {
        Sender::is_closed(self)
    }
}

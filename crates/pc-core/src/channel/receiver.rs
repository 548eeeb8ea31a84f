//! The receiving half of [`channel`](super).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};

use super::blocking;
use super::chan::{self, Chan, Received};
use super::weak::WeakReceiver;
use crate::error::{ConsumeError, RecvError, RecvTimeoutError, TryRecvError};
use crate::loom::Arc;
use crate::probe::{DropReason, WaitKind, WaitTimer};

/// The receiving half of a channel; clone it for more consumers, each item goes to one of them.
///
/// `Receiver` is itself a [`Stream`] that ends when the channel is closed and drained. Dropping
/// the last `Receiver` closes the channel and drops the items still queued there and then
/// (reported to the probe as dropped with [`DropReason::Closed`]); an item whose `Drop` panics
/// does not keep the others alive.
///
/// Receives are served in the order they started waiting: an item goes to the receive that has
/// waited longest, never to a newcomer while one waits.
pub struct Receiver<T> {
    pub(super) chan: Arc<Chan<T>>,
    /// This handle's registration when it is polled as a `Stream`: it watches, so a stream
    /// that stops being polled never takes an item or a wake-up from a receive that waits.
    stream_watch: Option<usize>,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.add_receiver();
        Self::new(Arc::clone(&self.chan))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(key) = self.stream_watch.take() {
            self.chan.drop_watch(key);
        }
        if !self.chan.remove_receiver() {
            return;
        }
        // Nobody can receive any more: close, so that waiting senders wake and fail, then drop
        // what stays queued now rather than when the last sender goes, and count it as dropped.
        let stranded = self.chan.disconnect();
        if !stranded.is_empty() {
            if let Some(probe) = &self.chan.probe {
                probe.dropped(stranded.len() as u64, DropReason::Closed);
            }
            chan::drop_all(stranded);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("chan", &self.chan)
            .finish()
    }
}

/// The future of [`Receiver::recv`]: the next item, or [`RecvError`] once the channel is
/// closed and drained.
///
/// It is `Unpin`, so it can be kept and polled again (in a `select!` loop) without pinning.
/// Dropping it before it completes loses no item: an item handed to it while it waited goes to
/// the next waiting receive, or back to the head of the queue.
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    chan: &'a Chan<T>,
    /// Its slot among the parked receives, while it waits.
    key: Option<usize>,
    /// Announced to the probe only once the wait parks.
    waiting: Option<WaitTimer<'a>>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.chan.poll_recv(&mut this.key, cx) {
            Received::Item(item) => Poll::Ready(Ok(item)),
            Received::Closed => Poll::Ready(Err(RecvError)),
            Received::Empty => {
                if this.waiting.is_none() {
                    this.waiting = Some(WaitTimer::counted(
                        this.chan.probe.as_ref(),
                        WaitKind::RecvBlocked,
                    ));
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.chan.cancel_recv(key);
        }
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    channel_state_accessors!();

    pub(super) fn new(chan: Arc<Chan<T>>) -> Self {
        Self {
            chan,
            stream_watch: None,
        }
    }

    /// Receives the next item, waiting until one is queued.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and every queued item has been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses no item. An item handed to
    /// it while it waited goes to the next waiting receive, or back to the head of the queue.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(1)?;
    /// tokio::spawn(async move { tx.send("work").await });
    /// assert_eq!(rx.recv().await?, "work");
    /// assert!(rx.recv().await.is_err(), "closed and drained");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn recv(&self) -> Recv<'_, T> {
        Recv {
            chan: &self.chan,
            key: None,
            waiting: None,
        }
    }

    /// Polls a handle's receive, watching for items between polls.
    fn poll_watch(&self, watch: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.chan.poll_watch_recv(watch, cx) {
            Received::Item(item) => Poll::Ready(Some(item)),
            Received::Closed => Poll::Ready(None),
            Received::Empty => Poll::Pending,
        }
    }

    /// Receives the next item from code outside async, blocking the thread until one is
    /// queued. See [`Sender::send_blocking`](super::Sender::send_blocking) for an example.
    ///
    /// It parks the calling thread: call it from a plain thread (or `spawn_blocking`), never
    /// from a task on an async runtime's worker, whose other tasks it would hold up.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and every queued item has been received.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(1)?;
    /// let consumer = std::thread::spawn(move || rx.recv_blocking());
    /// tx.send_blocking(5)?;
    /// assert_eq!(consumer.join().expect("no panic")?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_blocking(&self) -> Result<T, RecvError> {
        blocking::block_on(self.recv())
    }

    /// A [`WeakReceiver`]: it does not keep the channel open, and gives a `Receiver` back
    /// while one is alive.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded::<u8>(1)?;
    /// let weak = rx.downgrade();
    /// drop(rx); // the last strong receiver: closed, though a weak one lives
    /// assert!(tx.is_closed() && weak.upgrade().is_none());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn downgrade(&self) -> WeakReceiver<T> {
        WeakReceiver {
            chan: Arc::clone(&self.chan),
        }
    }

    /// Receives an item if one is queued right now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is queued, [`TryRecvError::Closed`] when the
    /// channel is closed and drained.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(1)?;
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// tx.try_send(1)?;
    /// assert_eq!(rx.try_recv()?, 1);
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.chan.try_recv() {
            Received::Item(item) => Ok(item),
            Received::Empty => Err(TryRecvError::Empty),
            Received::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Receives the item sent last, if one is queued right now: the tail of the queue rather
    /// than its head (last in, first out). For a consumer that, under overload, serves the
    /// newest requests first, since the oldest are the likeliest to have been given up on
    /// (pc-backpressure's adaptive LIFO). The space it frees goes to waiting senders in order,
    /// as for [`try_recv`](Self::try_recv).
    ///
    /// # Errors
    ///
    /// As [`try_recv`](Self::try_recv).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(4)?;
    /// tx.try_send(1)?;
    /// tx.try_send(2)?;
    /// tx.try_send(3)?;
    /// assert_eq!(rx.try_recv_newest()?, 3);
    /// assert_eq!(rx.try_recv()?, 1);
    /// assert_eq!(rx.try_recv_newest()?, 2);
    /// assert!(rx.try_recv_newest().unwrap_err().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv_newest(&self) -> Result<T, TryRecvError> {
        match self.chan.try_recv_newest() {
            Received::Item(item) => Ok(item),
            Received::Empty => Err(TryRecvError::Empty),
            Received::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Takes the queued items at the head for as long as `accept` takes them, appending them
    /// to `buf` in order, without waiting; returns how many. The first item refused stays at
    /// the head. For a consumer that sheds what has waited too long (pc-backpressure's CoDel
    /// under adaptive LIFO), or takes a run of items that belong together. `accept` runs under
    /// the channel's lock: keep it short, and it must not use this channel.
    ///
    /// # Panics
    ///
    /// With the panic of `accept`, the items taken before it still in `buf`, and the one it was
    /// looking at left at the head.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded(8)?;
    /// for n in [1, 3, 5, 6, 7] {
    ///     tx.try_send(n)?;
    /// }
    /// let mut odd = Vec::new();
    /// assert_eq!(rx.try_recv_while(&mut odd, |n| n % 2 == 1), 3);
    /// assert_eq!(odd, [1, 3, 5]);
    /// assert_eq!(rx.try_recv()?, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv_while(&self, buf: &mut Vec<T>, accept: impl FnMut(&T) -> bool) -> usize {
        self.chan.pop_while(buf, accept)
    }

    /// Receives the next item, waiting at most `timeout`. Requires a tokio runtime with the
    /// time driver.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when nothing arrived in time, [`RecvTimeoutError::Closed`]
    /// when the channel is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = channel::bounded::<u8>(1)?;
    /// assert!(rx.recv_timeout(Duration::from_millis(5)).await.unwrap_err().is_timeout());
    /// tx.send(3).await?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)).await?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(result) => result.map_err(RecvTimeoutError::from),
            Err(_elapsed) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Waits for the first item however long it takes, then gathers more until `max` items or
    /// until `linger` has passed since the first item. See
    /// [`Consumer::recv_batch`](crate::Consumer::recv_batch) for the full contract; this version
    /// frees the slots of a whole run of queued items at once.
    ///
    /// A `max` of 0 returns 0 at once; a `linger` of `Duration::MAX` has no deadline.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every item received before cancellation is already in `buf`.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = channel::bounded(16)?;
    /// tx.send_all(1..=5).await?;
    /// let mut batch = Vec::new();
    /// // Up to 3 items, waiting at most 1 ms past the first for more.
    /// assert_eq!(rx.recv_batch(&mut batch, 3, Duration::from_millis(1)).await, 3);
    /// assert_eq!(batch, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv_batch(&self, buf: &mut Vec<T>, max: usize, linger: Duration) -> usize {
        if max == 0 {
            return 0;
        }
        let mut added = self.pop_into(buf, max);
        if added == 0 {
            let Ok(first) = self.recv().await else {
                return 0;
            };
            buf.push(first);
            added = 1 + self.pop_into(buf, max - 1);
        }
        if added == max || linger.is_zero() {
            return added;
        }
        // The first item was taken just now, with no await since, so the linger counts from it.
        let deadline = crate::time::deadline(linger);
        while added < max {
            match crate::time::until(deadline, self.recv()).await {
                Some(Ok(item)) => {
                    buf.push(item);
                    added += 1 + self.pop_into(buf, max - added - 1);
                }
                Some(Err(RecvError)) | None => break,
            }
        }
        added
    }

    /// Moves up to `limit` queued items into `buf` without waiting, and frees their slots at
    /// once (before any wait, so senders are not held up by a linger): one lock for the run.
    fn pop_into(&self, buf: &mut Vec<T>, limit: usize) -> usize {
        self.chan.pop_into(buf, limit)
    }

    /// Closes the channel from the receiving side: senders fail from now on, handing their item
    /// back, while receivers still drain what is queued. Returns `true` if this call closed it.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(2)?;
    /// tx.send(1).await?;
    /// assert!(rx.close());
    /// assert!(tx.send(2).await.is_err(), "senders see the close");
    /// assert_eq!(rx.recv().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed (it may still hold items to drain).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, rx) = channel::bounded::<u8>(1)?;
    /// assert!(!rx.is_closed());
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let mut watch = this.stream_watch.take();
        let polled = this.poll_watch(&mut watch, cx);
        this.stream_watch = watch;
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.chan.len(), None)
    }
}

/// Ended once the channel is closed and drained (no item queued, no permit out that could
/// still send): from then on it yields `None` for good.
impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.chan.is_drained()
    }
}

impl<T: Send> crate::Consumer<T> for Receiver<T> {
    fn recv(&self) -> impl Future<Output = Result<T, ConsumeError>> + Send {
        let recv = Receiver::recv(self);
        async move { Ok(recv.await?) }
    }

    fn try_recv(&self) -> Result<T, ConsumeError> {
        Ok(Receiver::try_recv(self)?)
    }

    fn len(&self) -> usize {
        Receiver::len(self)
    }

    fn capacity(&self) -> Option<usize> {
        Receiver::capacity(self)
    }

    fn is_closed(&self) -> bool {
        Receiver::is_closed(self)
    }

    fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, ConsumeError>> + Send {
        let recv = Receiver::recv_timeout(self, timeout);
        async move { Ok(recv.await?) }
    }

    fn recv_batch(
        &self,
        buf: &mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> impl Future<Output = Result<usize, ConsumeError>> + Send {
        let batch = Receiver::recv_batch(self, buf, max, linger);
        async move {
            match batch.await {
                0 if max > 0 => Err(ConsumeError::closed()),
                added => Ok(added),
            }
        }
    }

    /// A stream over this receiver with a registration of its own that watches, as the
    /// receiver's own `Stream`: a stream that stops being polled never keeps an item or a
    /// wake-up from a receive that waits.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        Items {
            rx: self,
            watch: None,
        }
    }
}

/// A receiver's items through `Consumer::stream`, borrowing the receiver.
struct Items<'a, T> {
    rx: &'a Receiver<T>,
    watch: Option<usize>,
}

impl<T> Stream for Items<'_, T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        this.rx.poll_watch(&mut this.watch, cx)
    }
}

impl<T> Drop for Items<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.watch.take() {
            self.rx.chan.drop_watch(key);
        }
    }
}

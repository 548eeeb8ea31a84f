//! The receiving half.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_util::StreamExt;
use pc_core::probe::WaitTimer;
use pc_core::{
    AckConsumer, ConsumeError, Consumer, Delivery, DropReason, RecvError, TryRecvError, WaitKind,
    channel,
};
use tokio::sync::watch;

use super::shared::{Shared, raise};
use crate::pressure::Pressure;
use crate::stats::{Channel, QueueStats};

/// The receiving half of a [`BoundedQueue`](crate::BoundedQueue); clone it for more consumers.
///
/// Dropping the last `Receiver` closes the queue; items still queued are counted as dropped
/// (`DropReason::Closed`) and passed to the drop hook, never lost silently.
pub struct Receiver<T> {
    rx: channel::Receiver<T>,
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Self {
            rx: self.rx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        self.rx.close();
        // Every item reaches the hook, past one that panics there; the first panic goes on
        // once all are counted (unless this drop is part of an unwind already).
        let mut panicked = None;
        while let Ok(item) = self.rx.try_recv() {
            let panic = self.shared.drop_item(item, DropReason::Closed);
            panicked = panicked.or(panic);
        }
        if !std::thread::panicking() {
            raise(panicked);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.rx.len())
            .field("shared", &self.shared)
            .finish()
    }
}

impl<T> Receiver<T> {
    pub(super) fn new(rx: channel::Receiver<T>, shared: Arc<Shared<T>>) -> Self {
        Self { rx, shared }
    }

    /// Receives the next item, waiting until one is queued.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the queue is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses no item.
    pub async fn recv(&self) -> Result<T, RecvError> {
        let item = match self.rx.try_recv() {
            Ok(item) => item,
            Err(TryRecvError::Empty) => {
                let _waiting =
                    WaitTimer::counted(self.shared.probe.as_ref(), WaitKind::RecvBlocked);
                self.rx.recv().await?
            }
            Err(_) => return Err(RecvError),
        };
        self.received();
        Ok(item)
    }

    /// Receives an item if one is queued now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Closed`].
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let item = self.rx.try_recv()?;
        self.received();
        Ok(item)
    }

    /// Items queued now.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Whether the queue is closed (it may still hold items to drain).
    pub fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }

    /// The pressure now.
    pub fn pressure(&self) -> Pressure {
        self.shared.marks.current()
    }

    /// A [`watch`] of the pressure, to await its changes.
    pub fn subscribe(&self) -> watch::Receiver<Pressure> {
        self.shared.marks.subscribe()
    }

    /// What the queue has done so far.
    pub fn stats(&self) -> QueueStats {
        self.shared
            .counters
            .snapshot(Channel::of_receiver(&self.rx))
    }

    fn received(&self) {
        // The pressure heard the change from the channel already.
        if let Some(probe) = &self.shared.probe {
            probe.consumed(1);
            probe.depth(self.rx.len());
        }
    }
}

/// The items, counted as the queue's receives are, as a stream that ends when the queue is
/// closed and drained: the channel's own stream underneath, whose registration between polls
/// only watches, so a receiver polled as a stream and then left never keeps an item or a
/// wake-up from a receive that waits.
///
/// ```
/// use futures_util::StreamExt;
/// use pc_backpressure::{BoundedQueue, Overflow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, mut rx) = BoundedQueue::builder(4).overflow(Overflow::DropOldest).build()?;
/// for i in 0..6 {
///     tx.send(i).await?;
/// }
/// drop(tx);
/// let kept: Vec<u32> = (&mut rx).collect().await;
/// assert_eq!(kept, [2, 3, 4, 5]);
/// assert_eq!(rx.stats().consumed, 4);
/// # Ok(())
/// # }
/// ```
impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.rx).poll_next(cx);
        if let Poll::Ready(Some(_)) = &polled {
            this.received();
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rx.size_hint()
    }
}

impl<T> FusedStream for Receiver<T> {
    fn is_terminated(&self) -> bool {
        self.rx.is_terminated()
    }
}

/// Deliveries with nothing to settle: an in-process queue hands each item out once.
impl<T: Send> AckConsumer<T> for Receiver<T> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, ConsumeError> {
        Ok(Delivery::settled(Receiver::recv(self).await?))
    }
}

impl<T: Send> Consumer<T> for Receiver<T> {
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
        Some(self.shared.capacity)
    }

    fn is_closed(&self) -> bool {
        Receiver::is_closed(self)
    }

    /// The channel's own stream (wake-only between polls: a stream that stops being polled
    /// never keeps a wake-up from a receiver that waits), counted as the queue's receives are.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        Consumer::stream(&self.rx).map(move |item| {
            self.received();
            item
        })
    }
}

//! The receiving half.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pc_core::probe::WaitTimer;
use pc_core::{
    AckConsumer, ConsumeError, Consumer, Delivery, DropReason, RecvError, TryRecvError, WaitKind,
    channel,
};
use tokio::sync::watch;

use super::shared::{Shared, raise};
use crate::discipline::Entry;
use crate::pressure::Pressure;
use crate::stats::{Channel, QueueStats};

/// The receiving half of a [`BoundedQueue`](crate::BoundedQueue); clone it for more consumers.
///
/// Dropping the last `Receiver` closes the queue; items still queued are counted as dropped
/// (`DropReason::Closed`) and passed to the drop hook, never lost silently.
pub struct Receiver<T> {
    rx: channel::Receiver<Entry<T>>,
    shared: Arc<Shared<T>>,
    /// Polled as a stream, this handle found the queue empty at its last poll.
    found_empty: bool,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Self {
            rx: self.rx.clone(),
            shared: Arc::clone(&self.shared),
            found_empty: false,
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
        while let Ok(entry) = self.rx.try_recv() {
            self.shared.came_out(&entry);
            let panic = self.shared.drop_item(entry.item, DropReason::Closed);
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
    pub(super) fn new(rx: channel::Receiver<Entry<T>>, shared: Arc<Shared<T>>) -> Self {
        Self {
            rx,
            shared,
            found_empty: false,
        }
    }

    /// Receives the next item, waiting until one is queued: the head of the queue, or under
    /// a standing queue with adaptive LIFO the newest item. Items the
    /// [`Discipline`](crate::Discipline) drops, or past their deadline, are dropped as they are
    /// reached (and the receive goes on).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the queue is closed and drained.
    ///
    /// # Panics
    ///
    /// With the drop hook's panic, once the item it was given is counted.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses no item.
    pub async fn recv(&self) -> Result<T, RecvError> {
        loop {
            match self.try_recv() {
                Ok(item) => return Ok(item),
                Err(TryRecvError::Empty) => {}
                Err(_) => return Err(RecvError),
            }
            let entry = {
                let _waiting =
                    WaitTimer::counted(self.shared.probe.as_ref(), WaitKind::RecvBlocked);
                self.rx.recv().await?
            };
            // Empty for this receive until now.
            self.shared.clock.found_empty();
            if let Some(item) = self.admit(entry, 0) {
                return Ok(item);
            }
        }
    }

    /// Receives an item if one is queued now, as [`recv`](Self::recv) picks it.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] or [`TryRecvError::Closed`].
    ///
    /// # Panics
    ///
    /// As [`recv`](Self::recv).
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if self.shared.clock.discipline.is_fifo() {
            // Plain FIFO reads no clock and notes nothing: an entry is served as it comes,
            // unless it carries a deadline.
            let entry = self.rx.try_recv()?;
            if entry.is_plain() {
                self.shared.came_out(&entry);
                self.shared.served(None, || self.rx.len());
                return Ok(entry.item);
            }
            if let Some(item) = self.admit(entry, 0) {
                return Ok(item);
            }
        }
        loop {
            let (entry, now) = self.take()?;
            if let Some(item) = self.admit(entry, now) {
                return Ok(item);
            }
        }
    }

    /// Takes the entry the discipline picks now, with the time it read (0 if none); notes a
    /// queue found empty.
    #[inline]
    fn take(&self) -> Result<(Entry<T>, u64), TryRecvError> {
        let clock = &self.shared.clock;
        let (newest, now) = clock.newest_first();
        let taken = if newest {
            self.shared.shed_head(&self.rx, now);
            self.rx.try_recv_newest()
        } else {
            self.rx.try_recv()
        };
        match taken {
            Ok(entry) => Ok((entry, now)),
            Err(err) => {
                if err.is_empty() {
                    clock.found_empty();
                }
                Err(err)
            }
        }
    }

    /// Hands out an entry taken at `now` (0: not read yet), or drops it as the discipline or
    /// its deadline says.
    #[inline]
    fn admit(&self, entry: Entry<T>, now: u64) -> Option<T> {
        self.shared.admit(entry, now, || self.rx.len())
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
        self.shared.capacity.load(Ordering::Relaxed)
    }

    /// The weight the queue holds now: its items', as the
    /// [`max_weight`](crate::BoundedQueueBuilder::max_weight) weigher charged them, and that of
    /// sends placing theirs; 0 without a `max_weight`.
    pub fn weight(&self) -> u64 {
        self.shared.weight()
    }

    /// The bound on the weight, if the queue has one.
    pub fn max_weight(&self) -> Option<u64> {
        self.shared.weights.as_ref().map(|weights| weights.max())
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
        self.shared.stats(Channel::of_receiver(&self.rx))
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
        poll_admitted(&this.shared, &mut this.rx, &mut this.found_empty, cx)
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
        Some(self.capacity())
    }

    fn is_closed(&self) -> bool {
        Receiver::is_closed(self)
    }

    /// The channel's own stream (wake-only between polls: a stream that stops being polled
    /// never keeps a wake-up from a receiver that waits), served and counted as the queue's
    /// receives are.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        let mut items = Watched {
            rx: &self.rx,
            items: Box::pin(Consumer::stream(&self.rx)),
        };
        let mut found_empty = false;
        futures_util::stream::poll_fn(move |cx| {
            poll_admitted(&self.shared, &mut items, &mut found_empty, cx)
        })
    }
}

/// Where a stream of the queue takes its entries from: the receiver's own stream, or the
/// channel's watching stream of `Consumer::stream`.
trait Entries<T> {
    /// The channel.
    fn channel(&self) -> &channel::Receiver<Entry<T>>;

    /// The next entry in FIFO order.
    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Entry<T>>>;
}

impl<T> Entries<T> for channel::Receiver<Entry<T>> {
    fn channel(&self) -> &channel::Receiver<Entry<T>> {
        self
    }

    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Entry<T>>> {
        Pin::new(self).poll_next(cx)
    }
}

/// The channel's watching stream, beside the receiver it borrows.
struct Watched<'a, T, S> {
    rx: &'a channel::Receiver<Entry<T>>,
    items: Pin<Box<S>>,
}

impl<T, S: Stream<Item = Entry<T>>> Entries<T> for Watched<'_, T, S> {
    fn channel(&self) -> &channel::Receiver<Entry<T>> {
        self.rx
    }

    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Entry<T>>> {
        self.items.as_mut().poll_next(cx)
    }
}

/// Polls `entries` for the next item to hand out: newest first under a standing queue with
/// adaptive LIFO, the head otherwise; entries the discipline drops are dropped on the way.
/// `found_empty` says whether the last poll found the queue empty: it was until this one.
fn poll_admitted<T>(
    shared: &Shared<T>,
    entries: &mut impl Entries<T>,
    found_empty: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    let clock = &shared.clock;
    loop {
        let (newest, now) = clock.newest_first();
        let taken = if newest {
            shared.shed_head(entries.channel(), now);
            entries
                .channel()
                .try_recv_newest()
                .ok()
                .map(|entry| (entry, now))
        } else {
            None
        };
        let (entry, now) = match taken {
            Some(taken) => taken,
            None => match entries.poll_entry(cx) {
                Poll::Ready(Some(entry)) => {
                    if std::mem::take(found_empty) {
                        clock.found_empty();
                    }
                    (entry, 0)
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    clock.found_empty();
                    *found_empty = true;
                    return Poll::Pending;
                }
            },
        };
        if let Some(item) = shared.admit(entry, now, || entries.channel().len()) {
            return Poll::Ready(Some(item));
        }
    }
}

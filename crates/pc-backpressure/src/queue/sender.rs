//! The sending half: applies the overflow policy.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pc_core::probe::WaitTimer;
use pc_core::{
    DropReason, ProduceError, ProduceErrorKind, Producer, SendTimeoutError, TrySendError, WaitKind,
    channel,
};
use tokio::sync::watch;
use tokio::time::Instant;

use super::shared::{Shared, raise};
use crate::discipline::Entry;
use crate::error::OfferError;
use crate::overflow::Overflow;
use crate::pressure::Pressure;
use crate::stats::{Channel, QueueStats};

/// The sending half of a [`BoundedQueue`](crate::BoundedQueue); clone it for more producers.
///
/// Dropping the last `Sender` closes the queue: receivers drain it, then see the end.
pub struct Sender<T> {
    tx: channel::Sender<Entry<T>>,
    overflow: Overflow,
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            overflow: self.overflow,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("overflow", &self.overflow)
            .field("len", &self.tx.len())
            .field("shared", &self.shared)
            .finish()
    }
}

impl<T> Sender<T> {
    pub(super) fn new(
        tx: channel::Sender<Entry<T>>,
        overflow: Overflow,
        shared: Arc<Shared<T>>,
    ) -> Self {
        Self {
            tx,
            overflow,
            shared,
        }
    }

    /// Sends `item` under the queue's [`Overflow`] policy.
    ///
    /// `Block` waits for space; `BlockFor` waits at most its time; `Reject` never waits;
    /// `DropIncoming` and `DropOldest` never wait and report success, counting what they
    /// discard.
    ///
    /// # Errors
    ///
    /// The item handed back: [`OfferError::Closed`], [`OfferError::Rejected`] (`Reject`) or
    /// [`OfferError::TimedOut`] (`BlockFor`).
    ///
    /// # Cancel safety
    ///
    /// Cancelling a wait for space drops the item, as any `send`; use `BlockFor` (or
    /// `send_timeout`) to get it back when the wait ends.
    pub async fn send(&self, item: T) -> Result<(), OfferError<T>> {
        match self.offer(self.entry(item)) {
            Offered::Done(result) => result,
            Offered::Wait(entry, limit) => self.wait_and_send(entry, limit).await,
        }
    }

    /// Sends `item` under the queue's [`Overflow`] policy, as [`send`](Self::send), to be
    /// handed out no later than `deadline`: an item still queued then is never handed out, but
    /// dropped as [`DropReason::Expired`] (counted in [`QueueStats::expired`], passed to the
    /// drop hook) when a receive reaches it. A deadline already past is kept to the same way.
    /// The deadline alone decides for this item: CoDel does not judge it by its time in the
    /// queue (the deadline says how long its client waits), and the probe hears no time in
    /// the queue for it.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    ///
    /// ```
    /// use std::time::Duration;
    /// use pc_backpressure::BoundedQueue;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = BoundedQueue::builder(8).build()?;
    /// tx.send_with_deadline("stale soon", Instant::now() + Duration::from_millis(100)).await?;
    /// tx.send("whenever").await?;
    /// tokio::time::sleep(Duration::from_millis(150)).await;
    /// assert_eq!(rx.recv().await?, "whenever");
    /// assert_eq!(rx.stats().expired, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send_with_deadline(
        &self,
        item: T,
        deadline: Instant,
    ) -> Result<(), OfferError<T>> {
        let entry = Entry::with_deadline(item, self.shared.clock.deadline(deadline));
        match self.offer(entry) {
            Offered::Done(result) => result,
            Offered::Wait(entry, limit) => self.wait_and_send(entry, limit).await,
        }
    }

    /// The entry of an item queued now.
    fn entry(&self, item: T) -> Entry<T> {
        Entry::new(item, self.shared.clock.stamp())
    }

    /// What a send does without waiting: the entry queued, or the policy applied to a full
    /// queue; or the wait for room that `Block` and `BlockFor` call for, left to the caller so
    /// that a send is one future.
    #[inline]
    fn offer(&self, entry: Entry<T>) -> Offered<T> {
        let entry = match self.tx.try_send(entry) {
            Ok(()) => return Offered::Done(self.enqueued()),
            Err(TrySendError::Full(entry)) => entry,
            Err(err) => return Offered::Done(Err(OfferError::Closed(err.into_inner().item))),
        };
        Offered::Done(match self.overflow {
            Overflow::Block => return Offered::Wait(entry, None),
            Overflow::BlockFor(limit) => return Offered::Wait(entry, Some(limit)),
            Overflow::Reject => {
                self.shared
                    .counters
                    .rejected
                    .fetch_add(1, Ordering::Relaxed);
                Err(OfferError::Rejected(entry.item))
            }
            Overflow::DropIncoming => {
                raise(self.shared.drop_item(entry.item, DropReason::Full));
                Ok(())
            }
            _ => self.send_evicting(entry),
        })
    }

    /// Sends `item` if that needs no wait: under `Block`, `BlockFor` and `Reject` a full queue
    /// hands the item back; `DropIncoming` and `DropOldest` apply their policy.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], each holding the item.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let entry = match self.tx.try_send(self.entry(item)) {
            Ok(()) => return self.enqueued(),
            Err(TrySendError::Full(entry)) => entry,
            Err(err) => return Err(TrySendError::Closed(err.into_inner().item)),
        };
        match self.overflow {
            Overflow::DropIncoming => {
                raise(self.shared.drop_item(entry.item, DropReason::Full));
                Ok(())
            }
            Overflow::DropOldest => self
                .send_evicting(entry)
                .map_err(|err| TrySendError::Closed(err.into_inner())),
            _ => {
                self.shared
                    .counters
                    .rejected
                    .fetch_add(1, Ordering::Relaxed);
                Err(TrySendError::Full(entry.item))
            }
        }
    }

    /// Closes the queue for every sender; receivers drain what is queued. Returns `true` if
    /// this call closed it.
    pub fn close(&self) -> bool {
        self.tx.close()
    }

    /// Whether the queue is closed.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Items queued now.
    pub fn len(&self) -> usize {
        self.tx.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.tx.is_empty()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.shared.capacity.load(Ordering::Relaxed)
    }

    /// Changes the capacity while the queue runs, as
    /// [`channel::Sender::set_capacity`](pc_core::channel::Sender::set_capacity) does: room
    /// added goes to the senders waiting for it at once, in order; room taken away is never
    /// made by dropping items (the excess drains first, `len()` may exceed `capacity()` until
    /// then, and the overflow policy meets a full queue meanwhile). The pressure watermarks
    /// move with it, at the same fractions.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`](pc_core::BuildError::Zero) for 0.
    ///
    /// ```
    /// use pc_backpressure::{BoundedQueue, Overflow, Pressure};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, _rx) = BoundedQueue::builder(4).overflow(Overflow::Reject).build()?;
    /// for i in 0..4 {
    ///     tx.send(i).await?;
    /// }
    /// assert_eq!(tx.pressure(), Pressure::High);
    /// tx.set_capacity(100)?; // 4 of 100: below the low mark
    /// assert_eq!(tx.pressure(), Pressure::Normal);
    /// tx.send(4).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), pc_core::BuildError> {
        self.tx.set_capacity(capacity)?;
        self.shared.capacity.store(capacity, Ordering::Relaxed);
        self.shared.marks.set_capacity(capacity);
        let depth = || self.tx.len();
        self.shared.marks.observe(depth(), depth);
        Ok(())
    }

    /// How full the queue is, from 0.0 to 1.0.
    pub fn occupancy(&self) -> f64 {
        self.tx.len() as f64 / self.capacity() as f64
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
        self.shared.counters.snapshot(Channel::of_sender(&self.tx))
    }

    /// Counts an item just enqueued; always `Ok`, to end a send.
    fn enqueued<E>(&self) -> Result<(), E> {
        // The peak and the pressure heard the change from the channel already.
        if let Some(probe) = &self.shared.probe {
            probe.produced(1);
            probe.depth(self.tx.len());
        }
        Ok(())
    }

    /// Waits for space, at most `limit` when given.
    async fn wait_and_send(
        &self,
        entry: Entry<T>,
        limit: Option<Duration>,
    ) -> Result<(), OfferError<T>> {
        let waiting = WaitTimer::timed(self.shared.probe.as_ref(), WaitKind::SendBlocked);
        let result = match limit {
            None => self
                .tx
                .send(entry)
                .await
                .map_err(|err| OfferError::Closed(err.0.item)),
            Some(limit) => self
                .tx
                .send_timeout(entry, limit)
                .await
                .map_err(|err| match err {
                    SendTimeoutError::Timeout(entry) => {
                        self.shared
                            .counters
                            .rejected
                            .fetch_add(1, Ordering::Relaxed);
                        OfferError::TimedOut(entry.item)
                    }
                    other => OfferError::Closed(other.into_inner().item),
                }),
        };
        drop(waiting);
        result.and_then(|()| self.enqueued())
    }

    /// `DropOldest`: the new item goes in and the oldest comes out, in one step of the channel
    /// (`force_send`). A drop hook that panics on the evicted item panics the caller once the
    /// new item is in.
    fn send_evicting(&self, entry: Entry<T>) -> Result<(), OfferError<T>> {
        match self.tx.force_send(entry) {
            Ok(None) => self.enqueued(),
            Ok(Some(oldest)) => {
                let sent = self.enqueued();
                raise(self.shared.drop_item(oldest.item, DropReason::Oldest));
                sent
            }
            // Only when every slot is held by a permit, which this queue never hands out: the
            // incoming item is the one dropped then.
            Err(TrySendError::Full(entry)) => {
                raise(self.shared.drop_item(entry.item, DropReason::Full));
                Ok(())
            }
            Err(err) => Err(OfferError::Closed(err.into_inner().item)),
        }
    }
}

/// What [`Sender::offer`] did: all there was to do, or the entry to wait for room with.
enum Offered<T> {
    Done(Result<(), OfferError<T>>),
    Wait(Entry<T>, Option<Duration>),
}

/// The queue's own methods, their errors mapped to a [`ProduceError`] kind that says which it
/// was: `Closed`, `Rejected` (a full queue under `Reject`), `TimedOut` (a `BlockFor` wait or
/// the caller's timeout ran out) or `Full` (`try_send` under `Block` or `BlockFor`).
impl<T: Send> Producer<T> for Sender<T> {
    /// As [`Sender::send`].
    async fn send(&self, item: T) -> Result<(), ProduceError<T>> {
        Sender::send(self, item).await.map_err(ProduceError::from)
    }

    /// As [`Sender::try_send`]; a full queue under `Reject` is `Rejected`.
    fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
        Sender::try_send(self, item).map_err(|err| match err {
            TrySendError::Full(item) if self.overflow == Overflow::Reject => {
                ProduceError::new(item, ProduceErrorKind::Rejected)
            }
            other => ProduceError::from(other),
        })
    }

    /// Waits at most `timeout` for space under `Block` and `BlockFor` (the shorter of the
    /// two); the other policies never wait.
    async fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), ProduceError<T>> {
        let limit = match self.overflow {
            Overflow::Block => timeout,
            Overflow::BlockFor(limit) => limit.min(timeout),
            _ => return Producer::try_send(self, item),
        };
        let entry = match self.tx.try_send(self.entry(item)) {
            Ok(()) => return self.enqueued(),
            Err(TrySendError::Full(entry)) => entry,
            Err(err) => return Err(ProduceError::closed(err.into_inner().item)),
        };
        self.wait_and_send(entry, Some(limit))
            .await
            .map_err(ProduceError::from)
    }

    fn close(&self) -> bool {
        Sender::close(self)
    }

    fn is_closed(&self) -> bool {
        Sender::is_closed(self)
    }
}

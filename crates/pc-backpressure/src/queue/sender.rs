//! The sending half: applies the overflow policy.

use std::fmt;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::{Either, select};
use pc_core::probe::WaitTimer;
use pc_core::task::Panic;
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
use crate::weight::{Charge, Weights, placed};

/// The sending half of a [`BoundedQueue`](crate::BoundedQueue); clone it for more producers.
///
/// Dropping the last `Sender` closes the queue: receivers drain it, then see the end.
pub struct Sender<T> {
    tx: channel::Sender<Entry<T>>,
    overflow: Overflow,
    shared: Arc<Shared<T>>,
    /// The queue's head, for `DropOldest` to evict from when an item's weight is not free
    /// (only then: a queue full by count evicts in one step of the channel, `force_send`).
    head: Option<channel::WeakReceiver<Entry<T>>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            overflow: self.overflow,
            shared: Arc::clone(&self.shared),
            head: self.head.clone(),
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
        head: Option<channel::WeakReceiver<Entry<T>>>,
    ) -> Self {
        Self {
            tx,
            overflow,
            shared,
            head,
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
            Offered::Wait(entry, charge, limit) => self.wait_and_send(entry, charge, limit).await,
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
            Offered::Wait(entry, charge, limit) => self.wait_and_send(entry, charge, limit).await,
        }
    }

    /// The entry of an item queued now.
    fn entry(&self, item: T) -> Entry<T> {
        Entry::new(item, self.shared.clock.stamp())
    }

    /// What a send does without waiting: the entry queued, or the policy applied to a queue
    /// full by count or by weight; or the wait for room that `Block` and `BlockFor` call for,
    /// left to the caller so that a send is one future.
    #[inline]
    fn offer(&self, entry: Entry<T>) -> Offered<'_, T> {
        if let Some(weights) = &self.shared.weights {
            return self.offer_weighed(weights, entry);
        }
        match self.tx.try_send(entry) {
            Ok(()) => Offered::Done(self.enqueued()),
            Err(TrySendError::Full(entry)) => self.overflow(entry, None),
            Err(err) => Offered::Done(Err(OfferError::Closed(err.into_inner().item))),
        }
    }

    /// [`offer`](Self::offer) in a queue bounded by weight: the weight first, then a slot.
    /// Out of line, so that a queue without a weight keeps the send path it had. The three
    /// arms after the weight repeat `offer`'s on purpose: sharing them through one inlined
    /// function measured 1.05x the time on `bounded-queue-ct-4p4c-cap1024/pc` (8 runs).
    #[inline(never)]
    fn offer_weighed<'a>(&'a self, weights: &'a Weights<T>, entry: Entry<T>) -> Offered<'a, T> {
        let Some(charge) = weights.try_take(weights.charge(&entry.item)) else {
            return self.overflow(entry, None);
        };
        match self.tx.try_send(entry) {
            Ok(()) => {
                charge.placed();
                Offered::Done(self.enqueued())
            }
            Err(TrySendError::Full(entry)) => self.overflow(entry, Some(charge)),
            Err(err) => Offered::Done(Err(OfferError::Closed(err.into_inner().item))),
        }
    }

    /// The policy applied to an entry that found no room: no free slot, or (without a
    /// `charge`) not its weight free.
    #[inline]
    fn overflow<'a>(&'a self, entry: Entry<T>, charge: Option<Charge<'a>>) -> Offered<'a, T> {
        Offered::Done(match self.overflow {
            Overflow::Block => return Offered::Wait(entry, charge, None),
            Overflow::BlockFor(limit) => return Offered::Wait(entry, charge, Some(limit)),
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
            _ => self.send_evicting(entry, charge),
        })
    }

    /// Sends `item` if that needs no wait: under `Block`, `BlockFor` and `Reject` a full queue
    /// hands the item back; `DropIncoming` and `DropOldest` apply their policy.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], each holding the item.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        match self.offer(self.entry(item)) {
            Offered::Done(result) => result.map_err(|err| match err {
                OfferError::Closed(item) => TrySendError::Closed(item),
                other => TrySendError::Full(other.into_inner()),
            }),
            Offered::Wait(entry, _, _) => {
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
        if let Some(probe) = &self.shared.probe {
            probe.described(pc_core::BlockKind::BoundedQueue, Some(capacity));
        }
        Ok(())
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
        self.shared.stats(Channel::of_sender(&self.tx))
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

    /// Waits for space, at most `limit` when given: for the entry's weight first, unless it
    /// holds its `charge` already, then for a slot.
    async fn wait_and_send<'a>(
        &'a self,
        entry: Entry<T>,
        charge: Option<Charge<'a>>,
        limit: Option<Duration>,
    ) -> Result<(), OfferError<T>> {
        let waiting = WaitTimer::timed(self.shared.probe.as_ref(), WaitKind::SendBlocked);
        let (charge, limit) = match (charge, &self.shared.weights) {
            // Boxed: its timer and semaphore wait would make every send's future larger, and
            // moving that costs the queue without a weight on each send.
            (None, Some(weights)) => {
                match Box::pin(self.wait_for_weight(weights, weights.charge(&entry.item), limit))
                    .await
                {
                    Ok(waited) => waited,
                    Err(refusal) => {
                        return Err(match refusal {
                            Refusal::Closed => OfferError::Closed(entry.item),
                            Refusal::TimedOut => {
                                self.shared
                                    .counters
                                    .rejected
                                    .fetch_add(1, Ordering::Relaxed);
                                OfferError::TimedOut(entry.item)
                            }
                        });
                    }
                }
            }
            (charge, _) => (charge, limit),
        };
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
        result?;
        placed(charge);
        self.enqueued()
    }

    /// Waits for the weight `charge`, at most `limit`, and while the queue is open; returns
    /// the weight and what is left of the limit.
    async fn wait_for_weight<'a>(
        &'a self,
        weights: &'a Weights<T>,
        charge: u32,
        limit: Option<Duration>,
    ) -> Result<(Option<Charge<'a>>, Option<Duration>), Refusal> {
        let started = Instant::now();
        let open = async {
            match select(pin!(weights.take(charge)), pin!(self.tx.closed())).await {
                Either::Left((charge, _)) => Ok(charge),
                Either::Right(_) => Err(Refusal::Closed),
            }
        };
        let charge = match limit {
            None => open.await?,
            Some(limit) => tokio::time::timeout(limit, open)
                .await
                .map_err(|_| Refusal::TimedOut)??,
        };
        let left = limit.map(|limit| limit.saturating_sub(started.elapsed()));
        Ok((Some(charge), left))
    }

    /// `DropOldest`: the new item goes in and the oldest comes out, in one step of the channel
    /// (`force_send`); without a `charge` of the queue's weight, the oldest items come out
    /// first, as many as free the new item's weight. A drop hook that panics on an evicted item
    /// panics the caller once the new item is in.
    fn send_evicting<'a>(
        &'a self,
        entry: Entry<T>,
        charge: Option<Charge<'a>>,
    ) -> Result<(), OfferError<T>> {
        let mut panicked = None;
        let charge = match (charge, &self.shared.weights) {
            (None, Some(weights)) => {
                if self.tx.is_closed() {
                    return Err(OfferError::Closed(entry.item));
                }
                let charge = self.evict_for(weights, weights.charge(&entry.item), &mut panicked);
                if charge.is_none() {
                    // Nothing queued is left to evict: the weight is held by items on their
                    // way to a receive, or by sends placing theirs. The new item is dropped.
                    let dropped = self.shared.drop_item(entry.item, DropReason::Full);
                    raise(panicked.or(dropped));
                    return Ok(());
                }
                charge
            }
            (charge, _) => charge,
        };
        let sent = match self.tx.force_send(entry) {
            Ok(displaced) => {
                placed(charge);
                let sent = self.enqueued();
                if let Some(oldest) = displaced {
                    self.shared.came_out(&oldest);
                    let dropped = self.shared.drop_item(oldest.item, DropReason::Oldest);
                    panicked = panicked.or(dropped);
                }
                sent
            }
            // Only when every slot is held by a permit, which this queue never hands out: the
            // incoming item is the one dropped then.
            Err(TrySendError::Full(entry)) => {
                let dropped = self.shared.drop_item(entry.item, DropReason::Full);
                panicked = panicked.or(dropped);
                Ok(())
            }
            Err(err) => Err(OfferError::Closed(err.into_inner().item)),
        };
        raise(panicked);
        sent
    }

    /// Evicts the oldest items until the weight `charge` is free, and takes it; `None` when
    /// the queue holds nothing more to evict first. Every evicted item reaches the drop hook;
    /// the first panic there is kept in `panicked`.
    fn evict_for<'a>(
        &self,
        weights: &'a Weights<T>,
        charge: u32,
        panicked: &mut Option<Panic>,
    ) -> Option<Charge<'a>> {
        let head = self.head.as_ref()?.upgrade()?;
        loop {
            if let Some(charge) = weights.try_take(charge) {
                return Some(charge);
            }
            let oldest = head.try_recv().ok()?;
            self.shared.came_out(&oldest);
            let dropped = self.shared.drop_item(oldest.item, DropReason::Oldest);
            *panicked = panicked.take().or(dropped);
        }
    }
}

/// What [`Sender::offer`] did: all there was to do, or the entry to wait for room with, and
/// the weight it holds already.
enum Offered<'a, T> {
    Done(Result<(), OfferError<T>>),
    Wait(Entry<T>, Option<Charge<'a>>, Option<Duration>),
}

/// Why a wait for weight ended without it.
enum Refusal {
    Closed,
    TimedOut,
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
        match self.offer(self.entry(item)) {
            Offered::Done(result) => result,
            Offered::Wait(entry, charge, _) => self.wait_and_send(entry, charge, Some(limit)).await,
        }
        .map_err(ProduceError::from)
    }

    fn close(&self) -> bool {
        Sender::close(self)
    }

    fn is_closed(&self) -> bool {
        Sender::is_closed(self)
    }
}

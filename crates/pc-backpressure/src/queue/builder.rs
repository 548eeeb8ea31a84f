//! `BoundedQueue::builder`: capacity, policy, watermarks, hook and probe, checked at build time.

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use pc_core::{BlockKind, BuildError, DropReason, SharedProbe, channel};

use super::receiver::Receiver;
use super::sender::Sender;
use super::shared::{Depths, DropHook, Shared};
use crate::discipline::{Clock, Discipline, Entry};
use crate::overflow::Overflow;
use crate::pressure::Watermarks;
use crate::stats::Counters;
use crate::weight::{Weigher, Weights};

/// A bounded MPMC queue with an [`Overflow`] policy; [`BoundedQueue::builder`] makes one and
/// returns its cloneable halves.
///
/// ```
/// use pc_backpressure::{BoundedQueue, Overflow};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = BoundedQueue::builder(2).overflow(Overflow::DropOldest).build()?;
/// for i in 1..=4 {
///     tx.send(i).await?; // 1 and 2 are evicted to make room for 3 and 4
/// }
/// assert_eq!(rx.recv().await?, 3);
/// assert_eq!(rx.recv().await?, 4);
/// assert_eq!(tx.stats().dropped_oldest, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct BoundedQueue {
    _namespace: (),
}

impl BoundedQueue {
    /// Starts the settings of a queue holding at most `capacity` items.
    pub fn builder<T>(capacity: usize) -> BoundedQueueBuilder<T> {
        BoundedQueueBuilder {
            capacity,
            overflow: Overflow::Block,
            discipline: Discipline::fifo(),
            high: 0.8,
            low: 0.2,
            on_drop: None,
            probe: None,
            weights: None,
        }
    }
}

/// Settings for a [`BoundedQueue`].
pub struct BoundedQueueBuilder<T> {
    capacity: usize,
    overflow: Overflow,
    discipline: Discipline,
    high: f64,
    low: f64,
    on_drop: Option<DropHook<T>>,
    probe: Option<SharedProbe>,
    weights: Option<(u64, Weigher<T>)>,
}

impl<T: Send + 'static> BoundedQueueBuilder<T> {
    /// What a full queue does with the next item (default [`Overflow::Block`]).
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// How the queue serves its items under a standing queue (default FIFO): see
    /// [`Discipline`].
    pub fn discipline(mut self, discipline: Discipline) -> Self {
        self.discipline = discipline;
        self
    }

    /// The pressure watermarks as fractions of the capacity (default 0.8 and 0.2):
    /// [`Pressure::High`](crate::Pressure::High) from `high` up, back to `Normal` at `low`.
    pub fn watermarks(mut self, high: f64, low: f64) -> Self {
        self.high = high;
        self.low = low;
        self
    }

    /// Receives every item the queue discards (a dead-letter path), with the reason.
    ///
    /// A hook that panics panics the call that discarded the item (a send, or the drop of the
    /// last receiver), once the queue is in order: the item is counted as dropped, a new item
    /// that displaced it is queued, and the other items the same call discards still reach the
    /// hook.
    pub fn on_drop(mut self, hook: impl Fn(T, DropReason) + Send + Sync + 'static) -> Self {
        self.on_drop = Some(Box::new(hook));
        self
    }

    /// Bounds the queue by weight as well as by count: the weights of the queued items, as
    /// `weigher` gives them (bytes, say), add up to at most `max_weight`. An item heavier than
    /// that is charged `max_weight`, so it is admitted alone, once the queue holds no weight,
    /// rather than refused forever.
    ///
    /// An item whose weight is not free meets the [`Overflow`] policy as an item that finds
    /// no free slot does: `Block` waits for it (in arrival order: a sender never takes weight
    /// an earlier one waits for), `Reject` hands the item back, `DropIncoming` drops it, and
    /// `DropOldest` evicts the oldest items, as many as free its weight. When nothing queued is
    /// left to evict (the weight is held by items on their way to a receive that has not run
    /// yet, or by sends placing theirs), `DropOldest` drops the new item
    /// ([`DropReason::Full`]).
    ///
    /// The weigher runs in the send that places an item (once more after a wait), and again
    /// when the item comes out, to give its weight back: it must be a function of the item's
    /// value alone (a length, a size), giving the same weight each time. Items carry no weight
    /// of their own in the queue, so that a queue without `max_weight` pays nothing for it. A
    /// weigher that panics in a send panics that send, and the queue is unchanged.
    /// [`Sender::weight`] reads the weight held now, [`QueueStats::weight`](crate::QueueStats)
    /// too. The pressure watermarks and [`Sender::occupancy`] stay counts of items.
    ///
    /// ```
    /// use pc_backpressure::{BoundedQueue, Overflow};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // At most 1,000 messages, and at most 64 KiB of them.
    /// let (tx, rx) = BoundedQueue::builder(1_000)
    ///     .max_weight(64 * 1024, |message: &Vec<u8>| message.len() as u64)
    ///     .overflow(Overflow::Reject)
    ///     .build()?;
    /// tx.send(vec![0; 40 * 1024]).await?;
    /// // 24 KiB are free: the next 40 KiB do not fit.
    /// assert!(tx.send(vec![1; 40 * 1024]).await.is_err());
    /// assert_eq!(tx.weight(), 40 * 1024);
    /// rx.recv().await?;
    /// tx.send(vec![1; 40 * 1024]).await?;
    /// // Heavier than the bound: charged the whole bound, admitted once the queue is empty.
    /// rx.recv().await?;
    /// tx.send(vec![2; 100 * 1024]).await?;
    /// assert_eq!(tx.weight(), 64 * 1024);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_weight(
        mut self,
        max_weight: u64,
        weigher: impl Fn(&T) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.weights = Some((max_weight, Box::new(weigher)));
        self
    }

    /// Reports items in and out, depth, drops and time blocked on a full queue.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Builds the queue and returns its halves.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for a capacity of 0, watermarks outside `0 <= low < high <= 1`, a
    /// discipline with a zero target or interval, or a target not shorter than its interval, or
    /// a `max_weight` of 0 or above `u32::MAX` (4 GiB, were it bytes).
    pub fn build(self) -> Result<(Sender<T>, Receiver<T>), BuildError> {
        // The capacity first, as the channel would check it: the channel is built last, once
        // the state its probe reports to exists.
        if self.capacity == 0 {
            return Err(BuildError::Zero {
                setting: "capacity",
            });
        }
        self.discipline.check()?;
        let valid = self.low.is_finite()
            && self.high.is_finite()
            && 0.0 <= self.low
            && self.low < self.high
            && self.high <= 1.0;
        if !valid {
            return Err(BuildError::Invalid {
                setting: "watermarks",
                reason: format!(
                    "need 0 <= low < high <= 1, got high {} and low {}",
                    self.high, self.low
                ),
            });
        }
        let weights = self
            .weights
            .map(|(max, weigher)| Weights::new(max, weigher).map(Box::new))
            .transpose()?;
        let shared = Arc::new(Shared {
            capacity: std::sync::atomic::AtomicUsize::new(self.capacity),
            clock: Clock::new(self.discipline),
            counters: Counters::default(),
            marks: Watermarks::new(self.capacity, self.high, self.low),
            on_drop: self.on_drop,
            probe: self.probe,
            receivers: AtomicUsize::new(1),
            weights,
        });
        let depths = Depths {
            shared: Arc::clone(&shared),
            source: OnceLock::new(),
        };
        let (tx, rx) = channel::Builder::bounded(self.capacity)
            .probe(Arc::new(depths))
            .build::<Entry<T>>()?;
        // Only a queue that evicts by weight takes from its head on the senders' side.
        let head = (shared.weights.is_some() && self.overflow == Overflow::DropOldest)
            .then(|| rx.downgrade());
        if let Some(probe) = &shared.probe {
            probe.described(BlockKind::BoundedQueue, Some(self.capacity));
        }
        Ok((
            Sender::new(tx, self.overflow, Arc::clone(&shared), head),
            Receiver::new(rx, shared),
        ))
    }
}

impl<T> fmt::Debug for BoundedQueueBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedQueueBuilder")
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("discipline", &self.discipline)
            .field("high", &self.high)
            .field("low", &self.low)
            .field("drop_hook", &self.on_drop.is_some())
            .field("probe", &self.probe.is_some())
            .field("max_weight", &self.weights.as_ref().map(|(max, _)| max))
            .finish()
    }
}

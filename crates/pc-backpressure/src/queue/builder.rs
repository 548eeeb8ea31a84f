//! `BoundedQueue::builder`: capacity, policy, watermarks, hook and probe, checked at build time.

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

use pc_core::{BuildError, DropReason, SharedProbe, channel};

use super::receiver::Receiver;
use super::sender::Sender;
use super::shared::{Depths, DropHook, Shared};
use crate::discipline::{Clock, Discipline, Entry};
use crate::overflow::Overflow;
use crate::pressure::Watermarks;
use crate::stats::Counters;

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

    /// Reports items in and out, depth, drops and time blocked on a full queue.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Builds the queue and returns its halves.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for a capacity of 0, watermarks outside `0 <= low < high <= 1`, or a
    /// discipline with a zero target or interval, or a target not shorter than its interval.
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
        let shared = Arc::new(Shared {
            capacity: std::sync::atomic::AtomicUsize::new(self.capacity),
            clock: Clock::new(self.discipline),
            counters: Counters::default(),
            marks: Watermarks::new(self.capacity, self.high, self.low),
            on_drop: self.on_drop,
            probe: self.probe,
            receivers: AtomicUsize::new(1),
        });
        let depths = Depths {
            shared: Arc::clone(&shared),
            source: OnceLock::new(),
        };
        let (tx, rx) = channel::Builder::bounded(self.capacity)
            .probe(Arc::new(depths))
            .build::<Entry<T>>()?;
        Ok((
            Sender::new(tx, self.overflow, Arc::clone(&shared)),
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
            .finish()
    }
}

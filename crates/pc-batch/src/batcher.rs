//! `Batcher`: the settings, checked once, and the accumulator they drive.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pc_core::{BuildError, DropReason, SharedProbe, WaitKind};
use tokio::time::Instant;

/// Measures an item against [`BatcherBuilder::max_weight`].
pub(crate) type Weigher<T> = Arc<dyn Fn(&T) -> u64 + Send + Sync>;

/// The most item slots a batch reserves up front: a batch of `max_items` up to this never
/// grows, and a larger (or `usize::MAX`) one grows as items come instead of asking for memory
/// it may never use.
const PREALLOCATED: usize = 4096;

/// When a batch leaves: at `max_items`, at `max_weight`, or `linger` after its first item.
///
/// Built by [`Batcher::builder`]; cheap to clone. Use it with
/// [`BatchExt::batch`](crate::BatchExt::batch) on a stream, or
/// [`batch_consumer`](crate::batch_consumer) on any `Consumer`.
pub struct Batcher<T> {
    max_items: usize,
    linger: Duration,
    weight: Option<(u64, Weigher<T>)>,
    probe: Option<SharedProbe>,
}

impl<T> Clone for Batcher<T> {
    fn clone(&self) -> Self {
        Self {
            max_items: self.max_items,
            linger: self.linger,
            weight: self.weight.clone(),
            probe: self.probe.clone(),
        }
    }
}

impl<T> fmt::Debug for Batcher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("max_items", &self.max_items)
            .field("linger", &self.linger)
            .field("max_weight", &self.weight.as_ref().map(|(max, _)| max))
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

impl<T> Batcher<T> {
    /// Starts the settings: batches of at most `max_items`, each leaving at the latest
    /// `linger` after its first item arrived (a maximum age, not reset by later items).
    pub fn builder(max_items: usize, linger: Duration) -> BatcherBuilder<T> {
        BatcherBuilder {
            batcher: Batcher {
                max_items,
                linger,
                weight: None,
                probe: None,
            },
        }
    }

    /// The most items in one batch.
    pub fn max_items(&self) -> usize {
        self.max_items
    }

    /// The longest a batch waits after its first item.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// The same settings for items of type `U` that carry their weight already (read by
    /// `weight`), and the weigher that works it out, for the caller to run where a panic in it
    /// belongs to the one item weighed.
    pub(crate) fn weighed_ahead<U: 'static>(
        self,
        weight: fn(&U) -> u64,
    ) -> (Batcher<U>, Option<Weigher<T>>) {
        let (limit, weigher) = match self.weight {
            Some((max, weigher)) => {
                let read: Weigher<U> = Arc::new(weight);
                (Some((max, read)), Some(weigher))
            }
            None => (None, None),
        };
        let batcher = Batcher {
            max_items: self.max_items,
            linger: self.linger,
            weight: limit,
            probe: self.probe,
        };
        (batcher, weigher)
    }

    pub(crate) fn set_probe(&mut self, probe: SharedProbe) {
        self.probe = Some(probe);
    }

    /// The probe batches are reported to, if any.
    pub(crate) fn probe(&self) -> Option<&SharedProbe> {
        self.probe.as_ref()
    }
}

/// Settings for a [`Batcher`].
pub struct BatcherBuilder<T> {
    batcher: Batcher<T>,
}

impl<T> BatcherBuilder<T> {
    /// Also closes a batch before its total weight would pass `max_weight`, weighing each item
    /// with `weigher` (bytes, cost). An item heavier than `max_weight` forms a batch of its own.
    pub fn max_weight(
        mut self,
        max_weight: u64,
        weigher: impl Fn(&T) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.batcher.weight = Some((max_weight, Arc::new(weigher)));
        self
    }

    /// Reports to `probe`: each item taken (produced), each batch handed on (its items
    /// consumed, its size to [`Probe::batched`](pc_core::Probe::batched), and its age from the
    /// first item as a [`WaitKind::Linger`] wait). A
    /// [`BatchProcessor`](crate::BatchProcessor) also reports each batch's processing time and
    /// its failed items.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.batcher.probe = Some(probe);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] if `max_items`, `linger` or `max_weight` is zero.
    pub fn build(self) -> Result<Batcher<T>, BuildError> {
        let batcher = self.batcher;
        if batcher.max_items == 0 {
            return Err(BuildError::Zero {
                setting: "max_items",
            });
        }
        if batcher.linger.is_zero() {
            return Err(BuildError::Zero { setting: "linger" });
        }
        if let Some((0, _)) = batcher.weight {
            return Err(BuildError::Zero {
                setting: "max_weight",
            });
        }
        if let Some(probe) = &batcher.probe {
            probe.described(pc_core::BlockKind::Batcher, None);
        }
        Ok(batcher)
    }
}

impl<T> fmt::Debug for BatcherBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BatcherBuilder")
            .field(&self.batcher)
            .finish()
    }
}

/// What adding an item did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pushed {
    /// A batch opened and is still open: its linger starts now.
    pub(crate) opened: bool,
    /// A batch is ready to leave.
    pub(crate) ready: bool,
}

impl Pushed {
    const READY: Self = Self {
        opened: false,
        ready: true,
    };
}

/// The batch being filled, and the batches ready to leave.
///
/// With a probe, an item is produced when it is added, and consumed when its batch leaves
/// ([`next_ready`](Self::next_ready)); items still here when it is dropped are dropped
/// (`Closed`), so the probe never counts an item in flight that is gone.
pub(crate) struct Accumulator<T> {
    batcher: Batcher<T>,
    open: Vec<T>,
    weight: u64,
    ready: VecDeque<Vec<T>>,
    /// When the open batch took its first item; read only with a probe.
    opened_at: Option<Instant>,
}

impl<T> Accumulator<T> {
    pub(crate) fn new(batcher: Batcher<T>) -> Self {
        Self {
            open: Vec::with_capacity(batcher.max_items.min(PREALLOCATED)),
            batcher,
            weight: 0,
            ready: VecDeque::new(),
            opened_at: None,
        }
    }

    pub(crate) fn linger(&self) -> Duration {
        self.batcher.linger
    }

    /// Whether a batch is being filled.
    pub(crate) fn is_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Adds `item`, and says whether that opened a batch (its linger starts now) and whether
    /// a batch is ready to leave.
    #[inline(always)]
    pub(crate) fn push(&mut self, item: T) -> Pushed {
        let limit = (self.batcher.weight.as_ref()).map(|(max, weigher)| (*max, weigher(&item)));
        if let Some((max, weight)) = limit {
            return self.push_weighed(item, max, weight);
        }
        let opened = self.open.is_empty();
        if self.batcher.probe.is_some() {
            self.took_item(opened);
        }
        self.open.push(item);
        if self.open.len() >= self.batcher.max_items {
            self.close();
            return Pushed::READY;
        }
        Pushed {
            opened,
            ready: false,
        }
    }

    /// [`push`](Self::push) under a weight limit of `max`, for an item of `weight`. Kept out
    /// of line so the common path stays small enough to inline.
    #[inline(never)]
    fn push_weighed(&mut self, item: T, max: u64, weight: u64) -> Pushed {
        if weight > max {
            // Too heavy for any batch: it travels alone, after what came before it.
            self.close();
            if let Some(probe) = &self.batcher.probe {
                probe.produced(1);
            }
            self.ready.push_back(vec![item]);
            return Pushed::READY;
        }
        let mut ready = false;
        // `weight <= max` here, so `max - weight` cannot wrap: no sum that could overflow.
        if self.weight > max - weight {
            self.close();
            ready = true;
        }
        self.weight += weight;
        let opened = self.open.is_empty();
        if self.batcher.probe.is_some() {
            self.took_item(opened);
        }
        self.open.push(item);
        if self.open.len() >= self.batcher.max_items || self.weight == max {
            self.close();
            return Pushed::READY;
        }
        Pushed { opened, ready }
    }

    /// Moves the open batch, if any, to the ready ones.
    #[inline(never)]
    pub(crate) fn close(&mut self) {
        if !self.open.is_empty() {
            if let Some(probe) = &self.batcher.probe {
                // How long the batch took to fill; its items are counted when it leaves.
                let age = self
                    .opened_at
                    .take()
                    .map_or(Duration::ZERO, |at| at.elapsed());
                probe.waited(WaitKind::Linger, age);
            }
            let next = Vec::with_capacity(self.batcher.max_items.min(PREALLOCATED));
            self.ready
                .push_back(std::mem::replace(&mut self.open, next));
            self.weight = 0;
        }
    }

    /// Tells the probe an item was taken; the clock is read when it opens a batch.
    #[inline(never)]
    fn took_item(&mut self, opened: bool) {
        if let Some(probe) = &self.batcher.probe {
            probe.produced(1);
            if opened {
                self.opened_at = Some(Instant::now());
            }
        }
    }

    /// The next batch ready to leave, reported to the probe as it leaves.
    #[inline]
    pub(crate) fn next_ready(&mut self) -> Option<Vec<T>> {
        let batch = self.ready.pop_front()?;
        if let Some(probe) = &self.batcher.probe {
            report_leaving(probe, batch.len());
        }
        Some(batch)
    }
}

impl<T> Drop for Accumulator<T> {
    fn drop(&mut self) {
        if let Some(probe) = &self.batcher.probe {
            let held = self.open.len() + self.ready.iter().map(Vec::len).sum::<usize>();
            if held > 0 {
                probe.dropped(held as u64, DropReason::Closed);
            }
        }
    }
}

/// A batch of `len` items leaves: out of line, so that the loop that fills batches stays as
/// small without a probe as it was.
#[inline(never)]
fn report_leaving(probe: &SharedProbe, len: usize) {
    probe.consumed(len as u64);
    probe.batched(len);
}

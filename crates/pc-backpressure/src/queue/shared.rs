//! State shared by a queue's handles: counters, watermarks, drop hook, probe.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pc_core::probe::DepthSource;
use pc_core::task::Panic;
use pc_core::{DropReason, Probe, SharedProbe, WaitKind};

use crate::discipline::{Clock, Entry, Verdict};
use crate::pressure::Watermarks;
use crate::stats::{Channel, Counters, QueueStats};
use crate::weight::Weights;

/// Called with every item the queue discards, and why.
pub(crate) type DropHook<T> = Box<dyn Fn(T, DropReason) + Send + Sync>;

pub(crate) struct Shared<T> {
    /// The capacity now: [`Sender::set_capacity`](crate::Sender::set_capacity) changes it.
    pub(crate) capacity: AtomicUsize,
    /// The discipline, and the time it reads.
    pub(crate) clock: Clock,
    pub(crate) counters: Counters,
    pub(crate) marks: Watermarks,
    pub(crate) on_drop: Option<DropHook<T>>,
    pub(crate) probe: Option<SharedProbe>,
    /// User receivers alive; the last one to go closes the queue.
    pub(crate) receivers: AtomicUsize,
    /// The bound on the items' weight, if the queue has one (boxed: a queue without one
    /// keeps the layout of its hot fields).
    pub(crate) weights: Option<Box<Weights<T>>>,
}

impl<T> Shared<T> {
    /// After the queue changed, with the depth the channel computed under its lock for that
    /// change: the peak, and the pressure (which reads the depth again after any flip it makes).
    ///
    /// No fence is needed between a receive's pop and the pressure's read of its flag, as a
    /// lock-free depth would need: the depth is read under the channel's lock, so a sender that
    /// flips to `High` and then reads the depth again either sees a concurrent pop, or that pop
    /// took the lock after the read and so after the flip, and its own look at the flag sees it.
    pub(crate) fn observe(&self, depth: usize, reread: impl Fn() -> usize) {
        // A load first: the peak rarely moves, and an RMW on every item would cost more.
        if depth > self.counters.peak_depth.load(Ordering::Relaxed) {
            self.counters.peak_depth.fetch_max(depth, Ordering::Relaxed);
        }
        self.marks.observe(depth, reread);
    }

    /// Discards `item` on purpose: counted, reported, handed to the hook. A panic of the hook
    /// is caught and returned, for the caller to re-raise once the queue is in order.
    #[must_use = "a panic of the drop hook is re-raised by the caller"]
    pub(crate) fn drop_item(&self, item: T, reason: DropReason) -> Option<Panic> {
        let counter = match reason {
            DropReason::Oldest => &self.counters.dropped_oldest,
            DropReason::Expired => &self.counters.expired,
            DropReason::Closed => &self.counters.dropped_closed,
            _ => &self.counters.dropped_incoming,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(probe) = &self.probe {
            probe.dropped(1, reason);
        }
        let hook = self.on_drop.as_ref()?;
        catch_unwind(AssertUnwindSafe(|| hook(item, reason))).err()
    }
}

impl<T> Shared<T> {
    /// Hands out an entry taken at `now` (0: not read yet), or drops it as the discipline or
    /// its deadline says; `depth` reads the queue's length after the take, when needed.
    #[inline]
    pub(crate) fn admit(&self, entry: Entry<T>, now: u64, depth: impl Fn() -> usize) -> Option<T> {
        self.came_out(&entry);
        match self.clock.judge(&entry, now) {
            Verdict::Serve { sojourn } => {
                self.served(sojourn, depth);
                Some(entry.item)
            }
            Verdict::Expired => {
                self.clock.shed();
                raise(self.drop_item(entry.item, DropReason::Expired));
                None
            }
        }
    }
}

impl<T> Shared<T> {
    /// An entry came out of the channel (taken, evicted or drained): the weight it was charged
    /// is free again.
    #[inline]
    pub(crate) fn came_out(&self, entry: &Entry<T>) {
        if let Some(weights) = &self.weights {
            weights.came_out(&entry.item);
        }
    }

    /// What the queue has done so far, with what its channel reports.
    pub(crate) fn stats(&self, channel: Channel) -> QueueStats {
        let mut stats = self.counters.snapshot(channel);
        if let Some(weights) = &self.weights {
            stats.weight = weights.held_now();
            stats.waiting_producers += weights.waiting();
        }
        stats
    }

    /// The weight held now (0 without a `max_weight`).
    pub(crate) fn weight(&self) -> u64 {
        self.weights
            .as_ref()
            .map_or(0, |weights| weights.held_now())
    }

    /// Counts an item handed out, with its time in the queue when it was stamped; `depth`
    /// reads the queue's length, for the probe.
    #[inline]
    pub(crate) fn served(&self, sojourn: Option<Duration>, depth: impl Fn() -> usize) {
        // The pressure heard the change from the channel already.
        if let Some(probe) = &self.probe {
            probe.consumed(1);
            probe.depth(depth());
            if let Some(sojourn) = sojourn {
                probe.waited(WaitKind::Queue, sojourn);
            }
        }
    }

    /// Serving newest first under a standing queue with CoDel: drops the items at the head
    /// that waited past the target (or their deadline), since they would otherwise hold room
    /// until a receive reaches them. Every one reaches the drop hook; the first panic of the
    /// hook goes on after.
    pub(crate) fn shed_head(&self, rx: &pc_core::channel::Receiver<Entry<T>>, now: u64) {
        if self.clock.discipline.target().is_none() {
            return;
        }
        let mut stale = Vec::new();
        rx.try_recv_while(&mut stale, |entry| {
            matches!(self.clock.judge(entry, now), Verdict::Expired)
        });
        let mut panicked = None;
        for entry in stale {
            self.came_out(&entry);
            self.clock.shed();
            panicked = panicked.or(self.drop_item(entry.item, DropReason::Expired));
        }
        raise(panicked);
    }
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity.load(Ordering::Relaxed))
            .field("pressure", &self.marks.current())
            .field("drop_hook", &self.on_drop.is_some())
            .field("probe", &self.probe.is_some())
            .field("weights", &self.weights)
            .finish_non_exhaustive()
    }
}

/// The probe of the channel under a queue: it hears the depth of every change, computed under
/// the channel's lock, so the queue's peak and pressure cost no read of their own. It reports
/// nothing to the user's probe, which hears the queue's own counts.
pub(crate) struct Depths<T> {
    pub(crate) shared: Arc<Shared<T>>,
    /// The channel's length, read again after a change of pressure.
    pub(crate) source: OnceLock<Arc<dyn DepthSource>>,
}

impl<T: Send + 'static> Probe for Depths<T> {
    fn depth(&self, depth: usize) {
        self.shared.observe(depth, || {
            self.source
                .get()
                .and_then(|source| source.depth())
                .unwrap_or(depth)
        });
    }

    fn read_depth(&self, source: Arc<dyn DepthSource>) -> bool {
        // Kept for the reads again; declining asks the channel for a report on every change.
        let _ = self.source.set(source);
        false
    }
}

/// Re-raises a caught panic, if any.
pub(crate) fn raise(panic: Option<Panic>) {
    if let Some(panic) = panic {
        resume_unwind(panic);
    }
}

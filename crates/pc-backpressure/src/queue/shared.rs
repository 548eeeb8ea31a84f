//! State shared by a queue's handles: counters, watermarks, drop hook, probe.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use pc_core::task::Panic;
use pc_core::{DropReason, SharedProbe};

use crate::pressure::Watermarks;
use crate::stats::Counters;

/// Called with every item the queue discards, and why.
pub(crate) type DropHook<T> = Box<dyn Fn(T, DropReason) + Send + Sync>;

pub(crate) struct Shared<T> {
    pub(crate) capacity: usize,
    pub(crate) counters: Counters,
    pub(crate) marks: Watermarks,
    pub(crate) on_drop: Option<DropHook<T>>,
    pub(crate) probe: Option<SharedProbe>,
    /// User receivers alive; the last one to go closes the queue.
    pub(crate) receivers: AtomicUsize,
}

impl<T> Shared<T> {
    /// After an item went in: records the depth `read_depth` gives (peak, probe, pressure); the
    /// pressure reads it again after any change it makes.
    pub(crate) fn observe_in(&self, read_depth: impl Fn() -> usize) {
        let depth = read_depth();
        // A load first: the peak rarely moves, and an RMW on every item would cost more.
        if depth > self.counters.peak_depth.load(Ordering::Relaxed) {
            self.counters.peak_depth.fetch_max(depth, Ordering::Relaxed);
        }
        if let Some(probe) = &self.probe {
            probe.depth(depth);
        }
        self.marks.observe(depth, read_depth);
    }

    /// After an item went out: only a `High` pressure can change, and only the probe needs the
    /// depth otherwise, so the depth is read only then.
    pub(crate) fn observe_out(&self, depth: impl Fn() -> usize) {
        let high = self.marks.is_high();
        if !high && self.probe.is_none() {
            return;
        }
        let depth_now = depth();
        if let Some(probe) = &self.probe {
            probe.depth(depth_now);
        }
        if high {
            self.marks.observe(depth_now, depth);
        }
    }

    /// Discards `item` on purpose: counted, reported, handed to the hook. A panic of the hook
    /// is caught and returned, for the caller to re-raise once the queue is in order.
    #[must_use = "a panic of the drop hook is re-raised by the caller"]
    pub(crate) fn drop_item(&self, item: T, reason: DropReason) -> Option<Panic> {
        let counter = match reason {
            DropReason::Oldest => &self.counters.dropped_oldest,
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

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .field("pressure", &self.marks.current())
            .field("drop_hook", &self.on_drop.is_some())
            .field("probe", &self.probe.is_some())
            .finish_non_exhaustive()
    }
}

/// Re-raises a caught panic, if any.
pub(crate) fn raise(panic: Option<Panic>) {
    if let Some(panic) = panic {
        resume_unwind(panic);
    }
}

//! `Pressure`: how full the queue is, with hysteresis between two watermarks.

use tokio::sync::watch;

use crate::loom::{AtomicBool, Ordering, fence};

/// The queue's pressure, published through a [`watch`] so producers can await a change.
///
/// It becomes `High` when the depth reaches the high watermark and returns to `Normal` only
/// when the depth falls to the low one: between the two it keeps its last value, so a queue
/// hovering around one mark does not flap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Pressure {
    /// Below the high watermark since the depth last fell to the low one.
    #[default]
    Normal,
    /// At or above the high watermark, and not yet back down to the low one.
    High,
}

/// The watermarks as item counts, and the current state.
#[derive(Debug)]
pub(crate) struct Watermarks {
    high: usize,
    low: usize,
    is_high: AtomicBool,
    publish: watch::Sender<Pressure>,
}

impl Watermarks {
    pub(crate) fn new(high: usize, low: usize) -> Self {
        Self {
            high,
            low,
            is_high: AtomicBool::new(false),
            publish: watch::Sender::new(Pressure::Normal),
        }
    }

    /// Updates the state for `depth`, just observed, with `reread` to read the depth again.
    ///
    /// A depth read just before another thread moved the queue must not decide the state for
    /// good: after each change the depth is read again and the state corrected, until a read
    /// agrees with it. A `SeqCst` fence sits between a sender's flip and its second read, and
    /// between a receiver's pop and its read of the flag (`is_high`), so a receiver that pops
    /// and then finds `Normal` (and so leaves the state alone) cannot be missed as well by a
    /// sender that just set `High`: the sender's second read of the depth then sees that pop.
    pub(crate) fn observe(&self, depth: usize, reread: impl Fn() -> usize) {
        let mut depth_now = depth;
        loop {
            let is_high = self.is_high.load(Ordering::SeqCst);
            let flip = if is_high {
                depth_now <= self.low
            } else {
                depth_now >= self.high
            };
            if !flip {
                return;
            }
            if self
                .is_high
                .compare_exchange(is_high, !is_high, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                self.publish_state();
            }
            // Pairs with the fence in `is_high`: either this read sees a receiver's pop, or
            // that receiver sees the flag just set and observes the depth itself.
            fence(Ordering::SeqCst);
            depth_now = reread();
        }
    }

    /// Publishes the state as it is now: under the watch's own lock, so that of two threads
    /// that flipped it, the one publishing last publishes the latest state.
    fn publish_state(&self) {
        self.publish.send_if_modified(|published| {
            let now = if self.is_high.load(Ordering::SeqCst) {
                Pressure::High
            } else {
                Pressure::Normal
            };
            std::mem::replace(published, now) != now
        });
    }

    /// Whether the state is `High`, read after a fence that orders the caller's change to the
    /// queue (a pop) before it: see [`observe`](Self::observe).
    pub(crate) fn is_high(&self) -> bool {
        fence(Ordering::SeqCst);
        self.is_high.load(Ordering::SeqCst)
    }

    pub(crate) fn current(&self) -> Pressure {
        *self.publish.borrow()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Pressure> {
        self.publish.subscribe()
    }
}

#[cfg(all(test, loom))]
mod loom_pressure {
    use std::sync::Arc;

    use loom::thread;

    use super::{Pressure, Watermarks};
    use crate::loom::{AtomicUsize, Ordering};

    /// A sender that read depth 8 (the high mark) races a receiver that drains the queue to 0:
    /// whichever order their reads and flips take, the state and what the watch publishes end
    /// as the depth says (`Normal`). Marks 8 and 2; the depth is a loom atomic standing for the
    /// queue's (`SeqCst`, as concurrent-queue's length and pops are).
    #[test]
    fn loom_a_stale_depth_cannot_leave_the_pressure_high() {
        loom::model(|| {
            let marks = Arc::new(Watermarks::new(8, 2));
            let depth = Arc::new(AtomicUsize::new(8));
            let sender = {
                let (marks, depth) = (Arc::clone(&marks), Arc::clone(&depth));
                thread::spawn(move || marks.observe(8, || depth.load(Ordering::SeqCst)))
            };
            depth.store(0, Ordering::SeqCst);
            if marks.is_high() {
                marks.observe(0, || depth.load(Ordering::SeqCst));
            }
            sender.join().unwrap();
            assert!(!marks.is_high());
            assert_eq!(marks.current(), Pressure::Normal);
        });
    }
}

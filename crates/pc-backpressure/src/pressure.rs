//! `Pressure`: how full the queue is, with hysteresis between two watermarks.

use tokio::sync::watch;

use crate::loom::{AtomicBool, AtomicUsize, Ordering};

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
    /// The marks as fractions of the capacity, to place them again when it changes.
    fractions: (f64, f64),
    high: AtomicUsize,
    low: AtomicUsize,
    is_high: AtomicBool,
    publish: watch::Sender<Pressure>,
}

impl Watermarks {
    /// Marks at `high` and `low` (fractions, checked by the builder) of `capacity`.
    pub(crate) fn new(capacity: usize, high: f64, low: f64) -> Self {
        let (high_mark, low_mark) = place(capacity, high, low);
        Self {
            fractions: (high, low),
            high: AtomicUsize::new(high_mark),
            low: AtomicUsize::new(low_mark),
            is_high: AtomicBool::new(false),
            publish: watch::Sender::new(Pressure::Normal),
        }
    }

    /// Places the marks for a new capacity; the caller observes the depth after.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        let (high, low) = place(capacity, self.fractions.0, self.fractions.1);
        self.high.store(high, Ordering::SeqCst);
        self.low.store(low, Ordering::SeqCst);
    }

    /// Updates the state for `depth`, just observed, with `reread` to read the depth again.
    ///
    /// A depth read just before another thread moved the queue must not decide the state for
    /// good: after each change the depth is read again and the state corrected, until a read
    /// agrees with it. The depth is the channel's, read under its lock (the depth of each change
    /// is computed under it, and `reread` takes it), which orders the rest: a sender that flips
    /// and reads again either sees a receiver's pop, or the pop took the lock after that read,
    /// so after the flip, and the receiver's own look at the flag sees it and corrects it.
    pub(crate) fn observe(&self, depth: usize, reread: impl Fn() -> usize) {
        let mut depth_now = depth;
        loop {
            let is_high = self.is_high.load(Ordering::SeqCst);
            let flip = if is_high {
                depth_now <= self.low.load(Ordering::SeqCst)
            } else {
                depth_now >= self.high.load(Ordering::SeqCst)
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
            // Under the channel's lock: either this read sees a receiver's pop, or that pop
            // came after it, and so after the flip, which the receiver then sees.
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

    pub(crate) fn current(&self) -> Pressure {
        *self.publish.borrow()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Pressure> {
        self.publish.subscribe()
    }
}

/// The marks as item counts: high at least 1, low below it.
fn place(capacity: usize, high: f64, low: f64) -> (usize, usize) {
    let capacity = capacity as f64;
    let high = ((high * capacity).ceil() as usize).max(1);
    let low = (low * capacity).floor() as usize;
    (high, low.min(high - 1))
}

#[cfg(all(test, loom))]
mod loom_pressure {
    use std::sync::Arc;

    use loom::thread;

    use loom::sync::Mutex;

    use super::{Pressure, Watermarks};
    use crate::loom::Ordering;

    /// A sender that read depth 8 (the high mark) races a receiver that drains the queue to 0:
    /// whichever order their reads and flips take, the state and what the watch publishes end
    /// as the depth says (`Normal`). Marks 8 and 2; the depth sits behind a mutex, as the
    /// channel's does: each change computes it under the lock, and a read again takes it.
    #[test]
    fn loom_a_stale_depth_cannot_leave_the_pressure_high() {
        loom::model(|| {
            let marks = Arc::new(Watermarks::new(10, 0.8, 0.2));
            let depth = Arc::new(Mutex::new(8usize));
            let sender = {
                let (marks, depth) = (Arc::clone(&marks), Arc::clone(&depth));
                thread::spawn(move || marks.observe(8, || *depth.lock().unwrap()))
            };
            let popped = {
                let mut depth = depth.lock().unwrap();
                *depth = 0;
                *depth
            };
            marks.observe(popped, || *depth.lock().unwrap());
            sender.join().unwrap();
            assert!(!marks.is_high.load(Ordering::SeqCst));
            assert_eq!(marks.current(), Pressure::Normal);
        });
    }
}

//! `Pressure`: how full the queue is, with hysteresis between two watermarks.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

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

    /// Updates the state for a depth just observed.
    pub(crate) fn observe(&self, depth: usize) {
        let is_high = self.is_high.load(Ordering::Acquire);
        if !is_high && depth >= self.high {
            if self
                .is_high
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.publish.send_replace(Pressure::High);
            }
        } else if is_high
            && depth <= self.low
            && self
                .is_high
                .compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.publish.send_replace(Pressure::Normal);
        }
    }

    pub(crate) fn is_high(&self) -> bool {
        self.is_high.load(Ordering::Acquire)
    }

    pub(crate) fn current(&self) -> Pressure {
        *self.publish.borrow()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Pressure> {
        self.publish.subscribe()
    }
}

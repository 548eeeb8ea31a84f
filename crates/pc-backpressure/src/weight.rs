//! A bound on the sum of the queued items' weights, beside the bound on their count.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use pc_core::BuildError;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Weighs an item, e.g. its length in bytes.
pub(crate) type Weigher<T> = Box<dyn Fn(&T) -> u64 + Send + Sync>;

/// The largest bound: a charge is taken from tokio's semaphore in one piece, at most
/// `u32::MAX` permits.
pub(crate) const MAX_WEIGHT: u64 = u32::MAX as u64;

/// The weight a queue holds: each item is charged its weight from the send that places it
/// until a receive, an eviction or a drop takes it out (weighed again then: the weigher is a
/// function of the item's value), and a send waits (or applies its overflow policy) while its
/// item's weight is not free.
///
/// The free weight is a FIFO semaphore: a sender waiting for more weight than is free keeps
/// what frees meanwhile, so a newcomer never takes the weight an earlier sender waits for. An
/// item heavier than the bound is charged the whole bound: admitted once the queue holds no
/// weight, alone, rather than refused forever.
pub(crate) struct Weights<T> {
    weigher: Weigher<T>,
    max: u32,
    free: Semaphore,
    /// Charged to items in the channel and to sends placing theirs.
    held: AtomicUsize,
    /// Sends waiting for weight now.
    waiting: AtomicUsize,
}

impl<T> Weights<T> {
    /// A bound of `max`, checked as the builder's `max_weight`.
    pub(crate) fn new(max: u64, weigher: Weigher<T>) -> Result<Self, BuildError> {
        if max == 0 {
            return Err(BuildError::Zero {
                setting: "max_weight",
            });
        }
        let Ok(max) = u32::try_from(max) else {
            return Err(BuildError::Invalid {
                setting: "max_weight",
                reason: format!("at most {MAX_WEIGHT}, got {max}"),
            });
        };
        Ok(Self {
            weigher,
            max,
            free: Semaphore::new(max as usize),
            held: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
        })
    }

    /// The bound.
    pub(crate) fn max(&self) -> u64 {
        u64::from(self.max)
    }

    /// What the queue charges for `item`: its weight, or the whole bound for an item heavier
    /// than that. The weigher runs in the caller: its panic leaves the queue unchanged.
    pub(crate) fn charge(&self, item: &T) -> u32 {
        let weight = (self.weigher)(item);
        u32::try_from(weight).map_or(self.max, |weight| weight.min(self.max))
    }

    /// The weight `charge` if it is free now and no sender waits for weight ahead.
    pub(crate) fn try_take(&self, charge: u32) -> Option<Charge<'_>> {
        let permit = self.free.try_acquire_many(charge).ok()?;
        Some(self.charged(permit))
    }

    /// Waits, in arrival order, for the weight `charge`. Cancel safe: a wait that is dropped
    /// passes what it was given on to the next.
    pub(crate) async fn take(&self, charge: u32) -> Charge<'_> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        let permit = self
            .free
            .acquire_many(charge)
            .await
            .expect("the queue never closes its weight semaphore");
        self.charged(permit)
    }

    /// The weight `permit` took, counted as held until it is given back.
    fn charged<'a>(&'a self, permit: SemaphorePermit<'a>) -> Charge<'a> {
        self.held.fetch_add(permit.num_permits(), Ordering::Relaxed);
        Charge {
            permit: Some(permit),
            held: &self.held,
        }
    }

    /// `item` came out of the channel: the weight it was charged is free again. Out of line,
    /// so that a queue without a weight keeps the receive path it had.
    #[inline(never)]
    pub(crate) fn came_out(&self, item: &T) {
        let weight = self.charge(item) as usize;
        self.held.fetch_sub(weight, Ordering::Relaxed);
        self.free.add_permits(weight);
    }

    /// The weight held now: items in the queue, and sends placing theirs.
    pub(crate) fn held_now(&self) -> u64 {
        self.held.load(Ordering::Relaxed) as u64
    }

    /// Sends waiting for weight now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

impl<T> fmt::Debug for Weights<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Weights")
            .field("max", &self.max)
            .field("held", &self.held_now())
            .finish_non_exhaustive()
    }
}

/// Weight taken for one item on its way in: given back when dropped, unless the item went
/// into the channel ([`placed`](Self::placed)).
#[must_use = "the weight is given back at once when dropped"]
pub(crate) struct Charge<'a> {
    permit: Option<SemaphorePermit<'a>>,
    held: &'a AtomicUsize,
}

impl Charge<'_> {
    /// The item went into the channel: its weight is held until it comes out
    /// ([`Weights::came_out`]).
    pub(crate) fn placed(mut self) {
        if let Some(permit) = self.permit.take() {
            permit.forget();
        }
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.held.fetch_sub(permit.num_permits(), Ordering::Relaxed);
        }
    }
}

/// The item went into the channel, with the weight it holds, if the queue weighs its items.
pub(crate) fn placed(charge: Option<Charge<'_>>) {
    if let Some(charge) = charge {
        charge.placed();
    }
}

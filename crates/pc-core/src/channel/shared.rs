//! Slot accounting shared by every handle of one channel.
//!
//! async-channel has no reservations, so the channel keeps its own count of free slots: a sender
//! takes a slot before it pushes, a receiver gives one back after it pops. The queue underneath is
//! an async-channel of the same capacity, so a push made while holding a slot always fits.
//!
//! Closing has to respect reservations already handed out: `state` holds a CLOSED bit and the
//! number of outstanding permits, and the queue underneath is closed only once both say so.

use std::sync::atomic::{AtomicUsize, Ordering};

use event_listener::Event;

use crate::error::ReserveError;
use crate::probe::SharedProbe;

const CLOSED: usize = 1;
const ONE_PERMIT: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closing {
    /// The channel was already closed.
    AlreadyClosed,
    /// This call closed it; permits are still out, and the last one closes the queue.
    Deferred,
    /// This call closed it and no permit is out: close the queue now.
    Now,
}

pub(crate) struct Shared {
    /// `None` when unbounded.
    pub(crate) capacity: Option<usize>,
    /// Free slots; unused when unbounded.
    slots: AtomicUsize,
    /// CLOSED bit plus `ONE_PERMIT` per outstanding permit.
    state: AtomicUsize,
    /// Receiver handles alive; the last one to go closes the channel.
    receivers: AtomicUsize,
    /// Senders waiting for a free slot (or for the close that ends their wait).
    space: Event,
    pub(crate) probe: Option<SharedProbe>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("capacity", &self.capacity)
            .field("free_slots", &self.slots.load(Ordering::Relaxed))
            .field("closed", &self.is_closed())
            .field("probe", &self.probe.is_some())
            .finish()
    }
}

impl Shared {
    pub(crate) fn new(capacity: Option<usize>, probe: Option<SharedProbe>) -> Self {
        Self {
            capacity,
            slots: AtomicUsize::new(capacity.unwrap_or(0)),
            state: AtomicUsize::new(0),
            receivers: AtomicUsize::new(1),
            space: Event::new(),
            probe,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Takes a free slot if there is one.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        if self.capacity.is_none() {
            return true;
        }
        let mut free = self.slots.load(Ordering::Relaxed);
        loop {
            if free == 0 {
                return false;
            }
            // Acquire pairs with the Release in `release`: the pop that freed this slot is
            // complete, so the queue has room for our push.
            match self.slots.compare_exchange_weak(
                free,
                free - 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => free = now,
            }
        }
    }

    /// Waits for a free slot and takes it.
    ///
    /// Cancel safe: a slot is taken only in the poll that returns `Ok`. A wake-up that arrives
    /// for a future dropped before it used it is passed on to another waiter by event-listener.
    pub(crate) async fn acquire(&self) -> Result<(), ReserveError> {
        loop {
            if self.is_closed() {
                return Err(ReserveError);
            }
            if self.try_acquire() {
                return Ok(());
            }
            let listener = self.space.listen();
            // Check again now that we are registered, so a release between the first check and
            // `listen` is not missed.
            if self.is_closed() {
                return Err(ReserveError);
            }
            if self.try_acquire() {
                return Ok(());
            }
            listener.await;
        }
    }

    /// Gives `n` slots back and wakes as many waiting senders.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if self.capacity.is_none() || n == 0 {
            return;
        }
        self.slots.fetch_add(n, Ordering::Release);
        // `additional`: each freed slot wakes one more sender, even if earlier wake-ups have not
        // been acted on yet.
        self.space.notify_additional(n);
    }

    /// Counts a new permit and returns whether the channel was still open. When it was closed
    /// the permit is counted all the same, and the caller must retire it with `remove_permit`
    /// (which may be the call that has to close the queue).
    pub(crate) fn add_permit(&self) -> bool {
        self.state.fetch_add(ONE_PERMIT, Ordering::AcqRel) & CLOSED == 0
    }

    /// Retires a permit; returns `true` if the queue must be closed now (it was the last permit
    /// of a closed channel).
    pub(crate) fn remove_permit(&self) -> bool {
        let before = self.state.fetch_sub(ONE_PERMIT, Ordering::AcqRel);
        before == CLOSED | ONE_PERMIT
    }

    /// Marks the channel closed and wakes every waiting sender.
    pub(crate) fn close(&self) -> Closing {
        let before = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if before & CLOSED != 0 {
            return Closing::AlreadyClosed;
        }
        self.space.notify(usize::MAX);
        if before == 0 {
            Closing::Now
        } else {
            Closing::Deferred
        }
    }

    pub(crate) fn add_receiver(&self) {
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns `true` if that was the last receiver.
    pub(crate) fn remove_receiver(&self) -> bool {
        self.receivers.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

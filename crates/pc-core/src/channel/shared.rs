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
    /// Senders in `acquire`'s slow path. Receivers skip `space.notify` (which always takes the
    /// listener lock) while it is 0.
    waiting: AtomicUsize,
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
            waiting: AtomicUsize::new(0),
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
        if self.is_closed() {
            return Err(ReserveError);
        }
        if self.try_acquire() {
            return Ok(());
        }
        let _waiting = WaitingGuard::enter(&self.waiting);
        loop {
            let listener = self.space.listen();
            // Registered as waiting (SeqCst) before this SeqCst re-check: either a receiver's
            // release is visible here, or that receiver sees us waiting and notifies.
            if self.is_closed() {
                return Err(ReserveError);
            }
            if self.try_acquire_after_listen() {
                return Ok(());
            }
            listener.await;
            if self.try_acquire() {
                return Ok(());
            }
        }
    }

    /// `try_acquire` for the slow path, ordered against `release` (see `acquire`).
    fn try_acquire_after_listen(&self) -> bool {
        self.slots.load(Ordering::SeqCst) > 0 && self.try_acquire()
    }

    /// Gives `n` slots back and makes sure a waiting sender is awake to take them.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if self.capacity.is_none() || n == 0 {
            return;
        }
        self.slots.fetch_add(n, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        // `additional`: each freed slot wakes one more sender, so a sender that was woken but
        // is never polled again (kept alive, abandoned) cannot hold the others asleep.
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

/// Counts a sender as waiting for as long as it is in `acquire`'s slow path, cancelled or not.
struct WaitingGuard<'a>(&'a AtomicUsize);

impl<'a> WaitingGuard<'a> {
    fn enter(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Self(waiting)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

//! The state every handle of one channel shares, and the waiting protocol.
//!
//! The queue is a `concurrent-queue` (the lock-free queue under async-channel), with wake-ups
//! from `event-listener`, both from smol-rs. On top of them the channel keeps its own count of
//! free slots: a sender takes a slot before it pushes and a receiver gives one back after it
//! pops. That count is what lets a [`Permit`](super::Permit) hold a slot across an await, which
//! async-channel cannot do. The queue underneath has the same capacity (or, above
//! [`PREALLOCATED_MAX`], no bound of its own), so a push made while holding a slot always fits.
//!
//! Closing has to respect reservations already handed out: `state` holds a CLOSED bit and the
//! number of outstanding permits, and the queue is closed only once the bit is set and no
//! permit is out.
//!
//! # Waking without a lock per item
//!
//! `Event::notify` takes the listener lock on every call, so each side counts its waiters in a
//! [`Signal`] and skips `notify` while nobody waits. A waiter registers (`waiting += 1`, then
//! `listen`) and only then looks at the channel again; a notifier changes the channel and only
//! then reads `waiting`. One of them must see the other, and two pairings make sure of it:
//!
//! - Items (receivers waiting for a push): the push happens inside the queue, so both sides
//!   issue a `SeqCst` fence between their write and their read ([`Signal::notify_fenced`]).
//! - Space (senders waiting for a slot): the receiver frees slots with an RMW on `freed`, and a
//!   waiting sender re-reads `freed` with an RMW too. RMWs on one location are totally ordered,
//!   so either the sender's read comes after the free and sees it, or the free reads from the
//!   sender's RMW, synchronizes with it, and then sees the sender's registration
//!   ([`Signal::notify_paired`]). No fence on the receive path.
//!
//! The loom models in `tests/loom_channel.rs` check both pairings under every interleaving.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use concurrent_queue::ConcurrentQueue;
use crossbeam_utils::CachePadded;
use event_listener::{Event, EventListener};

use crate::loom::{AtomicUsize, Ordering, fence};
use crate::probe::SharedProbe;

const CLOSED: usize = 1;
const ONE_PERMIT: usize = 2;

pub(crate) struct Chan<T> {
    pub(crate) queue: ConcurrentQueue<T>,
    /// `None` when unbounded.
    pub(crate) capacity: Option<usize>,
    /// Slot accounting, unused when unbounded: see [`Slots`].
    slots: Slots,
    /// CLOSED bit plus `ONE_PERMIT` per outstanding permit.
    state: AtomicUsize,
    /// Slots taken and then given back without an item (a permit dropped unused, a push into a
    /// closed queue): rare, so unpadded. Lets `counts` tell items from slots.
    unused: AtomicUsize,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Receivers waiting for an item (or for the close that ends their wait). Read by every
    /// send, written when a receiver parks: a cache line of its own.
    pub(crate) items: CachePadded<Signal>,
    /// Senders waiting for a free slot (or for the close that ends their wait). Read by every
    /// receive, written when a sender parks: a cache line of its own.
    pub(crate) space: CachePadded<Signal>,
    pub(crate) probe: Option<SharedProbe>,
    /// The probe wants `depth` reports on every change (it declined to read the depth itself).
    pub(crate) report_depth: bool,
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chan")
            .field("len", &self.queue.len())
            .field("capacity", &self.capacity)
            .field("closed", &self.is_closed())
            .field("probe", &self.probe.is_some())
            .finish_non_exhaustive()
    }
}

// A panic while a handle is borrowed (in a probe, in an item's `Drop`) leaves no broken
// invariant behind: every change to the shared state is one atomic step or is undone by a guard,
// and items are only moved, never observed. So the handles may cross `catch_unwind`, as tokio's
// do, whatever the probe is.
impl<T> std::panic::UnwindSafe for Chan<T> {}
impl<T> std::panic::RefUnwindSafe for Chan<T> {}

/// The largest capacity whose slots the queue allocates up front (a megabyte for 8-byte
/// items); beyond it the queue grows in segments and the slot count alone keeps the bound.
pub(crate) const PREALLOCATED_MAX: usize = 1 << 16;

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        self.drop_queued();
    }
}

impl<T> Chan<T> {
    pub(crate) fn new(
        capacity: Option<usize>,
        probe: Option<SharedProbe>,
        report_depth: bool,
    ) -> Self {
        let queue = match capacity {
            Some(capacity) if capacity <= PREALLOCATED_MAX => ConcurrentQueue::bounded(capacity),
            // A larger bound is kept by the slot count alone, over a queue that grows as items
            // come: `usize::MAX` must not ask for that many slots up front.
            _ => ConcurrentQueue::unbounded(),
        };
        Self {
            queue,
            capacity,
            slots: Slots::default(),
            state: AtomicUsize::new(0),
            unused: AtomicUsize::new(0),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            items: CachePadded::default(),
            space: CachePadded::default(),
            probe,
            report_depth,
        }
    }

    /// Whether `close` was called or a side is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Takes a free slot if there is one.
    #[inline]
    pub(crate) fn try_acquire(&self) -> bool {
        match self.capacity {
            None => true,
            Some(capacity) => self.slots.try_take(capacity),
        }
    }

    /// Polls for a free slot, registering `waiter` to be woken when one may be free.
    ///
    /// `Ready(true)`: a slot is held. `Ready(false)`: the channel is closed.
    pub(crate) fn poll_acquire(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            if self.is_closed() {
                waiter.cancel(&self.space);
                return Poll::Ready(false);
            }
            if self.try_acquire() {
                waiter.cancel(&self.space);
                return Poll::Ready(true);
            }
            ready!(waiter.poll(&self.space, cx));
        }
    }

    /// Gives back a slot taken for an item that did not go in.
    pub(crate) fn release_unused(&self) {
        if self.capacity.is_some() {
            self.unused.fetch_add(1, Ordering::Relaxed);
        }
        self.release(1);
    }

    /// Items sent and received so far, from the slot counts (bounded channels only).
    pub(crate) fn counts(&self) -> Option<(u64, u64)> {
        self.capacity?;
        let unused = self.unused.load(Ordering::Acquire);
        let (taken, freed) = self.slots.totals();
        Some((
            taken.wrapping_sub(unused) as u64,
            freed.wrapping_sub(unused) as u64,
        ))
    }

    /// Gives `n` slots back and wakes as many waiting senders.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        if self.capacity.is_none() || n == 0 {
            return;
        }
        self.slots.give_back(n);
        self.space.notify_paired(n);
    }

    /// Counts a new permit and returns whether the channel was still open. When it was closed
    /// the permit is counted all the same, and the caller must retire it with `retire_permit`.
    pub(crate) fn add_permit(&self) -> bool {
        self.state.fetch_add(ONE_PERMIT, Ordering::AcqRel) & CLOSED == 0
    }

    /// Retires a permit, closing the queue if it was the last one out after a close.
    pub(crate) fn retire_permit(&self) {
        if self.state.fetch_sub(ONE_PERMIT, Ordering::AcqRel) == CLOSED | ONE_PERMIT {
            self.close_queue();
        }
    }

    /// Closes the channel: sends and reservations fail from now on and waiting senders wake;
    /// the queue itself closes once no permit is out. Returns `true` if this call closed it.
    pub(crate) fn close(&self) -> bool {
        let before = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if before & CLOSED != 0 {
            return false;
        }
        self.space.notify_all();
        if before == 0 {
            // No permit out: close the queue now. Otherwise the last permit does it.
            self.close_queue();
        }
        true
    }

    /// Closes the channel and the queue at once, permits or not: the last receiver is gone, so
    /// nothing sent from now on could ever be received.
    pub(crate) fn close_for_good(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.close_queue();
    }

    /// Closes the queue: receivers drain it, then see the close.
    fn close_queue(&self) {
        self.queue.close();
        self.items.notify_all();
        self.space.notify_all();
    }

    /// Drops every item left in the queue. An item whose `Drop` panics does not leak the
    /// items behind it: they are dropped while the panic unwinds (a second panic aborts, as in
    /// a `Vec`).
    pub(crate) fn drop_queued(&self) {
        struct DropOnUnwind<'a, T>(&'a ConcurrentQueue<T>);
        impl<T> Drop for DropOnUnwind<'_, T> {
            fn drop(&mut self) {
                while let Ok(item) = self.0.pop() {
                    drop(item);
                }
            }
        }
        let rest = DropOnUnwind(&self.queue);
        while let Ok(item) = self.queue.pop() {
            drop(item);
        }
        drop(rest);
    }

    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns `true` if that was the last sender.
    pub(crate) fn remove_sender(&self) -> bool {
        self.senders.fetch_sub(1, Ordering::AcqRel) == 1
    }

    pub(crate) fn add_receiver(&self) {
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns `true` if that was the last receiver.
    pub(crate) fn remove_receiver(&self) -> bool {
        self.receivers.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// The free-slot count, split by side so that producers and consumers on different cores do
/// not pass one cache line back and forth on every item.
///
/// Senders count the slots they take (`taken`), receivers the slots they give back (`freed`);
/// free = capacity - (taken - freed), in wrapping arithmetic. Senders read `freed` only when
/// their cached copy (`freed_seen`, on the senders' line) says the channel is full: the cached
/// copy is never ahead of `freed`, so a stale one can only make a sender look again, never
/// take a slot that is not free.
#[derive(Debug, Default)]
struct Slots {
    /// Written by senders.
    senders: CachePadded<SenderCounts>,
    /// Slots ever given back; written by receivers (and by senders returning a slot they could
    /// not use).
    freed: CachePadded<AtomicUsize>,
}

#[derive(Debug, Default)]
struct SenderCounts {
    /// Slots ever taken.
    taken: AtomicUsize,
    /// The last value of `Slots::freed` a sender read; never ahead of it.
    freed_seen: AtomicUsize,
}

impl Slots {
    #[inline]
    fn try_take(&self, capacity: usize) -> bool {
        let SenderCounts { taken, freed_seen } = &*self.senders;
        let mut now_taken = taken.load(Ordering::Relaxed);
        loop {
            // Acquire: a slot granted off the cached count must see the pop that freed it,
            // through the sender that read `freed` and stored it here with Release.
            if now_taken.wrapping_sub(freed_seen.load(Ordering::Acquire)) >= capacity {
                // Full as far as we know: look at the receivers' count. `taken` is read again
                // after it, so it cannot be older than the takes behind the frees we saw.
                // An RMW, not a load: it pairs with `give_back` (see the module docs on space).
                let freed = self.freed.fetch_add(0, Ordering::AcqRel);
                now_taken = taken.load(Ordering::SeqCst);
                if now_taken.wrapping_sub(freed) >= capacity {
                    return false;
                }
                freed_seen.store(freed, Ordering::Release);
            }
            // SeqCst pairs with `give_back`: the pop that freed this slot is complete, so the
            // queue has room for our push.
            match taken.compare_exchange_weak(
                now_taken,
                now_taken.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => now_taken = actual,
            }
        }
    }

    /// Slots ever taken and ever given back.
    fn totals(&self) -> (usize, usize) {
        // Freed first: a slot is taken before it is freed, so taken is never behind it.
        let freed = self.freed.load(Ordering::Acquire);
        (self.senders.taken.load(Ordering::Acquire), freed)
    }

    #[inline]
    fn give_back(&self, n: usize) {
        self.freed.fetch_add(n, Ordering::AcqRel);
    }
}

/// Two events plus a count of the tasks waiting on each, so notifiers can skip the listener
/// locks while nobody waits.
///
/// Waits inside one future (`recv`, `send`, `reserve`) queue on `event` and each notification
/// wakes one of them: a future that is dropped passes an unused notification on. Registrations
/// that live in a handle (a `Receiver` polled as a `Stream`, a `SendSink` waiting in
/// `poll_ready`) may stop being polled while the handle lives, so they must never take a
/// notification from a real waiter: they listen on `handles`, which every notification wakes
/// in full. A handle that stops polling then costs a spurious wake-up, never a lost one.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    event: Event,
    waiting: AtomicUsize,
    handles: Event,
    handles_waiting: AtomicUsize,
}

impl Signal {
    /// Wakes `n` more waiters, if anyone waits, after a change made by a plain write (a push
    /// into the queue). The fence pairs with the one in [`Waiter::poll`].
    #[inline]
    pub(crate) fn notify_fenced(&self, n: usize) {
        fence(Ordering::SeqCst);
        self.notify_paired(n);
    }

    /// Wakes `n` more waiters, if anyone waits, after a change made by an RMW that waiters
    /// re-read with an RMW (freeing slots; see the module docs).
    #[inline]
    pub(crate) fn notify_paired(&self, n: usize) {
        if self.waiting.load(Ordering::Acquire) > 0 {
            // `additional`: each notification wakes one more waiter, even while earlier ones
            // have not run yet, so a waiter that is woken but never polled again cannot hold
            // the others asleep.
            self.event.notify_additional(n);
        }
        if self.handles_waiting.load(Ordering::Acquire) > 0 {
            self.handles.notify(usize::MAX);
        }
    }

    /// Tasks waiting now, in futures and in handles.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed) + self.handles_waiting.load(Ordering::Relaxed)
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        self.event.notify(usize::MAX);
        self.handles.notify(usize::MAX);
    }

    fn queue(&self, kind: WaiterKind) -> (&Event, &AtomicUsize) {
        match kind {
            WaiterKind::Queued => (&self.event, &self.waiting),
            WaiterKind::WakeOnly => (&self.handles, &self.handles_waiting),
        }
    }
}

/// How a [`Waiter`] takes part in its signal's notifications.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum WaiterKind {
    /// One notification wakes one queued waiter (a wait inside one future).
    #[default]
    Queued,
    /// Woken by every notification, never counted as having taken one (a wait kept in a
    /// handle, which may stop being polled while it lives).
    WakeOnly,
}

/// One task's place in a [`Signal`]'s queue of waiters.
///
/// `poll` registers on the first call (and returns `Ready` so that the caller checks again
/// before sleeping), then waits for a notification. Whoever owns a `Waiter` calls `cancel`
/// when done or dropped, so the signal's count stays exact.
#[derive(Debug, Default)]
pub(crate) struct Waiter {
    listener: Option<EventListener>,
    kind: WaiterKind,
}

impl Waiter {
    /// A waiter for a registration kept in a handle: see [`Signal`].
    pub(crate) fn in_handle() -> Self {
        Self {
            listener: None,
            kind: WaiterKind::WakeOnly,
        }
    }

    pub(crate) fn poll(&mut self, signal: &Signal, cx: &mut Context<'_>) -> Poll<()> {
        let (event, waiting) = signal.queue(self.kind);
        match &mut self.listener {
            None => {
                waiting.fetch_add(1, Ordering::SeqCst);
                self.listener = Some(event.listen());
                // Orders the registration before the caller's next look at the queue.
                fence(Ordering::SeqCst);
                Poll::Ready(())
            }
            Some(listener) => {
                ready!(Pin::new(listener).poll(cx));
                self.listener = None;
                waiting.fetch_sub(1, Ordering::SeqCst);
                Poll::Ready(())
            }
        }
    }

    /// Leaves the queue of waiters. A notification this waiter received but did not use is
    /// passed on to another waiter by event-listener.
    pub(crate) fn cancel(&mut self, signal: &Signal) {
        if self.listener.take().is_some() {
            signal.queue(self.kind).1.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A [`Waiter`] that leaves its signal's queue when dropped, for waits inside one future.
#[derive(Debug)]
pub(crate) struct ScopedWaiter<'a> {
    pub(crate) signal: &'a Signal,
    pub(crate) waiter: Waiter,
}

impl<'a> ScopedWaiter<'a> {
    pub(crate) fn new(signal: &'a Signal) -> Self {
        Self {
            signal,
            waiter: Waiter::default(),
        }
    }
}

impl Drop for ScopedWaiter<'_> {
    fn drop(&mut self) {
        self.waiter.cancel(self.signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots_at(start: usize) -> Slots {
        let slots = Slots::default();
        slots.senders.taken.store(start, Ordering::Relaxed);
        slots.senders.freed_seen.store(start, Ordering::Relaxed);
        slots.freed.store(start, Ordering::Relaxed);
        slots
    }

    #[test]
    fn takes_exactly_the_capacity_then_what_is_given_back() {
        for start in [0, usize::MAX - 2] {
            let slots = slots_at(start);
            assert!((0..3).all(|_| slots.try_take(3)), "start {start}");
            assert!(!slots.try_take(3), "full at start {start}");
            slots.give_back(2);
            assert!(slots.try_take(3) && slots.try_take(3));
            assert!(!slots.try_take(3));
        }
    }

    #[test]
    fn a_stale_view_of_freed_only_makes_a_sender_look_again() {
        let slots = slots_at(0);
        assert!(slots.try_take(1));
        slots.give_back(1);
        // The cached view is behind the real count: the sender refreshes it and takes the slot.
        assert_eq!(slots.senders.freed_seen.load(Ordering::Relaxed), 0);
        assert!(slots.try_take(1));
        assert_eq!(slots.senders.freed_seen.load(Ordering::Relaxed), 1);
        assert!(!slots.try_take(1));
    }
}

/// The slot accounting alone, under loom, with the queue's slots as cells that loom watches for
/// unsynchronized access: a sender that takes a slot writes its cell, which must happen after
/// the pop that emptied it.
#[cfg(all(test, loom))]
mod loom_slots {
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::Slots;

    /// Capacity 2, both slots full. The receiver pops both (a batch) and frees them at once;
    /// two senders take a slot each, sender `i` then writing cell `i`. One sender may take its
    /// slot off the view of freed slots that the other refreshed: with that view read or
    /// written `Relaxed`, loom finds the write racing the pop (the defect of a slot granted with
    /// no happens-before edge to the pop that freed it).
    #[test]
    fn loom_a_slot_taken_off_the_cached_view_comes_after_its_pop() {
        loom::model(|| {
            let slots = Arc::new(Slots::default());
            assert!(slots.try_take(2) && slots.try_take(2));
            let cells = Arc::new([UnsafeCell::new(1u32), UnsafeCell::new(2u32)]);
            let senders: Vec<_> = (0..2)
                .map(|i| {
                    let (slots, cells) = (Arc::clone(&slots), Arc::clone(&cells));
                    thread::spawn(move || {
                        if slots.try_take(2) {
                            cells[i].with_mut(touch);
                        }
                    })
                })
                .collect();
            for cell in cells.iter() {
                cell.with_mut(touch);
            }
            slots.give_back(2);
            for sender in senders {
                sender.join().unwrap();
            }
        });
    }

    /// A write access to a slot. Loom checks it for races in `with_mut` itself; writing through
    /// the pointer would need `unsafe`, which this crate forbids, and adds nothing to the check.
    fn touch(slot: *mut u32) {
        let _ = slot;
    }
}

//! The state every handle of one channel shares, and its transitions.
//!
//! # One lock, direct hand-off, wake after unlock
//!
//! All of a channel's state sits behind one [`Lock`]: the queued items, the parked operations
//! in FIFO lists, and the counts. Every operation is one critical section that moves the state
//! from one consistent shape to the next and collects the wakers to wake; they are woken after
//! the unlock, and no user code (an item's `Drop`, a probe) runs under the lock.
//!
//! Parked operations live in a slab of reused slots ([`Slot`]), linked into FIFO lists, so the
//! steady state allocates nothing per wait. An operation that parks keeps its slot's key and
//! is the only one to free it: when it completes, or when its future is dropped.
//!
//! Hand-off is direct: a send that finds a parked receiver puts its item into that receiver's
//! slot, which the receiver takes without looking at the queue; a receive that frees space
//! grants it to the first parked send or reservation, which places its item when it runs (the
//! item stays in the send's future until then, so a send that is dropped never went in). A
//! newcomer never takes what a parked operation is owed, since these invariants hold after
//! every transition:
//!
//! - receivers are parked only while no item is queued;
//! - the first parked sender or reservation is parked only while fewer slots are free than it
//!   asks for (one, or `n` for `reserve_many`), and the channel is open: a close wakes them all
//!   to fail;
//!
//! # Capacity
//!
//! Space taken = queued items + slots granted to permits + items handed to parked receivers
//! and not yet taken, and it never exceeds the capacity. A receive cancelled after it was
//! handed its item puts the item back at the head of the queue (or hands it to the next parked
//! receiver), so the count does not change and `len() <= capacity` holds throughout.
//!
//! # Closing
//!
//! After a close, sends and reservations fail; parked ones are woken to fail; receivers drain
//! the queue and wait for the permits granted before the close, and then see the close. When
//! the last receiver goes, the queue is emptied at once (`disconnect`).
//!
//! # Handles
//!
//! A registration kept in a handle (a `Receiver` polled as a `Stream`, a `SendSink` waiting in
//! `poll_ready`) may stop being polled while the handle lives, so it is never handed an item or
//! a slot: it *watches*. Watchers are woken by every change that may let them go on, and count
//! as nobody's wake-up; an idle one costs a spurious wake-up, never a lost one.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Context, Waker};

use crate::loom::{AtomicUsize, Ordering};
use crate::probe::SharedProbe;
use crate::sync::{Lock, LockGuard};

/// The end of a list.
const NIL: usize = usize::MAX;

pub(crate) struct Chan<T> {
    state: Lock<State<T>>,
    /// Whether the channel has a capacity.
    bounded: bool,
    /// The capacity now (`usize::MAX` when unbounded), read without the lock; the state's own
    /// copy decides.
    capacity: AtomicUsize,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    pub(crate) probe: Option<SharedProbe>,
    /// The probe wants `depth` reports on every change (it declined to read the depth itself).
    pub(crate) report_depth: bool,
}

// A panic while a handle is borrowed (in a probe, in an item's `Drop`) leaves no broken
// invariant behind: user code never runs under the lock, and items are only moved, never
// observed. So the handles may cross `catch_unwind`, as tokio's do, whatever the probe is.
impl<T> std::panic::UnwindSafe for Chan<T> {}
impl<T> std::panic::RefUnwindSafe for Chan<T> {}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Chan")
            .field("len", &state.items.len())
            .field("capacity", &self.capacity())
            .field("closed", &state.closed)
            .field("probe", &self.probe.is_some())
            .finish_non_exhaustive()
    }
}

/// What a receive found.
pub(crate) enum Received<T> {
    Item(T),
    Empty,
    Closed,
}

/// What a wait for a place (a send's or a reservation's) found.
pub(crate) enum Placed {
    /// The place is taken: the item went in, or a slot is granted.
    Yes,
    /// Parked (or still parked) in the senders' list.
    Waiting,
    /// The channel is closed.
    Closed,
}

/// Why an item could not be placed without waiting.
pub(crate) enum Refused<T> {
    Full(T),
    Closed(T),
}

/// Items a transition took out of the channel, for the caller to drop after the unlock.
pub(crate) type Stranded<T> = VecDeque<T>;

impl<T> Chan<T> {
    pub(crate) fn new(
        capacity: Option<usize>,
        probe: Option<SharedProbe>,
        report_depth: bool,
    ) -> Self {
        if let Some(probe) = &probe {
            probe.described(crate::probe::BlockKind::Channel, capacity);
        }
        Self {
            state: Lock::new(State::new(capacity)),
            bounded: capacity.is_some(),
            capacity: AtomicUsize::new(capacity.unwrap_or(usize::MAX)),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            probe,
            report_depth,
        }
    }

    // ----- reading -----

    /// Items in the channel: queued, or handed to a parked receive that has not taken it yet.
    pub(crate) fn len(&self) -> usize {
        self.state.lock().len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Closed, nothing queued and no permit out: every receive ends.
    pub(crate) fn is_drained(&self) -> bool {
        self.state.lock().drained()
    }

    /// Whether no slot is free: a send now would wait (never, unbounded).
    pub(crate) fn is_full(&self) -> bool {
        !self.state.lock().has_space()
    }

    /// Live `Sender`s (a `SendSink` holds one; weak senders do not count).
    pub(crate) fn sender_count(&self) -> usize {
        self.senders.load(Ordering::Acquire)
    }

    /// Live `Receiver`s (weak receivers do not count).
    pub(crate) fn receiver_count(&self) -> usize {
        self.receivers.load(Ordering::Acquire)
    }

    /// Senders and reservations parked, and sinks watching for space.
    pub(crate) fn waiting_senders(&self) -> usize {
        let state = self.state.lock();
        state.senders.len + state.send_watchers.len
    }

    /// Receives parked, and streams watching for items.
    pub(crate) fn waiting_receivers(&self) -> usize {
        let state = self.state.lock();
        state.receivers.len + state.recv_watchers.len
    }

    /// The capacity now, or `None` when unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.bounded.then(|| self.capacity.load(Ordering::Relaxed))
    }

    /// Sets the capacity of a bounded channel: room it adds goes to the parked senders at
    /// once, in order; room it takes away is never made by dropping items, and sends wait
    /// until the excess has drained. A reservation parked for more slots than the new
    /// capacity is granted once it is alone in the channel.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        debug_assert!(self.bounded && capacity > 0);
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        state.capacity = capacity;
        self.capacity.store(capacity, Ordering::Relaxed);
        if !state.closed {
            state.serve_senders(&mut wakes);
        }
        drop(state);
        wakes.wake();
        if let Some(probe) = &self.probe {
            probe.described(crate::probe::BlockKind::Channel, Some(capacity));
        }
    }

    /// Items sent and received so far (bounded channels only).
    pub(crate) fn counts(&self) -> Option<(u64, u64)> {
        self.capacity()?;
        let state = self.state.lock();
        Some((state.sent(), state.received))
    }

    // ----- receiving -----

    /// Takes the head of the queue, if any.
    #[inline]
    pub(crate) fn try_recv(&self) -> Received<T> {
        self.try_take(VecDeque::pop_front)
    }

    /// Takes the tail of the queue, the item sent last, if any.
    pub(crate) fn try_recv_newest(&self) -> Received<T> {
        self.try_take(VecDeque::pop_back)
    }

    /// Takes the item `take` picks from the queue, if any.
    #[inline]
    fn try_take(&self, take: impl FnOnce(&mut VecDeque<T>) -> Option<T>) -> Received<T> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        let received = match state.take(take, &mut wakes) {
            Some(item) => Received::Item(item),
            None if state.drained() => Received::Closed,
            None => Received::Empty,
        };
        let depth = state.len();
        drop(state);
        wakes.wake();
        self.report_received(&received, depth);
        received
    }

    /// Moves up to `limit` queued items into `buf` in one critical section; returns how many.
    pub(crate) fn pop_into(&self, buf: &mut Vec<T>, limit: usize) -> usize {
        let mut state = self.state.lock();
        let taken = limit.min(state.items.len());
        buf.extend(state.items.drain(..taken));
        self.took_from_head(state, taken);
        taken
    }

    /// After `taken` items came off the head under `state`: counts them, gives the room to
    /// parked senders, releases the lock, wakes whom that served, and reports.
    #[inline]
    fn took_from_head(&self, mut state: LockGuard<'_, State<T>>, taken: usize) {
        let mut wakes = Wakes::new();
        state.received += taken as u64;
        state.serve_senders(&mut wakes);
        let depth = state.len();
        drop(state);
        wakes.wake();
        if taken > 0 {
            self.report_consumed(taken, depth);
        }
    }

    /// Moves the queued items at the head into `buf` while `accept` takes them, in one
    /// critical section; returns how many.
    pub(crate) fn pop_while(&self, buf: &mut Vec<T>, mut accept: impl FnMut(&T) -> bool) -> usize {
        let mut state = self.state.lock();
        let mut taken = 0;
        // `accept` is the caller's code: its panic leaves the item it looked at in place, and
        // goes on once the channel is in order and the lock released.
        let mut panicked = None;
        while let Some(head) = state.items.front() {
            match catch_unwind(AssertUnwindSafe(|| accept(head))) {
                Ok(true) => {}
                Ok(false) => break,
                Err(panic) => {
                    panicked = Some(panic);
                    break;
                }
            }
            buf.extend(state.items.pop_front());
            taken += 1;
        }
        self.took_from_head(state, taken);
        if let Some(panic) = panicked {
            resume_unwind(panic);
        }
        taken
    }

    /// Polls a receive that parks in the receivers' list. `key` is its slot while parked.
    pub(crate) fn poll_recv(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Received<T> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        let received = match *key {
            None => match state.take_head(&mut wakes) {
                Some(item) => Received::Item(item),
                None if state.drained() => Received::Closed,
                None => {
                    *key = Some(state.park(List::Receivers, Wait::Receiving, cx));
                    Received::Empty
                }
            },
            Some(parked) => match state.slots[parked].wait {
                Wait::Received(_) => {
                    *key = None;
                    let Wait::Received(item) = state.free(parked) else {
                        unreachable!("checked above")
                    };
                    state.handed -= 1;
                    state.received += 1;
                    state.serve_senders(&mut wakes);
                    Received::Item(item)
                }
                _ if state.drained() => {
                    *key = None;
                    state.free(parked);
                    Received::Closed
                }
                _ => {
                    state.slots[parked].set_waker(cx);
                    Received::Empty
                }
            },
        };
        let depth = state.len();
        drop(state);
        wakes.wake();
        self.report_received(&received, depth);
        received
    }

    /// Withdraws a parked receive. An item it was handed goes to the next parked receive, or
    /// back to the head of the queue.
    pub(crate) fn cancel_recv(&self, key: usize) {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        if let Wait::Received(item) = state.free(key) {
            state.handed -= 1;
            state.put_back(item, &mut wakes);
        }
        drop(state);
        wakes.wake();
    }

    /// Polls a handle's receive: it takes an item if one is queued, and otherwise watches.
    pub(crate) fn poll_watch_recv(
        &self,
        key: &mut Option<usize>,
        cx: &mut Context<'_>,
    ) -> Received<T> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        let received = match state.take_head(&mut wakes) {
            Some(item) => {
                state.unwatch(*key);
                Received::Item(item)
            }
            None if state.drained() => {
                state.unwatch(*key);
                Received::Closed
            }
            None => {
                state.watch(key, List::RecvWatchers, cx);
                Received::Empty
            }
        };
        let depth = state.len();
        drop(state);
        wakes.wake();
        self.report_received(&received, depth);
        received
    }

    // ----- sending -----

    /// Places `item` now if the channel is open, no sender is parked ahead, and there is space.
    pub(crate) fn try_send(&self, item: T) -> Result<(), Refused<T>> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        if state.closed {
            return Err(Refused::Closed(item));
        }
        if state.has_waiting(List::Senders) || !state.has_space() {
            return Err(Refused::Full(item));
        }
        state.deliver(item, &mut wakes);
        let depth = state.len();
        drop(state);
        wakes.wake();
        self.report_produced(depth);
        Ok(())
    }

    /// Polls a send: it places `item` now if it can, and otherwise parks in the senders'
    /// list as a reservation; once granted a slot, its next poll places the item. The item
    /// stays in the send's future until then, so a send that is dropped never went in.
    pub(crate) fn poll_send(
        &self,
        key: &mut Option<usize>,
        item: &mut Option<T>,
        cx: &mut Context<'_>,
    ) -> Placed {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        let placed = match *key {
            None if state.closed => Placed::Closed,
            None if !state.has_waiting(List::Senders) && state.has_space() => {
                state.deliver(
                    item.take().expect("a send polled after it completed"),
                    &mut wakes,
                );
                Placed::Yes
            }
            None => {
                *key = Some(state.park(List::Senders, Wait::Reserving(1), cx));
                Placed::Waiting
            }
            Some(parked) => match state.slots[parked].wait {
                // Nobody could receive it: the grant goes back, the item with the send.
                Wait::Reserved(_) if state.disconnected => {
                    *key = None;
                    state.free(parked);
                    state.return_grants(1, &mut wakes);
                    Placed::Closed
                }
                // Granted before any close: the send completes, as a permit would.
                Wait::Reserved(_) => {
                    *key = None;
                    state.free(parked);
                    state.granted -= 1;
                    state.deliver(
                        item.take().expect("a send polled after it completed"),
                        &mut wakes,
                    );
                    state.wake_if_drained(&mut wakes);
                    Placed::Yes
                }
                _ if state.closed => {
                    *key = None;
                    state.free(parked);
                    Placed::Closed
                }
                _ => {
                    state.slots[parked].set_waker(cx);
                    Placed::Waiting
                }
            },
        };
        let depth = state.len();
        drop(state);
        wakes.wake();
        if matches!(placed, Placed::Yes) {
            self.report_produced(depth);
        }
        placed
    }

    /// Places `item` now, displacing the oldest item in the channel when there is no space:
    /// the head of the queue, or else an item handed to a receive that has not taken it yet
    /// (the receive is handed `item` in its place). Returns what was displaced. `Full` only when
    /// every slot is granted to a permit, so that nothing can be displaced.
    pub(crate) fn force_send(&self, item: T) -> Result<Option<T>, Refused<T>> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        if state.closed {
            return Err(Refused::Closed(item));
        }
        let displaced = if !state.has_waiting(List::Senders) && state.has_space() {
            None
        } else if let Some(oldest) = state.items.pop_front() {
            // It came out of the channel, as a receive would take it.
            state.received += 1;
            Some(oldest)
        } else if let Some(receiver) = state.handed_to() {
            let Wait::Received(oldest) =
                std::mem::replace(&mut state.slots[receiver].wait, Wait::Receiving)
            else {
                unreachable!("found holding an item")
            };
            state.handed -= 1;
            state.received += 1;
            // First in line again: `deliver` hands it the new item.
            state.push_front(List::Receivers, receiver);
            Some(oldest)
        } else {
            return Err(Refused::Full(item));
        };
        state.deliver(item, &mut wakes);
        let depth = state.len();
        drop(state);
        wakes.wake();
        self.report_produced(depth);
        Ok(displaced)
    }

    /// Takes `n` free slots now, as grants (for permits or a sink), if the channel is open
    /// and no sender is parked ahead.
    pub(crate) fn try_grant(&self, n: usize) -> Result<(), Refused<()>> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Refused::Closed(()));
        }
        if state.has_waiting(List::Senders) || !state.fits(n) {
            return Err(Refused::Full(()));
        }
        state.granted += n;
        Ok(())
    }

    /// Polls a reservation of `n` slots that parks in the senders' list; `Yes` is a grant,
    /// which stands even if the channel closed after it was made.
    pub(crate) fn poll_reserve(
        &self,
        key: &mut Option<usize>,
        n: usize,
        cx: &mut Context<'_>,
    ) -> Placed {
        let mut state = self.state.lock();
        match *key {
            None => {
                if state.closed {
                    Placed::Closed
                } else if !state.has_waiting(List::Senders) && state.fits(n) {
                    state.granted += n;
                    Placed::Yes
                } else {
                    *key = Some(state.park(List::Senders, Wait::Reserving(n), cx));
                    Placed::Waiting
                }
            }
            Some(parked) => match state.slots[parked].wait {
                Wait::Reserved(_) => {
                    *key = None;
                    state.free(parked);
                    Placed::Yes
                }
                _ if state.closed => {
                    *key = None;
                    state.free(parked);
                    Placed::Closed
                }
                _ => {
                    state.slots[parked].set_waker(cx);
                    Placed::Waiting
                }
            },
        }
    }

    /// Withdraws a parked send or reservation; a slot it was granted goes to the next in line.
    pub(crate) fn cancel_reserve(&self, key: usize) {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        match state.free(key) {
            Wait::Reserved(n) => state.return_grants(n, &mut wakes),
            // It may have held back those behind it (a `reserve_many` waits for all its slots).
            _ if !state.closed => state.serve_senders(&mut wakes),
            _ => {}
        }
        drop(state);
        wakes.wake();
    }

    /// Polls a handle's wait for space: it takes a grant if it can, and otherwise watches.
    pub(crate) fn poll_watch_grant(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> Placed {
        let mut state = self.state.lock();
        if state.closed {
            state.unwatch(*key);
            Placed::Closed
        } else if !state.has_waiting(List::Senders) && state.has_space() {
            state.unwatch(*key);
            state.granted += 1;
            Placed::Yes
        } else {
            state.watch(key, List::SendWatchers, cx);
            Placed::Waiting
        }
    }

    /// Spends a grant on `item`. Fails, handing the item back, only once every receiver is
    /// gone; with `open_only`, also once the channel is closed (a sink's grant).
    pub(crate) fn send_granted(&self, item: T, open_only: bool) -> Result<(), T> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        if state.disconnected || (open_only && state.closed) {
            state.return_grants(1, &mut wakes);
            drop(state);
            wakes.wake();
            return Err(item);
        }
        state.granted -= 1;
        state.deliver(item, &mut wakes);
        state.wake_if_drained(&mut wakes);
        let depth = state.len();
        drop(state);
        wakes.wake();
        self.report_produced(depth);
        Ok(())
    }

    /// Gives back `n` grants that were not spent.
    pub(crate) fn return_grants(&self, n: usize) {
        let mut wakes = Wakes::new();
        self.state.lock().return_grants(n, &mut wakes);
        wakes.wake();
    }

    /// Polls a wait for the close: `true` once the channel is closed, watching until then.
    pub(crate) fn poll_closed(&self, key: &mut Option<usize>, cx: &mut Context<'_>) -> bool {
        let mut state = self.state.lock();
        if state.closed {
            state.unwatch(*key);
            true
        } else {
            state.watch(key, List::CloseWatchers, cx);
            false
        }
    }

    /// Stops watching (a handle dropped).
    pub(crate) fn drop_watch(&self, key: usize) {
        self.state.lock().free(key);
    }

    // ----- closing -----

    /// Closes the channel: sends and reservations fail from now on, parked ones wake to fail;
    /// receivers drain the queue and the permits already granted. Returns `true` if this call
    /// closed it.
    pub(crate) fn close(&self) -> bool {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        if state.closed {
            return false;
        }
        state.close(&mut wakes);
        drop(state);
        wakes.wake();
        true
    }

    /// Closes the channel and takes every queued item out: the last receiver is gone, so
    /// nothing queued could ever be received. The caller drops the items after the unlock.
    pub(crate) fn disconnect(&self) -> Stranded<T> {
        let mut wakes = Wakes::new();
        let mut state = self.state.lock();
        if !state.closed {
            state.close(&mut wakes);
        }
        state.disconnected = true;
        let stranded = std::mem::take(&mut state.items);
        state.discarded += stranded.len() as u64;
        drop(state);
        wakes.wake();
        stranded
    }

    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one more sender if any is left (a weak sender's upgrade): once the last one is
    /// gone the channel is closed for good, and no sender comes back.
    pub(crate) fn upgrade_sender(&self) -> bool {
        upgrade(&self.senders)
    }

    /// Counts one more receiver if any is left (a weak receiver's upgrade).
    pub(crate) fn upgrade_receiver(&self) -> bool {
        upgrade(&self.receivers)
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

    // ----- the probe, after the unlock -----

    fn report_received(&self, received: &Received<T>, depth: usize) {
        if let Received::Item(_) = received {
            self.report_consumed(1, depth);
        }
    }

    fn report_consumed(&self, n: usize, depth: usize) {
        if let Some(probe) = &self.probe {
            probe.consumed(n as u64);
            if self.report_depth {
                probe.depth(depth);
            }
        }
    }

    fn report_produced(&self, depth: usize) {
        if let Some(probe) = &self.probe {
            probe.produced(1);
            if self.report_depth {
                probe.depth(depth);
            }
        }
    }
}

/// Adds one to a count of live handles unless it reached zero.
fn upgrade(count: &AtomicUsize) -> bool {
    let mut now = count.load(Ordering::Acquire);
    loop {
        if now == 0 {
            return false;
        }
        match count.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(actual) => now = actual,
        }
    }
}

/// Drops every item of `items`. An item whose `Drop` panics does not leak the items behind it:
/// they are dropped while the panic unwinds (a second panic aborts, as in a `Vec`).
pub(crate) fn drop_all<T>(items: Stranded<T>) {
    struct DropOnUnwind<T>(std::collections::vec_deque::IntoIter<T>);
    impl<T> Drop for DropOnUnwind<T> {
        fn drop(&mut self) {
            for item in self.0.by_ref() {
                drop(item);
            }
        }
    }
    let mut rest = DropOnUnwind(items.into_iter());
    for item in rest.0.by_ref() {
        drop(item);
    }
}

/// Everything behind the lock.
///
/// Laid out by who touches what, since on two cores every cache line that a send and a receive
/// both write moves between the cores on every item: the fields every send and receive read
/// or write come first, on the lock's own cache line (the [`Lock`] starts one); then what only
/// waits and wake-ups change (`capacity` is read on every operation and never written); last,
/// the count that only receives write, away from the senders.
#[repr(C)]
struct State<T> {
    items: VecDeque<T>,
    /// Slots granted to permits (and sinks) and not yet spent or given back.
    granted: usize,
    /// Items handed to parked receives and not yet taken.
    handed: usize,
    closed: bool,
    /// Every receiver is gone.
    disconnected: bool,
    /// One bit per [`List`] that is not empty, so that the common paths look at no list.
    waiting: u8,
    /// `usize::MAX` when unbounded.
    capacity: usize,
    slots: Vec<Slot<T>>,
    /// Vacant slots, for reuse.
    vacant: Vec<usize>,
    receivers: Links,
    senders: Links,
    recv_watchers: Links,
    send_watchers: Links,
    close_watchers: Links,
    /// Items taken out by receives (sends are counted from it: `sent` = `received` + items in
    /// the channel + `discarded`).
    received: u64,
    /// Items emptied out of the channel when the last receiver went.
    discarded: u64,
}

/// One parked operation or watching handle.
struct Slot<T> {
    wait: Wait<T>,
    waker: Option<Waker>,
    /// The list this slot is linked into, if any.
    list: Option<List>,
    prev: usize,
    next: usize,
}

impl<T> Slot<T> {
    #[inline]
    fn set_waker(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }
}

/// Where a slot's operation stands.
enum Wait<T> {
    Vacant,
    /// A receive, parked.
    Receiving,
    /// A receive handed its item.
    Received(T),
    /// A send or a reservation, parked, for so many slots.
    Reserving(usize),
    /// A send or a reservation granted its slots.
    Reserved(usize),
    /// A handle's registration.
    Watching,
}

/// The lists a slot can be linked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Receivers,
    Senders,
    RecvWatchers,
    SendWatchers,
    /// Waits for the close (`Sender::closed`).
    CloseWatchers,
}

impl List {
    /// Its bit in [`State::waiting`].
    #[inline]
    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A FIFO list of slots, linked through the slots.
#[derive(Clone, Copy)]
struct Links {
    head: usize,
    tail: usize,
    len: usize,
}

impl Links {
    const EMPTY: Self = Self {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

impl<T> State<T> {
    fn new(capacity: Option<usize>) -> Self {
        Self {
            items: VecDeque::new(),
            granted: 0,
            handed: 0,
            closed: false,
            disconnected: false,
            waiting: 0,
            capacity: capacity.unwrap_or(usize::MAX),
            received: 0,
            discarded: 0,
            slots: Vec::new(),
            vacant: Vec::new(),
            receivers: Links::EMPTY,
            senders: Links::EMPTY,
            recv_watchers: Links::EMPTY,
            send_watchers: Links::EMPTY,
            close_watchers: Links::EMPTY,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.items.len() + self.handed
    }

    /// Items sent so far: every one was received, is still in the channel, or was discarded.
    fn sent(&self) -> u64 {
        self.received + self.len() as u64 + self.discarded
    }

    /// Whether anyone is parked or watching in `list`.
    #[inline]
    fn has_waiting(&self, list: List) -> bool {
        self.waiting & list.bit() != 0
    }

    #[inline]
    fn has_space(&self) -> bool {
        self.free_slots() > 0
    }

    /// Slots free now; unbounded, what the count of taken ones leaves of `usize::MAX`. None
    /// while a smaller capacity than the slots taken drains.
    #[inline]
    fn free_slots(&self) -> usize {
        self.capacity
            .saturating_sub(self.items.len() + self.granted + self.handed)
    }

    /// Whether `n` slots can be granted now: free, or, for a reservation made before the
    /// capacity shrank below it, the whole channel empty.
    #[inline]
    fn fits(&self, n: usize) -> bool {
        self.free_slots() >= n
            || (n > self.capacity && self.items.len() + self.granted + self.handed == 0)
    }

    /// Closed, nothing queued, and no permit out that could still send: receives end.
    #[inline]
    fn drained(&self) -> bool {
        self.closed && self.items.is_empty() && self.granted == 0
    }

    /// Takes the head of the queue for a receive; the space it frees goes to the senders.
    #[inline]
    fn take_head(&mut self, wakes: &mut Wakes) -> Option<T> {
        self.take(VecDeque::pop_front, wakes)
    }

    /// Takes the item `take` picks for a receive; the space it frees goes to the senders.
    #[inline]
    fn take(
        &mut self,
        take: impl FnOnce(&mut VecDeque<T>) -> Option<T>,
        wakes: &mut Wakes,
    ) -> Option<T> {
        let item = take(&mut self.items)?;
        self.received += 1;
        self.serve_senders(wakes);
        Some(item)
    }

    /// Places an item that has its space: into the first parked receive, else the queue.
    #[inline]
    fn deliver(&mut self, item: T, wakes: &mut Wakes) {
        if let Some(receiver) = self.pop_front(List::Receivers) {
            let slot = &mut self.slots[receiver];
            slot.wait = Wait::Received(item);
            wakes.take(slot);
            self.handed += 1;
        } else {
            self.items.push_back(item);
            self.wake_watchers(List::RecvWatchers, wakes);
        }
    }

    /// An item a receive gave up: to the next parked receive, else back to the head.
    fn put_back(&mut self, item: T, wakes: &mut Wakes) {
        if let Some(receiver) = self.pop_front(List::Receivers) {
            let slot = &mut self.slots[receiver];
            slot.wait = Wait::Received(item);
            wakes.take(slot);
            self.handed += 1;
        } else {
            self.items.push_front(item);
            self.wake_watchers(List::RecvWatchers, wakes);
        }
    }

    /// Space was freed: grants it to the parked sends and reservations in order while the
    /// first in line finds what it asks for, then tells the watching sinks if some is left.
    #[inline]
    fn serve_senders(&mut self, wakes: &mut Wakes) {
        loop {
            if !self.has_waiting(List::Senders) {
                if self.has_waiting(List::SendWatchers) && self.has_space() {
                    self.wake_watchers(List::SendWatchers, wakes);
                }
                return;
            }
            let first = self.senders.head;
            let Wait::Reserving(wanted) = self.slots[first].wait else {
                unreachable!("only sends and reservations park in the senders' list")
            };
            if !self.fits(wanted) {
                return;
            }
            self.pop_front(List::Senders);
            let slot = &mut self.slots[first];
            wakes.take(slot);
            slot.wait = Wait::Reserved(wanted);
            self.granted += wanted;
        }
    }

    /// Grants given back unspent: their space goes to the next in line.
    fn return_grants(&mut self, n: usize, wakes: &mut Wakes) {
        self.granted -= n;
        if !self.closed {
            self.serve_senders(wakes);
        }
        self.wake_if_drained(wakes);
    }

    /// Wakes the parked receives once the channel is closed and drained: they end.
    fn wake_if_drained(&mut self, wakes: &mut Wakes) {
        if self.drained() {
            self.wake_list(List::Receivers, wakes);
        }
    }

    fn close(&mut self, wakes: &mut Wakes) {
        self.closed = true;
        // Parked sends and reservations fail; they leave the list, which stays empty.
        while let Some(sender) = self.pop_front(List::Senders) {
            wakes.take(&mut self.slots[sender]);
        }
        self.wake_watchers(List::SendWatchers, wakes);
        self.wake_if_drained(wakes);
        self.wake_watchers(List::RecvWatchers, wakes);
        self.wake_watchers(List::CloseWatchers, wakes);
    }

    /// Wakes every slot of a list, leaving them parked in it.
    fn wake_list(&mut self, list: List, wakes: &mut Wakes) {
        let mut at = self.links(list).head;
        while at != NIL {
            let slot = &mut self.slots[at];
            wakes.take(slot);
            at = slot.next;
        }
    }

    /// Wakes every watcher of a list; they leave it until they watch again.
    #[inline]
    fn wake_watchers(&mut self, list: List, wakes: &mut Wakes) {
        while let Some(watcher) = self.pop_front(list) {
            wakes.take(&mut self.slots[watcher]);
        }
    }

    /// A handle watches: its slot (made on the first wait) is linked into `list`.
    fn watch(&mut self, key: &mut Option<usize>, list: List, cx: &Context<'_>) {
        let slot = match *key {
            Some(slot) => slot,
            None => {
                let slot = self.alloc(Wait::Watching);
                *key = Some(slot);
                slot
            }
        };
        self.slots[slot].set_waker(cx);
        if self.slots[slot].list.is_none() {
            self.push_back(list, slot);
        }
    }

    /// A handle's wait ended: its slot, if any, leaves its list and stays for the next wait.
    fn unwatch(&mut self, key: Option<usize>) {
        if let Some(slot) = key
            && let Some(list) = self.slots[slot].list
        {
            self.unlink(list, slot);
        }
    }

    /// A parked receive that holds an item handed to it, if any.
    fn handed_to(&self) -> Option<usize> {
        if self.handed == 0 {
            return None;
        }
        self.slots
            .iter()
            .position(|slot| matches!(slot.wait, Wait::Received(_)))
    }

    /// Parks an operation at the tail of `list`; returns its slot's key.
    fn park(&mut self, list: List, wait: Wait<T>, cx: &Context<'_>) -> usize {
        let slot = self.alloc(wait);
        self.slots[slot].waker = Some(cx.waker().clone());
        self.push_back(list, slot);
        slot
    }

    fn alloc(&mut self, wait: Wait<T>) -> usize {
        let slot = Slot {
            wait,
            waker: None,
            list: None,
            prev: NIL,
            next: NIL,
        };
        match self.vacant.pop() {
            Some(key) => {
                self.slots[key] = slot;
                key
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        }
    }

    /// Frees a slot (unlinking it first); returns what it held.
    fn free(&mut self, key: usize) -> Wait<T> {
        if let Some(list) = self.slots[key].list {
            self.unlink(list, key);
        }
        let slot = &mut self.slots[key];
        slot.waker = None;
        self.vacant.push(key);
        std::mem::replace(&mut slot.wait, Wait::Vacant)
    }

    #[inline]
    fn links(&mut self, list: List) -> &mut Links {
        match list {
            List::Receivers => &mut self.receivers,
            List::Senders => &mut self.senders,
            List::RecvWatchers => &mut self.recv_watchers,
            List::SendWatchers => &mut self.send_watchers,
            List::CloseWatchers => &mut self.close_watchers,
        }
    }

    fn push_back(&mut self, list: List, key: usize) {
        let tail = self.links(list).tail;
        self.link(list, key, tail, NIL);
    }

    fn push_front(&mut self, list: List, key: usize) {
        let head = self.links(list).head;
        self.link(list, key, NIL, head);
    }

    /// Links `key` into `list` between `prev` and `next`, neighbours there (or `NIL` at an end).
    fn link(&mut self, list: List, key: usize, prev: usize, next: usize) {
        let slot = &mut self.slots[key];
        slot.list = Some(list);
        slot.prev = prev;
        slot.next = next;
        match prev {
            NIL => self.links(list).head = key,
            prev => self.slots[prev].next = key,
        }
        match next {
            NIL => self.links(list).tail = key,
            next => self.slots[next].prev = key,
        }
        self.links(list).len += 1;
        self.waiting |= list.bit();
    }

    #[inline]
    fn pop_front(&mut self, list: List) -> Option<usize> {
        if !self.has_waiting(list) {
            return None;
        }
        let head = self.links(list).head;
        self.unlink(list, head);
        Some(head)
    }

    fn unlink(&mut self, list: List, key: usize) {
        let (prev, next) = {
            let slot = &mut self.slots[key];
            debug_assert_eq!(slot.list, Some(list));
            slot.list = None;
            (
                std::mem::replace(&mut slot.prev, NIL),
                std::mem::replace(&mut slot.next, NIL),
            )
        };
        if prev == NIL {
            self.links(list).head = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NIL {
            self.links(list).tail = prev;
        } else {
            self.slots[next].prev = prev;
        }
        let links = self.links(list);
        links.len -= 1;
        if links.len == 0 {
            self.waiting &= !list.bit();
        }
    }
}

/// The wakers a transition collected, woken after the unlock. One is kept inline; more (a
/// close, several watchers) go to a `Vec`, which allocates only then.
///
/// It stays in place on the caller's stack and is woken through `&mut`: moving it by value to
/// wake it made the CPU reload, with wide loads, what was just stored narrow, a
/// store-forwarding stall on every operation.
pub(crate) struct Wakes {
    one: Option<Waker>,
    more: Vec<Waker>,
}

impl Wakes {
    #[inline]
    fn new() -> Self {
        Self {
            one: None,
            more: Vec::new(),
        }
    }

    /// Takes a slot's waker, if it has one.
    #[inline]
    fn take<T>(&mut self, slot: &mut Slot<T>) {
        if let Some(waker) = slot.waker.take() {
            if self.one.is_none() {
                self.one = Some(waker);
            } else {
                self.more.push(waker);
            }
        }
    }

    #[inline]
    fn wake(&mut self) {
        if let Some(waker) = self.one.take() {
            waker.wake();
            if !self.more.is_empty() {
                self.wake_more();
            }
        }
    }

    #[cold]
    fn wake_more(&mut self) {
        for waker in self.more.drain(..) {
            waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::task::{Context, Waker};

    use super::{Chan, Placed, Received, Refused};

    fn chan(capacity: usize) -> Chan<u32> {
        Chan::new(Some(capacity), None, false)
    }

    #[test]
    fn slots_are_reused_in_the_steady_state() {
        let chan = chan(1);
        let mut cx = Context::from_waker(Waker::noop());
        for round in 0..100 {
            let mut key = None;
            assert!(matches!(chan.poll_recv(&mut key, &mut cx), Received::Empty));
            chan.try_send(round).ok().unwrap();
            assert!(matches!(chan.poll_recv(&mut key, &mut cx), Received::Item(n) if n == round));
        }
        assert_eq!(chan.state.lock().slots.len(), 1);
    }

    #[test]
    fn a_send_parked_behind_a_full_queue_is_granted_the_space_that_frees() {
        let chan = chan(1);
        let mut cx = Context::from_waker(Waker::noop());
        chan.try_send(1).ok().unwrap();
        let (mut key, mut item) = (None, Some(2));
        assert!(matches!(
            chan.poll_send(&mut key, &mut item, &mut cx),
            Placed::Waiting
        ));
        // A newcomer does not overtake the parked send.
        assert!(matches!(chan.try_send(3), Err(Refused::Full(3))));
        assert!(matches!(chan.try_recv(), Received::Item(1)));
        assert!(matches!(
            chan.poll_send(&mut key, &mut item, &mut cx),
            Placed::Yes
        ));
        assert!(matches!(chan.try_recv(), Received::Item(2)));
    }
}

//! The state every handle of one channel shares, and how waiters park.
//!
//! One lock guards the queue, the count of reserved slots and the closed flag: a receive has
//! to choose among levels (or keys) and a shedding send has to look at the lowest one, which
//! lock-free per-level queues cannot do atomically. The lock is held for a few instructions and
//! never across an await, a wake-up, a drop hook or a drop of an item. It is the channel's own
//! [`Lock`](pc_core::sync::Lock), whose contended path yields the thread before it parks: on
//! two cores, several tasks of a multi-thread runtime contend for it on every item.
//!
//! # Parking without polling
//!
//! A task that finds nothing to do registers a listener on an [`Event`] and counts itself as
//! waiting while it still holds the lock. Whoever changes the state in a way that could help it
//! (a push for receivers, a pop or a released reservation for senders, a close for both) reads
//! the counts under the same lock and, if some waiter has not been notified yet, counts one more
//! notification and notifies after releasing the lock. The lock orders the two, so a wake-up is
//! never lost; and since notifications already on their way are counted, a stream of sends to
//! receivers that were woken but have not run yet costs no call into the event at all.
//!
//! A woken waiter settles its count the next time it takes the lock. A waiter dropped while
//! registered leaves the count; if it had been notified, event-listener passes the notification
//! on to another listener, so clamping the notified count to the waiting count stays exact.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use event_listener::{Event, EventListener};
use pc_core::probe::WaitTimer;
use pc_core::sync::{Lock, LockGuard};
use pc_core::{BlockKind, DropReason, SharedProbe, WaitKind};

use crate::policy::WhenFull;
use crate::store::sealed::Queue;
use crate::store::{Refusal, Store};

/// Called with each item shed to make room, and its priority.
pub(crate) type DropHook<T, P> = Box<dyn Fn(T, P) + Send + Sync>;

pub(crate) struct Shared<T: Send, S: Store> {
    state: Lock<State<S::Queue<T>>>,
    /// Whether the channel has a capacity.
    bounded: bool,
    /// The capacity now (`set_capacity` changes it under the lock), read without it.
    capacity: AtomicUsize,
    pub(crate) when_full: WhenFull,
    /// Parks receivers waiting for an item or a close.
    items: Event,
    /// Parks senders waiting for space or a close.
    space: Event,
    /// Parks receivers kept in a handle (a stream): every notification of receivers wakes them
    /// all, and none of them counts as having taken one, so a stream that stops polling cannot
    /// keep a wake-up from a receiver that really waits.
    streams: Event,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
    pub(crate) default_priority: S::Priority,
    pub(crate) probe: Option<SharedProbe>,
    /// One probe per level, or none.
    pub(crate) level_probes: Box<[SharedProbe]>,
    pub(crate) on_drop: Option<DropHook<T, S::Priority>>,
}

pub(crate) struct State<Q> {
    pub(crate) queue: Q,
    /// Slots held by permits not used yet.
    reserved: usize,
    closed: bool,
    /// Receivers parked on `items`.
    receivers: Waiters,
    /// Senders parked on `space`.
    senders: Waiters,
    /// Streams registered on `streams` since it last notified.
    streams: usize,
}

impl<Q> State<Q> {
    fn waiters(&mut self, side: Side) -> Option<&mut Waiters> {
        match side {
            Side::Receivers => Some(&mut self.receivers),
            Side::Senders => Some(&mut self.senders),
            Side::Streams => None,
        }
    }

    /// Counts the notifications receivers need now that an item came (one) or the wait of them
    /// all is over (`all`); every registered stream is woken either way.
    fn wake_receivers(&mut self, all: bool) -> ReceiverWake {
        let receivers = if all {
            self.receivers.wake_all().then_some(usize::MAX)
        } else {
            self.receivers.wake_one().then_some(1)
        };
        ReceiverWake {
            receivers,
            streams: std::mem::take(&mut self.streams) > 0,
        }
    }
}

/// The receivers to notify, decided under the lock and done after it.
#[must_use]
struct ReceiverWake {
    /// How many more receivers to notify, if any.
    receivers: Option<usize>,
    /// Whether streams wait.
    streams: bool,
}

/// Which waiters: receivers (waiting for items), senders (waiting for space), or streams
/// (receivers kept in a handle, woken by every notification of receivers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Receivers,
    Senders,
    Streams,
}

/// The waiters of one side, counted under the channel's lock.
#[derive(Debug, Default)]
struct Waiters {
    /// Registered and not settled.
    waiting: usize,
    /// Notifications sent (or about to be) to waiters that have not settled yet.
    notified: usize,
}

impl Waiters {
    /// Counts one more notification if some waiter has none coming; returns whether to notify.
    fn wake_one(&mut self) -> bool {
        let wake = self.notified < self.waiting;
        if wake {
            self.notified += 1;
        }
        wake
    }

    /// Counts a notification for every waiter; returns whether anyone needs one.
    fn wake_all(&mut self) -> bool {
        let wake = self.notified < self.waiting;
        self.notified = self.waiting;
        wake
    }

    /// A waiter leaves: woken (it used its notification) or not (any notification meant for
    /// it has been passed on by event-listener).
    fn leave(&mut self, woken: bool) {
        self.waiting -= 1;
        self.notified = if woken {
            self.notified.saturating_sub(1)
        } else {
            self.notified.min(self.waiting)
        };
    }
}

/// What a send or a reservation found.
pub(crate) enum Admission<T, P> {
    /// Admitted; maybe after shedding this item.
    Now(Option<(T, P)>),
    Full,
    Closed,
    Refused(Refusal),
}

/// An item a send could not push now, handed back with its priority and the reason.
pub(crate) struct Rejected<T, P> {
    pub(crate) item: T,
    pub(crate) priority: P,
    pub(crate) why: Admission<T, P>,
}

/// What a receive found.
pub(crate) enum Taken<T, P> {
    Item(T, P),
    Empty,
    Closed,
}

impl<T: Send, S: Store> Shared<T, S> {
    pub(crate) fn new(
        queue: S::Queue<T>,
        capacity: Option<usize>,
        when_full: WhenFull,
        default_priority: S::Priority,
        probe: Option<SharedProbe>,
        level_probes: Box<[SharedProbe]>,
        on_drop: Option<DropHook<T, S::Priority>>,
    ) -> Self {
        if let Some(probe) = &probe {
            probe.described(BlockKind::PriorityChannel, capacity);
        }
        for level in &level_probes {
            level.described(BlockKind::PriorityChannel, None);
        }
        Self {
            state: Lock::new(State {
                queue,
                reserved: 0,
                closed: false,
                receivers: Waiters::default(),
                senders: Waiters::default(),
                streams: 0,
            }),
            bounded: capacity.is_some(),
            capacity: AtomicUsize::new(capacity.unwrap_or(usize::MAX)),
            when_full,
            items: Event::new(),
            space: Event::new(),
            streams: Event::new(),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            default_priority,
            probe,
            level_probes,
            on_drop,
        }
    }

    /// The probe of `priority`'s level and that level's length, read under the lock.
    fn level_of<'s>(
        &'s self,
        state: &State<S::Queue<T>>,
        priority: &S::Priority,
    ) -> Option<(&'s SharedProbe, usize)> {
        let level = S::level(priority)?;
        let probe = self.level_probes.get(level)?;
        Some((probe, state.queue.len_at(level)))
    }

    /// Announces a wait on this channel's probe, if it has one: timed for senders, counted for
    /// receivers (see [`WaitKind::RecvBlocked`]).
    pub(crate) fn wait_timer(&self, kind: WaitKind) -> WaitTimer<'_> {
        match kind {
            WaitKind::RecvBlocked => WaitTimer::counted(self.probe.as_ref(), kind),
            _ => WaitTimer::timed(self.probe.as_ref(), kind),
        }
    }

    /// Notifies the receivers and streams `wake` counted; outside the lock.
    fn notify_receivers(&self, wake: ReceiverWake) {
        match wake.receivers {
            Some(usize::MAX) => {
                self.items.notify(usize::MAX);
            }
            Some(n) => {
                self.items.notify_additional(n);
            }
            None => {}
        }
        if wake.streams {
            self.streams.notify(usize::MAX);
        }
    }

    /// The state, even if a panic elsewhere poisoned the lock: no code under it can leave the
    /// state half-changed (it runs no user code).
    pub(crate) fn lock(&self) -> LockGuard<'_, State<S::Queue<T>>> {
        self.state.lock()
    }

    /// The state, after settling `wait` if it was woken: every look again starts here.
    fn lock_settled(&self, wait: Option<&mut Wait<'_, T, S>>) -> LockGuard<'_, State<S::Queue<T>>> {
        let mut state = self.lock();
        if let Some(wait) = wait {
            wait.settle(&mut state);
        }
        state
    }

    /// Pushes `item` under the lock, then releases it, wakes a receiver if one has no wake-up
    /// coming, and reports the push (and the item shed for it, if any).
    fn push_locked(
        &self,
        mut state: LockGuard<'_, State<S::Queue<T>>>,
        item: T,
        priority: S::Priority,
        shed: Option<(T, S::Priority)>,
    ) {
        let level = S::level(&priority);
        state.queue.push(item, priority);
        let len = state.queue.len();
        let levels = (!self.level_probes.is_empty()).then(|| {
            let at = |level: Option<usize>| {
                let level = level?;
                Some((self.level_probes.get(level)?, state.queue.len_at(level)))
            };
            (at(level), at(shed.as_ref().and_then(|(_, p)| S::level(p))))
        });
        let wake = state.wake_receivers(false);
        drop(state);
        self.notify_receivers(wake);
        if let Some((pushed, shed_from)) = levels {
            if let Some((probe, len)) = pushed {
                probe.produced(1);
                probe.depth(len);
            }
            if let Some((probe, len)) = shed_from {
                probe.dropped(1, DropReason::Shed);
                probe.depth(len);
            }
        }
        self.report_push(len, shed);
    }

    /// Admits one item of `priority` now, shedding if the policy says so; registers `wait` for
    /// space if the channel is full.
    fn admit(
        &self,
        state: &mut State<S::Queue<T>>,
        priority: &S::Priority,
        wait: Option<&mut Wait<'_, T, S>>,
    ) -> Admission<T, S::Priority> {
        // An unknown level is reported as such even on a closed channel.
        if let Err(refusal) = state.queue.check(priority) {
            return Admission::Refused(refusal);
        }
        if state.closed {
            return Admission::Closed;
        }
        if !self.bounded {
            return Admission::Now(None);
        }
        // Written under the lock held here: the capacity this admission is decided against.
        let capacity = self.capacity.load(Ordering::Relaxed);
        if state.queue.len() + state.reserved < capacity {
            return Admission::Now(None);
        }
        if self.when_full == WhenFull::ShedLowest
            && let Some(shed) = state.queue.shed_below(priority)
        {
            return Admission::Now(Some(shed));
        }
        if let Some(wait) = wait {
            wait.register(state);
        }
        Admission::Full
    }

    /// Pushes `item` if it is admitted now; otherwise hands it back with the reason.
    pub(crate) fn try_push(
        &self,
        item: T,
        priority: S::Priority,
        mut wait: Option<&mut Wait<'_, T, S>>,
    ) -> Result<(), Rejected<T, S::Priority>> {
        let mut state = self.lock_settled(wait.as_deref_mut());
        match self.admit(&mut state, &priority, wait) {
            Admission::Now(shed) => {
                self.push_locked(state, item, priority, shed);
                Ok(())
            }
            why => Err(Rejected {
                item,
                priority,
                why,
            }),
        }
    }

    /// Reserves a slot for an item of `priority` if one is free now.
    pub(crate) fn try_reserve(
        &self,
        priority: &S::Priority,
        mut wait: Option<&mut Wait<'_, T, S>>,
    ) -> Admission<T, S::Priority> {
        let mut state = self.lock_settled(wait.as_deref_mut());
        let admission = self.admit(&mut state, priority, wait);
        if let Admission::Now(shed) = admission {
            state.reserved += 1;
            let len = state.queue.len();
            // The shed item's level hears of it as a push's shed would tell it.
            let shed_level = shed.as_ref().and_then(|(_, p)| self.level_of(&state, p));
            drop(state);
            if let Some((probe, len)) = shed_level {
                probe.dropped(1, DropReason::Shed);
                probe.depth(len);
            }
            if let Some(shed) = shed {
                // The hook is user code: if it panics, no permit reaches the caller, so the
                // slot is given back before the panic goes on.
                let reported = catch_unwind(AssertUnwindSafe(|| self.report_shed(len, shed)));
                if let Err(panic) = reported {
                    self.release_reserved();
                    resume_unwind(panic);
                }
            }
            return Admission::Now(None);
        }
        admission
    }

    /// Pushes into a slot reserved earlier. Fails only when no receiver is left.
    pub(crate) fn push_reserved(&self, item: T, priority: S::Priority) -> Result<(), T> {
        let mut state = self.lock();
        state.reserved -= 1;
        if self.receivers.load(Ordering::Acquire) == 0 {
            return Err(item);
        }
        self.push_locked(state, item, priority, None);
        Ok(())
    }

    /// Gives back a slot reserved and not used.
    pub(crate) fn release_reserved(&self) {
        let mut state = self.lock();
        state.reserved -= 1;
        // The last permit of a closed, drained channel ends the receivers' wait.
        let ended = state.closed && state.reserved == 0 && state.queue.len() == 0;
        let wake_senders = state.senders.wake_one();
        let wake_receivers = ended.then(|| state.wake_receivers(true));
        drop(state);
        if wake_senders {
            self.space.notify_additional(1);
        }
        if let Some(wake) = wake_receivers {
            self.notify_receivers(wake);
        }
    }

    /// Takes the next item, or registers `wait` for one if there is none.
    pub(crate) fn try_pop(&self, mut wait: Option<&mut Wait<'_, T, S>>) -> Taken<T, S::Priority> {
        let mut state = self.lock_settled(wait.as_deref_mut());
        match state.queue.pop() {
            Some((item, priority)) => {
                let len = state.queue.len();
                let level = self.level_of(&state, &priority);
                let wake = state.senders.wake_one();
                // The last item of a closed channel: the other receivers' wait is over.
                let ended = len == 0 && state.closed && state.reserved == 0;
                let wake_receivers = ended.then(|| state.wake_receivers(true));
                drop(state);
                if wake {
                    self.space.notify_additional(1);
                }
                if let Some(wake) = wake_receivers {
                    self.notify_receivers(wake);
                }
                if let Some(probe) = &self.probe {
                    probe.consumed(1);
                    probe.depth(len);
                }
                if let Some((probe, len)) = level {
                    probe.consumed(1);
                    probe.depth(len);
                }
                Taken::Item(item, priority)
            }
            None if state.closed && state.reserved == 0 => Taken::Closed,
            None => {
                if let Some(wait) = wait {
                    wait.register(&mut state);
                }
                Taken::Empty
            }
        }
    }

    fn report_push(&self, len: usize, shed: Option<(T, S::Priority)>) {
        if let Some(probe) = &self.probe {
            probe.produced(1);
        }
        match shed {
            Some(shed) => self.report_shed(len, shed),
            None => {
                if let Some(probe) = &self.probe {
                    probe.depth(len);
                }
            }
        }
    }

    fn report_shed(&self, len: usize, (item, priority): (T, S::Priority)) {
        if let Some(probe) = &self.probe {
            probe.dropped(1, DropReason::Shed);
            probe.depth(len);
        }
        match &self.on_drop {
            Some(hook) => hook(item, priority),
            None => drop(item),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The capacity now, or `None` when unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.bounded.then(|| self.capacity.load(Ordering::Relaxed))
    }

    /// Sets the capacity of a bounded channel (checked by the caller): the waiting senders
    /// look again, so room added is taken at once; room taken away drains first, nothing is
    /// shed to make it.
    pub(crate) fn set_capacity(&self, capacity: usize) {
        let mut state = self.lock();
        self.capacity.store(capacity, Ordering::Relaxed);
        let wake_senders = state.senders.wake_all();
        drop(state);
        if wake_senders {
            self.space.notify(usize::MAX);
        }
        if let Some(probe) = &self.probe {
            probe.described(BlockKind::PriorityChannel, Some(capacity));
        }
    }

    /// Closes the channel to sends; returns `true` if this call closed it.
    pub(crate) fn close(&self) -> bool {
        let mut state = self.lock();
        let closed_now = !std::mem::replace(&mut state.closed, true);
        let wake_receivers = state.wake_receivers(true);
        let wake_senders = state.senders.wake_all();
        drop(state);
        self.notify_receivers(wake_receivers);
        if wake_senders {
            self.space.notify(usize::MAX);
        }
        closed_now
    }

    /// Runs `change` on the queue under the lock; closes the channel if `close` then says so.
    pub(crate) fn with_queue<R>(
        &self,
        change: impl FnOnce(&mut S::Queue<T>) -> R,
        close: impl FnOnce(&S::Queue<T>) -> bool,
    ) -> R {
        let mut state = self.lock();
        let out = change(&mut state.queue);
        let close_now = !state.closed && close(&state.queue);
        // Waiting senders re-check their level.
        let wake_senders = state.senders.wake_all();
        drop(state);
        if wake_senders {
            self.space.notify(usize::MAX);
        }
        if close_now {
            self.close();
        }
        out
    }

    /// Closes the channel for good when the last receiver leaves: nobody can receive what is
    /// queued, so it is dropped and reported.
    pub(crate) fn abandon(&self) {
        self.close();
        let (stranded, per_level) = {
            let mut state = self.lock();
            let per_level: Vec<usize> = (0..self.level_probes.len())
                .map(|level| state.queue.len_at(level))
                .collect();
            (state.queue.drain(), per_level)
        };
        for (probe, n) in self.level_probes.iter().zip(per_level) {
            if n > 0 {
                probe.dropped(n as u64, DropReason::Closed);
                probe.depth(0);
            }
        }
        if let Some(probe) = &self.probe
            && !stranded.is_empty()
        {
            probe.dropped(stranded.len() as u64, DropReason::Closed);
            probe.depth(0);
        }
        drop(stranded);
    }
}

impl<T: Send, S: Store> fmt::Debug for Shared<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("PriorityChannel")
            .field("len", &state.queue.len())
            .field("capacity", &self.capacity())
            .field("closed", &state.closed)
            .field("when_full", &self.when_full)
            .field("probe", &self.probe.is_some())
            .finish_non_exhaustive()
    }
}

/// One task's place among the waiters of one side, for the duration of one operation.
pub(crate) struct Wait<'a, T: Send, S: Store> {
    shared: &'a Shared<T, S>,
    side: Side,
    stage: Stage,
}

#[derive(Default)]
pub(crate) enum Stage {
    #[default]
    Idle,
    Registered(EventListener),
    /// Notified, not settled yet.
    Woken,
}

impl<'a, T: Send, S: Store> Wait<'a, T, S> {
    pub(crate) fn new(shared: &'a Shared<T, S>, side: Side) -> Self {
        Self::resume(shared, side, Stage::Idle)
    }

    /// A stream's wait kept in its handle between polls ([`suspend`](Self::suspend)ed there),
    /// taken up again. Only streams' waits are kept so: they count as nobody's wake-up, so
    /// nothing is owed to anyone while one sits in a handle.
    pub(crate) fn resume(shared: &'a Shared<T, S>, side: Side, stage: Stage) -> Self {
        Self {
            shared,
            side,
            stage,
        }
    }

    /// Where this wait stands, to keep in a handle until the next poll.
    pub(crate) fn suspend(mut self) -> Stage {
        debug_assert_eq!(self.side, Side::Streams, "only streams' waits are kept");
        std::mem::take(&mut self.stage)
    }

    fn event(&self) -> &'a Event {
        match self.side {
            Side::Receivers => &self.shared.items,
            Side::Senders => &self.shared.space,
            Side::Streams => &self.shared.streams,
        }
    }

    /// Leaves the waiters after a wake-up; called under the lock before looking again.
    fn settle(&mut self, state: &mut State<S::Queue<T>>) {
        if let Stage::Woken = self.stage {
            if let Some(waiters) = state.waiters(self.side) {
                waiters.leave(true);
            }
            self.stage = Stage::Idle;
        }
    }

    /// Joins the waiters; called under the lock, after finding nothing to do.
    fn register(&mut self, state: &mut State<S::Queue<T>>) {
        if let Stage::Idle = self.stage {
            match state.waiters(self.side) {
                Some(waiters) => waiters.waiting += 1,
                None => state.streams += 1,
            }
            self.stage = Stage::Registered(self.event().listen());
        }
    }

    /// Sleeps until notified, if registered.
    pub(crate) async fn wait(&mut self) {
        std::future::poll_fn(|cx| self.poll_wait(cx)).await;
    }

    /// [`wait`](Self::wait), polled.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Stage::Registered(listener) = &mut self.stage {
            ready!(Pin::new(listener).poll(cx));
            self.stage = Stage::Woken;
        }
        Poll::Ready(())
    }
}

impl<T: Send, S: Store> Drop for Wait<'_, T, S> {
    fn drop(&mut self) {
        if self.side == Side::Streams {
            // Counted only until the next notification, which wakes every stream; nothing to
            // pass on, as no stream takes a notification from anyone.
            return;
        }
        let woken = match std::mem::replace(&mut self.stage, Stage::Idle) {
            Stage::Idle => return,
            // Dropping a notified listener passes its notification on to another listener.
            Stage::Registered(listener) => {
                drop(listener);
                false
            }
            Stage::Woken => true,
        };
        let mut state = self.shared.lock();
        let Some(waiters) = state.waiters(self.side) else {
            return;
        };
        waiters.leave(woken);
        // A wake-up this waiter used but acted on no more goes to the next waiter.
        let pass_on = woken && waiters.wake_one();
        drop(state);
        if pass_on {
            self.event().notify_additional(1);
        }
    }
}

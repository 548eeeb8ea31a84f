//! Windowing a `Stream`, and any `Consumer` through its stream.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use pc_core::{Consumer, DropReason, FailReason, SharedProbe};
use tokio::time::{Instant, Sleep};

use crate::aggregate::Aggregate;
use crate::engine::{Added, Engine, Order};
use crate::panes::{Arrived, Part};
use crate::window::{Domain, Window};

/// One window's result.
///
/// A window fires once, when the clock or watermark passes its end; with event time and
/// allowed lateness, a late item fires it again with the same `key`, `start` and `end` and the
/// updated `count` and `value`, which replace the earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowResult<K, V, P> {
    /// The key, with [`key_by`](crate::WindowBuilder::key_by); `()` otherwise.
    pub key: K,
    /// Where the window starts (inclusive): an item number, an `Instant` or an event time.
    pub start: P,
    /// Where it ends (exclusive).
    pub end: P,
    /// How many items it holds: at least 1, since empty windows do not fire.
    pub count: u64,
    /// The aggregate's output.
    pub value: V,
}

/// The results a [`Windowed`] stream yields.
pub type ResultOf<T, A, K, D> =
    WindowResult<K, <A as Aggregate<T>>::Output, <D as Domain>::Position>;

/// What polling a [`Windowed`] gives.
type Polled<S, A, K, D> = Poll<Option<ResultOf<<S as Stream>::Item, A, K, D>>>;

/// Adds [`window`](WindowExt::window) to every `Stream`.
pub trait WindowExt: Stream + Sized {
    /// Aggregates the stream's items in windows as `window` says; see [`Windowed`].
    fn window<A, K, D>(self, window: Window<Self::Item, A, K, D>) -> Windowed<Self, A, K, D>
    where
        A: Aggregate<Self::Item>,
        K: Hash + Eq + Clone,
        D: Domain,
    {
        Windowed::new(self, window)
    }
}

impl<S: Stream> WindowExt for S {}

/// Windows any [`Consumer`]'s items.
///
/// Receives are cancel safe, so dropping the stream loses nothing still queued in the consumer;
/// items already taken into open windows are dropped with it. The consumer's items come through
/// its [`stream`](Consumer::stream), which goes past a failure of its backend: the windows go
/// on, and the consumer reports the failure its own way (pc-redis: its probe and a `tracing`
/// warning).
pub fn window_consumer<'a, T, C, A, K, D>(
    consumer: &'a C,
    window: Window<T, A, K, D>,
) -> ConsumerWindows<'a, T, A, K, D>
where
    T: Send + 'a,
    C: Consumer<T>,
    A: Aggregate<T>,
    K: Hash + Eq + Clone,
    D: Domain,
{
    let source: Pin<Box<dyn Stream<Item = T> + Send + 'a>> = Box::pin(consumer.stream());
    source.window(window)
}

/// The windows of a [`Consumer`], from [`window_consumer`].
pub type ConsumerWindows<'a, T, A, K, D> =
    Windowed<Pin<Box<dyn Stream<Item = T> + Send + 'a>>, A, K, D>;

/// The windows of one key.
struct Slot<K, Acc> {
    key: K,
    engine: Engine<Acc>,
}

/// Every key's windows: one slot without keys, a map with them.
enum Keys<K, Acc> {
    One(Option<Slot<K, Acc>>),
    Many(HashMap<K, Slot<K, Acc>>),
}

/// How the stream learns time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// Positions are item numbers, per key: no clock.
    Counted,
    /// Positions are the tokio clock: it is the watermark.
    Processing,
    /// Positions are timestamps: the watermark follows them.
    Event,
    /// As `Event`, and a silent source lets the watermark follow the tokio clock.
    EventIdle(Duration),
}

/// What the stream holds besides its source and settings.
struct State<K, Acc, V, P> {
    clock: Clock,
    keys: Keys<K, Acc>,
    ready: VecDeque<WindowResult<K, V, P>>,
    // Processing-time windows are aligned to this instant.
    origin: Instant,
    // Event time: when the last item came, the largest timestamp seen (nanoseconds).
    last_arrival: Instant,
    max_event: Option<u64>,
    watermark: u64,
    // The lowest watermark at which some key's window fires.
    due: Option<u64>,
    late: u64,
    /// Items taken so far: the next one's arrival number.
    arrivals: u64,
    /// Items taken by their aggregate, to report consumed when the poll returns.
    unreported: Unreported,
}

/// Items taken by their aggregate and not yet reported consumed: reported together when a
/// poll returns, and when the stream is dropped (one probe call a poll, not one an item).
struct Unreported {
    count: u64,
    probe: Option<SharedProbe>,
}

impl Unreported {
    fn flush(&mut self) {
        if self.count > 0
            && let Some(probe) = &self.probe
        {
            probe.consumed(std::mem::take(&mut self.count));
        }
    }
}

impl Drop for Unreported {
    fn drop(&mut self) {
        self.flush();
    }
}

pin_project_lite::pin_project! {
    /// A stream of [`WindowResult`]s, in the order windows fire (within a key, by end).
    ///
    /// Counted windows fire as the item that completes them arrives; processing-time windows
    /// when the tokio clock passes their end, whether or not items come (a timer wakes the
    /// stream); event-time windows when the watermark passes their end, or, with an idle
    /// timeout, when a silent source lets it follow the clock. When the source ends, every
    /// window still holding items fires, and the stream ends.
    ///
    /// Counted and plain event-time windows never read the clock.
    ///
    /// # Panics
    ///
    /// User code (the key, the timestamp, the aggregate, the late hook) runs inside
    /// `poll_next`, and its panic unwinds to the task that polls. The stream stays usable and
    /// goes on with the next item: a panic in the key, the timestamp or `add` costs that item
    /// alone (counted on the probe as failed, `FailReason::Panicked`); in `finish`, the one
    /// result it was making; in `merge` or `init`, the windows that needed that call. What an
    /// aggregate did to its own accumulator before it panicked stays.
    pub struct Windowed<S, A, K, D>
    where
        S: Stream,
        A: Aggregate<S::Item>,
        D: Domain,
    {
        #[pin]
        source: S,
        window: Window<S::Item, A, K, D>,
        state: State<K, A::Acc, A::Output, D::Position>,
        // Made on first use, so that windows that never wait need no runtime.
        timer: Option<Pin<Box<Sleep>>>,
        done: bool,
    }
}

impl<S, A, K, D> Windowed<S, A, K, D>
where
    S: Stream,
    A: Aggregate<S::Item>,
    K: Hash + Eq + Clone,
    D: Domain,
{
    fn new(source: S, window: Window<S::Item, A, K, D>) -> Self {
        let clock = match &window.event {
            _ if D::COUNTED => Clock::Counted,
            None => Clock::Processing,
            Some(event) => event.idle.map_or(Clock::Event, Clock::EventIdle),
        };
        let keys = if window.keyed {
            Keys::Many(HashMap::new())
        } else {
            Keys::One(None)
        };
        let now = match clock {
            Clock::Processing | Clock::EventIdle(_) => Instant::now(),
            Clock::Counted | Clock::Event => fixed_instant(),
        };
        let probe = window.probe.clone();
        Self {
            source,
            window,
            state: State {
                clock,
                keys,
                ready: VecDeque::new(),
                origin: now,
                last_arrival: now,
                max_event: None,
                watermark: 0,
                due: None,
                late: 0,
                arrivals: 0,
                unreported: Unreported { count: 0, probe },
            },
            timer: None,
            done: false,
        }
    }

    /// The instant processing-time windows are aligned to: when the stream was made. (Count
    /// and event-time windows have positions of their own and do not use it.)
    pub fn origin(&self) -> Instant {
        self.state.origin
    }

    /// Items that came too late for every window they belong to (event time), so far.
    pub fn late_items(&self) -> u64 {
        self.state.late
    }

    /// The watermark: every window ending at or before it has fired.
    pub fn watermark(&self) -> D::Position {
        D::position(self.state.origin, self.state.watermark)
    }
}

/// An instant for streams that never read the clock, so that making one needs no runtime.
fn fixed_instant() -> Instant {
    static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();
    Instant::from_std(*ORIGIN.get_or_init(std::time::Instant::now))
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn min_due(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The slot of `item`'s key, made on its first item.
#[inline(always)]
fn slot_of<'a, T, A, K, D: Domain, Acc: Clone>(
    keys: &'a mut Keys<K, Acc>,
    window: &Window<T, A, K, D>,
    item: &T,
) -> &'a mut Slot<K, Acc>
where
    A: Aggregate<T, Acc = Acc>,
    K: Hash + Eq + Clone,
{
    let new = |key| Slot {
        key,
        engine: Engine::new(
            &window.agg,
            window.shape,
            window.lateness(),
            match window.event {
                _ if D::COUNTED => Order::Counted,
                None => Order::Ascending,
                Some(_) => Order::Any,
            },
        ),
    };
    match keys {
        Keys::One(Some(slot)) => slot,
        Keys::One(one) => one.insert(new((window.key)(item))),
        Keys::Many(map) => match map.entry((window.key)(item)) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(vacant) => {
                let key = vacant.key().clone();
                vacant.insert(new(key))
            }
        },
    }
}

/// Runs `f` on one slot's engine with an `emit` that queues results under the slot's key.
#[inline]
fn with_emit<K, Acc: Clone, V, P, T, A, D, R>(
    slot: &mut Slot<K, Acc>,
    ready: &mut VecDeque<WindowResult<K, V, P>>,
    agg: &A,
    origin: Instant,
    f: impl FnOnce(&mut Engine<Acc>, &mut dyn FnMut(u64, u64, &Part<Acc>)) -> R,
) -> R
where
    K: Clone,
    A: Aggregate<T, Acc = Acc, Output = V>,
    D: Domain<Position = P>,
{
    let Slot { key, engine, .. } = slot;
    let mut emit = |start: u64, end: u64, part: &Part<Acc>| {
        ready.push_back(WindowResult {
            key: key.clone(),
            start: D::position(origin, start),
            end: D::position(origin, end),
            count: part.count,
            value: agg.finish(&part.acc),
        });
    };
    f(engine, &mut emit)
}

impl<K, Acc, V, P> State<K, Acc, V, P>
where
    K: Hash + Eq + Clone,
    Acc: Clone,
{
    /// Takes one item that arrived at `now` (read for clocks that need it). Returns the
    /// window it completes, for counted windows; other results go to `ready`.
    ///
    /// `failed` is disarmed once the item is in: until then user code (key, timestamp,
    /// aggregate) may unwind through it.
    #[inline]
    fn take<T, A, D, F: OnUnwind>(
        &mut self,
        window: &Window<T, A, K, D>,
        item: T,
        now: Option<Instant>,
        failed: F,
    ) -> Option<WindowResult<K, V, P>>
    where
        A: Aggregate<T, Acc = Acc, Output = V>,
        D: Domain<Position = P>,
    {
        if let Some(probe) = &window.probe {
            probe.produced(1);
        }
        let agg = &window.agg;
        let origin = self.origin;
        let at = self.arrivals;
        self.arrivals += 1;
        match (&window.event, self.clock) {
            (_, Clock::Counted) => {
                let slot = slot_of(&mut self.keys, window, &item);
                // The engine numbers the items it took: one whose aggregate panicked has none.
                let pos = slot.engine.counted();
                let arrived = Arrived { item: &item, at };
                let added = slot.engine.add(agg, pos, arrived, pos, &mut |_, _, _| {});
                if failed.disarm() {
                    self.unreported.count += 1;
                }
                debug_assert_eq!(added, Added::Taken, "counted items are never late");
                // The item completes at most one window, the one ending right after it (every
                // earlier end has passed with an earlier item): hand it straight back, with no
                // queue and no copy of a result just written.
                let Slot { key, engine, .. } = slot;
                let fired = engine.fire_next(agg, pos + 1, |start, end, part| WindowResult {
                    key: key.clone(),
                    start: D::position(origin, start),
                    end: D::position(origin, end),
                    count: part.count,
                    value: agg.finish(&part.acc),
                });
                debug_assert!(engine.next_due().is_none_or(|due| due > pos + 1));
                return fired;
            }
            (event, _) => {
                // On the clock, the item is at the watermark (windows due before `now` have
                // fired); on event time, at its timestamp, which may move the watermark.
                // A window the item's timestamp fires may panic in `finish`: that result is
                // lost, but this item is still taken before the panic goes on.
                let mut fired_panic = None;
                let pos = match event {
                    None => self.watermark,
                    Some(event) => {
                        let ts = nanos((event.timestamp)(&item));
                        let max = self.max_event.map_or(ts, |max| max.max(ts));
                        self.max_event = Some(max);
                        if let Some(now) = now {
                            self.last_arrival = now;
                        }
                        let w = max.saturating_sub(event.out_of_orderness);
                        if w > self.watermark {
                            let advance = AssertUnwindSafe(|| self.advance_all(window, w));
                            fired_panic = catch_unwind(advance).err();
                        }
                        ts
                    }
                };
                let w = self.watermark;
                let slot = slot_of(&mut self.keys, window, &item);
                let added = with_emit::<_, _, _, _, T, A, D, _>(
                    slot,
                    &mut self.ready,
                    agg,
                    origin,
                    |engine, emit| engine.add(agg, pos, Arrived { item: &item, at }, w, emit),
                );
                let probed = failed.disarm();
                self.due = min_due(self.due, slot.engine.next_due());
                if added != Added::Late {
                    if probed {
                        self.unreported.count += 1;
                    }
                } else {
                    self.late += 1;
                    if let Some(probe) = &window.probe {
                        probe.dropped(1, DropReason::Late);
                    }
                    if let Some(hook) = &window.on_late {
                        hook(item);
                    }
                }
                if let Some(panic) = fired_panic {
                    resume_unwind(panic);
                }
            }
        }
        None
    }

    /// Moves the watermark to `w` and fires what is due in every key; forgets keys left empty.
    fn advance_all<T, A, D>(&mut self, window: &Window<T, A, K, D>, w: u64)
    where
        A: Aggregate<T, Acc = Acc, Output = V>,
        D: Domain<Position = P>,
    {
        self.watermark = self.watermark.max(w);
        if self.due.is_none_or(|due| due > w) && w != u64::MAX {
            return;
        }
        let agg = &window.agg;
        let (origin, ready) = (self.origin, &mut self.ready);
        let mut due = None;
        let mut fire = |slot: &mut Slot<K, Acc>| {
            with_emit::<_, _, _, _, T, A, D, _>(slot, ready, agg, origin, |engine, emit| {
                engine.advance(agg, w, emit)
            });
            due = min_due(due, slot.engine.next_due());
        };
        match &mut self.keys {
            Keys::One(one) => {
                if let Some(slot) = one {
                    fire(slot);
                }
            }
            Keys::Many(map) => {
                let counted = self.clock == Clock::Counted;
                map.retain(|_, slot| {
                    fire(slot);
                    // A counted key keeps its item count; a time key with nothing left goes.
                    counted || !slot.engine.is_empty()
                });
            }
        }
        self.due = due;
    }

    /// When the stream must wake to fire a window if no item comes first.
    fn deadline(&self) -> Option<Instant> {
        let due = self.due?;
        match self.clock {
            Clock::Processing => Some(self.origin + Duration::from_nanos(due)),
            Clock::EventIdle(idle) => {
                let behind = Duration::from_nanos(due.saturating_sub(self.watermark));
                // An idle timeout of `Duration::MAX` never closes windows by the clock.
                self.last_arrival.checked_add(idle.max(behind))
            }
            Clock::Counted | Clock::Event => None,
        }
    }

    /// The clock reached the deadline: moves the watermark as the clock says and fires.
    fn on_clock<T, A, D>(&mut self, window: &Window<T, A, K, D>, now: Instant)
    where
        A: Aggregate<T, Acc = Acc, Output = V>,
        D: Domain<Position = P>,
    {
        match self.clock {
            Clock::Processing => self.advance_all(window, offset(self.origin, now)),
            Clock::EventIdle(idle) => {
                let silent = now.saturating_duration_since(self.last_arrival);
                if silent >= idle {
                    let out_of_orderness = window.event.as_ref().map_or(0, |e| e.out_of_orderness);
                    let base = self
                        .max_event
                        .map_or(0, |max| max.saturating_sub(out_of_orderness));
                    self.advance_all(window, base.saturating_add(nanos(silent)));
                }
            }
            Clock::Counted | Clock::Event => {}
        }
    }
}

/// Nanoseconds from `origin` to `now`.
fn offset(origin: Instant, now: Instant) -> u64 {
    nanos(now.saturating_duration_since(origin))
}

impl<S, A, K, D> Stream for Windowed<S, A, K, D>
where
    S: Stream,
    A: Aggregate<S::Item>,
    K: Hash + Eq + Clone,
    D: Domain,
{
    type Item = WindowResult<K, A::Output, D::Position>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.as_mut().poll_windows(cx);
        self.project().state.unreported.flush();
        polled
    }
}

impl<S, A, K, D> Windowed<S, A, K, D>
where
    S: Stream,
    A: Aggregate<S::Item>,
    K: Hash + Eq + Clone,
    D: Domain,
{
    /// What `poll_next` returns; the items it took are reported consumed after.
    #[inline(always)]
    fn poll_windows(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Polled<S, A, K, D> {
        let mut this = self.project();
        let window = &*this.window;
        let state = &mut *this.state;
        loop {
            if let Some(result) = state.ready.pop_front() {
                return Poll::Ready(Some(result));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            // Read once per poll: items ready in the same poll arrive at the same instant.
            let now = match state.clock {
                Clock::Processing | Clock::EventIdle(_) => Some(Instant::now()),
                Clock::Counted | Clock::Event => None,
            };
            if let (Clock::Processing, Some(now)) = (state.clock, now) {
                state.advance_all(window, offset(state.origin, now));
                if !state.ready.is_empty() {
                    continue;
                }
            }
            loop {
                match this.source.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        // Without a probe, nothing to report on an unwind, and no guard on the
                        // hot path.
                        let fired = match &window.probe {
                            Some(probe) => state.take(window, item, now, FailedOnUnwind(probe)),
                            None => state.take(window, item, now, ()),
                        };
                        if let Some(fired) = fired {
                            return Poll::Ready(Some(fired));
                        }
                        if !state.ready.is_empty() {
                            break;
                        }
                    }
                    Poll::Ready(None) => {
                        *this.done = true;
                        state.advance_all(window, u64::MAX);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if !state.ready.is_empty() || *this.done {
                continue;
            }
            let Some(deadline) = state.deadline() else {
                return Poll::Pending;
            };
            let timer = match this.timer {
                Some(timer) => {
                    if timer.deadline() != deadline {
                        timer.as_mut().reset(deadline);
                    }
                    timer
                }
                None => this
                    .timer
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            state.on_clock(window, Instant::now());
        }
    }
}

impl<S, A, K, D> fmt::Debug for Windowed<S, A, K, D>
where
    S: Stream,
    A: Aggregate<S::Item>,
    D: Domain,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Windowed")
            .field("clock", &self.state.clock)
            .field("watermark", &self.state.watermark)
            .field("ready", &self.state.ready.len())
            .field("late", &self.state.late)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// What happens to the item being taken if user code unwinds before it is in.
trait OnUnwind {
    /// The item is in (taken by its aggregate, or late): nothing to do on unwind any more.
    /// Returns whether there is a probe to tell where it went.
    fn disarm(self) -> bool;
}

/// Nothing to report (no probe).
impl OnUnwind for () {
    #[inline(always)]
    fn disarm(self) -> bool {
        false
    }
}

/// Counts the item being added as consumed and failed ([`FailReason::Panicked`]) if user code
/// panics while it is added: it is done with, as a pool's job that panicked is.
struct FailedOnUnwind<'a>(&'a SharedProbe);

impl OnUnwind for FailedOnUnwind<'_> {
    #[inline(always)]
    fn disarm(self) -> bool {
        std::mem::forget(self);
        true
    }
}

impl Drop for FailedOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.consumed(1);
        self.0.failed(1, FailReason::Panicked);
    }
}

//! `Window`: which windows, on which clock, per which key, folded by which aggregate; checked
//! once by its builder.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use pc_core::{BuildError, SharedProbe};
use tokio::time::Instant;

use crate::aggregate::{Aggregate, Count};
use crate::engine::Shape;

/// The clock windows are measured on, and what a window's start and end are.
///
/// [`Counted`] windows count items, [`ProcessingTime`] windows follow the tokio clock, and
/// [`EventTime`] windows follow a timestamp carried by each item. Sealed.
pub trait Domain: sealed::Sealed + Send + Sync + 'static {
    /// A window's start and end: an item number, an `Instant`, or an event time.
    type Position: Copy + fmt::Debug + PartialEq + Send + Sync + 'static;

    /// Whether positions count items rather than nanoseconds.
    #[doc(hidden)]
    const COUNTED: bool = false;

    /// The position `offset` (item numbers or nanoseconds) after the stream's origin.
    #[doc(hidden)]
    fn position(origin: Instant, offset: u64) -> Self::Position;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Counted {}
    impl Sealed for super::ProcessingTime {}
    impl Sealed for super::EventTime {}
}

/// Windows by item count: a window's start and end are item numbers (0 is the first item of
/// the stream, or of the key), end exclusive.
#[derive(Debug, Clone, Copy)]
pub struct Counted;

impl Domain for Counted {
    type Position = u64;
    const COUNTED: bool = true;

    fn position(_origin: Instant, offset: u64) -> u64 {
        offset
    }
}

/// Windows on the tokio clock: an item belongs to the window of the instant it is received, and
/// windows are aligned to the instant the windowed stream was made
/// ([`Windowed::origin`](crate::Windowed::origin)). They fire when the clock passes their end.
#[derive(Debug, Clone, Copy)]
pub struct ProcessingTime;

impl Domain for ProcessingTime {
    type Position = Instant;

    fn position(origin: Instant, offset: u64) -> Instant {
        origin + Duration::from_nanos(offset)
    }
}

/// Windows on each item's own timestamp, a `Duration` since an epoch of the application's
/// choosing (`SystemTime::UNIX_EPOCH`, the start of a recording, ...); windows are aligned to
/// that epoch. They fire when the watermark passes their end.
#[derive(Debug, Clone, Copy)]
pub struct EventTime;

impl Domain for EventTime {
    type Position = Duration;

    fn position(_origin: Instant, offset: u64) -> Duration {
        Duration::from_nanos(offset)
    }
}

pub(crate) type KeyFn<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;
pub(crate) type TimestampFn<T> = Arc<dyn Fn(&T) -> Duration + Send + Sync>;
pub(crate) type LateHook<T> = Arc<dyn Fn(T) + Send + Sync>;

/// Event-time settings, in nanoseconds.
pub(crate) struct EventClock<T> {
    pub(crate) timestamp: TimestampFn<T>,
    pub(crate) out_of_orderness: u64,
    pub(crate) lateness: u64,
    pub(crate) idle: Option<Duration>,
}

impl<T> Clone for EventClock<T> {
    fn clone(&self) -> Self {
        Self {
            timestamp: Arc::clone(&self.timestamp),
            ..*self
        }
    }
}

/// Windowed aggregation settings, checked: use with
/// [`WindowExt::window`](crate::WindowExt::window) on a stream or
/// [`window_consumer`](crate::window_consumer) on any `Consumer`.
///
/// Start from [`Window::tumbling`], [`Window::sliding`], [`Window::session`] (processing time,
/// or event time with [`WindowBuilder::event_time`]), [`Window::tumbling_count`] or
/// [`Window::sliding_count`]. The type parameters are the item, the [`Aggregate`], the key and
/// the [`Domain`].
pub struct Window<T, A, K = (), D = ProcessingTime> {
    pub(crate) shape: Shape,
    pub(crate) agg: A,
    pub(crate) key: KeyFn<T, K>,
    pub(crate) keyed: bool,
    pub(crate) event: Option<EventClock<T>>,
    pub(crate) on_late: Option<LateHook<T>>,
    pub(crate) probe: Option<SharedProbe>,
    _domain: PhantomData<fn() -> D>,
}

impl<T, A: Clone, K, D> Clone for Window<T, A, K, D> {
    fn clone(&self) -> Self {
        Self {
            shape: self.shape,
            agg: self.agg.clone(),
            key: Arc::clone(&self.key),
            keyed: self.keyed,
            event: self.event.clone(),
            on_late: self.on_late.clone(),
            probe: self.probe.clone(),
            _domain: PhantomData,
        }
    }
}

impl<T, A: fmt::Debug, K, D> fmt::Debug for Window<T, A, K, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Window")
            .field("shape", &self.shape)
            .field("aggregate", &self.agg)
            .field("keyed", &self.keyed)
            .field(
                "event_time",
                &self
                    .event
                    .as_ref()
                    .map(|e| (e.out_of_orderness, e.lateness, e.idle)),
            )
            .finish_non_exhaustive()
    }
}

/// What the builder was asked for, before it is checked.
#[derive(Debug, Clone, Copy)]
enum Requested {
    Sliding { size: u128, slide: u128 },
    Session { gap: u128 },
}

impl<T: 'static> Window<T, Count, (), ProcessingTime> {
    /// Back-to-back windows of `size` on the tokio clock: `sliding(size, size)`.
    pub fn tumbling(size: Duration) -> WindowBuilder<T, Count, (), ProcessingTime> {
        Self::sliding(size, size)
    }

    /// Windows of `size` starting every `slide` on the tokio clock, so each item is in
    /// `size / slide` windows, rounded up or down. Windows start at multiples of `slide` from the
    /// stream's origin; the first ones, which would start before it, are cut at the origin.
    pub fn sliding(size: Duration, slide: Duration) -> WindowBuilder<T, Count, (), ProcessingTime> {
        WindowBuilder::new(Requested::Sliding {
            size: size.as_nanos(),
            slide: slide.as_nanos(),
        })
    }

    /// A window per burst of items: a session ends once no item has come for `gap`, and
    /// covers its first item's time to its last one's plus `gap`.
    pub fn session(gap: Duration) -> WindowBuilder<T, Count, (), ProcessingTime> {
        WindowBuilder::new(Requested::Session {
            gap: gap.as_nanos(),
        })
    }
}

impl<T: 'static> Window<T, Count, (), Counted> {
    /// Back-to-back windows of `size` items: `sliding_count(size, size)`.
    pub fn tumbling_count(size: u64) -> WindowBuilder<T, Count, (), Counted> {
        Self::sliding_count(size, size)
    }

    /// Windows of `size` items starting every `slide` items: items `[k * slide, k * slide +
    /// size)` for every `k`, so with `slide` 1 a window fires at every item with the last
    /// `size` items (fewer at the start). With keys, items are counted per key.
    pub fn sliding_count(size: u64, slide: u64) -> WindowBuilder<T, Count, (), Counted> {
        WindowBuilder::new(Requested::Sliding {
            size: u128::from(size),
            slide: u128::from(slide),
        })
    }
}

impl<T, A, K, D> Window<T, A, K, D> {
    /// The aggregate.
    pub fn aggregate(&self) -> &A {
        &self.agg
    }
}

/// Settings for a [`Window`], from [`Window::tumbling`] and its siblings.
pub struct WindowBuilder<T, A, K, D> {
    requested: Requested,
    agg: A,
    key: KeyFn<T, K>,
    keyed: bool,
    event: Option<(TimestampFn<T>, Duration)>,
    lateness: Duration,
    idle: Option<Duration>,
    on_late: Option<LateHook<T>>,
    probe: Option<SharedProbe>,
    _domain: PhantomData<fn() -> D>,
}

impl<T, A: fmt::Debug, K, D> fmt::Debug for WindowBuilder<T, A, K, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowBuilder")
            .field("requested", &self.requested)
            .field("aggregate", &self.agg)
            .field("keyed", &self.keyed)
            .field("lateness", &self.lateness)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

impl<T: 'static, D> WindowBuilder<T, Count, (), D> {
    fn new(requested: Requested) -> Self {
        Self {
            requested,
            agg: Count,
            key: Arc::new(|_: &T| ()),
            keyed: false,
            event: None,
            lateness: Duration::ZERO,
            idle: None,
            on_late: None,
            probe: None,
            _domain: PhantomData,
        }
    }
}

impl<T, A, K, D> WindowBuilder<T, A, K, D> {
    /// Folds each window with `aggregate` (the default, [`Count`], counts its items).
    pub fn aggregate<B: Aggregate<T>>(self, aggregate: B) -> WindowBuilder<T, B, K, D> {
        WindowBuilder {
            requested: self.requested,
            agg: aggregate,
            key: self.key,
            keyed: self.keyed,
            event: self.event,
            lateness: self.lateness,
            idle: self.idle,
            on_late: self.on_late,
            probe: self.probe,
            _domain: PhantomData,
        }
    }

    /// Keeps independent windows per key: each result carries its key. Time windows forget a
    /// key once it holds nothing; count windows keep each key's item count for the life of the
    /// stream (a few words per key).
    pub fn key_by<J>(
        self,
        key: impl Fn(&T) -> J + Send + Sync + 'static,
    ) -> WindowBuilder<T, A, J, D> {
        WindowBuilder {
            requested: self.requested,
            agg: self.agg,
            key: Arc::new(key),
            keyed: true,
            event: self.event,
            lateness: self.lateness,
            idle: self.idle,
            on_late: self.on_late,
            probe: self.probe,
            _domain: PhantomData,
        }
    }

    /// Reports items in (`produced`), items taken by their aggregate (`consumed`; an item
    /// whose aggregate panicked is consumed and `failed` with `FailReason::Panicked`), and
    /// late items (`dropped` with `DropReason::Late`).
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }
}

impl<T, A, K> WindowBuilder<T, A, K, ProcessingTime> {
    /// Measures windows on each item's timestamp (a `Duration` since an epoch of your choice)
    /// instead of the tokio clock.
    ///
    /// The watermark is the largest timestamp seen minus `out_of_orderness`: items may arrive
    /// that much out of order and still be on time. A window fires once the watermark reaches
    /// its end, then takes late items for [`allowed_lateness`](WindowBuilder::allowed_lateness)
    /// more; later ones are counted and go to [`on_late`](WindowBuilder::on_late). An
    /// `out_of_orderness` of `Duration::MAX` holds every window until the source ends.
    pub fn event_time(
        self,
        timestamp: impl Fn(&T) -> Duration + Send + Sync + 'static,
        out_of_orderness: Duration,
    ) -> WindowBuilder<T, A, K, EventTime> {
        WindowBuilder {
            requested: self.requested,
            agg: self.agg,
            key: self.key,
            keyed: self.keyed,
            event: Some((Arc::new(timestamp), out_of_orderness)),
            lateness: self.lateness,
            idle: self.idle,
            on_late: self.on_late,
            probe: self.probe,
            _domain: PhantomData,
        }
    }
}

impl<T, A, K> WindowBuilder<T, A, K, EventTime> {
    /// How long after its end (in event time, measured by the watermark) a fired window still
    /// takes late items; each one fires it again with the updated result, which repeats its
    /// key, start and end. Default zero: a fired window is final. `Duration::MAX` keeps every
    /// fired window open to late items for as long as the stream runs (and in memory).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = lateness;
        self
    }

    /// When no item has arrived for `idle` (on the tokio clock), lets the watermark follow the
    /// tokio clock from where it stood, as if event time went on passing at the rate of
    /// processing time, so the windows of a silent source still close. An item that arrives
    /// later moves it on as usual.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Hands each item too late for all its windows to `hook` (after counting it), a side
    /// output: send it to a channel, log it, or store it for a batch job.
    pub fn on_late(mut self, hook: impl Fn(T) + Send + Sync + 'static) -> Self {
        self.on_late = Some(Arc::new(hook));
        self
    }
}

fn nanos(setting: &'static str, value: u128) -> Result<u64, BuildError> {
    u64::try_from(value).map_err(|_| BuildError::Invalid {
        setting,
        reason: "must fit in 584 years of nanoseconds".into(),
    })
}

fn saturating_nanos(value: Duration) -> u64 {
    u64::try_from(value.as_nanos()).unwrap_or(u64::MAX)
}

fn at_least_one(setting: &'static str, value: u128) -> Result<u64, BuildError> {
    if value == 0 {
        return Err(BuildError::Zero { setting });
    }
    nanos(setting, value)
}

impl<T, A: Aggregate<T>, K, D: Domain> WindowBuilder<T, A, K, D> {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for a zero size, slide, gap or idle timeout;
    /// [`BuildError::Invalid`] for a slide larger than the size, a window spanning more than
    /// [`MAX_PANES`] times the gcd of its size and slide, or a duration beyond 584 years.
    pub fn build(self) -> Result<Window<T, A, K, D>, BuildError> {
        let shape = match self.requested {
            Requested::Sliding { size, slide } => {
                let size = at_least_one("size", size)?;
                let slide = at_least_one("slide", slide)?;
                if slide > size {
                    return Err(BuildError::Invalid {
                        setting: "slide",
                        reason: format!(
                            "must not be larger than the size ({slide} > {size}), or items would fall between windows"
                        ),
                    });
                }
                // A window is kept as `size / gcd(size, slide)` panes, and that many windows
                // overlap each item; past this, neither the panes nor the windows that fire
                // when the source ends would ever be through (`sliding_count(u64::MAX, 1)`).
                if size / crate::engine::gcd(size, slide) > MAX_PANES {
                    return Err(BuildError::Invalid {
                        setting: "slide",
                        reason: format!(
                            "a window may span at most {MAX_PANES} slides (the gcd of size and slide), got {size} / {slide}"
                        ),
                    });
                }
                Shape::Sliding { size, slide }
            }
            Requested::Session { gap } => Shape::Session {
                gap: at_least_one("gap", gap)?,
            },
        };
        let event = match self.event {
            Some((timestamp, out_of_orderness)) => {
                if self.idle.is_some_and(|idle| idle.is_zero()) {
                    return Err(BuildError::Zero {
                        setting: "idle_timeout",
                    });
                }
                Some(EventClock {
                    timestamp,
                    // `Duration::MAX` (anything past u64 nanoseconds) means no limit: the
                    // watermark never passes a window before the source ends, or fired
                    // windows keep taking late items.
                    out_of_orderness: saturating_nanos(out_of_orderness),
                    lateness: saturating_nanos(self.lateness),
                    idle: self.idle,
                })
            }
            None => None,
        };
        Ok(Window {
            shape,
            agg: self.agg,
            key: self.key,
            keyed: self.keyed,
            event,
            on_late: self.on_late,
            probe: self
                .probe
                .inspect(|probe| probe.described(pc_core::BlockKind::Window, None)),
            _domain: PhantomData,
        })
    }
}

impl<T, A, K, D> Window<T, A, K, D> {
    /// How long fired windows take late items, in nanoseconds.
    pub(crate) fn lateness(&self) -> u64 {
        self.event.as_ref().map_or(0, |event| event.lateness)
    }
}

/// The most panes (units of `gcd(size, slide)`) a sliding window spans.
pub const MAX_PANES: u64 = 1 << 32;

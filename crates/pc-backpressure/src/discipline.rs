//! `Discipline`: how a queue serves its items while a standing queue persists.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pc_core::BuildError;
use tokio::time::Instant;

/// How a [`BoundedQueue`](crate::BoundedQueue) serves its items under a standing queue, beside
/// what its [`Overflow`](crate::Overflow) does when it is full. First in, first out by default.
///
/// A queue is *standing* when no receive has found it empty for an `interval` (100 ms by
/// default): the consumers have been busy for longer than a burst explains. A receive that
/// waited for an item found the queue empty until that item came; until a receive first looks,
/// the queue counts as found empty when it was built; and within an interval of a drop, an
/// empty queue is the drops' doing, not a sign that the consumers keep up, so it does not
/// count. Then:
///
/// - **CoDel** ([`codel`](Self::codel), as "Fail at Scale" runs it at Facebook: a 5 ms target
///   and a 100 ms interval): items that waited longer than the target are dropped at the head as
///   they are taken, counted as [`DropReason::Expired`](pc_core::DropReason::Expired) and passed
///   to the drop hook. What is served waited at most about the target, where a FIFO queue under
///   overload makes every item wait its full length, past the point where its client gave up.
/// - **Adaptive LIFO** ([`adaptive_lifo`](Self::adaptive_lifo)): receivers take the newest item,
///   the one whose client most likely still waits, and go back to FIFO once the queue has been
///   empty. With CoDel too ([`lifo`](Self::lifo)), the old items left behind are dropped as they
///   are reached.
///
/// Items sent with a deadline ([`Sender::send_with_deadline`](crate::Sender::send_with_deadline))
/// are never handed out past it, whatever the discipline: they are dropped as `Expired` when
/// reached, and their deadline alone decides for them (CoDel judges the others). Every item
/// still ends delivered, handed back or counted.
///
/// ```
/// use std::time::Duration;
/// use pc_backpressure::{BoundedQueue, Discipline, Overflow};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = BoundedQueue::builder(100)
///     .overflow(Overflow::Reject)
///     .discipline(Discipline::codel())
///     .build()?;
/// // A standing queue: three items wait while the consumer is away for 200 ms...
/// for i in 0..3 {
///     tx.send(i).await?;
/// }
/// tokio::time::sleep(Duration::from_millis(200)).await;
/// tx.send(3).await?;
/// // ...so the three that waited past the 5 ms target are dropped as they are reached.
/// assert_eq!(rx.recv().await?, 3);
/// assert_eq!(rx.stats().expired, 3);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discipline {
    /// CoDel's target: the longest an item may wait under a standing queue.
    target: Option<Duration>,
    /// How long the queue must not have been empty to be standing.
    interval: Duration,
    /// Newest first under a standing queue.
    lifo: bool,
}

/// "Fail at Scale"'s values: a 5 ms target over a 100 ms interval.
const TARGET: Duration = Duration::from_millis(5);
const INTERVAL: Duration = Duration::from_millis(100);

impl Default for Discipline {
    fn default() -> Self {
        Self::fifo()
    }
}

impl Discipline {
    /// First in, first out, whatever the queue's state: the default.
    pub const fn fifo() -> Self {
        Self {
            target: None,
            interval: INTERVAL,
            lifo: false,
        }
    }

    /// CoDel with a 5 ms target over a 100 ms interval.
    pub const fn codel() -> Self {
        Self::codel_with(TARGET, INTERVAL)
    }

    /// CoDel with this target and interval (the target shorter than the interval; checked by
    /// the queue's `build`).
    pub const fn codel_with(target: Duration, interval: Duration) -> Self {
        Self {
            target: Some(target),
            interval,
            lifo: false,
        }
    }

    /// Adaptive LIFO alone: newest first while the queue stands (100 ms not empty).
    pub const fn adaptive_lifo() -> Self {
        Self {
            target: None,
            interval: INTERVAL,
            lifo: true,
        }
    }

    /// This discipline with adaptive LIFO on or off: `Discipline::codel().lifo(true)` for both.
    pub const fn lifo(mut self, lifo: bool) -> Self {
        self.lifo = lifo;
        self
    }

    /// This discipline with another interval: how long the queue must not have been empty to
    /// be standing.
    pub const fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// CoDel's target, if CoDel is on.
    pub const fn target(&self) -> Option<Duration> {
        self.target
    }

    /// Whether adaptive LIFO is on.
    pub const fn is_lifo(&self) -> bool {
        self.lifo
    }

    /// Whether it is plain FIFO, which needs no clock.
    #[inline]
    pub(crate) fn is_fifo(&self) -> bool {
        self.target.is_none() && !self.lifo
    }

    pub(crate) fn check(&self) -> Result<(), BuildError> {
        if self.interval.is_zero() {
            return Err(BuildError::Zero {
                setting: "discipline interval",
            });
        }
        match self.target {
            Some(target) if target.is_zero() => Err(BuildError::Zero {
                setting: "discipline target",
            }),
            Some(target) if target >= self.interval => Err(BuildError::Invalid {
                setting: "discipline target",
                reason: format!(
                    "must be shorter than the interval ({target:?} is not below {:?})",
                    self.interval
                ),
            }),
            _ => Ok(()),
        }
    }
}

/// An item in the queue's channel, with one stamp on the scale of [`Clock::now`]: 0 when the
/// queue does not look at the time (plain FIFO, no deadline); the time it was queued; or,
/// with [`DEADLINE`] set, its deadline, which then alone decides whether it is served. One
/// word, not two: every word an item carries costs the plain queue's throughput (the 4 bytes
/// of a weight beside the stamp cost the plain queue 25% in `bounded-queue-ct-4p4c-cap1024`:
/// a weighted queue weighs an item again when it comes out instead).
pub(crate) struct Entry<T> {
    pub(crate) item: T,
    pub(crate) stamp: u64,
}

/// The stamp's bit that marks a deadline. The clock's values stay far below it (2^63 ns is
/// 292 years).
const DEADLINE: u64 = 1 << 63;

impl<T> Entry<T> {
    /// An item queued at `queued` (0: the queue does not look at the time).
    #[inline]
    pub(crate) fn new(item: T, queued: u64) -> Self {
        Self {
            item,
            stamp: queued,
        }
    }

    /// An item to hand out no later than `deadline` (from [`Clock::deadline`]).
    pub(crate) fn with_deadline(item: T, deadline: u64) -> Self {
        Self {
            item,
            stamp: deadline | DEADLINE,
        }
    }

    /// Whether the queue has nothing to judge of this entry: plain FIFO, no deadline.
    #[inline]
    pub(crate) fn is_plain(&self) -> bool {
        self.stamp == 0
    }
}

/// The queue's view of time, and its state under the discipline.
pub(crate) struct Clock {
    pub(crate) discipline: Discipline,
    origin: Instant,
    /// When a receive last found the queue empty, on the scale of [`now`](Self::now); until
    /// one looks, the queue's creation.
    last_empty: AtomicU64,
    /// When an item was last dropped as expired (0: never).
    last_shed: AtomicU64,
}

/// What the discipline says of an item taken from the queue.
pub(crate) enum Verdict {
    Serve {
        /// How long it waited, when the queue looks at the time.
        sojourn: Option<Duration>,
    },
    Expired,
}

impl Clock {
    pub(crate) fn new(discipline: Discipline) -> Self {
        Self {
            discipline,
            origin: Instant::now(),
            last_empty: AtomicU64::new(0),
            last_shed: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the origin, plus 1, so that 0 means "not stamped".
    pub(crate) fn now(&self) -> u64 {
        self.since_origin(Instant::now())
    }

    fn since_origin(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.origin)).saturating_add(1)
    }

    /// The stamp of an item queued now: 0 under plain FIFO, which never reads the clock.
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        if self.discipline.is_fifo() {
            0
        } else {
            self.now()
        }
    }

    /// A deadline on the same scale as [`now`](Self::now) (1 for one at or before the origin;
    /// one beyond 292 years is held at that).
    pub(crate) fn deadline(&self, at: Instant) -> u64 {
        self.since_origin(at).min(DEADLINE - 1)
    }

    /// A receive found the queue empty now (it found nothing to take, or it waited and has
    /// just been given an item). An empty queue shows that the consumers keep up, unless the
    /// queue shed items lately: then it is empty because it dropped them. Plain FIFO does not
    /// look.
    #[inline]
    pub(crate) fn found_empty(&self) {
        if self.discipline.is_fifo() {
            return;
        }
        let now = self.now();
        let shed = self.last_shed.load(Ordering::Relaxed);
        if shed == 0 || now.saturating_sub(shed) >= nanos(self.shedding_window()) {
            self.last_empty.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// An item was dropped as expired now.
    pub(crate) fn shed(&self) {
        if !self.discipline.is_fifo() {
            self.last_shed.fetch_max(self.now(), Ordering::Relaxed);
        }
    }

    /// How long after a drop an empty queue is still the shedding's doing: an interval, the
    /// time a queue must stand to count as standing.
    fn shedding_window(&self) -> Duration {
        self.discipline.interval
    }

    /// Whether the queue has not been empty for the interval, at `now`.
    pub(crate) fn standing(&self, now: u64) -> bool {
        now.saturating_sub(self.last_empty.load(Ordering::Relaxed))
            > nanos(self.discipline.interval)
    }

    /// Whether a receive takes the newest item now; the time it read, if it did.
    #[inline]
    pub(crate) fn newest_first(&self) -> (bool, u64) {
        if !self.discipline.lifo {
            return (false, 0);
        }
        let now = self.now();
        (self.standing(now), now)
    }

    /// Serve or drop an item taken at `now` (0: not read yet).
    #[inline]
    pub(crate) fn judge<T>(&self, entry: &Entry<T>, now: u64) -> Verdict {
        if entry.is_plain() {
            return Verdict::Serve { sojourn: None };
        }
        let now = if now == 0 { self.now() } else { now };
        if entry.stamp & DEADLINE != 0 {
            return if entry.stamp & !DEADLINE <= now {
                Verdict::Expired
            } else {
                Verdict::Serve { sojourn: None }
            };
        }
        let waited = now.saturating_sub(entry.stamp);
        if let Some(target) = self.discipline.target
            && waited > nanos(target)
            && self.standing(now)
        {
            return Verdict::Expired;
        }
        Verdict::Serve {
            sojourn: Some(Duration::from_nanos(waited)),
        }
    }
}

fn nanos(span: Duration) -> u64 {
    u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
}

//! The one observability hook every `pc` block reports through.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// Receives what a queue, limiter, batcher or pool does, as it happens.
///
/// Every method has an empty default, so an implementation overrides only what it needs.
/// Builders take an `Arc<dyn Probe>` (see [`SharedProbe`]); a component built without one pays
/// nothing but a branch. Calls happen on the hot path, from many tasks at once: keep them cheap
/// and never block or await in them.
///
/// A probe must not panic. It is told what happened after it happened, often from a task a
/// block owns: a panic unwinds through the call that reported (a send, a receive, a worker's
/// job) with the item already where it went, and ends that task.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use pc_core::{Probe, channel};
///
/// #[derive(Debug, Default)]
/// struct Count(AtomicU64);
///
/// impl Probe for Count {
///     fn produced(&self, n: u64) {
///         self.0.fetch_add(n, Ordering::Relaxed);
///     }
/// }
///
/// # tokio_test::block_on(async {
/// let probe = Arc::new(Count::default());
/// let (tx, rx) = channel::Builder::bounded(8).probe(probe.clone()).build::<u32>()?;
/// tx.send(1).await?;
/// tx.send(2).await?;
/// assert_eq!(probe.0.load(Ordering::Relaxed), 2);
/// # assert_eq!(rx.recv().await?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait Probe: Send + Sync + 'static {
    /// `n` items entered the component.
    fn produced(&self, n: u64) {
        let _ = n;
    }

    /// `n` items left the component to a consumer.
    fn consumed(&self, n: u64) {
        let _ = n;
    }

    /// `n` items were dropped on purpose, for `reason`.
    fn dropped(&self, n: u64, reason: DropReason) {
        let _ = (n, reason);
    }

    /// The component now holds `len` items.
    fn depth(&self, len: usize) {
        let _ = len;
    }

    /// Something waited for `duration`; `kind` says what.
    fn waited(&self, kind: WaitKind, duration: Duration) {
        let _ = (kind, duration);
    }

    /// A wait of `kind` began: a producer blocked on a full queue, a consumer on an empty one,
    /// a caller on a rate limit. Always followed, exactly once, by
    /// [`wait_ended`](Self::wait_ended) with the same `kind`, even when the waiting future is
    /// cancelled, so the pair counts who waits right now. Components report both through a
    /// [`WaitTimer`], which guarantees the pairing.
    fn wait_started(&self, kind: WaitKind) {
        let _ = kind;
    }

    /// A wait announced by [`wait_started`](Self::wait_started) ended (its duration, when
    /// timed, comes through [`waited`](Self::waited)).
    fn wait_ended(&self, kind: WaitKind) {
        let _ = kind;
    }

    /// A batch of `items` items was formed and handed on.
    fn batched(&self, items: usize) {
        let _ = items;
    }

    /// `n` items were taken but their processing failed, for `reason`.
    fn failed(&self, n: u64, reason: FailReason) {
        let _ = (n, reason);
    }

    /// What the component is: told once when it is built, and again with the new capacity
    /// each time its capacity changes (`set_capacity`). `capacity` is the most items it holds
    /// (`None`: unbounded, or not a queue). A probe attached to several components hears each
    /// of them.
    fn described(&self, kind: BlockKind, capacity: Option<usize>) {
        let _ = (kind, capacity);
    }

    /// A shared queue's backlog as its server counts it (a Redis consumer group's): in
    /// `partition` (0 for a queue of one stream), `pending` entries delivered and not yet
    /// acknowledged, and `lag` entries not yet delivered to the group (`None` when the server
    /// cannot tell). Reported now and then, not on every change: a Redis consumer asks its
    /// server every `backlog_every`.
    fn backlog(&self, partition: usize, pending: u64, lag: Option<u64>) {
        let _ = (partition, pending, lag);
    }

    /// Offers the probe the component's depth to read when it wants it. A probe that returns
    /// `true` keeps `source`, and the component stops reporting [`depth`](Self::depth) on every
    /// change where reading it would cost the hot path: pc-core's channel, whose length is read
    /// from both ends of the queue (two cache lines the other side writes). The default
    /// declines, and the depth is reported on every change.
    fn read_depth(&self, source: Arc<dyn DepthSource>) -> bool {
        let _ = source;
        false
    }
}

/// A component's depth, read when a probe asks for it (see [`Probe::read_depth`]).
pub trait DepthSource: Send + Sync + 'static {
    /// Items held now, or `None` once the component is gone.
    fn depth(&self) -> Option<usize>;
}

/// One announced wait: [`Probe::wait_started`] when made, [`Probe::wait_ended`] when dropped
/// (so a cancelled wait still ends), and, when [`timed`](Self::timed), [`Probe::waited`] with
/// the time elapsed on the tokio clock.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicI64, Ordering};
/// use pc_core::{Probe, WaitKind, probe::WaitTimer};
///
/// #[derive(Debug, Default)]
/// struct Waiting(AtomicI64);
///
/// impl Probe for Waiting {
///     fn wait_started(&self, _: WaitKind) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
///     fn wait_ended(&self, _: WaitKind) {
///         self.0.fetch_sub(1, Ordering::Relaxed);
///     }
/// }
///
/// let waiting = Arc::new(Waiting::default());
/// let probe: pc_core::SharedProbe = waiting.clone();
/// let timer = WaitTimer::counted(Some(&probe), WaitKind::RecvBlocked);
/// assert_eq!(waiting.0.load(Ordering::Relaxed), 1);
/// drop(timer);
/// assert_eq!(waiting.0.load(Ordering::Relaxed), 0);
/// ```
#[must_use = "the wait ends when the timer is dropped"]
pub struct WaitTimer<'a> {
    probe: Option<(&'a dyn Probe, Option<Instant>)>,
    kind: WaitKind,
}

impl<'a> WaitTimer<'a> {
    /// Announces a wait of `kind` to `probe`, if there is one, and reports its duration when
    /// it ends. Without a probe it costs nothing.
    pub fn timed(probe: Option<&'a SharedProbe>, kind: WaitKind) -> Self {
        Self::new(probe, kind, true)
    }

    /// Announces a wait of `kind` to `probe`, if there is one, without reading the clock: for
    /// waits worth counting but too frequent to time (a consumer waiting for each item).
    pub fn counted(probe: Option<&'a SharedProbe>, kind: WaitKind) -> Self {
        Self::new(probe, kind, false)
    }

    fn new(probe: Option<&'a SharedProbe>, kind: WaitKind, timed: bool) -> Self {
        let probe = probe.map(|probe| {
            probe.wait_started(kind);
            (&**probe, timed.then(Instant::now))
        });
        Self { probe, kind }
    }
}

impl Drop for WaitTimer<'_> {
    fn drop(&mut self) {
        if let Some((probe, started)) = self.probe {
            if let Some(started) = started {
                probe.waited(self.kind, started.elapsed());
            }
            probe.wait_ended(self.kind);
        }
    }
}

impl fmt::Debug for WaitTimer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitTimer")
            .field("kind", &self.kind)
            .field("probed", &self.probe.is_some())
            .finish()
    }
}

/// How builders hold a probe.
pub type SharedProbe = Arc<dyn Probe>;

/// What kind of block reports to a probe (see [`Probe::described`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockKind {
    /// pc-core's channel.
    Channel,
    /// pc-backpressure's `BoundedQueue`.
    BoundedQueue,
    /// pc-backpressure's `AdaptiveProducer`.
    AdaptiveProducer,
    /// pc-priority's `PriorityChannel`.
    PriorityChannel,
    /// pc-batch's batching of a stream or a consumer.
    Batcher,
    /// pc-batch's `BatchProcessor`.
    BatchProcessor,
    /// pc-window's windows.
    Window,
    /// pc-pool's `WorkerPool`.
    WorkerPool,
    /// pc-pool's `Pipeline`.
    Pipeline,
    /// pc-ratelimit's limiters.
    RateLimiter,
    /// pc-redis' queue on a Redis stream.
    RedisQueue,
}

impl BlockKind {
    /// A short lowercase name, stable across releases, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::BoundedQueue => "bounded_queue",
            Self::AdaptiveProducer => "adaptive_producer",
            Self::PriorityChannel => "priority_channel",
            Self::Batcher => "batcher",
            Self::BatchProcessor => "batch_processor",
            Self::Window => "window",
            Self::WorkerPool => "worker_pool",
            Self::Pipeline => "pipeline",
            Self::RateLimiter => "rate_limiter",
            Self::RedisQueue => "redis_queue",
        }
    }
}

impl fmt::Display for BlockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an item was dropped rather than delivered.
///
/// An item dropped for any reason but [`Full`](DropReason::Full) was inside the component, and
/// was reported [`produced`](Probe::produced) when it came in; a `Full` drop turns an item away
/// at the door, never reported produced (see [`DropReason::was_inside`]). So items in flight
/// are `produced - consumed - (drops but Full)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full and the incoming item was discarded (or a limiter turned it away):
    /// it never entered.
    Full,
    /// The queue was full and its oldest item was evicted for a newer one.
    Oldest,
    /// A lower-priority item was shed to make room for a higher-priority one.
    Shed,
    /// The item waited longer than it was allowed to.
    Expired,
    /// The item arrived too late for the window it belonged to.
    Late,
    /// The component was closed or torn down while holding the item.
    Closed,
    /// The item failed a step and was left out, as the component's policy says.
    Skipped,
}

impl DropReason {
    /// Whether the dropped item had entered the component, and so was reported produced
    /// first: every reason but [`Full`](DropReason::Full).
    ///
    /// ```
    /// use pc_core::DropReason;
    ///
    /// assert!(DropReason::Oldest.was_inside());
    /// assert!(!DropReason::Full.was_inside());
    /// ```
    pub fn was_inside(self) -> bool {
        self != DropReason::Full
    }

    /// A short lowercase name, stable across releases, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Oldest => "oldest",
            Self::Shed => "shed",
            Self::Expired => "expired",
            Self::Late => "late",
            Self::Closed => "closed",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a reported wait was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitKind {
    /// Time an item spent queued, from send to receive.
    Queue,
    /// Time a producer spent waiting for space.
    SendBlocked,
    /// Time spent waiting on a rate limit.
    Throttled,
    /// Time spent processing an item or a batch.
    Processing,
    /// A consumer waiting for an item. Counted while it waits, not timed: consumers of a
    /// fast queue wait for nearly every item, and reading the clock twice each time would cost
    /// more than the item.
    RecvBlocked,
    /// Time a batch stayed open, from its first item until it was handed on.
    Linger,
}

impl WaitKind {
    /// A short lowercase name, stable across releases, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::SendBlocked => "send_blocked",
            Self::Throttled => "throttled",
            Self::Processing => "processing",
            Self::RecvBlocked => "recv_blocked",
            Self::Linger => "linger",
        }
    }
}

impl fmt::Display for WaitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the processing of an item failed, or a read of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// The processing step returned an error.
    Error,
    /// The processing step panicked.
    Panicked,
    /// The processing step ran out of time.
    TimedOut,
    /// The processing step was cancelled before it finished.
    Cancelled,
    /// Not an item: a read of the source failed in its backend (a read the server refused),
    /// counted once per failed read.
    Source,
}

impl FailReason {
    /// A short lowercase name, stable across releases, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Panicked => "panicked",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Source => "source",
        }
    }
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

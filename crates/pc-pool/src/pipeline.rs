//! `Pipeline`: stages chained by bounded buffers, each stage run by its own workers.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, StreamExt};
use pc_core::task::{TaskGroup, panic_message};
use pc_core::{
    BuildError, ConsumeError, Consumer, DropReason, FailReason, SharedProbe, Stage, TryRecvError,
    TrySendError, WaitKind, channel,
};
use tokio::time::Instant;
use tracing::Instrument;

use crate::attempt::{self, Attempt};
use crate::error::JobError;
use crate::headcount::Headcount;
use crate::pool::{Cancel, MAX_WORKERS, too_many};
use crate::sizing::{Adaptive, Controller, Finished, Sizer};

/// Why an item of a pipeline produced no output.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PipelineError<E> {
    /// A stage returned this error.
    Stage(E),
    /// A stage, or the key of [`key_by`](Pipeline::key_by), panicked on the item; the
    /// panic's message.
    Panicked(String),
    /// The source panicked; the panic's message. It comes out after every item the source
    /// gave before it, whatever the [`OnError`] policy, and the output ends after it.
    Source(String),
    /// The source, a consumer of [`from_consumer`](Pipeline::from_consumer), reported a
    /// failure of its backend; [`Error::source`](std::error::Error::source) says how. It
    /// comes out in its place among the items, whatever the [`OnError`] policy (it is not an
    /// item's failure: it neither stops the pipeline nor is skipped), and the pipeline goes on
    /// taking from the source.
    SourceFailed(ConsumeError),
}

impl<E> PipelineError<E> {
    /// Whether the source panicked or failed, rather than an item.
    pub fn is_source(&self) -> bool {
        matches!(self, Self::Source(_) | Self::SourceFailed(_))
    }

    /// Whether the pipeline goes on after this error whatever its policy: a source's
    /// failure that is not its end.
    fn goes_on(&self) -> bool {
        matches!(self, Self::SourceFailed(_))
    }
}

impl<E: fmt::Debug> fmt::Debug for PipelineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stage(err) => f.debug_tuple("Stage").field(err).finish(),
            Self::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
            Self::Source(message) => f.debug_tuple("Source").field(message).finish(),
            Self::SourceFailed(err) => f.debug_tuple("SourceFailed").field(err).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for PipelineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stage(err) => write!(f, "stage failed: {err}"),
            Self::Panicked(message) => write!(f, "stage panicked: {message}"),
            Self::Source(message) => write!(f, "the source panicked: {message}"),
            Self::SourceFailed(err) => write!(f, "the source failed: {err}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PipelineError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Stage(err) => Some(err),
            Self::SourceFailed(err) => Some(err),
            Self::Panicked(_) | Self::Source(_) => None,
        }
    }
}

/// What a pipeline does with an item that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnError {
    /// Pass the error on: later stages leave it alone, and it comes out as an `Err` in its
    /// place (the Go seed's style). The default.
    #[default]
    Forward,
    /// Drop the item and count it ([`PipelineOutput::skipped`]).
    Skip,
    /// Stop the whole pipeline at the first failed item, in the source's order: every item
    /// before it comes out, then the error, last; then every stage ends; no item after it
    /// ever comes out. The source is not read past the failed item, and items after it that
    /// were already taken are dropped (reported to the probe as dropped with
    /// `DropReason::Closed`). An item can only go out once no item before it can still fail,
    /// so the outputs come in the source's order with [`unordered`](Pipeline::unordered) too.
    Stop,
}

/// An item on its way: its number in the source's order, and its value so far (`None` once a
/// stage dropped it under [`OnError::Skip`]: the number still travels, so that ordered output
/// need not wait for it).
struct Item<T, E> {
    seq: u64,
    /// The hash of the item's key, once a keyed stage has taken it: its worker in every
    /// keyed stage after.
    route: u64,
    value: Carried<T, E>,
}

/// An item's value so far. The error is boxed: every item moves through each buffer and
/// worker, and an unboxed `PipelineError` (a `String` or a `ConsumeError` wide) would make
/// every item, failed or not, that much larger to move.
type Carried<T, E> = Option<Result<T, Box<PipelineError<E>>>>;

type Buffer<T, E> = channel::Receiver<Item<T, E>>;

/// What every task of one pipeline shares.
struct Control {
    cancel: Cancel,
    /// Places for items between the source and the output's hand-out: as many as the buffers
    /// and workers hold, so that ordered output waiting for one slow item holds the source
    /// back instead of gathering everything behind it.
    window: Window,
    /// The lowest item number that failed under [`OnError::Stop`]; `u64::MAX` while none has.
    stop_at: AtomicU64,
}

impl Control {
    fn new() -> Self {
        Self {
            cancel: Cancel::new(),
            window: Window::default(),
            stop_at: AtomicU64::new(u64::MAX),
        }
    }

    /// Whether an item has failed under `OnError::Stop`: the source reads no more.
    #[inline]
    fn stopping(&self) -> bool {
        self.stop_at.load(Ordering::Acquire) != u64::MAX
    }

    /// Whether item `seq` comes after the item that stopped the pipeline.
    #[inline]
    fn after_stop(&self, seq: u64) -> bool {
        seq > self.stop_at.load(Ordering::Acquire)
    }

    fn stop_at(&self, seq: u64) {
        self.stop_at.fetch_min(seq, Ordering::AcqRel);
    }

    /// Drops an item that comes after the one that stopped the pipeline: its place is free.
    fn drop_after_stop(&self, probe: Option<&SharedProbe>) {
        self.window.release();
        drop_after_stop(probe);
    }
}

/// The window: a count of places taken, taken only by the source task (one waiter) and given
/// back wherever an item leaves, so two atomic operations per item and a wake-up only when the
/// source waits.
#[derive(Default)]
struct Window {
    held: AtomicUsize,
    places: AtomicUsize,
    source: AtomicWaker,
}

impl Window {
    fn grow(&self, places: usize) {
        // Saturating: buffers of `usize::MAX` make a window without a limit.
        let _ = self
            .places
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(places))
            });
        self.source.wake();
    }

    /// Takes a place if one is free now. Only the source takes places, so nothing takes the
    /// free place between the look and the count.
    #[inline]
    fn try_take(&self) -> bool {
        let free = self.is_free();
        if free {
            self.held.fetch_add(1, Ordering::SeqCst);
        }
        free
    }

    #[inline]
    fn is_free(&self) -> bool {
        self.held.load(Ordering::SeqCst) < self.places.load(Ordering::SeqCst)
    }

    /// Takes a place once one is free.
    #[inline]
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<()> {
        let free = || self.is_free();
        if !free() {
            self.source.register(cx.waker());
            // Checked again after registering, so a release in between is not missed.
            if !free() {
                return Poll::Pending;
            }
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(())
    }

    #[inline]
    fn release(&self) {
        let before = self.held.fetch_sub(1, Ordering::SeqCst);
        if before >= self.places.load(Ordering::SeqCst) {
            self.source.wake();
        }
    }
}

/// Drops an item that comes after the one that stopped the pipeline.
fn drop_after_stop(probe: Option<&SharedProbe>) {
    if let Some(probe) = probe {
        probe.dropped(1, DropReason::Closed);
    }
}

/// Stages chained by bounded buffers, from a source to an output stream.
///
/// Each [`stage`](Self::stage) runs on `concurrency` worker tasks of its own and hands its
/// outputs to the next through a buffer of `buffer` items, so a slow stage holds the ones before
/// it back (backpressure all the way to the source) and no stage runs ahead of its buffer.
/// [`ordered`](Self::ordered) gives the outputs in the source's order, [`unordered`](Self::unordered)
/// as they come. Errors are values, handled as [`OnError`] says.
///
/// ```
/// use futures_util::StreamExt;
/// use pc_pool::{Pipeline, PipelineError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let words = futures_util::stream::iter(["1", "2", "x", "4"].map(String::from));
/// let out: Vec<_> = Pipeline::from_stream(words)
///     .stage(2, 8, |s: String| async move { s.parse::<u32>().map_err(|_| s) })?  // 2 workers
///     .stage(1, 8, |n: u32| async move { Ok(n * 10) })?
///     .ordered()
///     .collect()
///     .await;
/// assert_eq!(out, [Ok(10), Ok(20), Err(PipelineError::Stage("x".to_string())), Ok(40)]);
/// # Ok(())
/// # }
/// ```
pub struct Pipeline<T, E> {
    rx: Buffer<T, E>,
    /// Every task of the pipeline: it has stopped when the group is empty.
    tasks: TaskGroup,
    control: Arc<Control>,
    /// Cancels every task if the pipeline is dropped before it has an output (an error of the
    /// builder included); handed over to the output otherwise.
    unfinished: CancelOnDrop,
    on_error: OnError,
    skipped: Arc<AtomicU64>,
    /// The key the next stage computes for each item, and whether items carry one already.
    key: Option<KeyFn<T>>,
    keyed: bool,
    probe: Option<SharedProbe>,
    /// The parent of the items' spans in the stages added from now on, with
    /// [`spans`](Self::spans).
    spans: Option<tracing::Span>,
    /// Stages added so far: the first one counts the items taken from the source.
    stages: usize,
}

type KeyFn<T> = Arc<dyn Fn(&T) -> u64 + Send + Sync>;

/// Cancels a pipeline's tasks when dropped, unless emptied first.
struct CancelOnDrop(Option<Arc<Control>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(control) = &self.0 {
            control.cancel.cancel();
        }
    }
}

impl<T, E> fmt::Debug for Pipeline<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("tasks", &self.tasks.len())
            .field("on_error", &self.on_error)
            .finish_non_exhaustive()
    }
}

/// The size of the buffer after the source.
const SOURCE_BUFFER: usize = 16;

impl<T: Send + 'static, E: Send + 'static> Pipeline<T, E> {
    /// A pipeline whose items come from `source`, a `Stream`. Must be called inside a tokio
    /// runtime (the source is read by a task of its own).
    pub fn from_stream<S>(source: S) -> Self
    where
        S: Stream<Item = T> + Send + 'static,
    {
        Self::from_source(source.map(Ok))
    }

    /// A pipeline over `source`, whose errors are the source's failures that are not its end.
    fn from_source<S>(source: S) -> Self
    where
        S: Stream<Item = Result<T, ConsumeError>> + Send + 'static,
    {
        let (tx, rx) = channel::bounded(SOURCE_BUFFER).expect("a non-zero capacity");
        let control = Arc::new(Control::new());
        // The source's buffer, and the item it holds while it waits to send.
        control.window.grow(SOURCE_BUFFER + 1);
        let tasks = TaskGroup::new(tokio::runtime::Handle::current());
        tasks.spawn({
            let control = Arc::clone(&control);
            let waker = control.cancel.enlist();
            async move {
                let cancel = &control.cancel;
                let stop = || cancel.is_cancelled();
                let mut source = std::pin::pin!(source.enumerate());
                // Items taken so far: the number of the next one.
                let mut seen = 0;
                while !control.stopping() {
                    if stop() {
                        break;
                    }
                    // A place first, so that a full window holds the source back; a free one
                    // is taken without the race around a wait.
                    if !control.window.try_take() {
                        let place = std::future::poll_fn(|cx| control.window.poll_take(cx));
                        if cancel
                            .race(&waker, stop, std::pin::pin!(place))
                            .await
                            .is_none()
                        {
                            break;
                        }
                    }
                    // The source is user code: its panic is not its end, and goes out as the
                    // last output, in the place of the next item.
                    let next = std::pin::pin!(AssertUnwindSafe(source.next()).catch_unwind());
                    let value = match cancel.race(&waker, stop, next).await {
                        Some(Ok(Some((seq, value)))) => {
                            seen = seq as u64 + 1;
                            value.map_err(|err| Box::new(PipelineError::SourceFailed(err)))
                        }
                        Some(Err(panic)) => Err(Box::new(PipelineError::Source(panic_message(
                            panic.as_ref(),
                        )))),
                        Some(Ok(None)) | None => break,
                    };
                    let ends =
                        matches!(&value, Err(err) if matches!(**err, PipelineError::Source(_)));
                    let item = Item {
                        seq: if ends { seen } else { seen - 1 },
                        route: 0,
                        value: Some(value),
                    };
                    let item = match tx.try_send(item) {
                        Ok(()) if ends => break,
                        Ok(()) => continue,
                        Err(TrySendError::Full(item)) => item,
                        Err(_) => break,
                    };
                    let send = std::pin::pin!(tx.send(item));
                    if !matches!(cancel.race(&waker, stop, send).await, Some(Ok(()))) || ends {
                        break;
                    }
                }
            }
        });
        Self {
            rx,
            tasks,
            unfinished: CancelOnDrop(Some(Arc::clone(&control))),
            control,
            on_error: OnError::default(),
            skipped: Arc::default(),
            key: None,
            keyed: false,
            probe: None,
            spans: None,
            stages: 0,
        }
    }

    /// A pipeline whose items come from any `Consumer`, until it is closed and drained.
    ///
    /// A failure the consumer reports (a Redis read refused by the server) comes out as
    /// [`PipelineError::SourceFailed`] in its place among the items, and the pipeline goes on
    /// receiving.
    pub fn from_consumer<C>(source: C) -> Self
    where
        C: Consumer<T> + 'static,
    {
        Self::from_source(futures_util::stream::unfold(source, |source| async move {
            match source.recv().await {
                Ok(item) => Some((Ok(item), source)),
                Err(err) if err.is_closed() => None,
                Err(err) => {
                    // A consumer that fails again at once must not hold the task.
                    tokio::task::yield_now().await;
                    Some((Err(err), source))
                }
            }
        }))
    }

    /// Reports to `probe` the stages added after this call: items taken from the source by the
    /// first stage (produced), each stage's processing time per item and its failed items (by
    /// [`FailReason`]), items left out under [`OnError::Skip`] (dropped,
    /// [`DropReason::Skipped`]) and items handed out by the output (consumed). Set it before
    /// the first stage.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.probe = Some(probe);
        self
    }

    /// Runs each item of the stages added after this call in a `tracing` span of its own:
    /// `item` (target `pc_pool`, level INFO), with fields `stage` (its index, from 0), `seq`
    /// (the item's number, in source order from 0) and `outcome` (`ok`, or the failure as
    /// [`FailReason::as_str`] names it). The span current when this is called is the parent of
    /// every item's span. Off by default.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    /// use pc_pool::Pipeline;
    ///
    /// let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(1..=3u32))
    ///     .spans()
    ///     .stage(2, 8, |n: u32| async move {
    ///         tracing::debug!(n, "doubling"); // within the item's span
    ///         Ok::<_, std::io::Error>(n * 2)
    ///     })?
    ///     .ordered()
    ///     .collect()
    ///     .await;
    /// assert_eq!(out.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [2, 4, 6]);
    /// # Ok(()) }
    /// ```
    pub fn spans(mut self) -> Self {
        self.spans = Some(tracing::Span::current());
        self
    }

    /// What to do with failed items (default [`OnError::Forward`]).
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// Keeps the order of items with the same key, from the next stage on, while items of
    /// different keys go through in parallel: each stage hands all items of a key to the same
    /// worker, in the order they came. Read the output with [`unordered`](Self::unordered):
    /// items of one key come out in their source order.
    pub fn key_by<K: Hash>(mut self, key: impl Fn(&T) -> K + Send + Sync + 'static) -> Self {
        self.key = Some(Arc::new(move |item: &T| {
            let mut hasher = DefaultHasher::new();
            key(item).hash(&mut hasher);
            hasher.finish()
        }));
        self
    }

    /// Adds a stage: `concurrency` workers run `stage` on each item, handing outputs on through
    /// a buffer of `buffer` items.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for zero `concurrency` or `buffer`; [`BuildError::Invalid`] for a
    /// `concurrency` above [`MAX_WORKERS`](crate::MAX_WORKERS). Any buffer up to `usize::MAX`
    /// works.
    pub fn stage<U, S>(
        self,
        concurrency: usize,
        buffer: usize,
        stage: S,
    ) -> Result<Pipeline<U, E>, BuildError>
    where
        U: Send + 'static,
        S: Stage<T, Output = U, Error = E> + 'static,
    {
        if concurrency == 0 {
            return Err(BuildError::Zero {
                setting: "concurrency",
            });
        }
        if concurrency > MAX_WORKERS {
            return Err(too_many("concurrency"));
        }
        self.add_stage(concurrency, buffer, None, stage)
    }

    /// Adds a stage that sizes itself: between `min` and `max` workers run `stage`, as many as
    /// `controller` (see [`sizing`](crate::sizing)) asks for after each item, starting at
    /// `min`. As [`WorkerPoolBuilder::adaptive`](crate::WorkerPoolBuilder::adaptive) does for a
    /// pool: growth starts workers at once, shrinking retires them between items. A sample's
    /// `queued` is the items waiting in the stage's input; its `queue_time` is zero (items are
    /// not stamped on their way).
    ///
    /// A controller that panics stops sizing the stage (it keeps its size); the panic is
    /// re-raised when the output ends, or by [`PipelineOutput::cancel`].
    ///
    /// ```
    /// use futures_util::StreamExt;
    /// use pc_pool::Pipeline;
    /// use pc_pool::sizing::Vegas;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let lookups = futures_util::stream::iter(0..100_u32);
    /// let out: Vec<_> = Pipeline::from_stream(lookups)
    ///     .adaptive_stage(1, 16, 8, Vegas::new(), |id: u32| async move {
    ///         tokio::time::sleep(std::time::Duration::from_millis(10)).await; // a remote call
    ///         Ok::<_, std::io::Error>(id * 2)
    ///     })?
    ///     .ordered()
    ///     .collect()
    ///     .await;
    /// assert_eq!(out.len(), 100);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] for a zero `min` or `buffer`; [`BuildError::Invalid`] for `min`
    /// above `max`, `max` above [`MAX_WORKERS`](crate::MAX_WORKERS), a stage after
    /// [`key_by`](Self::key_by) (its workers each own a share of the keys, setting
    /// `adaptive`), or a setting the controller's
    /// [`validate`](crate::sizing::Controller::validate) refuses.
    pub fn adaptive_stage<U, S>(
        self,
        min: usize,
        max: usize,
        buffer: usize,
        controller: impl Controller,
        stage: S,
    ) -> Result<Pipeline<U, E>, BuildError>
    where
        U: Send + 'static,
        S: Stage<T, Output = U, Error = E> + 'static,
    {
        let adaptive = Adaptive::new(min, max, controller);
        adaptive.check()?;
        if self.keyed || self.key.is_some() {
            return Err(BuildError::Invalid {
                setting: "adaptive",
                reason:
                    "a keyed stage's workers each own a share of the keys; it cannot be resized"
                        .into(),
            });
        }
        self.add_stage(min, buffer, Some(adaptive), stage)
    }

    /// Adds a stage of `concurrency` workers (an adaptive one's first size).
    fn add_stage<U, S>(
        mut self,
        concurrency: usize,
        buffer: usize,
        adaptive: Option<Adaptive>,
        stage: S,
    ) -> Result<Pipeline<U, E>, BuildError>
    where
        U: Send + 'static,
        S: Stage<T, Output = U, Error = E> + 'static,
    {
        if buffer == 0 {
            return Err(BuildError::Zero { setting: "buffer" });
        }
        let (tx, rx) = channel::bounded(buffer)?;
        // Decided before `route` takes the key: every stage after `key_by` is keyed.
        let keyed = self.keyed || self.key.is_some();
        let inputs = if keyed {
            self.route(concurrency, buffer)?
        } else {
            vec![self.rx.clone(); concurrency]
        };
        // Each worker holds one item, the buffer `buffer` more.
        let most = adaptive
            .as_ref()
            .map_or(concurrency, |adaptive| adaptive.max);
        self.control.window.grow(most.saturating_add(buffer));
        if let Some(probe) = &self.probe {
            probe.described(pc_core::BlockKind::Pipeline, None);
        }
        let sizing = adaptive.map(|adaptive| StageSizing {
            sizer: adaptive.start(self.tasks.clone()),
            input: self.rx.clone(),
            headcount: Headcount::new(concurrency),
        });
        let workers = Arc::new(StageWorkers {
            stage,
            tx,
            control: Arc::clone(&self.control),
            on_error: self.on_error,
            skipped: Arc::clone(&self.skipped),
            probe: self.probe.clone(),
            first: self.stages == 0,
            sizing,
            spans: self
                .spans
                .clone()
                .map(|parent| Box::new((parent, self.stages))),
        });
        for input in inputs {
            let waker = self.control.cancel.enlist();
            self.tasks
                .spawn(stage_worker(Arc::clone(&workers), input, waker));
        }
        Ok(Pipeline {
            rx,
            tasks: self.tasks,
            unfinished: self.unfinished,
            control: self.control,
            on_error: self.on_error,
            skipped: self.skipped,
            key: None,
            keyed,
            probe: self.probe,
            spans: self.spans,
            stages: self.stages + 1,
        })
    }

    /// A queue per worker of the next stage, fed in order by a router task that sends each item
    /// to the worker of its key (computing the key first, after `key_by`).
    fn route(&mut self, workers: usize, buffer: usize) -> Result<Vec<Buffer<T, E>>, BuildError> {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..workers)
            .map(|_| channel::bounded(buffer))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        let (input, key, control) = (self.rx.clone(), self.key.take(), Arc::clone(&self.control));
        let probe = self.probe.clone();
        // The workers' queues, and the item the router holds while it waits to send.
        control
            .window
            .grow(workers.saturating_mul(buffer).saturating_add(1));
        let waker = control.cancel.enlist();
        self.tasks.spawn(async move {
            let cancel = &control.cancel;
            let stop = || cancel.is_cancelled();
            loop {
                let recv = std::pin::pin!(input.recv());
                let Some(Ok(mut item)) = cancel.race(&waker, stop, recv).await else {
                    break;
                };
                if control.after_stop(item.seq) {
                    control.drop_after_stop(probe.as_ref());
                    continue;
                }
                if let (Some(key), Some(Ok(value))) = (&key, &item.value) {
                    // The key is user code: a panic fails this item, which goes on as an error.
                    match catch_unwind(AssertUnwindSafe(|| key(value))) {
                        Ok(route) => item.route = route,
                        Err(panic) => {
                            if let Some(probe) = &probe {
                                probe.failed(1, FailReason::Panicked);
                            }
                            let err = PipelineError::Panicked(panic_message(panic.as_ref()));
                            item.value = Some(Err(Box::new(err)));
                        }
                    }
                }
                let to = &senders[(item.route % senders.len() as u64) as usize];
                let send = std::pin::pin!(to.send(item));
                if !matches!(cancel.race(&waker, stop, send).await, Some(Ok(()))) {
                    break;
                }
            }
            // The workers end once their queues are drained.
            for sender in &senders {
                sender.close();
            }
        });
        Ok(receivers)
    }

    /// The outputs in the source's order.
    pub fn ordered(self) -> PipelineOutput<T, E> {
        self.output(true)
    }

    /// The outputs as they come out of the last stage.
    ///
    /// Under [`OnError::Stop`] an item goes out only once no item before it can still fail
    /// (so that nothing after the failing item ever goes out, as with
    /// [`ordered`](Self::ordered)): the outputs then come in the source's order.
    pub fn unordered(self) -> PipelineOutput<T, E> {
        let ordered = self.on_error == OnError::Stop;
        self.output(ordered)
    }

    fn output(mut self, ordered: bool) -> PipelineOutput<T, E> {
        // From here on the output cancels the pipeline when it is dropped.
        self.unfinished.0 = None;
        PipelineOutput {
            rx: self.rx,
            tasks: self.tasks,
            control: self.control,
            skipped: self.skipped,
            probe: self.probe,
            ordered,
            stops: self.on_error == OnError::Stop,
            next: 0,
            early: BTreeMap::new(),
            stop: None,
            done: false,
        }
    }
}

/// What the workers of one stage share.
struct StageWorkers<T, U, E, S> {
    stage: S,
    /// The stage's output: closed once the last worker is gone.
    tx: channel::Sender<Item<U, E>>,
    control: Arc<Control>,
    on_error: OnError,
    skipped: Arc<AtomicU64>,
    probe: Option<SharedProbe>,
    /// Whether this is the first stage, which counts the items taken from the source.
    first: bool,
    sizing: Option<StageSizing<T, E>>,
    /// The parent of each item's span, and the stage's index, with spans on; boxed, as the
    /// common stage has none.
    spans: Option<Box<(tracing::Span, usize)>>,
}

/// An adaptive stage's controller, its input (for the workers it starts), and its counts.
struct StageSizing<T, E> {
    sizer: Sizer,
    input: Buffer<T, E>,
    /// Workers running, and how many there should be.
    headcount: Headcount,
}

/// A worker's place in its adaptive stage's count, given up however its task ends.
struct StageEnrolled<'a, T, E> {
    sizing: Option<&'a StageSizing<T, E>>,
}

impl<T, E> Drop for StageEnrolled<'_, T, E> {
    fn drop(&mut self) {
        if let Some(sizing) = self.sizing {
            sizing.headcount.leave();
        }
    }
}

/// One worker of a stage: runs the stage on each item of `input` and hands the outcome on,
/// until the input ends, the pipeline is cancelled, or (adaptive) the stage has too many.
async fn stage_worker<T, U, E, S>(
    workers: Arc<StageWorkers<T, U, E, S>>,
    input: Buffer<T, E>,
    waker: Arc<AtomicWaker>,
) where
    T: Send + 'static,
    U: Send + 'static,
    E: Send + 'static,
    S: Stage<T, Output = U, Error = E> + 'static,
{
    let StageWorkers {
        stage,
        tx,
        control,
        on_error,
        skipped,
        probe,
        first,
        sizing,
        spans,
    } = &*workers;
    let mut enrolled = StageEnrolled {
        sizing: sizing.as_ref(),
    };
    let cancel = &control.cancel;
    let cancelled = || cancel.is_cancelled();
    // Waiting for an item, a worker over the count stops to retire; holding one, only a cancel
    // stops it.
    let idle_stop = || {
        cancelled()
            || sizing
                .as_ref()
                .is_some_and(|sizing| sizing.headcount.too_many())
    };
    loop {
        if let Some(sizing) = sizing
            && sizing.headcount.retire_one()
        {
            // Already taken off the count.
            enrolled.sizing = None;
            return;
        }
        if cancelled() {
            break;
        }
        // An item already queued is taken without the race around a wait (a future, a
        // waker registered): most items, while the stage keeps up.
        let item = match input.try_recv() {
            Ok(item) => item,
            Err(TryRecvError::Closed) => break,
            Err(_) => {
                let recv = std::pin::pin!(input.recv());
                match cancel.race(&waker, idle_stop, recv).await {
                    Some(Ok(item)) => item,
                    Some(Err(_)) => break,
                    None if cancel.is_cancelled() => break,
                    // Asked to retire: checked at the top of the loop.
                    None => continue,
                }
            }
        };
        let from_source = !matches!(&item.value, Some(Err(err)) if err.is_source());
        if *first
            && from_source
            && let Some(probe) = probe
        {
            probe.produced(1);
        }
        let Item { seq, route, value } = item;
        if control.after_stop(seq) {
            control.drop_after_stop(probe.as_ref());
            continue;
        }
        let value = match value {
            Some(Ok(value)) => {
                let timed = probe.is_some() || sizing.is_some();
                let started = timed.then(Instant::now);
                if let Some(sizing) = sizing {
                    sizing.sizer.started();
                }
                let ran = match spans.as_deref() {
                    None => {
                        let run = attempt::caught(stage, value);
                        Attempt::new(run, None, cancel, &waker).await
                    }
                    Some((parent, index)) => {
                        let run = in_item_span(parent, *index, seq, stage, value);
                        Attempt::new(run, None, cancel, &waker).await
                    }
                };
                if matches!(ran, Err(JobError::Cancelled)) {
                    break;
                }
                if let Some(started) = started {
                    let ended = Instant::now();
                    if let Some(probe) = probe {
                        report_run(probe, &ran, ended.saturating_duration_since(started));
                    }
                    if let Some(sizing) = sizing {
                        size_after(&workers, sizing, started, ended, ran.is_err());
                    }
                }
                Some(match ran {
                    Ok(output) => Ok(output),
                    Err(JobError::Failed(err)) => Err(Box::new(PipelineError::Stage(err))),
                    Err(JobError::Panicked(message) | JobError::Source(message)) => {
                        Err(Box::new(PipelineError::Panicked(message)))
                    }
                    // Stages run without a deadline, and never fail a source; cancelled is
                    // handled above.
                    Err(
                        JobError::TimedOut(_)
                        | JobError::Cancelled
                        | JobError::Closed
                        | JobError::SourceFailed(_),
                    ) => break,
                })
            }
            // Errors and holes from earlier stages pass on untouched.
            Some(Err(err)) => Some(Err(err)),
            None => None,
        };
        let value = match (value, *on_error) {
            (Some(Err(err)), OnError::Skip) if !err.is_source() => {
                skipped.fetch_add(1, Ordering::Relaxed);
                if let Some(probe) = probe {
                    probe.dropped(1, DropReason::Skipped);
                }
                None
            }
            (Some(Err(err)), OnError::Stop) if !err.goes_on() => {
                // The error travels on to the output, which hands it out once every item
                // before it is out; the source stops reading now.
                control.stop_at(seq);
                Some(Err(err))
            }
            (value, _) => value,
        };
        if cancelled() {
            break;
        }
        // Room in the next buffer takes the item without a wait, as above.
        let item = match tx.try_send(Item { seq, route, value }) {
            Ok(()) => continue,
            Err(TrySendError::Full(item)) => item,
            Err(_) => break,
        };
        let send = std::pin::pin!(tx.send(item));
        if !matches!(cancel.race(&waker, cancelled, send).await, Some(Ok(()))) {
            break;
        }
    }
}

/// Tells an adaptive stage's controller about an item that ran from `started` to `ended`, and
/// starts workers or lets some retire as it says.
fn size_after<T, U, E, S>(
    workers: &Arc<StageWorkers<T, U, E, S>>,
    sizing: &StageSizing<T, E>,
    started: Instant,
    ended: Instant,
    failed: bool,
) where
    T: Send + 'static,
    U: Send + 'static,
    E: Send + 'static,
    S: Stage<T, Output = U, Error = E> + 'static,
{
    let job = Finished {
        queued_at: None,
        started,
        ended,
        failed,
        queued: sizing.input.len(),
        workers: sizing.headcount.target(),
    };
    let Some(wanted) = sizing.sizer.finished(job) else {
        return;
    };
    let tasks = &sizing.sizer.tasks;
    // A stage whose workers have all ended stays ended.
    sizing.headcount.set(wanted, || {
        let waker = workers.control.cancel.enlist();
        tasks.spawn(stage_worker(
            Arc::clone(workers),
            sizing.input.clone(),
            waker,
        ));
    });
    // Idle workers over the count notice when woken.
    workers.control.cancel.wake_all();
}

/// A stage's run on one item, boxed.
type BoxedRun<'a, O, E> = Pin<Box<dyn Future<Output = attempt::Caught<O, E>> + Send + 'a>>;

/// Runs `stage` on item `seq` in a span of its own (see [`Pipeline::spans`]), recording how it
/// ended. Boxed: a worker without spans holds no room for it.
fn in_item_span<'a, T, S>(
    parent: &tracing::Span,
    index: usize,
    seq: u64,
    stage: &'a S,
    value: T,
) -> BoxedRun<'a, S::Output, S::Error>
where
    T: Send + 'static,
    S: Stage<T> + 'static,
{
    let span = attempt::item_span(parent, index, seq);
    let run = span.in_scope(|| attempt::caught(stage, value));
    // Dropped before the stage ends only when the pipeline is cancelled.
    let outcome = attempt::Outcome::new(span.clone());
    Box::pin(async move {
        let ran = run.instrument(span).await;
        outcome.caught(&ran);
        ran
    })
}

/// The outputs of a [`Pipeline`], a `Stream` of `Result<T, PipelineError<E>>`; ends when the
/// source has ended and every item has come through, or after the error that stopped it.
///
/// Dropping it cancels every stage; [`cancel`](Self::cancel) does too, and waits until no task
/// of the pipeline is alive.
pub struct PipelineOutput<T, E> {
    rx: Buffer<T, E>,
    tasks: TaskGroup,
    control: Arc<Control>,
    skipped: Arc<AtomicU64>,
    probe: Option<SharedProbe>,
    ordered: bool,
    /// Under [`OnError::Stop`] (whose output is always ordered).
    stops: bool,
    /// Ordered: the lowest item number not handed out yet.
    next: u64,
    /// Ordered: items that came before their turn, at most the window's size.
    early: BTreeMap<u64, Carried<T, E>>,
    /// The error that stops the pipeline, held until every item before it is out.
    stop: Option<(u64, PipelineError<E>)>,
    done: bool,
}

impl<T, E> fmt::Debug for PipelineOutput<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineOutput")
            .field("ordered", &self.ordered)
            .field("waiting", &self.early.len())
            .finish_non_exhaustive()
    }
}

impl<T, E> PipelineOutput<T, E> {
    /// Items dropped under [`OnError::Skip`] so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Stops every stage and waits until no task of the pipeline is alive.
    ///
    /// # Panics
    ///
    /// With the panic of a task of the pipeline's own, if one escaped (panics of stages, keys
    /// and the source are items' errors, never this).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, and callable again: each call returns only once every task has ended.
    pub async fn cancel(&mut self) {
        self.control.cancel.cancel();
        self.tasks.wait().await;
        self.tasks.raise_panic();
    }

    /// Counts an output handed out.
    fn hand_out(&self, value: Result<T, Box<PipelineError<E>>>) -> Result<T, PipelineError<E>> {
        // The source's failure is not an item.
        let item = !matches!(&value, Err(err) if err.is_source());
        if item && let Some(probe) = &self.probe {
            probe.consumed(1);
        }
        value.map_err(|err| *err)
    }

    /// Holds `err` of item `seq` as the error that stops the pipeline, unless an earlier item
    /// already failed; what came after it is dropped.
    fn hold_stop(&mut self, seq: u64, err: PipelineError<E>) {
        if self.stop.as_ref().is_some_and(|(held, _)| *held < seq) {
            self.control.drop_after_stop(self.probe.as_ref());
            return;
        }
        if self.stop.replace((seq, err)).is_some() {
            self.control.drop_after_stop(self.probe.as_ref());
        }
        let after = self.early.split_off(&(seq + 1));
        for _ in 0..after.len() {
            self.control.drop_after_stop(self.probe.as_ref());
        }
    }

    /// The held error, once every item before it is out: the last output.
    fn due_stop(&mut self) -> Option<PipelineError<E>> {
        if self.stop.as_ref().is_none_or(|(seq, _)| *seq != self.next) {
            return None;
        }
        self.finish();
        self.stop.take().map(|(_, err)| err)
    }

    fn finish(&mut self) {
        self.done = true;
        self.early.clear();
        self.control.cancel.cancel();
    }
}

/// Tells the probe how long a stage ran on one item, and how it failed if it did.
fn report_run<O, E>(probe: &SharedProbe, ran: &Result<O, JobError<E>>, took: std::time::Duration) {
    probe.waited(WaitKind::Processing, took);
    match ran {
        Ok(_) => {}
        Err(JobError::Failed(_)) => probe.failed(1, FailReason::Error),
        Err(_) => probe.failed(1, FailReason::Panicked),
    }
}

// Nothing in the output is pinned: its fields move freely whatever `T` and `E` are.
impl<T, E> Unpin for PipelineOutput<T, E> {}

impl<T, E> Drop for PipelineOutput<T, E> {
    fn drop(&mut self) {
        self.control.cancel.cancel();
    }
}

impl<T, E> Stream for PipelineOutput<T, E> {
    type Item = Result<T, PipelineError<E>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.ordered
                && let Some(value) = this.early.remove(&this.next)
            {
                this.next += 1;
                this.control.window.release();
                match value {
                    Some(value) => return Poll::Ready(Some(this.hand_out(value))),
                    None => continue,
                }
            }
            if let Some(err) = this.due_stop() {
                return Poll::Ready(Some(this.hand_out(Err(Box::new(err)))));
            }
            let item = match this.rx.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => item,
                Poll::Ready(None) => {
                    // Every stage has ended. After a cancel numbers may be missing: what waits
                    // goes out in order, and a held error last.
                    if let Some(&seq) = this.early.keys().next() {
                        this.next = seq;
                        continue;
                    }
                    if let Some((_, err)) = this.stop.take() {
                        this.finish();
                        return Poll::Ready(Some(this.hand_out(Err(Box::new(err)))));
                    }
                    this.done = true;
                    // A panic kept from the pipeline's tasks (a stage's controller, say) is
                    // raised to the reader at the end.
                    this.tasks.raise_panic();
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            };
            let Item { seq, value, .. } = item;
            if this.stop.as_ref().is_some_and(|(held, _)| seq > *held) {
                this.control.drop_after_stop(this.probe.as_ref());
                continue;
            }
            let value = match value {
                Some(Err(err)) if this.stops && !err.goes_on() => {
                    this.hold_stop(seq, *err);
                    continue;
                }
                value => value,
            };
            if this.ordered {
                if seq != this.next {
                    this.early.insert(seq, value);
                    continue;
                }
                this.next += 1;
            }
            this.control.window.release();
            if let Some(value) = value {
                return Poll::Ready(Some(this.hand_out(value)));
            }
        }
    }
}

//! `BatchProcessor`: callers submit single items and each awaits its own result, while a
//! handler runs whole batches.

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;
use futures_util::{FutureExt, StreamExt};
use pc_core::task::{TaskGroup, drop_caught};
use pc_core::{BuildError, FailReason, SharedProbe, Stage, WaitKind, channel};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use crate::batcher::{Batcher, Weigher};
use crate::stream::batch_consumer;

/// Why one caller did not get its output.
#[derive(PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcessError<In, E, IE = Infallible> {
    /// The processor is closed; the item is handed back.
    Closed(In),
    /// The handler failed the whole batch this item was in; every caller of that batch gets
    /// the same error.
    Batch(Arc<E>),
    /// The handler failed this item alone (handlers built with
    /// [`build_per_item`](BatchProcessorBuilder::build_per_item)).
    Item(IE),
    /// The handler returned `outputs` results for a batch of `inputs` items, so no caller of
    /// that batch can be matched to its output.
    CountMismatch {
        /// Items in the batch.
        inputs: usize,
        /// Results the handler returned.
        outputs: usize,
    },
    /// The handler panicked, or the processor was dropped, before answering.
    Lost,
}

impl<In, E, IE> ProcessError<In, E, IE> {
    /// The item, if the processor was closed when it was submitted.
    pub fn into_item(self) -> Option<In> {
        match self {
            Self::Closed(item) => Some(item),
            _ => None,
        }
    }
}

impl<In, E: fmt::Debug, IE: fmt::Debug> fmt::Debug for ProcessError<In, E, IE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(_) => f.write_str("Closed(..)"),
            Self::Batch(err) => f.debug_tuple("Batch").field(err).finish(),
            Self::Item(err) => f.debug_tuple("Item").field(err).finish(),
            Self::CountMismatch { inputs, outputs } => f
                .debug_struct("CountMismatch")
                .field("inputs", inputs)
                .field("outputs", outputs)
                .finish(),
            Self::Lost => f.write_str("Lost"),
        }
    }
}

impl<In, E: fmt::Display, IE: fmt::Display> fmt::Display for ProcessError<In, E, IE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(_) => f.write_str("processing with a closed batch processor"),
            Self::Batch(err) => write!(f, "the batch failed: {err}"),
            Self::Item(err) => write!(f, "the item failed: {err}"),
            Self::CountMismatch { inputs, outputs } => write!(
                f,
                "the handler returned {outputs} results for a batch of {inputs} items"
            ),
            Self::Lost => f.write_str("the batch was lost: its handler panicked or was dropped"),
        }
    }
}

impl<In, E: fmt::Debug + fmt::Display, IE: fmt::Debug + fmt::Display> Error
    for ProcessError<In, E, IE>
{
}

type Reply<In, Out, E, IE> = oneshot::Sender<Result<Out, ProcessError<In, E, IE>>>;

/// One submitted item and where its result goes.
struct Job<In, Out, E, IE> {
    item: In,
    /// The item's weight, worked out by the caller (0 without a weight limit).
    weight: u64,
    reply: Reply<In, Out, E, IE>,
}

type BatchFuture<Out, E, IE> =
    Pin<Box<dyn Future<Output = Result<Vec<Result<Out, IE>>, E>> + Send>>;

/// The handler, with both kinds of output brought to one result per item.
type Handler<In, Out, E, IE> = Arc<dyn Fn(Vec<In>) -> BatchFuture<Out, E, IE> + Send + Sync>;

/// Callers submit single items with [`process`](Self::process) and each awaits its own output,
/// while a handler runs whole batches (formed by a [`Batcher`]) with at most `concurrency`
/// batches in flight.
///
/// ```
/// use std::time::Duration;
/// use pc_batch::{BatchProcessor, Batcher};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // One database round trip per 10 lookups, at most 2 in flight.
/// let batcher = Batcher::builder(10, Duration::from_millis(5)).build()?;
/// let lookups = BatchProcessor::builder(batcher)
///     .concurrency(2)
///     .build(|ids: Vec<u32>| async move {
///         Ok::<_, std::io::Error>(ids.into_iter().map(|id| format!("user-{id}")).collect())
///     })?;
/// let (a, b) = tokio::join!(lookups.process(7), lookups.process(8));
/// assert_eq!((a?, b?), ("user-7".to_string(), "user-8".to_string()));
/// lookups.close_and_wait().await; // flushes and waits for batches in flight
/// # Ok(())
/// # }
/// ```
pub struct BatchProcessor<In, Out, E, IE = Infallible> {
    intake: channel::Sender<Job<In, Out, E, IE>>,
    /// The batcher's weigher, run in [`process`](Self::process) by the caller it concerns.
    weigher: Option<Weigher<In>>,
    /// The driver and every batch in flight: the processor has stopped when it is empty.
    tasks: TaskGroup,
}

impl BatchProcessor<(), (), ()> {
    /// Starts the settings: batches formed by `batcher`. (Written on `BatchProcessor<(), (),
    /// ()>` so that `BatchProcessor::builder` needs no type annotations; the types come from the
    /// batcher and the handler.)
    pub fn builder<In: Send + 'static>(batcher: Batcher<In>) -> BatchProcessorBuilder<In> {
        BatchProcessorBuilder {
            batcher,
            concurrency: 1,
            intake: None,
            spans: false,
        }
    }
}

impl<In, Out, E, IE> BatchProcessor<In, Out, E, IE>
where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + Sync + 'static,
    IE: Send + 'static,
{
    /// Submits `item` and waits for its own output. Waits for room while the intake is full.
    ///
    /// # Errors
    ///
    /// [`ProcessError::Closed`] with the item after [`close`](Self::close); otherwise the
    /// error of this item's batch or of this item (see [`ProcessError`]).
    ///
    /// # Panics
    ///
    /// If the batcher's weigher panics on `item`, here, in the caller's task: the item is
    /// dropped and the processor serves every other caller as before.
    ///
    /// # Cancel safety
    ///
    /// Cancelling after the item entered the intake does not take it back: it is processed and
    /// its result dropped.
    pub async fn process(&self, item: In) -> Result<Out, ProcessError<In, E, IE>> {
        // The weigher is user code: weighed here, a panic is this caller's alone, where inside
        // the driver it would stop the processor for everyone.
        let weight = self.weigher.as_ref().map_or(0, |weigh| weigh(&item));
        let (reply, answer) = oneshot::channel();
        let job = Job {
            item,
            weight,
            reply,
        };
        if let Err(err) = self.intake.send(job).await {
            return Err(ProcessError::Closed(err.into_inner().item));
        }
        answer.await.unwrap_or(Err(ProcessError::Lost))
    }

    /// Processes every item of `items` and yields their results in input order, keeping up to
    /// `window` items submitted at once (at least one full batch per batch in flight is a good
    /// size).
    pub fn process_stream<'a, S>(
        &'a self,
        items: S,
        window: usize,
    ) -> impl Stream<Item = Result<Out, ProcessError<In, E, IE>>> + Send + 'a
    where
        S: Stream<Item = In> + Send + 'a,
    {
        items
            .map(move |item| self.process(item))
            .buffered(window.max(1))
    }

    /// Stops intake, sends the partial batch, and waits until every batch in flight has
    /// answered its callers and no task of the processor is left. Later submits fail with
    /// [`ProcessError::Closed`].
    ///
    /// # Panics
    ///
    /// With the panic of a task of the processor's own, if one escaped (the handler's panics
    /// are its batch's `Lost`, never this).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, and callable any number of times, at once too: each call returns only
    /// once every task has ended.
    pub async fn close_and_wait(&self) {
        self.close();
        self.tasks.wait().await;
        self.tasks.raise_panic();
    }

    /// Stops intake: later submits fail with [`ProcessError::Closed`]; the partial batch is
    /// still sent. Returns `true` if this call closed it. To wait for the batches in flight as
    /// well, [`close_and_wait`](Self::close_and_wait).
    pub fn close(&self) -> bool {
        self.intake.close()
    }

    /// Whether [`close`](Self::close) (or [`close_and_wait`](Self::close_and_wait)) was called.
    pub fn is_closed(&self) -> bool {
        self.intake.is_closed()
    }
}

impl<In, Out, E, IE> fmt::Debug for BatchProcessor<In, Out, E, IE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchProcessor")
            .field("queued", &self.intake.len())
            .field("closed", &self.intake.is_closed())
            .finish_non_exhaustive()
    }
}

/// Settings for a [`BatchProcessor`].
#[derive(Debug)]
pub struct BatchProcessorBuilder<In> {
    batcher: Batcher<In>,
    concurrency: usize,
    intake: Option<usize>,
    spans: bool,
}

impl<In: Send + 'static> BatchProcessorBuilder<In> {
    /// Runs each batch in a `tracing` span of its own: `batch` (target `pc_batch`, level
    /// INFO), with fields `batch` (its number, from 0), `items`, `failed` (items that failed)
    /// and `outcome` (`ok`, `error` when any item or the whole batch failed, `panicked`). The
    /// span current when the processor is built is the parent of every batch's span (a batch
    /// gathers the items of many callers). Off by default.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use pc_batch::{BatchProcessor, Batcher};
    ///
    /// let batcher = Batcher::builder(10, Duration::from_millis(5)).build()?;
    /// let processor = BatchProcessor::builder(batcher)
    ///     .spans()
    ///     .build(|batch: Vec<u32>| async move {
    ///         tracing::info!(len = batch.len(), "writing"); // within the batch's span
    ///         Ok::<_, std::io::Error>(batch)
    ///     })?;
    /// assert_eq!(processor.process(4).await?, 4);
    /// # Ok(()) }
    /// ```
    pub fn spans(mut self) -> Self {
        self.spans = true;
        self
    }

    /// At most `concurrency` batches in the handler at once (default 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Reports to `probe` (in place of the batcher's probe, if it had one) what
    /// [`BatcherBuilder::probe`](crate::BatcherBuilder::probe) describes, plus each batch's
    /// processing time and its failed items.
    pub fn probe(mut self, probe: SharedProbe) -> Self {
        self.batcher.set_probe(probe);
        self
    }

    /// How many submitted items wait for a batch before callers wait too (default: four
    /// batches' worth per batch in flight).
    pub fn intake(mut self, capacity: usize) -> Self {
        self.intake = Some(capacity);
        self
    }

    /// Starts the processor with a handler returning one output per item of its batch, in
    /// order, or one error for the whole batch. Needs a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] if `concurrency` or `intake` is 0; [`BuildError::Invalid`] for a
    /// `concurrency` above tokio's `Semaphore::MAX_PERMITS`, and outside a tokio runtime.
    pub fn build<Out, S>(self, handler: S) -> Result<BatchProcessor<In, Out, S::Error>, BuildError>
    where
        Out: Send + 'static,
        S: Stage<Vec<In>, Output = Vec<Out>> + 'static,
        S::Error: Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        self.start(Arc::new(move |batch| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let outputs = handler.run(batch).await?;
                Ok(outputs.into_iter().map(Ok).collect())
            })
        }))
    }

    /// Starts the processor with a handler returning one `Result` per item, so that only the
    /// failed items fail ([`ProcessError::Item`]); an error for the whole batch still reaches
    /// all its callers. Needs a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`BuildError::Zero`] if `concurrency` or `intake` is 0; [`BuildError::Invalid`] for a
    /// `concurrency` above tokio's `Semaphore::MAX_PERMITS`, and outside a tokio runtime.
    pub fn build_per_item<Out, IE, S>(
        self,
        handler: S,
    ) -> Result<BatchProcessor<In, Out, S::Error, IE>, BuildError>
    where
        Out: Send + 'static,
        IE: Send + 'static,
        S: Stage<Vec<In>, Output = Vec<Result<Out, IE>>> + 'static,
        S::Error: Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        self.start(Arc::new(move |batch| {
            let handler = Arc::clone(&handler);
            Box::pin(async move { handler.run(batch).await })
        }))
    }

    fn start<Out, E, IE>(
        self,
        handler: Handler<In, Out, E, IE>,
    ) -> Result<BatchProcessor<In, Out, E, IE>, BuildError>
    where
        Out: Send + 'static,
        E: Send + Sync + 'static,
        IE: Send + 'static,
    {
        if self.concurrency == 0 {
            return Err(BuildError::Zero {
                setting: "concurrency",
            });
        }
        if self.concurrency > Semaphore::MAX_PERMITS {
            return Err(BuildError::Invalid {
                setting: "concurrency",
                reason: format!("at most {} batches in flight", Semaphore::MAX_PERMITS),
            });
        }
        // Saturating: a batcher of `usize::MAX` items makes an intake without a bound.
        let capacity = self.intake.unwrap_or_else(|| {
            self.batcher
                .max_items()
                .saturating_mul(self.concurrency)
                .saturating_mul(4)
        });
        let (intake, jobs) =
            channel::bounded(capacity).map_err(|_| BuildError::Zero { setting: "intake" })?;
        if let Some(probe) = self.batcher.probe() {
            probe.described(pc_core::BlockKind::BatchProcessor, Some(capacity));
        }
        let (batcher, weigher) = self
            .batcher
            .weighed_ahead(|job: &Job<In, Out, E, IE>| job.weight);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::Invalid {
            setting: "runtime",
            reason: "a batch processor is started inside a tokio runtime".into(),
        })?;
        let tasks = TaskGroup::new(runtime);
        let spans = self.spans.then(tracing::Span::current);
        let driving = drive(
            jobs,
            batcher,
            handler,
            self.concurrency,
            tasks.clone(),
            spans,
        );
        tasks.spawn(driving);
        Ok(BatchProcessor {
            intake,
            weigher,
            tasks,
        })
    }
}

/// Forms batches from the intake and runs them, at most `concurrency` at once, each as a task of
/// `tasks`, until the intake is closed and drained.
async fn drive<In, Out, E, IE>(
    jobs: channel::Receiver<Job<In, Out, E, IE>>,
    batcher: Batcher<Job<In, Out, E, IE>>,
    handler: Handler<In, Out, E, IE>,
    concurrency: usize,
    tasks: TaskGroup,
    spans: Option<tracing::Span>,
) where
    In: Send + 'static,
    Out: Send + 'static,
    E: Send + Sync + 'static,
    IE: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut formed = 0u64;
    let probe = batcher.probe().cloned();
    let mut batches = batch_consumer(&jobs, batcher);
    while let Some(batch) = batches.next().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let (items, replies): (Vec<In>, Vec<_>) =
            batch.into_iter().map(|job| (job.item, job.reply)).unzip();
        let (handler, probe) = (Arc::clone(&handler), probe.clone());
        let span = spans
            .as_ref()
            .map(|parent| batch_span(parent, formed, replies.len()));
        formed += 1;
        let run = async move {
            let started = probe.as_ref().map(|_| Instant::now());
            // The handler is user code: a panic, in the call that makes its future or inside
            // it, fails this batch alone (its callers get `Lost`) and never the driver.
            let ran = match catch_unwind(AssertUnwindSafe(|| handler(items))) {
                Ok(run) => AssertUnwindSafe(run).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let Ok(result) = ran else {
                if let Some(probe) = &probe {
                    probe.failed(replies.len() as u64, FailReason::Panicked);
                }
                record_outcome(&tracing::Span::current(), "panicked", replies.len());
                drop(slot);
                return;
            };
            let failed = failed_items(&result, replies.len());
            if let (Some(probe), Some(started)) = (&probe, started) {
                report_result(probe, failed, started.elapsed());
            }
            let outcome = if failed == 0 { "ok" } else { "error" };
            record_outcome(&tracing::Span::current(), outcome, failed);
            answer(result, replies);
            drop(slot);
        };
        tasks.spawn(run.instrument(span.unwrap_or_else(tracing::Span::none)));
    }
}

/// How many of a batch's `inputs` items failed: all of them when the batch did, or when its
/// outputs do not match them one for one.
fn failed_items<Out, E, IE>(result: &Result<Vec<Result<Out, IE>>, E>, inputs: usize) -> usize {
    match result {
        Err(_) => inputs,
        Ok(outputs) if outputs.len() != inputs => inputs,
        Ok(outputs) => outputs.iter().filter(|output| output.is_err()).count(),
    }
}

/// Tells the probe how long a batch took and how many of its items failed.
fn report_result(probe: &SharedProbe, failed: usize, took: Duration) {
    probe.waited(WaitKind::Processing, took);
    if failed > 0 {
        probe.failed(failed as u64, FailReason::Error);
    }
}

/// A batch's span, under the span current where the processor was built.
fn batch_span(parent: &tracing::Span, batch: u64, items: usize) -> tracing::Span {
    tracing::info_span!(
        target: "pc_batch",
        parent: parent,
        "batch",
        batch,
        items,
        failed = tracing::field::Empty,
        outcome = tracing::field::Empty
    )
}

/// Records how a batch ended on its span (a no-op on a span that is off or none).
fn record_outcome(span: &tracing::Span, outcome: &'static str, failed: usize) {
    span.record("outcome", outcome);
    span.record("failed", failed);
}

/// Gives each caller of a batch its own result.
fn answer<In, Out, E, IE>(
    result: Result<Vec<Result<Out, IE>>, E>,
    replies: Vec<Reply<In, Out, E, IE>>,
) {
    match result {
        Err(err) => {
            let err = Arc::new(err);
            for reply in replies {
                deliver(reply, Err(ProcessError::Batch(Arc::clone(&err))));
            }
        }
        Ok(outputs) if outputs.len() != replies.len() => {
            let (inputs, outputs) = (replies.len(), outputs.len());
            for reply in replies {
                deliver(reply, Err(ProcessError::CountMismatch { inputs, outputs }));
            }
        }
        Ok(outputs) => {
            for (reply, output) in replies.into_iter().zip(outputs) {
                deliver(reply, output.map_err(ProcessError::Item));
            }
        }
    }
}

/// Sends one caller its result. A caller that stopped waiting no longer wants it, and the
/// result is dropped here: a `Drop` of the output that panics must not keep the callers after
/// it from their answers.
fn deliver<In, Out, E, IE>(
    reply: Reply<In, Out, E, IE>,
    result: Result<Out, ProcessError<In, E, IE>>,
) {
    if let Err(unwanted) = reply.send(result) {
        drop_caught(unwanted);
    }
}

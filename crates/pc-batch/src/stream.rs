//! Batching a `Stream`, and any `Consumer` through its stream.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::task::AtomicWaker;
use pc_core::Consumer;
use tokio::time::{Instant, Sleep};

use crate::batcher::{Accumulator, Batcher};

/// Adds [`batch`](BatchExt::batch) to every `Stream`.
pub trait BatchExt: Stream + Sized {
    /// Groups the stream's items into batches as `batcher` says; see [`Batched`].
    fn batch(self, batcher: Batcher<Self::Item>) -> Batched<Self> {
        Batched::new(self, batcher)
    }
}

impl<S: Stream> BatchExt for S {}

/// Batches any [`Consumer`]: receives until a batch is full, heavy enough or old enough.
///
/// Receives are cancel safe, so dropping the stream between batches loses nothing queued in the
/// consumer; items already taken into an unfinished batch are dropped with it (call
/// [`Flusher::flush`] first to get them). The consumer's items come through its
/// [`stream`](Consumer::stream), which goes past a failure of its backend: the batches go on,
/// and the consumer reports the failure its own way (pc-redis: its probe and a `tracing`
/// warning).
pub fn batch_consumer<'a, T, C>(consumer: &'a C, batcher: Batcher<T>) -> ConsumerBatches<'a, T>
where
    T: Send + 'a,
    C: Consumer<T>,
{
    let source: Pin<Box<dyn Stream<Item = T> + Send + 'a>> = Box::pin(consumer.stream());
    source.batch(batcher)
}

/// The batches of a [`Consumer`], from [`batch_consumer`].
pub type ConsumerBatches<'a, T> = Batched<Pin<Box<dyn Stream<Item = T> + Send + 'a>>>;

pin_project_lite::pin_project! {
    /// A stream of batches: each leaves when it holds `max_items`, when it reaches `max_weight`,
    /// or `linger` after its first item, whichever comes first. Never an empty batch; the
    /// partial batch leaves when the source ends; [`Flusher::flush`] sends it on demand.
    pub struct Batched<S: Stream> {
        #[pin]
        source: S,
        // When the open batch must leave.
        deadline: Option<Instant>,
        // The timer, armed only when the source has nothing more and a batch is open (a batch
        // that fills first never touches the timer wheel); made then, so that `batch` works
        // outside a runtime; boxed so that `Batched` is `Unpin` whenever its source is.
        linger: Option<Pin<Box<Sleep>>>,
        acc: Accumulator<S::Item>,
        flush: Arc<FlushSignal>,
        done: bool,
    }
}

impl<S: Stream> Batched<S> {
    fn new(source: S, batcher: Batcher<S::Item>) -> Self {
        Self {
            source,
            deadline: None,
            linger: None,
            acc: Accumulator::new(batcher),
            flush: Arc::default(),
            done: false,
        }
    }

    /// A handle that makes the stream send its partial batch now.
    pub fn flusher(&self) -> Flusher {
        Flusher(Arc::clone(&self.flush))
    }
}

impl<S: Stream> Stream for Batched<S> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<S::Item>>> {
        let mut this = self.project();
        this.flush.waker.register(cx.waker());
        if let Some(batch) = this.acc.next_ready() {
            return Poll::Ready(Some(batch));
        }
        if *this.done {
            return Poll::Ready(None);
        }
        // Checked once per poll, not per item: `flush` wakes the task, so it is seen in time.
        if this.flush.requested.load(Ordering::Acquire)
            && this.flush.requested.swap(false, Ordering::AcqRel)
            && this.acc.is_open()
        {
            this.acc.close();
            return Poll::Ready(this.acc.next_ready());
        }
        loop {
            match this.source.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let pushed = this.acc.push(item);
                    if pushed.opened {
                        // The clock is read when the batch first has to wait (below): until
                        // then this poll has only taken items that were ready, in no time.
                        *this.deadline = None;
                    }
                    if pushed.ready {
                        if pushed.opened {
                            // A batch opened and this poll returns before it waits.
                            *this.deadline =
                                Some(pc_core::time::deadline_or_far(this.acc.linger()));
                        }
                        return Poll::Ready(this.acc.next_ready());
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    this.acc.close();
                    return Poll::Ready(this.acc.next_ready());
                }
                Poll::Pending => break,
            }
        }
        if this.acc.is_open() && this.deadline.is_none() {
            *this.deadline = Some(pc_core::time::deadline_or_far(this.acc.linger()));
        }
        let lingered = match *this.deadline {
            Some(deadline) if this.acc.is_open() => {
                let linger = match this.linger {
                    Some(linger) => {
                        if linger.deadline() != deadline {
                            linger.as_mut().reset(deadline);
                        }
                        linger
                    }
                    None => this
                        .linger
                        .insert(Box::pin(tokio::time::sleep_until(deadline))),
                };
                linger.as_mut().poll(cx).is_ready()
            }
            _ => false,
        };
        if lingered {
            this.acc.close();
            return Poll::Ready(this.acc.next_ready());
        }
        Poll::Pending
    }
}

impl<S: Stream> std::fmt::Debug for Batched<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batched")
            .field("open", &self.acc.is_open())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct FlushSignal {
    requested: AtomicBool,
    waker: AtomicWaker,
}

/// Makes a [`Batched`] stream send its partial batch now; from any task, cloneable.
#[derive(Debug, Clone)]
pub struct Flusher(Arc<FlushSignal>);

impl Flusher {
    /// Sends the batch being filled at the stream's next poll, however small. Does nothing
    /// when no batch is open.
    pub fn flush(&self) {
        self.0.requested.store(true, Ordering::Release);
        self.0.waker.wake();
    }
}

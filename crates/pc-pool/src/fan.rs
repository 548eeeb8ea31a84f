//! `fan_out` and `merge`: one source spread over many workers, many streams gathered into one.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pc_core::{BuildError, Consumer, Stage, channel};

use crate::error::JobError;
use crate::pool::{JobResult, WorkerPool};

/// Runs `stage` on every item of `source` with `workers` workers, and gives the outcomes as
/// they finish; the stream ends once `source` is closed and drained and every item is done.
///
/// A [`WorkerPool`] over `source` (see [`WorkerPoolBuilder::build_over`]), kept alive by the
/// stream; dropping the stream closes it.
///
/// ```
/// use futures_util::StreamExt;
/// use pc_core::channel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::bounded(8)?;
/// let squares = pc_pool::fan_out(rx, 3, |n: u64| async move { Ok::<_, ()>(n * n) })?;
/// tx.send_all(1..=10).await?;
/// tx.close();
/// let mut got: Vec<u64> = squares.map(|square| square.unwrap()).collect().await;
/// got.sort_unstable();
/// assert_eq!(got, [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`BuildError`] as [`WorkerPoolBuilder::build`] returns it (zero workers, no runtime).
///
/// [`WorkerPoolBuilder::build_over`]: crate::WorkerPoolBuilder::build_over
/// [`WorkerPoolBuilder::build`]: crate::WorkerPoolBuilder::build
pub fn fan_out<In, S, C>(source: C, workers: usize, stage: S) -> Result<FanOut<In, S>, BuildError>
where
    In: Send + 'static,
    S: Stage<In> + 'static,
    S::Output: 'static,
    S::Error: 'static,
    C: Consumer<In> + 'static,
{
    let pool = WorkerPool::builder(stage)
        .workers(workers)
        .build_over(source)?;
    let results = pool.results();
    Ok(FanOut { pool, results })
}

/// The outcomes of [`fan_out`], as they finish.
pub struct FanOut<In, S: Stage<In>> {
    pool: WorkerPool<In, S>,
    results: channel::Receiver<JobResult<S::Output, S::Error>>,
}

impl<In, S: Stage<In>> FanOut<In, S> {
    /// The pool doing the work: its worker count, resizing, shutting down.
    pub fn pool(&self) -> &WorkerPool<In, S> {
        &self.pool
    }
}

impl<In, S: Stage<In>> fmt::Debug for FanOut<In, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl<In, S: Stage<In>> Stream for FanOut<In, S> {
    type Item = Result<S::Output, JobError<S::Error>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.results)
            .poll_next(cx)
            .map(|result| result.map(|result| result.output))
    }
}

/// Gathers `streams` into one stream that ends when all of them have: items in the order each
/// stream gives them, the streams taken in turn so that none is starved.
///
/// ```
/// use futures_util::{StreamExt, stream};
///
/// # tokio_test::block_on(async {
/// let merged: Vec<u32> = pc_pool::merge([stream::iter([1, 2, 3]), stream::iter([10, 20, 30])])
///     .collect()
///     .await;
/// assert_eq!(merged, [1, 10, 2, 20, 3, 30]);
/// # });
/// ```
pub fn merge<S: Stream>(streams: impl IntoIterator<Item = S>) -> Merge<S> {
    Merge {
        streams: streams.into_iter().map(|s| Some(Box::pin(s))).collect(),
        next: 0,
    }
}

/// The stream of [`merge`].
pub struct Merge<S> {
    streams: Vec<Option<Pin<Box<S>>>>,
    /// Where the next poll starts, so that every stream gets its turn first in turn.
    next: usize,
}

impl<S> fmt::Debug for Merge<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merge")
            .field("open", &self.streams.iter().flatten().count())
            .finish()
    }
}

impl<S: Stream> Stream for Merge<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = &mut *self;
        let count = this.streams.len();
        for offset in 0..count {
            let at = (this.next + offset) % count;
            let Some(stream) = &mut this.streams[at] else {
                continue;
            };
            match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    this.next = (at + 1) % count;
                    return Poll::Ready(Some(item));
                }
                Poll::Ready(None) => this.streams[at] = None,
                Poll::Pending => {}
            }
        }
        if this.streams.iter().all(Option::is_none) {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

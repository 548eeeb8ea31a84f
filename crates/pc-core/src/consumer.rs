//! The `Consumer` trait: anything items can be received from.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;

use crate::error::{ConsumeError, ConsumeErrorKind};

/// Anything items can be received from: a channel, a priority queue, a bounded queue, a
/// distributed stream. Worker pools, batchers and pipelines drain any `Consumer`.
///
/// Receives fail with a [`ConsumeError`]: [`Closed`](ConsumeErrorKind::Closed) is the end of
/// the items, [`Failed`](ConsumeErrorKind::Failed) a backend's failure after which the consumer
/// goes on. A consumer reports a failure once per attempt of its backend, so a receive after a
/// failure waits for the next attempt rather than failing again at once; the drains of this
/// toolkit report each failure and keep receiving.
///
/// ```
/// use std::time::Duration;
/// use pc_core::{Consumer, channel};
///
/// async fn first_batch(source: &impl Consumer<u32>) -> Vec<u32> {
///     let mut batch = Vec::new();
///     // An error here is a close (or a backend's failure) before the first item.
///     let _ = source.recv_batch(&mut batch, 3, Duration::from_millis(10)).await;
///     batch
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::bounded(16)?;
/// tx.send_all(1..=5).await?;
/// tx.close();
/// assert_eq!(first_batch(&rx).await, [1, 2, 3]);
/// assert_eq!(rx.recv().await?, 4);
/// assert_eq!(rx.recv().await?, 5);
/// assert!(rx.recv().await.is_err()); // closed and drained
/// # Ok(())
/// # }
/// ```
pub trait Consumer<T: Send>: Send + Sync {
    /// Receives the next item, waiting until one is available.
    ///
    /// # Errors
    ///
    /// [`Closed`](ConsumeErrorKind::Closed) only when the consumer is closed and every queued
    /// item has been received; [`Failed`](ConsumeErrorKind::Failed) when its backend failed
    /// (the consumer stays open: a later receive may succeed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses no item.
    fn recv(&self) -> impl Future<Output = Result<T, ConsumeError>> + Send;

    /// Receives an item if one is available right now.
    ///
    /// # Errors
    ///
    /// [`Empty`](ConsumeErrorKind::Empty) when nothing is queued,
    /// [`Closed`](ConsumeErrorKind::Closed) when closed and drained,
    /// [`Failed`](ConsumeErrorKind::Failed) when the backend failed.
    fn try_recv(&self) -> Result<T, ConsumeError>;

    /// How many items are queued.
    fn len(&self) -> usize;

    /// The most items the consumer can hold, or `None` when unbounded.
    fn capacity(&self) -> Option<usize>;

    /// Whether the consumer is closed (it may still hold items to drain).
    fn is_closed(&self) -> bool;

    /// Whether nothing is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Receives the next item, waiting at most `timeout`.
    ///
    /// Requires a tokio runtime with the time driver.
    ///
    /// # Errors
    ///
    /// [`TimedOut`](ConsumeErrorKind::TimedOut) when nothing arrived in time, otherwise as
    /// [`recv`](Consumer::recv).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Consumer::recv).
    fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, ConsumeError>> + Send {
        async move {
            match tokio::time::timeout(timeout, self.recv()).await {
                Ok(got) => got,
                Err(_elapsed) => Err(ConsumeErrorKind::TimedOut.into()),
            }
        }
    }

    /// Waits for the first item however long it takes, then gathers more until `max` items or
    /// until `linger` has passed since the first item, whichever comes first.
    ///
    /// Appends to `buf` and returns how many items were added: at least 1 and at most `max`,
    /// or 0 at once when `max` is 0. Items already queued are taken without waiting; a zero
    /// `linger` takes only those, and `Duration::MAX` waits for `max` items or the close
    /// however long it takes. Requires a tokio runtime with the time driver.
    ///
    /// # Errors
    ///
    /// As [`recv`](Consumer::recv), for the first item only: a close or a failure met after it
    /// ends the batch with what it holds, and the next call meets the close (or the failure,
    /// when the backend still fails).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every item received before cancellation is already in `buf`.
    fn recv_batch(
        &self,
        buf: &mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> impl Future<Output = Result<usize, ConsumeError>> + Send {
        async move {
            if max == 0 {
                return Ok(0);
            }
            buf.push(self.recv().await?);
            let deadline = crate::time::deadline(linger);
            let mut added = 1;
            while added < max {
                match self.try_recv() {
                    Ok(item) => {
                        buf.push(item);
                        added += 1;
                        continue;
                    }
                    Err(err) if err.is_empty() && !linger.is_zero() => {}
                    Err(_) => break,
                }
                match crate::time::until(deadline, self.recv()).await {
                    Some(Ok(item)) => {
                        buf.push(item);
                        added += 1;
                    }
                    Some(Err(_)) | None => break,
                }
            }
            Ok(added)
        }
    }

    /// The items as a [`Stream`] that ends when the consumer is closed and drained.
    ///
    /// Several streams over one consumer share its items between them. A failure of the
    /// consumer's backend does not end the stream, which carries items only: it waits for the
    /// backend's next attempt. Receive with [`recv`](Consumer::recv) to see failures.
    ///
    /// A stream lives in a handle, and a handle can stop being polled while it lives (the
    /// losing branch of a `select!`). Every consumer of this toolkit overrides this method with
    /// a stream whose registration between polls is woken by every item and counts as nobody's
    /// wake-up, so an idle stream never keeps an item or a wake-up from a receiver that waits.
    /// The provided version keeps a [`recv`](Consumer::recv) future between polls: a consumer
    /// whose waits are each handed one wake-up should override it the same way.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        futures_util::stream::unfold(self, |consumer| async move {
            loop {
                match consumer.recv().await {
                    Ok(item) => return Some((item, consumer)),
                    Err(err) if err.is_closed() => return None,
                    // A consumer that fails again at once must not hold the task: yield to
                    // the runtime before the next attempt.
                    Err(_) => tokio::task::yield_now().await,
                }
            }
        })
    }

    /// Boxes this consumer as a [`DynConsumer`](crate::dynamic::DynConsumer): one type for
    /// every consumer, chosen at run time, and a `Consumer` again (with this consumer's own
    /// `recv_timeout`, `recv_batch` and `stream`).
    ///
    /// ```
    /// use pc_core::dynamic::DynConsumer;
    /// use pc_core::{Consumer, channel};
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded::<u32>(4)?;
    /// let rx: Box<dyn DynConsumer<u32>> = rx.into_dyn();
    /// tx.send_all([1, 2]).await?;
    /// assert_eq!(rx.recv().await, Ok(1));
    /// assert_eq!(rx.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    fn into_dyn<'a>(self) -> Box<dyn crate::dynamic::DynConsumer<T> + 'a>
    where
        Self: Sized + 'a,
    {
        Box::new(self)
    }
}

macro_rules! forward_consumer {
    ($($ptr:ty),*) => {$(
        impl<T: Send, C: Consumer<T> + ?Sized> Consumer<T> for $ptr {
            fn recv(&self) -> impl Future<Output = Result<T, ConsumeError>> + Send {
                (**self).recv()
            }

            fn try_recv(&self) -> Result<T, ConsumeError> {
                (**self).try_recv()
            }

            fn len(&self) -> usize {
                (**self).len()
            }

            fn capacity(&self) -> Option<usize> {
                (**self).capacity()
            }

            fn is_closed(&self) -> bool {
                (**self).is_closed()
            }

            fn is_empty(&self) -> bool {
                (**self).is_empty()
            }

            fn recv_timeout(
                &self,
                timeout: Duration,
            ) -> impl Future<Output = Result<T, ConsumeError>> + Send {
                (**self).recv_timeout(timeout)
            }

            fn recv_batch(
                &self,
                buf: &mut Vec<T>,
                max: usize,
                linger: Duration,
            ) -> impl Future<Output = Result<usize, ConsumeError>> + Send {
                (**self).recv_batch(buf, max, linger)
            }

            fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
                (**self).stream()
            }
        }
    )*};
}

forward_consumer!(&C, Box<C>, Arc<C>);

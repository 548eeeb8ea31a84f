//! The `Consumer` trait: anything items can be received from.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_core::Stream;

use crate::error::{RecvError, RecvTimeoutError, TryRecvError};

/// Anything items can be received from: a channel, a priority queue, a bounded queue, a
/// distributed stream. Worker pools, batchers and pipelines drain any `Consumer`.
///
/// ```
/// use std::time::Duration;
/// use pc_core::{Consumer, channel};
///
/// async fn first_batch(source: &impl Consumer<u32>) -> Vec<u32> {
///     let mut batch = Vec::new();
///     source.recv_batch(&mut batch, 3, Duration::from_millis(10)).await;
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
    /// [`RecvError`] only when the consumer is closed and every queued item has been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses no item.
    fn recv(&self) -> impl Future<Output = Result<T, RecvError>> + Send;

    /// Receives an item if one is available right now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is queued, [`TryRecvError::Closed`] when closed and
    /// drained.
    fn try_recv(&self) -> Result<T, TryRecvError>;

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
    /// [`RecvTimeoutError::Timeout`] when nothing arrived in time, [`RecvTimeoutError::Closed`]
    /// when closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Consumer::recv).
    fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, RecvTimeoutError>> + Send {
        async move {
            match tokio::time::timeout(timeout, self.recv()).await {
                Ok(Ok(item)) => Ok(item),
                Ok(Err(RecvError)) => Err(RecvTimeoutError::Closed),
                Err(_elapsed) => Err(RecvTimeoutError::Timeout),
            }
        }
    }

    /// Waits for the first item however long it takes, then gathers more until `max` items or
    /// until `linger` has passed since the first item, whichever comes first.
    ///
    /// Appends to `buf` and returns how many items were added: at least 1 and at most `max`,
    /// or 0 only when the consumer is closed and drained, or at once when `max` is 0. Items
    /// already queued are taken without waiting; a zero `linger` takes only those, and
    /// `Duration::MAX` waits for `max` items or the close however long it takes. Requires a
    /// tokio runtime with the time driver.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every item received before cancellation is already in `buf`.
    fn recv_batch(
        &self,
        buf: &mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> impl Future<Output = usize> + Send {
        async move {
            if max == 0 {
                return 0;
            }
            let Ok(first) = self.recv().await else {
                return 0;
            };
            buf.push(first);
            let deadline = crate::time::deadline(linger);
            let mut added = 1;
            while added < max {
                match self.try_recv() {
                    Ok(item) => {
                        buf.push(item);
                        added += 1;
                        continue;
                    }
                    Err(TryRecvError::Closed) => break,
                    Err(TryRecvError::Empty) if linger.is_zero() => break,
                    Err(TryRecvError::Empty) => {}
                }
                match crate::time::until(deadline, self.recv()).await {
                    Some(Ok(item)) => {
                        buf.push(item);
                        added += 1;
                    }
                    Some(Err(RecvError)) | None => break,
                }
            }
            added
        }
    }

    /// The items as a [`Stream`] that ends when the consumer is closed and drained.
    ///
    /// Several streams over one consumer share its items between them.
    ///
    /// A stream lives in a handle, and a handle can stop being polled while it lives (the
    /// losing branch of a `select!`). Every consumer of this toolkit overrides this method with
    /// a stream whose registration between polls is woken by every item and counts as nobody's
    /// wake-up, so an idle stream never keeps an item or a wake-up from a receiver that waits.
    /// The provided version keeps a [`recv`](Consumer::recv) future between polls: a consumer
    /// whose waits are each handed one wake-up should override it the same way.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        futures_util::stream::unfold(self, |consumer| async move {
            consumer.recv().await.ok().map(|item| (item, consumer))
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
            fn recv(&self) -> impl Future<Output = Result<T, RecvError>> + Send {
                (**self).recv()
            }

            fn try_recv(&self) -> Result<T, TryRecvError> {
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
            ) -> impl Future<Output = Result<T, RecvTimeoutError>> + Send {
                (**self).recv_timeout(timeout)
            }

            fn recv_batch(
                &self,
                buf: &mut Vec<T>,
                max: usize,
                linger: Duration,
            ) -> impl Future<Output = usize> + Send {
                (**self).recv_batch(buf, max, linger)
            }

            fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
                (**self).stream()
            }
        }
    )*};
}

forward_consumer!(&C, Box<C>, Arc<C>);

//! The `Producer` trait: anything items can be sent into.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{SendError, SendTimeoutError, TrySendError};

/// Anything items can be sent into: a channel, a priority queue, a bounded queue with a policy,
/// a rate-limited wrapper, a distributed stream.
///
/// Generic code takes `impl Producer<T>` and works over every block of the toolkit.
///
/// ```
/// use pc_core::{Producer, channel};
///
/// async fn emit(out: &impl Producer<u64>, n: u64) -> Result<(), pc_core::SendError<u64>> {
///     for i in 0..n {
///         out.send(i).await?;
///     }
///     out.close();
///     Ok(())
/// }
///
/// # tokio_test::block_on(async {
/// let (tx, rx) = channel::unbounded();
/// emit(&tx, 3).await?;
/// let mut got = Vec::new();
/// while let Ok(item) = rx.recv().await {
///     got.push(item);
/// }
/// assert_eq!(got, [0, 1, 2]);
/// # Ok::<(), pc_core::SendError<u64>>(())
/// # }).unwrap();
/// ```
pub trait Producer<T: Send>: Send + Sync {
    /// Sends `item`, waiting for space if the producer is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding the item if the producer is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes means the item was not enqueued, and it is dropped
    /// with the future. To wait for space without giving up the item, use
    /// [`send_timeout`](Producer::send_timeout) or a reservation where the type offers one
    /// (`pc_core::channel::Sender::reserve`).
    fn send(&self, item: T) -> impl Future<Output = Result<(), SendError<T>>> + Send;

    /// Sends `item` if there is space right now, without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], each holding the item.
    fn try_send(&self, item: T) -> Result<(), TrySendError<T>>;

    /// Sends `item`, waiting at most `timeout` for space.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], each holding the item.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Producer::send): cancelling drops the item. Unlike a `send` wrapped in
    /// `tokio::time::timeout`, an elapsed timeout hands the item back.
    fn send_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + Send;

    /// Closes the producer: later sends fail and hand their item back, while consumers still
    /// receive everything already queued. Returns `true` if this call closed it.
    fn close(&self) -> bool;

    /// Whether the producer is closed.
    fn is_closed(&self) -> bool;

    /// Sends every item of `items` in order, waiting for space as needed, and returns how many
    /// were sent.
    ///
    /// # Errors
    ///
    /// Stops at the first item that cannot be sent because the producer is closed and returns
    /// it in a [`SendError`]. Items after it are not taken from the iterator: pass
    /// `iter.by_ref()` to keep them.
    ///
    /// # Cancel safety
    ///
    /// Items sent before cancellation stay sent; the item being sent is dropped.
    fn send_all<I>(&self, items: I) -> impl Future<Output = Result<usize, SendError<T>>> + Send
    where
        I: IntoIterator<Item = T> + Send,
        I::IntoIter: Send,
    {
        async move {
            let mut sent = 0;
            for item in items {
                self.send(item).await?;
                sent += 1;
            }
            Ok(sent)
        }
    }
}

macro_rules! forward_producer {
    ($($ptr:ty),*) => {$(
        impl<T: Send, P: Producer<T> + ?Sized> Producer<T> for $ptr {
            fn send(&self, item: T) -> impl Future<Output = Result<(), SendError<T>>> + Send {
                (**self).send(item)
            }

            fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
                (**self).try_send(item)
            }

            fn send_timeout(
                &self,
                item: T,
                timeout: Duration,
            ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + Send {
                (**self).send_timeout(item, timeout)
            }

            fn close(&self) -> bool {
                (**self).close()
            }

            fn is_closed(&self) -> bool {
                (**self).is_closed()
            }

            fn send_all<I>(&self, items: I) -> impl Future<Output = Result<usize, SendError<T>>> + Send
            where
                I: IntoIterator<Item = T> + Send,
                I::IntoIter: Send,
            {
                (**self).send_all(items)
            }
        }
    )*};
}

forward_producer!(&P, Box<P>, Arc<P>);

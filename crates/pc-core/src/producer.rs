//! The `Producer` trait: anything items can be sent into.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ProduceError;

/// Anything items can be sent into: a channel, a priority queue, a bounded queue with a policy,
/// a rate-limited wrapper, a distributed stream.
///
/// Generic code takes `impl Producer<T>` and works over every block of the toolkit. Every
/// method fails with one [`ProduceError`], whose [`kind`](ProduceError::kind) says whether the
/// producer is closed ([`is_closed`](ProduceError::is_closed)), refused the item by its policy
/// while open ([`is_refused`](ProduceError::is_refused): full, rejected, timed out, over a rate
/// limit) or failed in its backend ([`is_failed`](ProduceError::is_failed)); the item comes back
/// in each case. A block's own methods keep their exact error types; this trait's are theirs
/// mapped to a kind.
///
/// ```
/// use pc_core::{Producer, channel};
///
/// async fn emit(out: &impl Producer<u64>, n: u64) -> Result<(), pc_core::ProduceError<u64>> {
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
/// # Ok::<(), pc_core::ProduceError<u64>>(())
/// # }).unwrap();
/// ```
pub trait Producer<T: Send>: Send + Sync {
    /// Sends `item`, waiting for space if the producer is full.
    ///
    /// # Errors
    ///
    /// A [`ProduceError`] holding the item: closed, refused by a policy that does not wait
    /// (`Rejected`, `TimedOut` under a bounded wait), or failed in the backend.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes means the item was not enqueued, and it is dropped
    /// with the future. To wait for space without giving up the item, use
    /// [`send_timeout`](Producer::send_timeout) or a reservation where the type offers one
    /// (`pc_core::channel::Sender::reserve`).
    fn send(&self, item: T) -> impl Future<Output = Result<(), ProduceError<T>>> + Send;

    /// Sends `item` if there is space right now, without waiting.
    ///
    /// # Errors
    ///
    /// A [`ProduceError`] holding the item: `Full` (or `OverLimit` for a rate limit) when it
    /// cannot be taken right now, any other kind as for [`send`](Producer::send).
    fn try_send(&self, item: T) -> Result<(), ProduceError<T>>;

    /// Sends `item`, waiting at most `timeout` for space.
    ///
    /// # Errors
    ///
    /// A [`ProduceError`] holding the item: `TimedOut` when no room came in time, any other kind
    /// as for [`send`](Producer::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Producer::send): cancelling drops the item. Unlike a `send` wrapped in
    /// `tokio::time::timeout`, an elapsed timeout hands the item back.
    fn send_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ProduceError<T>>> + Send;

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
    /// Stops at the first item that is not taken (closed, refused or failed) and returns it in
    /// its [`ProduceError`]. Items after it are not taken from the iterator: pass
    /// `iter.by_ref()` to keep them.
    ///
    /// # Cancel safety
    ///
    /// Items sent before cancellation stay sent; the item being sent is dropped.
    fn send_all<I>(&self, items: I) -> impl Future<Output = Result<usize, ProduceError<T>>> + Send
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

    /// Boxes this producer as a [`DynProducer`](crate::dynamic::DynProducer): one type for
    /// every producer, chosen at run time, and a `Producer` again.
    ///
    /// ```
    /// use pc_core::dynamic::DynProducer;
    /// use pc_core::{Producer, channel};
    ///
    /// # tokio_test::block_on(async {
    /// let (bounded, rx_a) = channel::bounded::<u32>(4)?;
    /// let (unbounded, rx_b) = channel::unbounded::<u32>();
    /// let outs: Vec<Box<dyn DynProducer<u32>>> = vec![bounded.into_dyn(), unbounded.into_dyn()];
    /// for out in &outs {
    ///     out.send(7).await?;
    /// }
    /// assert_eq!((rx_a.recv().await, rx_b.recv().await), (Ok(7), Ok(7)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    fn into_dyn<'a>(self) -> Box<dyn crate::dynamic::DynProducer<T> + 'a>
    where
        Self: Sized + 'a,
    {
        Box::new(self)
    }
}

macro_rules! forward_producer {
    ($($ptr:ty),*) => {$(
        impl<T: Send, P: Producer<T> + ?Sized> Producer<T> for $ptr {
            fn send(&self, item: T) -> impl Future<Output = Result<(), ProduceError<T>>> + Send {
                (**self).send(item)
            }

            fn try_send(&self, item: T) -> Result<(), ProduceError<T>> {
                (**self).try_send(item)
            }

            fn send_timeout(
                &self,
                item: T,
                timeout: Duration,
            ) -> impl Future<Output = Result<(), ProduceError<T>>> + Send {
                (**self).send_timeout(item, timeout)
            }

            fn close(&self) -> bool {
                (**self).close()
            }

            fn is_closed(&self) -> bool {
                (**self).is_closed()
            }

            fn send_all<I>(&self, items: I) -> impl Future<Output = Result<usize, ProduceError<T>>> + Send
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

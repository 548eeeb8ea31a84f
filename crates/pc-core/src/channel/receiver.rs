//! The receiving half of [`channel`](super).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::time::Instant;

use super::shared::{Closing, Shared};
use crate::error::{RecvError, RecvTimeoutError, TryRecvError};
use crate::probe::DropReason;

/// The receiving half of a channel; clone it for more consumers, each item goes to one of them.
///
/// `Receiver` is itself a [`Stream`] that ends when the channel is closed and drained. Dropping
/// the last `Receiver` closes the channel; items still queued then are reported to the probe as
/// dropped with [`DropReason::Closed`].
pub struct Receiver<T> {
    // Boxed because async-channel's receiver is `!Unpin` (its stream state is pinned); boxing
    // keeps our `Receiver` `Unpin`, so `StreamExt::next` works on it without pinning.
    pub(super) inner: Pin<Box<async_channel::Receiver<T>>>,
    pub(super) shared: Arc<Shared>,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.add_receiver();
        Self {
            inner: Box::pin((*self.inner).clone()),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if !self.shared.remove_receiver() {
            return;
        }
        // Nobody can receive any more: close, so that waiting senders wake and fail, and count
        // what stays queued as dropped.
        self.shared.close();
        self.inner.close();
        if let Some(probe) = &self.shared.probe {
            let stranded = self.inner.len();
            if stranded > 0 {
                probe.dropped(stranded as u64, DropReason::Closed);
            }
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.inner.len())
            .field("shared", &self.shared)
            .finish()
    }
}

impl<T> Receiver<T> {
    /// Receives the next item, waiting until one is queued.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and every queued item has been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes loses no item.
    pub async fn recv(&self) -> Result<T, RecvError> {
        let item = self.inner.recv().await.map_err(|_| RecvError)?;
        self.received(1);
        Ok(item)
    }

    /// Receives an item if one is queued right now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is queued, [`TryRecvError::Closed`] when the
    /// channel is closed and drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.inner.try_recv() {
            Ok(item) => {
                self.received(1);
                Ok(item)
            }
            Err(async_channel::TryRecvError::Empty) => Err(TryRecvError::Empty),
            Err(async_channel::TryRecvError::Closed) => Err(TryRecvError::Closed),
        }
    }

    /// Receives the next item, waiting at most `timeout`. Requires a tokio runtime with the
    /// time driver.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when nothing arrived in time, [`RecvTimeoutError::Closed`]
    /// when the channel is closed and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Receiver::recv).
    pub async fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(result) => result.map_err(RecvTimeoutError::from),
            Err(_elapsed) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Waits for the first item however long it takes, then gathers more until `max` items or
    /// until `linger` has passed since the first item. See
    /// [`Consumer::recv_batch`](crate::Consumer::recv_batch) for the full contract; this version
    /// frees the slots of a whole run of queued items at once.
    ///
    /// # Panics
    ///
    /// If `max` is 0.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every item received before cancellation is already in `buf`.
    pub async fn recv_batch(&self, buf: &mut Vec<T>, max: usize, linger: Duration) -> usize {
        assert!(max > 0, "recv_batch: `max` must be at least 1");
        let Ok(first) = self.recv().await else {
            return 0;
        };
        buf.push(first);
        let mut added = 1;
        let mut deadline = None;
        loop {
            let mut taken = 0;
            while added + taken < max {
                match self.inner.try_recv() {
                    Ok(item) => {
                        buf.push(item);
                        taken += 1;
                    }
                    Err(_) => break,
                }
            }
            // Free the slots before waiting, so senders are not held up by our linger.
            self.received(taken);
            added += taken;
            if added == max || linger.is_zero() {
                return added;
            }
            // The first item arrived just before the first pass, with no await in between,
            // so the deadline counts from it.
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + linger);
            match tokio::time::timeout_at(deadline, self.recv()).await {
                Ok(Ok(item)) => {
                    buf.push(item);
                    added += 1;
                }
                Ok(Err(RecvError)) | Err(_) => return added,
            }
        }
    }

    /// Closes the channel from the receiving side: senders fail from now on, handing their item
    /// back, while receivers still drain what is queued. Returns `true` if this call closed it.
    pub fn close(&self) -> bool {
        match self.shared.close() {
            Closing::AlreadyClosed => false,
            Closing::Deferred => true,
            Closing::Now => {
                self.inner.close();
                true
            }
        }
    }

    /// Whether the channel is closed (it may still hold items to drain).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed() || self.inner.is_closed()
    }

    /// How many items are queued.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The channel's capacity, or `None` when unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity
    }

    /// Frees the slots of `n` received items and tells the probe.
    #[inline]
    fn received(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.shared.release(n);
        if let Some(probe) = &self.shared.probe {
            probe.consumed(n as u64);
            probe.depth(self.inner.len());
        }
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let polled = this.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(_)) = &polled {
            this.received(1);
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.inner.len(), None)
    }
}

impl<T: Send> crate::Consumer<T> for Receiver<T> {
    fn recv(&self) -> impl Future<Output = Result<T, RecvError>> + Send {
        Receiver::recv(self)
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        Receiver::try_recv(self)
    }

    fn len(&self) -> usize {
        Receiver::len(self)
    }

    fn capacity(&self) -> Option<usize> {
        Receiver::capacity(self)
    }

    fn is_closed(&self) -> bool {
        Receiver::is_closed(self)
    }

    fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<T, RecvTimeoutError>> + Send {
        Receiver::recv_timeout(self, timeout)
    }

    fn recv_batch(
        &self,
        buf: &mut Vec<T>,
        max: usize,
        linger: Duration,
    ) -> impl Future<Output = usize> + Send {
        Receiver::recv_batch(self, buf, max, linger)
    }
}

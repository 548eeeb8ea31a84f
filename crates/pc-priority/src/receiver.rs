//! The receiving half.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::{FusedStream, Stream};

use pc_core::{
    AckConsumer, ConsumeError, Consumer, Delivery, RecvError, RecvTimeoutError, TryRecvError,
    WaitKind,
};

use crate::shared::{Shared, Side, Stage, Taken, Wait};
use crate::store::{Levels, Store};

/// The receiving half of a priority channel. Clone it for more consumers; each item goes to
/// exactly one of them.
///
/// [`recv`](Self::recv) returns the item with its priority; as a [`Consumer`] it returns the
/// item alone, so worker pools, batchers and pipelines drain it like any other queue. An idle
/// receiver is parked, not polling, until a send or a close wakes it. Dropping the last
/// receiver closes the channel; items still queued are then dropped and reported to the probe
/// as `DropReason::Closed`.
pub struct PriorityReceiver<T: Send, S: Store = Levels> {
    pub(crate) shared: Arc<Shared<T, S>>,
    /// This handle's wait when it is polled as a `Stream`: woken by every item and counted as
    /// nobody's wake-up, so a stream that stops being polled holds nothing back.
    stream: Stage,
    /// The stream ended (closed and drained); it stays ended.
    stream_ended: bool,
}

impl<T: Send, S: Store> PriorityReceiver<T, S> {
    pub(crate) fn new(shared: Arc<Shared<T, S>>) -> Self {
        Self {
            shared,
            stream: Stage::Idle,
            stream_ended: false,
        }
    }

    /// Receives the next item and its priority, waiting while the channel is empty.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and everything queued has been received.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled receive takes no item.
    pub async fn recv(&self) -> Result<(T, S::Priority), RecvError> {
        let mut wait = Wait::new(&self.shared, Side::Receivers);
        let mut blocked = None;
        loop {
            match self.shared.try_pop(Some(&mut wait)) {
                Taken::Item(item, priority) => return Ok((item, priority)),
                Taken::Closed => return Err(RecvError),
                Taken::Empty => {
                    blocked.get_or_insert_with(|| self.shared.wait_timer(WaitKind::RecvBlocked));
                    wait.wait().await;
                }
            }
        }
    }

    /// Receives the next item and its priority if one is queued now.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Closed`] once the channel is closed and
    /// drained.
    pub fn try_recv(&self) -> Result<(T, S::Priority), TryRecvError> {
        match self.shared.try_pop(None) {
            Taken::Item(item, priority) => Ok((item, priority)),
            Taken::Empty => Err(TryRecvError::Empty),
            Taken::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Receives the next item and its priority, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], or [`RecvTimeoutError::Closed`] once the channel is closed
    /// and drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> Result<(T, S::Priority), RecvTimeoutError> {
        match pc_core::time::until(pc_core::time::deadline(timeout), self.recv()).await {
            Some(Ok(got)) => Ok(got),
            Some(Err(RecvError)) => Err(RecvTimeoutError::Closed),
            None => Err(RecvTimeoutError::Timeout),
        }
    }
}

crate::handle::handle_accessors!(PriorityReceiver);

impl<T: Send, S: Store> Clone for PriorityReceiver<T, S> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Self::new(Arc::clone(&self.shared))
    }
}

impl<T: Send, S: Store> Drop for PriorityReceiver<T, S> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.abandon();
        }
    }
}

impl<T: Send, S: Store> fmt::Debug for PriorityReceiver<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PriorityReceiver")
            .field(&self.shared)
            .finish()
    }
}

/// Deliveries with nothing to settle, highest priority first as [`recv`](PriorityReceiver::recv).
impl<T: Send, S: Store> AckConsumer<T> for PriorityReceiver<T, S> {
    async fn recv_delivery(&self) -> Result<Delivery<T>, ConsumeError> {
        let (item, _priority) = self.recv().await?;
        Ok(Delivery::settled(item))
    }
}

/// Receives items without their priority.
impl<T: Send, S: Store> Consumer<T> for PriorityReceiver<T, S> {
    async fn recv(&self) -> Result<T, ConsumeError> {
        let (item, _priority) = PriorityReceiver::recv(self).await?;
        Ok(item)
    }

    fn try_recv(&self) -> Result<T, ConsumeError> {
        let (item, _priority) = PriorityReceiver::try_recv(self)?;
        Ok(item)
    }

    fn len(&self) -> usize {
        self.shared.len()
    }

    fn capacity(&self) -> Option<usize> {
        self.shared.capacity()
    }

    fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The items in priority order, as a stream that ends when the channel is closed and
    /// drained. Its registration between polls is woken by every item and counts as nobody's
    /// wake-up: a stream that stops being polled (the losing branch of a `select!`) never keeps
    /// an item or a wake-up from a receiver that waits.
    fn stream(&self) -> impl Stream<Item = T> + Send + '_ {
        Items {
            shared: &self.shared,
            wait: Wait::new(&self.shared, Side::Streams),
            done: false,
        }
    }
}

/// [`PriorityReceiver`]'s items as a stream (see `Consumer::stream`).
struct Items<'a, T: Send, S: Store> {
    shared: &'a Shared<T, S>,
    wait: Wait<'a, T, S>,
    done: bool,
}

impl<T: Send, S: Store> Stream for Items<'_, T, S> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        poll_items(this.shared, &mut this.wait, &mut this.done, cx)
    }
}

impl<T: Send, S: Store> FusedStream for Items<'_, T, S> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// The items in priority order, without their priority, as [`Consumer::stream`] yields them;
/// the stream ends when the channel is closed and drained. Its wait between polls is woken by
/// every item and counts as nobody's wake-up: a receiver polled as a stream and then left (the
/// losing branch of a `select!`) never keeps an item or a wake-up from a receive that waits.
///
/// ```
/// use futures_util::StreamExt;
/// use pc_priority::PriorityChannel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, mut rx) = PriorityChannel::builder(3).capacity(8).build()?;
/// tx.send("low", 2).await?;
/// tx.send("high", 0).await?;
/// drop(tx);
/// let items: Vec<_> = (&mut rx).collect().await;
/// assert_eq!(items, ["high", "low"]);
/// # Ok(())
/// # }
/// ```
impl<T: Send, S: Store> Stream for PriorityReceiver<T, S> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let stage = std::mem::take(&mut this.stream);
        let mut wait = Wait::resume(&this.shared, Side::Streams, stage);
        let polled = poll_items(&this.shared, &mut wait, &mut this.stream_ended, cx);
        this.stream = wait.suspend();
        polled
    }
}

impl<T: Send, S: Store> FusedStream for PriorityReceiver<T, S> {
    fn is_terminated(&self) -> bool {
        self.stream_ended
    }
}

/// One poll of a stream of items: sleeps on `wait` until an item or the close; `done` once
/// the channel is closed and drained.
fn poll_items<T: Send, S: Store>(
    shared: &Shared<T, S>,
    wait: &mut Wait<'_, T, S>,
    done: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    loop {
        if *done {
            return Poll::Ready(None);
        }
        ready!(wait.poll_wait(cx));
        match shared.try_pop(Some(wait)) {
            Taken::Item(item, _) => return Poll::Ready(Some(item)),
            Taken::Closed => *done = true,
            // Registered now: the next turn sleeps until an item or the close.
            Taken::Empty => {}
        }
    }
}

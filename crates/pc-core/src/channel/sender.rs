//! The sending half of [`channel`](super).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use concurrent_queue::PushError;

use super::chan::{Chan, ScopedWaiter};
use super::permit::Permit;
use super::sink::SendSink;
use crate::error::{ReserveError, SendError, SendTimeoutError, TryReserveError, TrySendError};
use crate::loom::Arc;
use crate::probe::{WaitKind, WaitTimer};

/// The sending half of a channel; clone it for more producers.
///
/// Dropping the last `Sender` closes the channel: receivers drain what is queued, then see
/// [`RecvError`](crate::RecvError).
pub struct Sender<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Self {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.remove_sender() {
            self.chan.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("chan", &self.chan).finish()
    }
}

impl<T> Sender<T> {
    channel_state_accessors!();

    /// Sends `item`, waiting for a free slot if the channel is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding the item if the channel is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes means the item was not enqueued; the item is
    /// dropped with the future. To wait without giving up the item, use
    /// [`reserve`](Sender::reserve) or [`send_timeout`](Sender::send_timeout).
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        if !self.chan.try_acquire() && self.wait_for_slot().await.is_err() {
            return Err(SendError(item));
        }
        self.push_if_open(item)
    }

    /// Sends `item` if a slot is free right now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] or [`TrySendError::Closed`], each holding the item.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        if self.chan.is_closed() {
            return Err(TrySendError::Closed(item));
        }
        if !self.chan.try_acquire() {
            return Err(TrySendError::Full(item));
        }
        self.push_if_open(item).map_err(TrySendError::from)
    }

    /// Sends `item`, waiting at most `timeout` for a free slot.
    ///
    /// Requires a tokio runtime with the time driver.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Closed`], each holding the item.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Sender::send): cancelling drops the item, while an elapsed timeout hands it
    /// back.
    pub async fn send_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        if !self.chan.try_acquire() {
            match tokio::time::timeout(timeout, self.wait_for_slot()).await {
                Ok(Ok(())) => {}
                Ok(Err(ReserveError)) => return Err(SendTimeoutError::Closed(item)),
                Err(_elapsed) => return Err(SendTimeoutError::Timeout(item)),
            }
        }
        self.push_if_open(item).map_err(SendTimeoutError::from)
    }

    /// Sends every item of `items` in order, waiting for space as needed, and returns how many
    /// were sent. See [`Producer::send_all`](crate::Producer::send_all).
    ///
    /// # Errors
    ///
    /// Stops at the first item refused because the channel is closed and returns it in a
    /// [`SendError`]; later items stay in the iterator.
    ///
    /// # Cancel safety
    ///
    /// Items sent before cancellation stay sent; the item being sent is dropped.
    pub async fn send_all<I: IntoIterator<Item = T>>(
        &self,
        items: I,
    ) -> Result<usize, SendError<T>> {
        let mut sent = 0;
        for item in items {
            self.send(item).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Waits for a free slot and holds it for you: [`Permit::send`] then enqueues without
    /// waiting.
    ///
    /// A permit reserved before the channel is closed can still be used after the close;
    /// receivers wait for outstanding permits before they report the channel closed.
    ///
    /// # Errors
    ///
    /// [`ReserveError`] if the channel is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a cancelled reservation holds no slot, and since the item was never handed
    /// over, nothing is lost. This is the way to wait for space inside `select!`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pc_core::channel;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, rx) = channel::bounded::<String>(1)?;
    /// tx.send("first".to_string()).await?;
    ///
    /// let item = "second".to_string();
    /// tokio::select! {
    ///     permit = tx.reserve() => permit?.send(item)?,
    ///     _ = tokio::time::sleep(Duration::from_millis(5)) => {
    ///         // The channel stayed full; the item is still ours.
    ///         assert_eq!(item, "second");
    ///     }
    /// }
    /// assert_eq!(rx.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reserve(&self) -> Result<Permit<'_, T>, ReserveError> {
        if !self.chan.try_acquire() {
            self.wait_for_slot().await?;
        }
        self.permit_for_held_slot()
            .map_err(|_: TryReserveError| ReserveError)
    }

    /// Takes a free slot right now and holds it for you.
    ///
    /// # Errors
    ///
    /// [`TryReserveError::Full`] when every slot is taken, [`TryReserveError::Closed`] when the
    /// channel is closed.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TryReserveError> {
        if self.chan.is_closed() {
            return Err(TryReserveError::Closed);
        }
        if !self.chan.try_acquire() {
            return Err(TryReserveError::Full);
        }
        self.permit_for_held_slot()
    }

    /// Closes the channel for every sender: later sends and reservations fail, handing their
    /// item back, while receivers drain what is queued (and what outstanding permits send).
    /// Returns `true` if this call closed it.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed, by a `close` call or because every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Turns this sender into a [`futures_sink::Sink`].
    pub fn into_sink(self) -> SendSink<T> {
        SendSink::new(self)
    }

    /// Waits for a slot, reporting the time blocked to the probe. The wait is announced (and
    /// the clock read) only once it parks: a slot freed meanwhile costs the probe nothing.
    pub(super) async fn wait_for_slot(&self) -> Result<(), ReserveError> {
        let mut waiter = ScopedWaiter::new(&self.chan.space);
        let mut blocked = None;
        let acquired = std::future::poll_fn(|cx| {
            let polled = self.chan.poll_acquire(&mut waiter.waiter, cx);
            if polled.is_pending() && blocked.is_none() {
                blocked = Some(WaitTimer::timed(
                    self.chan.probe.as_ref(),
                    WaitKind::SendBlocked,
                ));
            }
            polled
        })
        .await;
        drop(blocked);
        if acquired { Ok(()) } else { Err(ReserveError) }
    }

    /// Pushes `item` into a slot this sender holds, unless the channel was closed meanwhile.
    pub(super) fn push_if_open(&self, item: T) -> Result<(), SendError<T>> {
        if self.chan.is_closed() {
            self.chan.release_unused();
            return Err(SendError(item));
        }
        self.push_held(item)
    }

    /// Pushes `item` into a slot this sender holds. Fails only when every receiver is gone.
    pub(super) fn push_held(&self, item: T) -> Result<(), SendError<T>> {
        match self.chan.queue.push(item) {
            Ok(()) => {
                self.chan.items.notify_fenced(1);
                if let Some(probe) = &self.chan.probe {
                    probe.produced(1);
                    if self.chan.report_depth {
                        probe.depth(self.chan.queue.len());
                    }
                }
                Ok(())
            }
            Err(PushError::Closed(item)) => {
                self.chan.release_unused();
                Err(SendError(item))
            }
            Err(PushError::Full(_)) => {
                unreachable!("a held slot always has room in the queue")
            }
        }
    }

    /// Turns a held slot into a permit, giving the slot back if the channel closed meanwhile.
    fn permit_for_held_slot(&self) -> Result<Permit<'_, T>, TryReserveError> {
        if self.chan.add_permit() {
            Ok(Permit::new(self))
        } else {
            self.chan.retire_permit();
            self.chan.release_unused();
            Err(TryReserveError::Closed)
        }
    }
}

impl<T: Send> crate::Producer<T> for Sender<T> {
    fn send(&self, item: T) -> impl Future<Output = Result<(), SendError<T>>> + Send {
        Sender::send(self, item)
    }

    fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        Sender::try_send(self, item)
    }

    fn send_timeout(
        &self,
        item: T,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), SendTimeoutError<T>>> + Send {
        Sender::send_timeout(self, item, timeout)
    }

    fn close(&self) -> bool {
        Sender::close(self)
    }

    fn send_all<I>(&self, items: I) -> impl Future<Output = Result<usize, SendError<T>>> + Send
    where
        I: IntoIterator<Item = T> + Send,
        I::IntoIter: Send,
    {
        Sender::send_all(self, items)
    }

    fn is_closed(&self) -> bool {
        Sender::is_closed(self)
    }
}

//! `SendSink`: a [`Sender`] as a [`Sink`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_sink::Sink;

use super::chan::Placed;
use super::sender::Sender;
use crate::error::SendError;

/// A [`Sender`] as a [`Sink`], made by [`Sender::into_sink`].
///
/// `poll_ready` waits for and holds a free slot, so `start_send` never waits and a sink that is
/// dropped between the two loses nothing. The error is `SendError<Option<T>>`: `None` when the
/// channel closed while waiting for a slot, `Some(item)` when it closed between `poll_ready` and
/// `start_send`. Closing the sink closes neither the channel nor other senders; dropping it
/// drops its sender, and the last sender closes the channel.
///
/// ```
/// use futures_util::{SinkExt, StreamExt, stream};
/// use pc_core::channel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::bounded(4)?;
/// let mut sink = tx.into_sink();
/// sink.send_all(&mut stream::iter([1, 2, 3]).map(Ok)).await.map_err(|_| "closed")?;
/// drop(sink); // the last sender: the channel closes
/// assert_eq!(rx.collect::<Vec<_>>().await, [1, 2, 3]);
/// # Ok(())
/// # }
/// ```
pub struct SendSink<T> {
    sender: Sender<T>,
    holds_slot: bool,
    /// Its registration while `poll_ready` waits: it watches, so a sink that stops being
    /// polled never takes a slot or a wake-up from a sender that waits.
    watch: Option<usize>,
}

impl<T> SendSink<T> {
    pub(super) fn new(sender: Sender<T>) -> Self {
        Self {
            sender,
            holds_slot: false,
            watch: None,
        }
    }

    /// The sender inside.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, _rx) = channel::bounded::<u8>(4)?;
    /// let sink = tx.into_sink();
    /// assert_eq!(sink.get_ref().capacity(), Some(4));
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn get_ref(&self) -> &Sender<T> {
        &self.sender
    }

    fn release_slot(&mut self) {
        if std::mem::take(&mut self.holds_slot) {
            self.sender.chan.return_grants(1);
        }
    }
}

impl<T> Sink<T> for SendSink<T> {
    type Error = SendError<Option<T>>;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if this.holds_slot {
            return Poll::Ready(Ok(()));
        }
        match this.sender.chan.poll_watch_grant(&mut this.watch, cx) {
            Placed::Yes => {
                this.holds_slot = true;
                Poll::Ready(Ok(()))
            }
            Placed::Closed => Poll::Ready(Err(SendError(None))),
            Placed::Waiting => Poll::Pending,
        }
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if !std::mem::take(&mut this.holds_slot) {
            // `poll_ready` was skipped: send only if a slot is free right now.
            return this
                .sender
                .try_send(item)
                .map_err(|err| SendError(Some(err.into_inner())));
        }
        this.sender
            .chan
            .send_granted(item, true)
            .map_err(|item| SendError(Some(item)))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().release_slot();
        Poll::Ready(Ok(()))
    }
}

impl<T> Drop for SendSink<T> {
    fn drop(&mut self) {
        if let Some(key) = self.watch.take() {
            self.sender.chan.drop_watch(key);
        }
        self.release_slot();
    }
}

impl<T> fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("sender", &self.sender)
            .field("holds_slot", &self.holds_slot)
            .field("watching", &self.watch.is_some())
            .finish()
    }
}

//! The future of [`Sender::send`](super::Sender::send).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::chan::{Chan, Placed};
use crate::error::SendError;
use crate::probe::{WaitKind, WaitTimer};

/// The future of [`Sender::send`](super::Sender::send): `Ok` once the item is in the channel,
/// or [`SendError`] with the item if the channel is closed first.
///
/// It is `Unpin` whatever the item, which it only moves, so it can be kept and polled again
/// (in a `select!` loop) without pinning. Dropping it before it completes means the item was
/// not enqueued: the item is dropped with it, and a slot granted to it goes to the next in line.
///
/// Named as async-channel's and futures' `Send` futures are: a glob import of
/// `pc_core::channel::*` would shadow the `Send` trait, so import the names you use.
#[must_use = "futures do nothing unless polled"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    /// Until it is placed; handed back in the error when the channel is closed.
    item: Option<T>,
    /// Its slot among the parked senders, while it waits.
    key: Option<usize>,
    /// Announced to the probe (and the clock read) only once the send parks; dropped where it
    /// lies when the send ends (moving it out first made every send reload, wide, a field just
    /// stored narrow: a store-forwarding stall).
    blocked: Option<WaitTimer<'a>>,
}

// The item is moved in and out, never pinned.
impl<T> Unpin for Send<'_, T> {}

impl<'a, T> Send<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, item: T) -> Self {
        Self {
            chan,
            item: Some(item),
            key: None,
            blocked: None,
        }
    }

    /// Gives up the send (a slot granted to it goes to the next in line) and hands the item
    /// back; for a wait that ran out of time.
    pub(super) fn withdraw(mut self) -> T {
        self.item
            .take()
            .expect("a send that has not completed holds its item")
    }
}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.chan.poll_send(&mut this.key, &mut this.item, cx) {
            Placed::Yes => Poll::Ready(Ok(())),
            Placed::Closed => Poll::Ready(Err(SendError(
                this.item
                    .take()
                    .expect("a closed channel hands the item back"),
            ))),
            Placed::Waiting => {
                if this.blocked.is_none() {
                    this.blocked = Some(WaitTimer::timed(
                        this.chan.probe.as_ref(),
                        WaitKind::SendBlocked,
                    ));
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.chan.cancel_reserve(key);
        }
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

//! `Permit`: a slot held in a bounded channel.

use std::fmt;

use super::sender::Sender;
use crate::error::SendError;

/// A slot reserved by [`Sender::reserve`] or [`Sender::try_reserve`].
///
/// [`send`](Permit::send) enqueues into the held slot without waiting; dropping the permit
/// unused gives the slot back. A permit keeps the channel open for receivers: after a `close`,
/// they wait for outstanding permits before they report the channel closed.
#[must_use = "a permit holds a slot until it is used or dropped"]
pub struct Permit<'a, T> {
    sender: &'a Sender<T>,
    used: bool,
}

impl<'a, T> Permit<'a, T> {
    pub(super) fn new(sender: &'a Sender<T>) -> Self {
        Self {
            sender,
            used: false,
        }
    }

    /// Enqueues `item` into the reserved slot, without waiting.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding the item only if every receiver has been dropped, so that nobody
    /// could ever receive it. A `close` after the reservation does not make this fail.
    pub fn send(mut self, item: T) -> Result<(), SendError<T>> {
        // Spent either way: a failed send gives the slot back itself.
        self.used = true;
        self.sender
            .chan
            .send_granted(item, false)
            .map_err(SendError)
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        if !self.used {
            self.sender.chan.return_grant();
        }
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("used", &self.used).finish()
    }
}

//! Weak handles: a sender or receiver that does not keep the channel open.

use std::fmt;

use super::chan::Chan;
use super::receiver::Receiver;
use super::sender::Sender;
use crate::loom::Arc;

/// A sender that does not count as one: made by [`Sender::downgrade`], it neither keeps the
/// channel open nor sends, until [`upgrade`](WeakSender::upgrade) gives a `Sender` back while
/// one is still alive.
///
/// ```
/// use pc_core::channel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::bounded::<u32>(4)?;
/// let weak = tx.downgrade();
/// weak.upgrade().expect("a sender is alive").try_send(1)?;
/// drop(tx); // the last sender: the channel closes
/// assert!(weak.upgrade().is_none());
/// assert_eq!(rx.try_recv(), Ok(1));
/// # Ok(())
/// # }
/// ```
pub struct WeakSender<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> WeakSender<T> {
    /// A `Sender` again, if any sender is still alive (once the last is gone, the channel is
    /// closed for good and none comes back).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (tx, _rx) = channel::bounded::<u8>(1)?;
    /// let weak = tx.downgrade();
    /// let strong = weak.upgrade().expect("a sender lives");
    /// drop((tx, strong));
    /// assert!(weak.upgrade().is_none());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn upgrade(&self) -> Option<Sender<T>> {
        self.chan.upgrade_sender().then(|| Sender {
            chan: Arc::clone(&self.chan),
        })
    }
}

impl<T> Clone for WeakSender<T> {
    fn clone(&self) -> Self {
        Self {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> fmt::Debug for WeakSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakSender")
            .field("chan", &self.chan)
            .finish()
    }
}

/// A receiver that does not count as one: made by [`Receiver::downgrade`], it neither keeps
/// the channel open nor receives, until [`upgrade`](WeakReceiver::upgrade) gives a `Receiver`
/// back while one is still alive.
///
/// ```
/// use pc_core::channel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::bounded::<u32>(4)?;
/// let weak = rx.downgrade();
/// tx.try_send(1)?;
/// assert_eq!(weak.upgrade().expect("a receiver is alive").try_recv(), Ok(1));
/// drop(rx); // the last receiver: the channel closes
/// assert!(weak.upgrade().is_none());
/// assert!(tx.is_closed());
/// # Ok(())
/// # }
/// ```
pub struct WeakReceiver<T> {
    pub(super) chan: Arc<Chan<T>>,
}

impl<T> WeakReceiver<T> {
    /// A `Receiver` again, if any receiver is still alive (once the last is gone, what was
    /// queued is dropped and none comes back).
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// let (_tx, rx) = channel::bounded::<u8>(1)?;
    /// let weak = rx.downgrade();
    /// assert!(weak.upgrade().is_some());
    /// drop(rx);
    /// assert!(weak.upgrade().is_none());
    /// # Ok::<(), pc_core::BuildError>(())
    /// ```
    pub fn upgrade(&self) -> Option<Receiver<T>> {
        self.chan
            .upgrade_receiver()
            .then(|| Receiver::new(Arc::clone(&self.chan)))
    }
}

impl<T> Clone for WeakReceiver<T> {
    fn clone(&self) -> Self {
        Self {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> fmt::Debug for WeakReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeakReceiver")
            .field("chan", &self.chan)
            .finish()
    }
}

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
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(1)?;
    /// let permit = tx.reserve().await?;
    /// permit.send("in the reserved slot")?; // never waits
    /// assert_eq!(rx.recv().await?, "in the reserved slot");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn send(mut self, item: T) -> Result<(), SendError<T>> {
        // Spent either way: a failed send gives the slot back itself.
        self.used = true;
        self.sender
            .chan
            .send_granted(item, false)
            .map_err(SendError)
    }
}

impl<T> Permit<'_, T> {
    /// Keeps the slot granted without this permit: an [`OwnedPermit`] takes it over.
    pub(super) fn keep_grant(mut self) {
        self.used = true;
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        if !self.used {
            self.sender.chan.return_grants(1);
        }
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("used", &self.used).finish()
    }
}

/// Slots reserved together by [`Sender::reserve_many`] or [`Sender::try_reserve_many`]: an
/// iterator of one [`Permit`] per slot. Slots whose permits are not taken go back when this is
/// dropped.
#[must_use = "permits hold slots until they are used or dropped"]
pub struct Permits<'a, T> {
    sender: &'a Sender<T>,
    /// Slots held and not handed out as permits yet.
    left: usize,
}

impl<'a, T> Permits<'a, T> {
    pub(super) fn new(sender: &'a Sender<T>, n: usize) -> Self {
        Self { sender, left: n }
    }
}

impl<'a, T> Iterator for Permits<'a, T> {
    type Item = Permit<'a, T>;

    fn next(&mut self) -> Option<Permit<'a, T>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(Permit::new(self.sender))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Permits<'_, T> {}

impl<T> Drop for Permits<'_, T> {
    fn drop(&mut self) {
        if self.left > 0 {
            self.sender.chan.return_grants(self.left);
        }
    }
}

impl<T> fmt::Debug for Permits<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permits").field("left", &self.left).finish()
    }
}

/// A slot reserved by [`Sender::reserve_owned`], owning its sender: it can move into a spawned
/// task, and gives the sender back when it is used or released.
///
/// Dropping it unused gives the slot back. Like a [`Permit`], it keeps the channel open for
/// receivers: after a `close`, they wait for outstanding permits before they report the
/// channel closed.
///
/// ```
/// use pc_core::channel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tx, rx) = channel::bounded::<String>(1)?;
/// let permit = tx.clone().reserve_owned().await?;
/// // The slot is held while the item is made elsewhere.
/// tokio::spawn(async move {
///     let tx = permit.send("made in a task".to_string())?;
///     assert!(tx.is_full());
///     Ok::<_, pc_core::SendError<String>>(())
/// })
/// .await??;
/// assert_eq!(rx.recv().await?, "made in a task");
/// # Ok(())
/// # }
/// ```
#[must_use = "a permit holds a slot until it is used or dropped"]
pub struct OwnedPermit<T> {
    /// `None` once used or released.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    pub(super) fn new(sender: Sender<T>) -> Self {
        Self {
            sender: Some(sender),
        }
    }

    /// Enqueues `item` into the reserved slot, without waiting, and gives the sender back.
    ///
    /// # Errors
    ///
    /// [`SendError`] holding the item only if every receiver has been dropped (the sender is
    /// dropped then). A `close` after the reservation does not make this fail.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, rx) = channel::bounded(1)?;
    /// let permit = tx.reserve_owned().await?;
    /// let tx = permit.send(1)?; // the sender comes back
    /// assert!(tx.is_full());
    /// assert_eq!(rx.recv().await?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn send(mut self, item: T) -> Result<Sender<T>, SendError<T>> {
        let sender = self.take_sender();
        // A failed send gives the slot back itself.
        sender.chan.send_granted(item, false).map_err(SendError)?;
        Ok(sender)
    }

    /// Gives the slot back unused, and the sender with it.
    ///
    /// ```
    /// use pc_core::channel;
    ///
    /// # tokio_test::block_on(async {
    /// let (tx, _rx) = channel::bounded::<u8>(1)?;
    /// let permit = tx.reserve_owned().await?;
    /// let tx = permit.release(); // the slot goes back unused
    /// assert!(!tx.is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn release(mut self) -> Sender<T> {
        let sender = self.take_sender();
        sender.chan.return_grants(1);
        sender
    }

    fn take_sender(&mut self) -> Sender<T> {
        self.sender
            .take()
            .expect("an owned permit holds its sender until it is used")
    }
}

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.chan.return_grants(1);
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("used", &self.sender.is_none())
            .finish()
    }
}

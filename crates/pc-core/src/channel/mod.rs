//! The base MPMC channel: [`bounded`] and [`unbounded`], served in order, with lossless waits
//! for space.
//!
//! Both halves clone (many producers, many consumers; each item goes to one consumer) and
//! implement [`Producer`](crate::Producer) and [`Consumer`](crate::Consumer). Underneath is a
//! queue of its own: one lock around the state, parked operations in reused slots, nothing
//! allocated per message or per wait. What it offers:
//!
//! - **Order.** Waiting sends, reservations and receives are served first come, first served:
//!   an item sent while a receive waits is handed to the one that has waited longest, a slot
//!   that frees is granted to the longest waiting sender, and `try_send`, `try_reserve` or a new
//!   wait never take what a waiting one is owed.
//! - **Reservations.** [`Sender::reserve`] waits for a slot and holds it in a [`Permit`], so
//!   waiting for space can be cancelled (in `select!`, under a timeout) without losing the item.
//!   [`Sender::send_timeout`] and [`Sender::try_send`] hand the item back.
//! - **Drop-oldest in one step.** [`Sender::force_send`] puts an item in, taking the oldest out
//!   when the channel is full.
//! - **A probe.** [`Builder::probe`] reports sends, receives, depth, time blocked on a full
//!   channel, and items stranded when the last receiver goes.
//! - **Typed build errors**: a capacity of 0 is a [`BuildError`], not a panic.
//! - **`Stream` and `Sink`**: [`Receiver`] is a `Stream`; [`Sender::into_sink`] gives a `Sink`.
//!   A stream or sink that stops being polled while it lives holds back no other operation:
//!   between polls it only watches, and is never handed an item or a slot.
//!
//! # Cancellation
//!
//! A cancelled `recv` loses nothing: an item handed to it goes to the next waiting receive, or
//! back to the head of the queue. A cancelled `reserve` passes a slot granted to it on. A
//! cancelled `send` never enqueued its item (the item is dropped with the future).
//!
//! # Closing
//!
//! [`Sender::close`] or [`Receiver::close`] closes the channel for everyone: sends fail and hand
//! their item back, receivers drain what is queued and then get
//! [`RecvError`](crate::RecvError). Dropping the last sender closes it too; dropping the last
//! receiver closes it and wakes every waiting sender.
//!
//! ```
//! use pc_core::channel;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (tx, rx) = channel::bounded(2)?;
//! let producer = tokio::spawn(async move {
//!     for i in 0..5 {
//!         tx.send(i).await?;
//!     }
//!     Ok::<_, pc_core::SendError<i32>>(())
//!     // `tx` is dropped here: the channel closes once drained.
//! });
//! let mut got = Vec::new();
//! while let Ok(item) = rx.recv().await {
//!     got.push(item);
//! }
//! producer.await??;
//! assert_eq!(got, [0, 1, 2, 3, 4]);
//! # Ok(())
//! # }
//! ```

/// The read-only state both halves expose, written once for `Sender` and `Receiver` (each has
/// a `chan` field).
macro_rules! channel_state_accessors {
    () => {
        /// How many items are in the channel: queued, or handed to a waiting receive that has
        /// not run yet to take it. Never more than the capacity.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (tx, rx) = channel::bounded::<u8>(4)?;
        /// tx.try_send(1)?;
        /// assert_eq!((tx.len(), rx.len()), (1, 1));
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn len(&self) -> usize {
            self.chan.len()
        }

        /// Whether no item is in the channel (see [`len`](Self::len)).
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (tx, rx) = channel::unbounded::<u8>();
        /// assert!(rx.is_empty());
        /// tx.try_send(1)?;
        /// assert!(!rx.is_empty());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn is_empty(&self) -> bool {
            self.chan.len() == 0
        }

        /// The channel's capacity, or `None` when unbounded.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (bounded, _rx) = channel::bounded::<u8>(4)?;
        /// let (unbounded, _rx2) = channel::unbounded::<u8>();
        /// assert_eq!((bounded.capacity(), unbounded.capacity()), (Some(4), None));
        /// # Ok::<(), pc_core::BuildError>(())
        /// ```
        pub fn capacity(&self) -> Option<usize> {
            self.chan.capacity()
        }

        /// Items sent into and received from a bounded channel so far, counted from the slots
        /// the channel tracks anyway, so this costs nothing on the way; `None` when unbounded.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (tx, rx) = channel::bounded::<u8>(4)?;
        /// tx.try_send(1)?;
        /// tx.try_send(2)?;
        /// rx.try_recv()?;
        /// let counts = rx.counts().expect("a bounded channel");
        /// assert_eq!((counts.sent, counts.received), (2, 1));
        /// assert!(channel::unbounded::<u8>().0.counts().is_none());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn counts(&self) -> Option<super::Counts> {
            self.chan
                .counts()
                .map(|(sent, received)| super::Counts { sent, received })
        }

        /// Whether every slot is taken (by queued items, permits, or items handed to waiting
        /// receives): a send now would wait. Never, when unbounded.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (tx, _rx) = channel::bounded::<u8>(1)?;
        /// assert!(!tx.is_full());
        /// tx.try_send(1)?;
        /// assert!(tx.is_full());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn is_full(&self) -> bool {
            self.chan.is_full()
        }

        /// Live senders (a [`SendSink`](super::SendSink) holds one; a
        /// [`WeakSender`](super::WeakSender) does not count). The channel closes when this
        /// reaches 0.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (tx, rx) = channel::bounded::<u8>(1)?;
        /// let second = tx.clone();
        /// assert_eq!(rx.sender_count(), 2);
        /// drop((tx, second));
        /// assert_eq!(rx.sender_count(), 0);
        /// assert!(rx.is_closed());
        /// # Ok::<(), pc_core::BuildError>(())
        /// ```
        pub fn sender_count(&self) -> usize {
            self.chan.sender_count()
        }

        /// Live receivers (a [`WeakReceiver`](super::WeakReceiver) does not count). The
        /// channel is closed, and what was queued dropped, when this reaches 0.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// let (tx, rx) = channel::bounded::<u8>(1)?;
        /// let weak = rx.downgrade(); // does not count
        /// assert_eq!(tx.receiver_count(), 1);
        /// drop(rx);
        /// assert_eq!(tx.receiver_count(), 0);
        /// assert!(tx.is_closed() && weak.upgrade().is_none());
        /// # Ok::<(), pc_core::BuildError>(())
        /// ```
        pub fn receiver_count(&self) -> usize {
            self.chan.receiver_count()
        }

        /// Senders waiting for a free slot right now.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// # tokio_test::block_on(async {
        /// let (tx, rx) = channel::bounded::<u8>(1)?;
        /// tx.send(1).await?;
        /// let mut blocked = tokio_test::task::spawn(tx.send(2));
        /// assert!(blocked.poll().is_pending());
        /// assert_eq!(rx.waiting_senders(), 1);
        /// drop(blocked);
        /// assert_eq!(rx.waiting_senders(), 0);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// # }).unwrap();
        /// ```
        pub fn waiting_senders(&self) -> usize {
            self.chan.waiting_senders()
        }

        /// Receivers waiting for an item right now.
        ///
        /// ```
        /// use pc_core::channel;
        ///
        /// # tokio_test::block_on(async {
        /// let (tx, rx) = channel::bounded::<u8>(1)?;
        /// let mut waiting = tokio_test::task::spawn(rx.recv());
        /// assert!(waiting.poll().is_pending());
        /// assert_eq!(tx.waiting_receivers(), 1);
        /// tx.send(7).await?;
        /// assert_eq!(waiting.await?, 7);
        /// assert_eq!(tx.waiting_receivers(), 0);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// # }).unwrap();
        /// ```
        pub fn waiting_receivers(&self) -> usize {
            self.chan.waiting_receivers()
        }
    };
}

mod blocking;
mod builder;
mod chan;
mod permit;
mod receiver;
mod send;
mod sender;
mod sink;
#[cfg(all(test, loom))]
mod tests;
mod weak;

pub use builder::Builder;
pub use permit::{OwnedPermit, Permit, Permits};
pub use receiver::{Receiver, Recv};
pub use send::Send;
pub use sender::{Reserve, Sender};
pub use sink::SendSink;
pub use weak::{WeakReceiver, WeakSender};

use crate::build_error::BuildError;

/// Items sent into and received from a bounded channel so far; see [`Sender::counts`].
///
/// Taken from the slot counts at one moment: an item in the middle of its send may already be
/// counted as sent, and `sent - received` is then at most the number of items in flight above
/// [`Sender::len`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Counts {
    /// Items that went into the channel.
    pub sent: u64,
    /// Items that came out of it.
    pub received: u64,
}

/// A channel that holds at most `capacity` items.
///
/// Up to 65,536 the queue's slots are allocated at once; a larger capacity, up to `usize::MAX`
/// (in effect unbounded), reserves nothing up front and keeps its bound all the same.
///
/// # Errors
///
/// [`BuildError::Zero`] if `capacity` is 0. Use [`Builder`] to attach a probe.
///
/// # No rendezvous
///
/// A capacity of 0 is an error rather than a rendezvous channel (where a send completes only
/// as a receive takes its item). Here a cancelled receive puts a handed item back, and a
/// cancelled send never enqueued its item: a hand-off that either side abandons halfway must
/// leave the item somewhere, which is a slot. A channel of capacity 1 is the closest: a send
/// completes once its item is in the one slot or handed to a waiting receive, and the next
/// send waits until it is taken.
///
/// ```
/// use pc_core::channel;
///
/// let (tx, rx) = channel::bounded::<&str>(2)?;
/// tx.try_send("a")?;
/// tx.try_send("b")?;
/// assert!(tx.try_send("c").unwrap_err().is_full());
/// assert_eq!(rx.try_recv()?, "a");
/// assert!(channel::bounded::<u8>(0).is_err(), "no rendezvous: a typed error");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn bounded<T>(capacity: usize) -> Result<(Sender<T>, Receiver<T>), BuildError> {
    builder::check_capacity(Some(capacity))?;
    Ok(builder::make(Some(capacity)))
}

/// A channel without a limit: sends never wait.
///
/// ```
/// use pc_core::channel;
///
/// let (tx, rx) = channel::unbounded::<u32>();
/// for n in 0..10_000 {
///     tx.try_send(n)?; // never full
/// }
/// assert_eq!(rx.len(), 10_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    builder::make(None)
}

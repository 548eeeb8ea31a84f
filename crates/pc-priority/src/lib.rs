//! A multi-producer multi-consumer priority channel for tokio that never polls.
//!
//! ```
//! use pc_priority::{PriorityChannel, Scheduling};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Three levels, 0 first; at most 100 items queued; senders wait while it is full.
//! let (tx, rx) = PriorityChannel::builder(3).capacity(100).build()?;
//! tx.send("weekly report", 2).await?;
//! tx.send("disk almost full", 0).await?;
//! tx.send("new signup", 1).await?;
//! tx.send("disk full", 0).await?;
//! drop(tx); // the last sender closes the channel; receivers drain what is queued
//!
//! let mut order = Vec::new();
//! while let Ok((event, level)) = rx.recv().await {
//!     order.push((level, event));
//! }
//! assert_eq!(order, [
//!     (0, "disk almost full"), // highest level first, FIFO within a level
//!     (0, "disk full"),
//!     (1, "new signup"),
//!     (2, "weekly report"),
//! ]);
//!
//! // Deficit round robin: with every level backlogged, level i gets weights[i] of each 7.
//! let (tx, rx) = PriorityChannel::builder(3)
//!     .scheduling(Scheduling::Weighted(vec![4, 2, 1]))
//!     .build()?;
//! for level in [0, 1, 2] {
//!     for n in 0..7 {
//!         tx.try_send(n, level)?;
//!     }
//! }
//! let first_round: Vec<usize> = (0..7).map(|_| rx.try_recv().unwrap().1).collect();
//! assert_eq!(first_round, [0, 0, 0, 0, 1, 1, 2]);
//! # Ok(())
//! # }
//! ```
//!
//! - [`PriorityChannel::builder`]: fixed levels (up to 64), one FIFO queue per level and a
//!   bitmap of the non-empty ones, so a send and a strict receive are O(1).
//!   [`PriorityChannel::by_key`]: any `Ord` key (deadlines, scores), smallest first, FIFO among
//!   equal keys. Both give a cloneable [`PrioritySender`] and [`PriorityReceiver`] with the same
//!   methods.
//! - Bounded (across priorities) or unbounded. [`PrioritySender::send`] waits for space,
//!   [`reserve`](PrioritySender::reserve) holds a slot in a [`Permit`] without holding an item,
//!   [`try_send`](PrioritySender::try_send) never waits, and
//!   [`send_timeout`](PrioritySender::send_timeout) hands the item back when time runs out. A
//!   level the channel does not have is an error of its own, never a panic.
//! - [`Scheduling`]: `Strict` (the default), `Weighted` (deficit round robin: no level starves)
//!   or `Aging` (an item rises one level per period it waits).
//! - [`WhenFull`]: wait (the default), or `ShedLowest`: a send into a full channel evicts the
//!   oldest item of the lowest priority below its own, counted by the probe and handed to the
//!   drop hook.
//! - Close the channel or one level; receivers drain what is queued, then see it closed.
//!   [`len`](PrioritySender::len), [`level_len`](PrioritySender::level_len),
//!   [`capacity`](PrioritySender::capacity).
//! - The receiver is a [`pc_core::Consumer`], so a worker pool or batcher drains it unchanged;
//!   the sender is a [`pc_core::Producer`] at a default priority.
//!
//! An idle receiver, or a sender waiting for space, is parked until a send, a receive or a close
//! wakes it: the channel never polls.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod error;
mod handle;
mod policy;
mod receiver;
mod sender;
mod shared;
mod store;

pub use builder::{Halves, PriorityChannel, PriorityChannelBuilder};
pub use error::{
    ReserveError, SendError, SendTimeoutError, TryReserveError, TrySendError, UnknownLevel,
};
pub use policy::{Scheduling, WhenFull};
pub use receiver::PriorityReceiver;
pub use sender::{Permit, PrioritySender};
pub use store::{ByKey, Levels, MAX_LEVELS, Store};

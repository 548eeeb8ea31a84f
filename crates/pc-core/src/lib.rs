//! The vocabulary of the `pc` toolkit: what every producer-consumer block speaks.
//!
//! ```
//! use std::time::Duration;
//! use pc_core::{Consumer, Producer, channel};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any producer, any consumer: the same code runs over every queue in the toolkit. A
//! // refusal by the producer's policy skips that item, a failed read is tried again; a close
//! // stops (so does a failed send).
//! async fn pump(from: &impl Consumer<u32>, to: &impl Producer<u32>) -> usize {
//!     let mut moved = 0;
//!     loop {
//!         let item = match from.recv().await {
//!             Ok(item) => item,
//!             Err(failed) if failed.is_failed() => continue,
//!             Err(_closed) => return moved,
//!         };
//!         match to.send(item * 10).await {
//!             Ok(()) => moved += 1,
//!             Err(refused) if refused.is_refused() => continue,
//!             Err(_closed_or_failed) => return moved,
//!         }
//!     }
//! }
//!
//! let (in_tx, in_rx) = channel::bounded(8)?;
//! let (out_tx, out_rx) = channel::unbounded();
//! in_tx.send_all([1, 2, 3]).await?;
//! in_tx.close();
//! assert_eq!(pump(&in_rx, &out_tx).await, 3);
//!
//! // A full channel hands the item back instead of losing it.
//! let (tx, _rx) = channel::bounded(1)?;
//! tx.send(1).await?;
//! let err = tx.send_timeout(2, Duration::from_millis(1)).await.unwrap_err();
//! assert_eq!(err.into_inner(), 2);
//! # assert_eq!(out_rx.len(), 3);
//! # Ok(())
//! # }
//! ```
//!
//! Use `pc-core` directly when writing a block of your own or code generic over every block;
//! most applications depend on the facade crate `pc`, which re-exports all of it.
//!
//! - [`Producer`] and [`Consumer`]: the two traits. Implemented for [`channel`]'s halves, for
//!   async-channel's own, and forwarded through `&T`, `Box<T>` and `Arc<T>`; their object-safe
//!   companions in [`dynamic`] (`Box<dyn DynProducer<T>>`, from `.into_dyn()`) for a queue chosen
//!   at run time.
//! - Errors, one per operation, each handing back the item it could not deliver:
//!   [`ProduceError`] for every [`Producer`] method (its [`ProduceErrorKind`] tells a close from
//!   a refusal and a backend failure), and for the channel's own methods
//!   [`SendError`], [`TrySendError`], [`SendTimeoutError`], [`RecvError`], [`TryRecvError`],
//!   [`RecvTimeoutError`], [`ReserveError`], [`TryReserveError`], [`ReserveManyError`], and
//!   [`BuildError`] for bad settings.
//! - [`channel`]: the base MPMC channel, bounded or not, on a queue of its own that serves
//!   waiters in order, with reservations so that a cancelled wait for space never loses an item.
//! - [`Probe`]: the one observability hook, with [`DropReason`], [`WaitKind`], [`FailReason`],
//!   [`DepthSource`] and [`probe::WaitTimer`]; `pc-metrics` implements it.
//! - [`Stage`]: one async step of work, implemented by closures.
//! - [`AckConsumer`]: deliveries to acknowledge ([`Delivery`], [`Ack`]), for durable queues;
//!   the in-process channel implements it with nothing to settle.
//! - [`task::TaskGroup`]: the one owner of a block's tasks, whose emptiness means "stopped".
//! - [`sync::Lock`]: the lock under the channel and pc's other queues, for blocks of your own.
//!
//! Time comes from `tokio::time`, so everything here runs deterministically under paused time.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod ack;
mod build_error;
pub mod channel;
mod consumer;
pub mod dynamic;
mod error;
mod interop;
mod loom;
pub mod probe;
mod producer;
mod stage;
pub mod sync;
pub mod task;
pub mod time;

pub use ack::{Ack, AckConsumer, AckError, AckFuture, Acker, Delivery};
pub use build_error::BuildError;
pub use consumer::Consumer;
pub use error::{
    ConsumeError, ConsumeErrorKind, ProduceError, ProduceErrorKind, RecvError, RecvTimeoutError,
    ReserveError, ReserveManyError, SendError, SendTimeoutError, TryRecvError, TryReserveError,
    TrySendError,
};
pub use probe::{BlockKind, DepthSource, DropReason, FailReason, Probe, SharedProbe, WaitKind};
pub use producer::Producer;
pub use stage::Stage;

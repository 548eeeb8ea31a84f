//! What a full queue does, on purpose.
//!
//! ```
//! use std::time::Duration;
//! use pc_backpressure::{BoundedQueue, OfferError, Overflow, Pressure};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (tx, rx) = BoundedQueue::builder(4)
//!     .overflow(Overflow::BlockFor(Duration::from_millis(100)))
//!     .watermarks(0.75, 0.25)
//!     .build()?;
//! for i in 0..4 {
//!     tx.send(i).await?;
//! }
//! assert_eq!(tx.pressure(), Pressure::High); // 4 of 4 is above the 0.75 mark
//!
//! // Full for the whole 100 ms: the item comes back.
//! let err = tx.send(4).await.unwrap_err();
//! assert!(matches!(err, OfferError::TimedOut(4)));
//!
//! while rx.len() > 1 {
//!     rx.recv().await?;
//! }
//! assert_eq!(tx.pressure(), Pressure::Normal); // back at the 0.25 mark
//! assert_eq!(tx.stats().rejected, 1);
//! # Ok(())
//! # }
//! ```
//!
//! Use it where a producer can outrun its consumers and you must decide what happens then:
//! wait ([`Overflow::Block`], or [`Overflow::BlockFor`] a bounded time), refuse
//! ([`Overflow::Reject`]), or shed load ([`Overflow::DropIncoming`], [`Overflow::DropOldest`]),
//! with every discarded item counted and passed to a drop hook. Producers can watch the
//! queue's [`Pressure`] (high and low watermarks with hysteresis), or be paced by
//! [`AdaptiveRate`] (AIMD on occupancy) through [`AdaptiveProducer`]. The halves implement
//! `pc-core`'s `Producer` and `Consumer`, so any block of the toolkit can sit on either side.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adaptive;
mod discipline;
mod error;
mod loom;
mod overflow;
mod pressure;
mod queue;
mod stats;
mod weight;

pub use adaptive::{AdaptiveProducer, AdaptiveRate, AdaptiveRateBuilder};
pub use discipline::Discipline;
pub use error::OfferError;
pub use overflow::Overflow;
pub use pressure::Pressure;
pub use queue::{BoundedQueue, BoundedQueueBuilder, Receiver, Sender};
pub use stats::QueueStats;

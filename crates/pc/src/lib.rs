//! Producer-consumer building blocks on tokio.
//!
//! ```
//! use pc::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (tx, rx) = pc::channel::bounded(100)?;
//! let producer = tokio::spawn(async move {
//!     for i in 1..=1000 {
//!         tx.send(format!("message-{i}")).await?;
//!     }
//!     Ok::<_, pc::SendError<String>>(())
//! });
//! let mut consumed = 0;
//! while let Ok(_message) = rx.recv().await {
//!     consumed += 1;
//! }
//! producer.await??;
//! assert_eq!(consumed, 1000);
//! # Ok(())
//! # }
//! ```
//!
//! `pc` is the facade over a workspace of small crates. Every block depends only on
//! [`pc-core`](pc_core), whose [`Producer`] and [`Consumer`] traits let blocks compose: generic
//! code written against them runs over every queue here. Depend on `pc` for everything, or on a
//! single `pc-*` crate for one block.
//!
//! # Features
//!
//! | feature | crate | what it adds |
//! |---------|-------|--------------|
//! | (always) | `pc-core` | [`Producer`], [`Consumer`], [`channel`], [`Probe`], [`Stage`], the errors |
//! | `full` (default) | | every block below |
//!
//! Blocks join this table, each behind a feature named after it, as they land.

pub use pc_core::{
    BuildError, Consumer, DropReason, Probe, Producer, RecvError, RecvTimeoutError, ReserveError,
    SendError, SendTimeoutError, SharedProbe, Stage, TryRecvError, TryReserveError, TrySendError,
    WaitKind, channel,
};

/// The traits, for a glob import: `use pc::prelude::*;`.
pub mod prelude {
    pub use pc_core::{Consumer, Producer, Stage};
}

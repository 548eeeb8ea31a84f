//! The atomics (and the `Arc`) the channel synchronizes with: std's, or loom's under `--cfg loom`, so that the
//! models in `channel/tests/loom_channel.rs` explore every interleaving and memory ordering.
//! (Under `--cfg loom`, the channel's lock is loom's `Mutex` too.)

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};

//! The atomics (and the `Arc`) the channel synchronizes with: std's, or loom's under `--cfg loom`, so that the
//! models in `channel/tests/loom_channel.rs` explore every interleaving and memory ordering.
//! (Under `--cfg loom`, concurrent-queue and event-listener switch to loom's primitives too.)

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering, fence};

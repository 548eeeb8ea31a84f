//! The atomic the pressure marks decide with: std's, or loom's under `--cfg loom`, so that the
//! model in `pressure.rs` explores every interleaving of a sender and a receiver observing.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

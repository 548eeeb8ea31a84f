//! The atomic `Gcra` decides with: std's, or loom's under `--cfg loom`, so that the model in
//! `gcra.rs` explores every interleaving of concurrent decisions.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};

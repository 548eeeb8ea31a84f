//! Metrics for every `pc` block: attach a [`Metrics`] to any builder's `.probe(...)` and read
//! what is happening now.
//!
//! - Counts of produced, consumed, dropped (by reason) and failed (by reason) items, in
//!   per-thread shards that keep producers and consumers on different cores off one cache line.
//! - Current and peak depth, items in flight, producers, consumers and throttled callers
//!   waiting right now.
//! - Rates over the last 1, 10 and 60 seconds: never averages since the start.
//! - Latency histograms per [`WaitKind`](pc_core::WaitKind) (queue wait, processing, send
//!   blocked, receive blocked, throttled, batch linger) and batch sizes, with p50, p90, p99 and max.
//! - [`MetricsSnapshot`]: serde, a human `Display` table, and the Prometheus text format.
//! - A [`Registry`] of named, labelled metrics; a [`Reporter`] that logs them as `tracing`
//!   events; with feature `metrics-rs`, a `bridge` to the `metrics` facade; with feature
//!   `http`, `serve`: the live page, `/metrics` and `/metrics.json` over HTTP.
//!
//! ```
//! use pc_core::channel;
//! use pc_metrics::Registry;
//!
//! # tokio_test::block_on(async {
//! let registry = Registry::new();
//! let (tx, rx) = channel::Builder::bounded(4)
//!     .probe(registry.metrics("orders").probe())
//!     .build::<u32>()?;
//! tx.send_all(1..=4).await?;
//! assert_eq!(rx.recv().await?, 1);
//!
//! let snapshot = &registry.snapshot()[0];
//! assert_eq!((snapshot.produced, snapshot.consumed, snapshot.depth), (4, 1, 3));
//! let text = registry.render_prometheus();
//! assert!(text.contains("pc_produced_total{queue=\"orders\"} 4"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Without a probe a component pays one branch per operation; with `Metrics` attached, a
//! counter increment on the calling thread's shard (see `docs/benchmarks.md` for the cost on a
//! contended channel).
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "metrics-rs")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics-rs")))]
pub mod bridge;
mod buckets;
mod metrics;
mod prometheus;
mod rates;
mod recent;
mod registry;
mod reporter;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod serve;
mod shard;
mod slot;
mod snapshot;

pub use crate::buckets::{BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_NS};
pub use crate::metrics::Metrics;
pub use registry::{Registry, render_prometheus};
pub use reporter::{Reporter, ReporterHandle, TARGET};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use serve::{Server, serve};
pub use snapshot::{
    Latency, MetricsSnapshot, PartitionBacklog, Rates, Recent, Summary, WindowRates,
};

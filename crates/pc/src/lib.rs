//! Producer-consumer building blocks on tokio.
//!
//! ```
//! use pc::prelude::*;
//!
//! // Written against the traits, this runs over every queue in the toolkit.
//! async fn produce(out: impl Producer<String>, n: usize) -> Result<(), pc::ProduceError<String>> {
//!     for i in 1..=n {
//!         out.send(format!("message-{i}")).await?;
//!     }
//!     Ok(())
//! }
//!
//! async fn consume(from: impl Consumer<String>) -> usize {
//!     let mut consumed = 0;
//!     loop {
//!         match from.recv().await {
//!             Ok(_message) => consumed += 1,
//!             Err(err) if err.is_closed() => return consumed,
//!             Err(err) => eprintln!("{err}"), // a backend's failure: the consumer goes on
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (tx, rx) = pc::channel::bounded(100)?;
//! let producer = tokio::spawn(produce(tx, 1000)); // dropping `tx` at the end closes the channel
//! assert_eq!(consume(rx).await, 1000);
//! producer.await??;
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
//! | (always) | `pc-core` | [`Producer`], [`Consumer`], [`channel`], [`Probe`], [`Stage`], the errors, [`dynamic`] (`Box<dyn DynProducer<T>>`) |
//! | `full` (default) | | every block below |
//! | `backpressure` | `pc-backpressure` | [`backpressure`]: `BoundedQueue` with `Overflow` policies, `Pressure`, `AdaptiveRate` |
//! | `batch` | `pc-batch` | [`batch`]: `Batcher` (size, weight, linger), `BatchExt::batch` for streams, `batch_consumer`, `BatchProcessor` |
//! | `metrics` | `pc-metrics` | [`metrics`]: `Metrics` (a `Probe` for any builder), `Registry`, `MetricsSnapshot` (serde, table, Prometheus text), `Reporter` (tracing) |
//! | `metrics-rs` (not in `full`) | `pc-metrics` | `metrics::bridge`: snapshots published to the `metrics` facade |
//! | `metrics-http` (not in `full`) | `pc-metrics` | `metrics::serve`: the registry over HTTP, `/metrics` (Prometheus text) and `/metrics.json` |
//! | `pool` | `pc-pool` | [`pool`]: `WorkerPool` with `JobHandle`s or a results stream, `JobError`, close/shutdown/abort |
//! | `priority` | `pc-priority` | [`priority`]: `PriorityChannel` with levels or `Ord` keys, `Scheduling`, `WhenFull` |
//! | `redis` (not in `full`) | `pc-redis` | `redis`: `RedisQueue`, `RedisProducer`, `RedisConsumer` (an `AckConsumer`) on Redis Streams, with caps, reclaim and dead letters; on a Redis Cluster, and `PartitionedQueue` over its masters |
//! | `redis-tls` (not in `full`) | `pc-redis` | with `redis`: `rediss://` URLs and `redis::Tls` certificates (rustls, ring) |
//! | `ratelimit` | `pc-ratelimit` | [`ratelimit`]: `TokenBucket`, `Gcra`, `KeyedLimiter`, `Throttled`, `throttle` |
//! | `window` | `pc-window` | [`window`]: tumbling, sliding and session `Window`s by count, processing or event time, `Aggregate`s, `WindowExt::window`, `window_consumer` |
//! | `tower` (not in `full`) | `pc-ratelimit`, `pc-pool` | with `ratelimit`: `ratelimit::tower::{RateLimitLayer, KeyedRateLimitLayer}`, whose clones share one limiter; with `pool`: `WorkerPool::service()` (a `tower::Service`) and `ServiceStage` (any `Service` as a `Stage`) |
//!
//! More blocks join this table, each behind a feature named after it, as they land.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use pc_core::{
    Ack, AckConsumer, BuildError, ConsumeError, ConsumeErrorKind, Consumer, Delivery, DropReason,
    FailReason, Probe, ProduceError, ProduceErrorKind, Producer, RecvError, RecvTimeoutError,
    ReserveError, ReserveManyError, SendError, SendTimeoutError, SharedProbe, Stage, TryRecvError,
    TryReserveError, TrySendError, WaitKind, channel, dynamic, sync,
};

/// Backpressure: what a full queue does, on purpose.
#[cfg(feature = "backpressure")]
#[cfg_attr(docsrs, doc(cfg(feature = "backpressure")))]
#[doc(inline)]
pub use pc_backpressure as backpressure;

/// Batching: items grouped by size, weight and age.
#[cfg(feature = "batch")]
#[cfg_attr(docsrs, doc(cfg(feature = "batch")))]
#[doc(inline)]
pub use pc_batch as batch;

/// Metrics: counters, depth, rates and latencies of any block, as tables, JSON or Prometheus.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[doc(inline)]
pub use pc_metrics as metrics;

/// Pools: workers running one stage, each job answered on its own.
#[cfg(feature = "pool")]
#[cfg_attr(docsrs, doc(cfg(feature = "pool")))]
#[doc(inline)]
pub use pc_pool as pool;

/// Priority: which queued item goes next, and what a full channel sheds.
#[cfg(feature = "priority")]
#[cfg_attr(docsrs, doc(cfg(feature = "priority")))]
#[doc(inline)]
pub use pc_priority as priority;

/// Redis Streams: the same producers and consumers across processes and machines.
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(inline)]
pub use pc_redis as redis;

/// Rate limiting: how many permits a producer gets, and how fast.
#[cfg(feature = "ratelimit")]
#[cfg_attr(docsrs, doc(cfg(feature = "ratelimit")))]
#[doc(inline)]
pub use pc_ratelimit as ratelimit;

/// Windows: items aggregated over tumbling, sliding and session windows.
#[cfg(feature = "window")]
#[cfg_attr(docsrs, doc(cfg(feature = "window")))]
#[doc(inline)]
pub use pc_window as window;

/// The traits, for a glob import: `use pc::prelude::*;`. With their features, the extension
/// traits that add `.batch(...)` and `.window(...)` to streams, and `Aggregate` for `.of(...)`.
pub mod prelude {
    #[cfg(feature = "batch")]
    pub use pc_batch::BatchExt;
    pub use pc_core::{Consumer, Producer, Stage};
    #[cfg(feature = "window")]
    pub use pc_window::{Aggregate, WindowExt};
}

/// The repository README's example, compiled and run as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;

/// The code of every page in `docs/`, compiled and run as doc tests so it cannot rot.
#[cfg(doctest)]
mod docs_pages {
    #[doc = include_str!("../../../docs/channel.md")]
    struct Channel;
    #[doc = include_str!("../../../docs/backpressure.md")]
    struct Backpressure;
    #[doc = include_str!("../../../docs/overload.md")]
    struct Overload;
    #[doc = include_str!("../../../docs/batch.md")]
    struct Batch;
    #[doc = include_str!("../../../docs/priority.md")]
    struct Priority;
    #[doc = include_str!("../../../docs/ratelimit.md")]
    struct RateLimit;
    #[doc = include_str!("../../../docs/pool.md")]
    struct Pool;
    #[doc = include_str!("../../../docs/window.md")]
    struct Window;
    #[doc = include_str!("../../../docs/metrics.md")]
    struct Metrics;
    #[doc = include_str!("../../../docs/benchmarks.md")]
    struct Benchmarks;
    #[doc = include_str!("../../../docs/README.md")]
    struct Index;
    #[doc = include_str!("../../../docs/generic.md")]
    struct Generic;
    /// Needs the `tower` feature.
    #[cfg(feature = "tower")]
    #[doc = include_str!("../../../docs/tower.md")]
    struct Tower;
    /// Needs the `redis` feature; compiled, not run (it names a server).
    #[cfg(feature = "redis")]
    #[doc = include_str!("../../../docs/patterns/distributed.md")]
    struct Distributed;
}

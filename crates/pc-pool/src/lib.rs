//! Worker pools: N workers running one stage over a bounded job queue, each job answered on its
//! own, failures kept to their job.
//!
//! ```
//! use std::time::Duration;
//! use pc_pool::{JobError, WorkerPool};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = WorkerPool::builder(|n: u64| async move {
//!     match n {
//!         0 => Err("zero"),
//!         13 => panic!("unlucky"),
//!         99 => {
//!             tokio::time::sleep(Duration::from_secs(60)).await;
//!             Ok(n)
//!         }
//!         n => Ok(n * n),
//!     }
//! })
//! .workers(3)
//! .timeout(Duration::from_secs(1))
//! .build()?;
//!
//! let handles = [pool.submit(7).await?, pool.submit(0).await?, pool.submit(13).await?, pool.submit(99).await?];
//! let [seven, zero, thirteen, slow] = handles;
//! assert_eq!(seven.await, Ok(49));
//! assert_eq!(zero.await, Err(JobError::Failed("zero")));
//! assert_eq!(thirteen.await, Err(JobError::Panicked("unlucky".into())));
//! assert_eq!(slow.await, Err(JobError::TimedOut(Duration::from_secs(1))));
//! assert_eq!(pool.workers(), 3, "a panic fails its job, not its worker");
//! pool.close_and_wait().await;
//! # Ok(())
//! # }
//! ```
//!
//! Use a pool to bound how much work runs at once and to keep each job's outcome apart: requests
//! to a rate-limited API, CPU-heavy steps, anything a failure must not take down with others.
//!
//! - [`WorkerPool`]: [`WorkerPool::builder`] (workers, queue capacity, per-job timeout,
//!   cancellation token, probe), [`submit`](WorkerPool::submit) and
//!   [`try_submit`](WorkerPool::try_submit) giving a [`JobHandle`], or the `pc_core::Producer`
//!   methods with every outcome on [`results`](WorkerPool::results) as a [`JobResult`].
//! - [`JobError`]: `Failed` (the stage's error), `Panicked`, `TimedOut`, `Cancelled`, `Closed`.
//! - [`WorkerPoolBuilder::build_over`] drains any `pc_core::Consumer` as well;
//!   [`WorkerPoolBuilder::blocking`] runs CPU-heavy jobs on tokio's blocking pool;
//!   [`Balance`] chooses one shared queue or a queue per worker (round robin, least loaded).
//! - [`resize`](WorkerPool::resize) while running: workers over the new count retire between
//!   jobs. Or let the pool size itself: [`WorkerPoolBuilder::adaptive`] with a
//!   [`sizing::Controller`] ([`sizing::Aimd`], [`sizing::Vegas`], [`sizing::Gradient2`],
//!   [`sizing::LittlesLaw`], or a closure) that sees every finished job;
//!   [`Pipeline::adaptive_stage`] does the same for a pipeline stage.
//! - [`Pipeline`]: stages chained by bounded buffers, each with its own concurrency, from a
//!   `Stream` or a `Consumer`; output [`ordered`](Pipeline::ordered) or
//!   [`unordered`](Pipeline::unordered), in order per key after [`key_by`](Pipeline::key_by);
//!   errors as values under an [`OnError`] policy.
//! - [`fan_out`] spreads a `Consumer` over N workers; [`merge`] gathers streams into one.
//! - With the `tower` feature: `WorkerPool::service()`, the pool as a `tower::Service` whose
//!   `poll_ready` reserves a place in the queue (`PoolService`), and `ServiceStage`, any
//!   `Service` (tower's `timeout`, `retry`, a client) as a pool's or a pipeline's stage.
//! - Stopping: [`close_and_wait`](WorkerPool::close_and_wait) finishes every queued job,
//!   [`shutdown`](WorkerPool::shutdown) cancels what a grace period leaves,
//!   [`abort`](WorkerPool::abort) cancels now; each returns once no worker task is alive.
//!
//! Workers are spawned tasks, so a pool makes progress while its owner is busy.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod attempt;
mod error;
mod fan;
mod headcount;
mod pipeline;
mod pool;
#[cfg(feature = "tower")]
mod service;
pub mod sizing;

pub use error::JobError;
pub use fan::{FanOut, Merge, fan_out, merge};
pub use pipeline::{OnError, Pipeline, PipelineError, PipelineOutput};
pub use pool::{Balance, JobHandle, JobResult, MAX_WORKERS, WorkerPool, WorkerPoolBuilder};
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use service::{PoolService, ServiceStage};
/// The token [`WorkerPoolBuilder::cancel_token`] takes (tokio-util's), re-exported so that users
/// need no dependency of their own.
pub use tokio_util::sync::CancellationToken;

//! How many permits a producer gets, and how fast.
//!
//! ```
//! use std::time::Duration;
//! use pc_ratelimit::{Gcra, KeyedLimiter, TokenBucket};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Up to 5 at once, then 2 per second; waiters are served in arrival order.
//! let bucket = TokenBucket::builder().rate(2.0).burst(5).build()?;
//! let start = tokio::time::Instant::now();
//! for _ in 0..7 {
//!     bucket.acquire(1).await?;
//! }
//! assert_eq!(start.elapsed(), Duration::from_secs(1)); // 5 at once, 2 more in 1 s
//!
//! // Asking for more than the burst is an error at once, never a hang.
//! assert!(bucket.acquire(6).await.is_err());
//!
//! // The same decision without waiting, lock-free, for hot paths.
//! let gcra = Gcra::builder().rate(1000.0).burst(50).build()?;
//! assert!(gcra.try_acquire(50).is_ok());
//!
//! // One limit per key, idle keys evicted.
//! let per_host = KeyedLimiter::builder().rate(1.0).burst(1).build()?;
//! assert!(per_host.try_acquire(&"a.example", 1).is_ok());
//! assert!(per_host.try_acquire(&"a.example", 1).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! Use it to keep a producer under a rate another system imposes (an API quota, a database's
//! write budget), per client or overall. [`Throttled`] paces any
//! [`Producer`](pc_core::Producer) and [`throttle`] any `Stream`. Permits are computed from the
//! time elapsed at each call, on the tokio clock: no refill task, no polling, and exact under
//! paused time. Bad settings (rate 0, negative or not finite, burst 0) are a
//! [`BuildError`](pc_core::BuildError) from `build()`.
//!
//! With the `tower` feature, `pc_ratelimit::tower` has `RateLimitLayer` (over a
//! [`TokenBucket`]) and `KeyedRateLimitLayer` (over a [`KeyedLimiter`], keyed by the request):
//! unlike tower's own `RateLimit`, every clone of the service draws from the one limiter.

#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bucket;
mod clock;
mod error;
mod gcra;
mod keyed;
mod limits;
mod live;
mod loom;
mod settings;
mod throttle;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use bucket::{BucketStats, TokenBucket, TokenBucketBuilder};
pub use error::{AcquireError, NotUntil, TryAcquireError};
pub use gcra::{Gcra, GcraBuilder};
pub use keyed::{KeyedLimiter, KeyedLimiterBuilder, MAX_SHARDS};
pub use throttle::{Throttle, Throttled, throttle};

/// Tells `probe` what a `try_acquire` of `n` permits decided: granted permits pass straight
/// through (produced and consumed), refused ones were turned away (dropped, `Full`). A request
/// over the burst is a caller's error, not a decision, and is not reported.
fn report_decision(probe: &pc_core::SharedProbe, n: u32, decided: &Result<(), TryAcquireError>) {
    match decided {
        Ok(()) => {
            probe.produced(u64::from(n));
            probe.consumed(u64::from(n));
        }
        Err(TryAcquireError::Insufficient(_)) => {
            probe.dropped(u64::from(n), pc_core::DropReason::Full);
        }
        Err(_) => {}
    }
}

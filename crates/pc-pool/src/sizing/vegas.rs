//! Delay-based sizing after TCP Vegas.

use pc_core::BuildError;

use super::round::{Round, check_ratio};
use super::{Controller, Sample};

/// Delay-based sizing after TCP Vegas (Netflix's `VegasLimit`, decided once per round of about
/// one job per worker).
///
/// From the lowest mean run time seen (the backend without load) and the round's, it estimates
/// how many of the jobs running are only waiting inside the backend:
/// `queue = size x (1 - lowest / mean)`. With `L = max(1, log10(size))`: a queue up to `L` grows
/// the pool by `6L` (`beta`), up to `3L` (`alpha`) by `L`; a queue above `6L`, or a failed job,
/// shrinks it by `L`; in between it holds. It does not grow a pool less than half busy.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pc_pool::WorkerPool;
/// use pc_pool::sizing::Vegas;
///
/// let pool = WorkerPool::builder(|n: u64| async move { Ok::<_, ()>(n) })
///     .workers(4)
///     .adaptive(2, 32, Vegas::new().smoothing(0.5))
///     .build()?;
/// assert_eq!(pool.submit(7).await.unwrap().await, Ok(7));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Vegas {
    smoothing: f64,
    limit: Option<f64>,
    /// The lowest mean run time of a round, in seconds.
    baseline: f64,
    round: Round,
}

impl Default for Vegas {
    fn default() -> Self {
        Self::new()
    }
}

impl Vegas {
    /// No smoothing: each round's decision applies in full.
    pub fn new() -> Self {
        Self {
            smoothing: 1.0,
            limit: None,
            baseline: f64::INFINITY,
            round: Round::default(),
        }
    }

    /// How much of each round's new size is taken, above 0 and at most 1 (default 1): the
    /// size moves to `old x (1 - smoothing) + new x smoothing`.
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }
}

impl Controller for Vegas {
    fn sample(&mut self, sample: &Sample) -> usize {
        let limit = self.limit.get_or_insert(sample.workers as f64);
        let Some(round) = self.round.push(sample) else {
            return sample.clamp(*limit);
        };
        self.baseline = self.baseline.min(round.mean_run);
        let step = limit.log10().max(1.0);
        let (alpha, beta) = (3.0 * step, 6.0 * step);
        // Jobs that take no time queue nowhere.
        let queue = if round.mean_run > 0.0 {
            (*limit * (1.0 - self.baseline / round.mean_run)).ceil()
        } else {
            0.0
        };
        let wanted = if round.failed {
            *limit - step
        } else if (round.max_in_flight as f64) * 2.0 < *limit {
            *limit
        } else if queue <= step {
            *limit + beta
        } else if queue < alpha {
            *limit + step
        } else if queue > beta {
            *limit - step
        } else {
            *limit
        };
        *limit = (*limit * (1.0 - self.smoothing) + wanted * self.smoothing)
            .clamp(sample.min as f64, sample.max as f64);
        sample.clamp(*limit)
    }

    fn validate(&self) -> Result<(), BuildError> {
        check_ratio(
            "smoothing",
            self.smoothing,
            self.smoothing > 0.0 && self.smoothing <= 1.0,
            "above 0 and at most 1",
        )
    }
}

//! Additive increase, multiplicative decrease.

use std::time::Duration;

use pc_core::BuildError;

use super::round::{Round, check_ratio};
use super::{Controller, Sample};

/// Additive increase, multiplicative decrease (Netflix's `AIMDLimit`, decided once per round of
/// about one job per worker): one worker more after a round in which the pool was busy (at
/// least half the workers running) and no job signalled congestion, the size times `backoff`
/// after a round in which one did.
///
/// A job signals congestion when it fails, or when the round's mean run time is above the
/// threshold: [`timeout`](Self::timeout) if set, else [`tolerance`](Self::tolerance) times the
/// lowest mean run time seen (the backend's run time without load). So a pool that has reached
/// its backend's knee, where more workers only make each job slower, stops growing there.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use pc_pool::WorkerPool;
/// use pc_pool::sizing::Aimd;
///
/// let pool = WorkerPool::builder(|n: u64| async move { Ok::<_, ()>(n) })
///     .workers(4)
///     .adaptive(1, 64, Aimd::new().backoff(0.75).timeout(Duration::from_millis(250)))
///     .build()?;
/// assert_eq!(pool.submit(7).await.unwrap().await, Ok(7));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Aimd {
    backoff: f64,
    tolerance: f64,
    timeout: Option<Duration>,
    limit: Option<f64>,
    /// The lowest mean run time of a round, in seconds.
    baseline: f64,
    round: Round,
}

impl Default for Aimd {
    fn default() -> Self {
        Self::new()
    }
}

impl Aimd {
    /// Backoff 0.9, tolerance 1.5, no timeout.
    pub fn new() -> Self {
        Self {
            backoff: 0.9,
            tolerance: 1.5,
            timeout: None,
            limit: None,
            baseline: f64::INFINITY,
            round: Round::default(),
        }
    }

    /// What the size is multiplied by after a congested round, between 0 and 1 (default 0.9).
    pub fn backoff(mut self, ratio: f64) -> Self {
        self.backoff = ratio;
        self
    }

    /// How many times the lowest mean run time a round's may reach before it counts as
    /// congested, above 1 (default 1.5). Unused with a [`timeout`](Self::timeout).
    pub fn tolerance(mut self, ratio: f64) -> Self {
        self.tolerance = ratio;
        self
    }

    /// A fixed threshold instead: a round whose mean run time exceeds `timeout` is congested.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl Controller for Aimd {
    fn sample(&mut self, sample: &Sample) -> usize {
        let limit = self.limit.get_or_insert(sample.workers as f64);
        let Some(round) = self.round.push(sample) else {
            return sample.clamp(*limit);
        };
        let threshold = match self.timeout {
            Some(timeout) => timeout.as_secs_f64(),
            None => self.tolerance * self.baseline,
        };
        self.baseline = self.baseline.min(round.mean_run);
        if round.failed || round.mean_run > threshold {
            *limit *= self.backoff;
        } else if round.max_in_flight as f64 * 2.0 >= *limit {
            *limit += 1.0;
        }
        *limit = limit.clamp(sample.min as f64, sample.max as f64);
        sample.clamp(*limit)
    }

    fn validate(&self) -> Result<(), BuildError> {
        check_ratio(
            "backoff",
            self.backoff,
            self.backoff > 0.0 && self.backoff < 1.0,
            "above 0 and below 1",
        )?;
        check_ratio(
            "tolerance",
            self.tolerance,
            self.tolerance > 1.0 && self.tolerance.is_finite(),
            "above 1 and finite",
        )?;
        if self.timeout.is_some_and(|timeout| timeout.is_zero()) {
            return Err(BuildError::Zero { setting: "timeout" });
        }
        Ok(())
    }
}

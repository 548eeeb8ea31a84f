//! Sizing by the gradient of short- against long-term run time.

use pc_core::BuildError;

use super::round::{Round, check_ratio};
use super::{Controller, Sample};

/// Sizing by the ratio of long-term to short-term run time (Netflix's `Gradient2Limit`, decided
/// once per round of about one job per worker).
///
/// The short-term run time is the round's mean; the long-term one an average over about
/// `long_window` jobs. `gradient = clamp(tolerance x long / short, 0.5, 1)`; the new size is
/// `size x gradient + queue_size`, taken in part (`smoothing`). While jobs run no slower than
/// `tolerance` times the long-term average the pool grows by `queue_size` a round; as they slow
/// down it shrinks, by half at most. A long-term average more than twice the short-term one
/// decays towards it (the load has dropped), and a pool less than half busy does not change.
///
/// One change from Netflix's: the long-term average is capped at `drift` (default 1.25) times
/// the lowest mean run time of a round seen. Uncapped, it follows the jobs as they slow down,
/// so past a backend's knee (where more workers only make each job slower) the pool kept
/// growing round after round; capped, it settles where jobs run `tolerance x drift` times
/// slower than without load, less the share `queue_size` adds.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use pc_pool::WorkerPool;
/// use pc_pool::sizing::Gradient2;
///
/// let pool = WorkerPool::builder(|n: u64| async move { Ok::<_, ()>(n) })
///     .workers(4)
///     .adaptive(2, 32, Gradient2::new().tolerance(2.0))
///     .build()?;
/// assert_eq!(pool.submit(7).await.unwrap().await, Ok(7));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Gradient2 {
    tolerance: f64,
    smoothing: f64,
    queue_size: f64,
    long_window: u32,
    drift: f64,
    limit: Option<f64>,
    /// The lowest mean run time of a round, in seconds.
    lowest: f64,
    /// The long-term mean run time, in seconds (`None` before the first round).
    long: Option<f64>,
    round: Round,
}

impl Default for Gradient2 {
    fn default() -> Self {
        Self::new()
    }
}

impl Gradient2 {
    /// Tolerance 1.5, smoothing 0.2, queue size 4, long window 600 jobs, drift 1.25.
    pub fn new() -> Self {
        Self {
            tolerance: 1.5,
            smoothing: 0.2,
            queue_size: 4.0,
            long_window: 600,
            drift: 1.25,
            limit: None,
            lowest: f64::INFINITY,
            long: None,
            round: Round::default(),
        }
    }

    /// How much slower than the long-term average jobs may run before the pool shrinks, at
    /// least 1 (default 1.5).
    pub fn tolerance(mut self, ratio: f64) -> Self {
        self.tolerance = ratio;
        self
    }

    /// How much of each round's new size is taken, above 0 and at most 1 (default 0.2).
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Workers added per round while jobs run at their usual speed (default 4).
    pub fn queue_size(mut self, workers: u32) -> Self {
        self.queue_size = f64::from(workers);
        self
    }

    /// About how many jobs the long-term average spans, at least 1 (default 600).
    pub fn long_window(mut self, jobs: u32) -> Self {
        self.long_window = jobs;
        self
    }
}

impl Gradient2 {
    /// How far above the lowest mean run time seen the long-term average may rise, at least 1
    /// (default 1.25; `f64::INFINITY` for Netflix's uncapped average).
    pub fn drift(mut self, ratio: f64) -> Self {
        self.drift = ratio;
        self
    }
}

impl Controller for Gradient2 {
    fn sample(&mut self, sample: &Sample) -> usize {
        let limit = self.limit.get_or_insert(sample.workers as f64);
        let Some(round) = self.round.push(sample) else {
            return sample.clamp(*limit);
        };
        let short = round.mean_run;
        self.lowest = self.lowest.min(short);
        // An average over `long_window` jobs moved by a round of `samples` at once.
        let weight =
            1.0 - (1.0 - 2.0 / (f64::from(self.long_window) + 1.0)).powf(round.samples as f64);
        let long = self.long.get_or_insert(short);
        *long += (short - *long) * weight;
        if *long > 2.0 * short {
            *long *= 0.95;
        }
        *long = long.min(self.drift * self.lowest);
        if (round.max_in_flight as f64) * 2.0 < *limit {
            return sample.clamp(*limit);
        }
        let gradient = if short > 0.0 {
            (self.tolerance * *long / short).clamp(0.5, 1.0)
        } else {
            1.0
        };
        let wanted = *limit * gradient + self.queue_size;
        *limit = (*limit * (1.0 - self.smoothing) + wanted * self.smoothing)
            .clamp(sample.min as f64, sample.max as f64);
        sample.clamp(*limit)
    }

    fn validate(&self) -> Result<(), BuildError> {
        check_ratio(
            "tolerance",
            self.tolerance,
            self.tolerance >= 1.0 && self.tolerance.is_finite(),
            "at least 1 and finite",
        )?;
        check_ratio(
            "smoothing",
            self.smoothing,
            self.smoothing > 0.0 && self.smoothing <= 1.0,
            "above 0 and at most 1",
        )?;
        check_ratio("drift", self.drift, self.drift >= 1.0, "at least 1")?;
        if self.long_window == 0 {
            return Err(BuildError::Zero {
                setting: "long_window",
            });
        }
        Ok(())
    }
}

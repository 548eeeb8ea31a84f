//! What a controller sees, and what it answers.

use std::time::Duration;

use pc_core::BuildError;
use tokio::time::Instant;

/// One finished job, as the pool's [`Controller`] sees it.
///
/// Built by the pool; [`Sample::new`] and the public fields let a controller's own tests make
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sample {
    /// When the job finished (tokio's clock, so paused time drives controllers in tests).
    pub at: Instant,
    /// How long the job ran.
    pub run_time: Duration,
    /// How long it waited in the pool's queue before a worker took it.
    pub queue_time: Duration,
    /// Jobs running when it finished, itself included.
    pub in_flight: usize,
    /// Jobs waiting in the pool's queue when it finished.
    pub queued: usize,
    /// Whether it failed: the stage's error, a panic or a timeout.
    pub failed: bool,
    /// How many workers the pool runs now.
    pub workers: usize,
    /// The fewest workers the pool may run.
    pub min: usize,
    /// The most workers the pool may run.
    pub max: usize,
}

impl Sample {
    /// A job that finished at `at` after running for `run_time`, alone in a pool of one worker
    /// (bounds 1 to 1), without waiting and without failing; set the other fields as needed.
    pub fn new(at: Instant, run_time: Duration) -> Self {
        Self {
            at,
            run_time,
            queue_time: Duration::ZERO,
            in_flight: 1,
            queued: 0,
            failed: false,
            workers: 1,
            min: 1,
            max: 1,
        }
    }

    /// `size` rounded and brought within this sample's bounds.
    pub fn clamp(&self, size: f64) -> usize {
        let rounded = if size.is_nan() { 0.0 } else { size.round() };
        // A float beyond usize saturates on conversion.
        (rounded as usize).clamp(self.min, self.max.max(self.min))
    }
}

/// Decides a pool's size from its finished jobs.
///
/// The pool calls [`sample`](Self::sample) once per finished job, one call at a time, and runs
/// as many workers as it returns, brought within the pool's bounds. A new size takes effect at
/// once when it grows (workers start) and between jobs when it shrinks (no job is cut short).
///
/// Any `FnMut(&Sample) -> usize + Send` closure is a controller:
///
/// ```
/// use pc_pool::sizing::Sample;
///
/// // One worker more while jobs wait, one fewer when none do and some worker is idle.
/// let grow_on_queue = |sample: &Sample| {
///     if sample.queued > 0 {
///         sample.workers + 1
///     } else if sample.in_flight < sample.workers {
///         sample.workers - 1
///     } else {
///         sample.workers
///     }
/// };
/// # fn is_controller(_: impl pc_pool::sizing::Controller) {}
/// # is_controller(grow_on_queue);
/// ```
///
/// A controller that panics stops sizing the pool (it keeps the size it had), and the panic is
/// re-raised by the pool's `close_and_wait`, `shutdown` or `abort`.
pub trait Controller: Send + 'static {
    /// Takes one finished job; returns the number of workers the pool should run.
    fn sample(&mut self, sample: &Sample) -> usize;

    /// Checks the controller's settings; the pool's `build` fails with this error, so a bad
    /// setting is refused before any job runs. Accepts anything unless overridden.
    ///
    /// # Errors
    ///
    /// The setting that cannot work, as a [`BuildError`].
    fn validate(&self) -> Result<(), BuildError> {
        Ok(())
    }
}

impl<F> Controller for F
where
    F: FnMut(&Sample) -> usize + Send + 'static,
{
    fn sample(&mut self, sample: &Sample) -> usize {
        self(sample)
    }
}

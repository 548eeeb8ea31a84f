//! Samples gathered into rounds: the built-in controllers decide once per round, not once per
//! job, so that one round's jobs (all started at about the same size) count as one signal.

use super::Sample;

/// The samples of the round being gathered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Round {
    samples: usize,
    run_sum: f64,
    max_in_flight: usize,
    failed: bool,
}

/// A finished round.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    /// How many jobs it had.
    pub(crate) samples: usize,
    /// Mean run time of its jobs, in seconds.
    pub(crate) mean_run: f64,
    /// The most jobs running at once as its jobs finished.
    pub(crate) max_in_flight: usize,
    /// Whether any of its jobs failed.
    pub(crate) failed: bool,
}

/// The fewest jobs in a round: a round is about one job per worker, and never fewer than this.
pub(crate) const MIN_ROUND: usize = 8;

impl Round {
    /// Adds a sample; a summary once the round has as many jobs as workers (at least
    /// [`MIN_ROUND`]), and a new round starts.
    pub(crate) fn push(&mut self, sample: &Sample) -> Option<Summary> {
        self.samples += 1;
        self.run_sum += sample.run_time.as_secs_f64();
        self.max_in_flight = self.max_in_flight.max(sample.in_flight);
        self.failed |= sample.failed;
        if self.samples < sample.workers.max(MIN_ROUND) {
            return None;
        }
        let round = std::mem::take(self);
        Some(Summary {
            samples: round.samples,
            mean_run: round.run_sum / round.samples as f64,
            max_in_flight: round.max_in_flight,
            failed: round.failed,
        })
    }
}

/// A ratio setting's error unless `valid`; `expected` says what it must be, as a phrase.
pub(crate) fn check_ratio(
    setting: &'static str,
    value: f64,
    valid: bool,
    expected: &str,
) -> Result<(), pc_core::BuildError> {
    if valid {
        Ok(())
    } else {
        Err(pc_core::BuildError::Invalid {
            setting,
            reason: format!("must be {expected}, not {value}"),
        })
    }
}

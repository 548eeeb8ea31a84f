//! What a pool or a pipeline stage runs its controller with.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pc_core::BuildError;
use pc_core::task::{TaskGroup, drop_caught};
use tokio::time::Instant;

use super::{Controller, Sample};
use crate::pool::{MAX_WORKERS, too_many};

/// A controller and the bounds it sizes within, as a builder holds them.
pub(crate) struct Adaptive {
    pub(crate) min: usize,
    pub(crate) max: usize,
    /// Behind a lock only so that the builder stays `Sync` for any controller.
    controller: Mutex<Box<dyn Controller>>,
}

impl Adaptive {
    pub(crate) fn new(min: usize, max: usize, controller: impl Controller) -> Self {
        Self {
            min,
            max,
            controller: Mutex::new(Box::new(controller)),
        }
    }

    /// Checks the bounds and the controller's settings.
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        if self.min == 0 {
            return Err(BuildError::Zero { setting: "min" });
        }
        if self.max > MAX_WORKERS {
            return Err(too_many("max"));
        }
        if self.min > self.max {
            return Err(BuildError::Invalid {
                setting: "min",
                reason: format!(
                    "{} workers at least is above {} at most",
                    self.min, self.max
                ),
            });
        }
        self.controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .validate()
    }

    /// The running half, whose panics `tasks` keeps.
    pub(crate) fn start(self, tasks: TaskGroup) -> Sizer {
        let controller = self
            .controller
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        Sizer {
            controller: Mutex::new(Some(controller)),
            min: self.min,
            max: self.max,
            busy: AtomicUsize::new(0),
            tasks,
        }
    }
}

/// A running controller: fed one sample per finished job, one at a time.
pub(crate) struct Sizer {
    /// `None` once it panicked: the size is kept from then on.
    controller: Mutex<Option<Box<dyn Controller>>>,
    min: usize,
    max: usize,
    /// Jobs running now.
    busy: AtomicUsize,
    /// The tasks of the pool or pipeline: workers start there, and a panic is kept there.
    pub(crate) tasks: TaskGroup,
}

/// A finished job, as its worker saw it.
pub(crate) struct Finished {
    pub(crate) queued_at: Option<Instant>,
    pub(crate) started: Instant,
    pub(crate) ended: Instant,
    pub(crate) failed: bool,
    /// Items waiting for a worker now.
    pub(crate) queued: usize,
    /// The size the workers aim for now.
    pub(crate) workers: usize,
}

impl Sizer {
    /// Counts a job starting.
    pub(crate) fn started(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
    }

    /// Tells the controller about a finished job; the new size if it asks for another,
    /// brought within the bounds. A panic of the controller ends the sizing and is kept by the
    /// task group, for the block to re-raise when it stops.
    pub(crate) fn finished(&self, job: Finished) -> Option<usize> {
        // Counted as running until here, itself included.
        let in_flight = self.busy.fetch_sub(1, Ordering::AcqRel);
        let sample = Sample {
            at: job.ended,
            run_time: job.ended.saturating_duration_since(job.started),
            queue_time: job.queued_at.map_or(Duration::ZERO, |queued_at| {
                job.started.saturating_duration_since(queued_at)
            }),
            in_flight,
            queued: job.queued,
            failed: job.failed,
            workers: job.workers,
            min: self.min,
            max: self.max,
        };
        let mut controller = self
            .controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let decide = controller.as_mut()?;
        match std::panic::catch_unwind(AssertUnwindSafe(|| decide.sample(&sample))) {
            Ok(wanted) => {
                let wanted = wanted.clamp(self.min, self.max);
                (wanted != job.workers).then_some(wanted)
            }
            Err(panic) => {
                // User code: its panic ends the sizing, not the worker.
                drop_caught(controller.take());
                self.tasks.keep_panic(panic);
                None
            }
        }
    }
}

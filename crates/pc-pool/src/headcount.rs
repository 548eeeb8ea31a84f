//! The count a resizable group of workers keeps: how many run, and how many should.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Workers running and the number wanted, for a pool or an adaptive pipeline stage. A worker
/// over the number retires between jobs; a shortfall is made up at once by the caller that
/// set it.
#[derive(Debug)]
pub(crate) struct Headcount {
    live: AtomicUsize,
    target: AtomicUsize,
}

impl Headcount {
    /// `workers` running, and wanted.
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            live: AtomicUsize::new(workers),
            target: AtomicUsize::new(workers),
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    pub(crate) fn target(&self) -> usize {
        self.target.load(Ordering::Acquire)
    }

    /// Whether more workers run than wanted.
    pub(crate) fn too_many(&self) -> bool {
        self.live() > self.target()
    }

    /// Takes the calling worker off the count if there are too many: true if it must end now.
    pub(crate) fn retire_one(&self) -> bool {
        let target = self.target();
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live > target).then(|| live - 1)
            })
            .is_ok()
    }

    /// Wants `workers` from now on, and calls `start` once for each worker missing, counted
    /// before the call. A group whose workers have all ended stays ended: none is started.
    pub(crate) fn set(&self, workers: usize, mut start: impl FnMut()) {
        self.target.store(workers, Ordering::Release);
        while self
            .live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |live| {
                (live != 0 && live < workers).then_some(live + 1)
            })
            .is_ok()
        {
            start();
        }
    }

    /// Takes off the count a worker that ends without retiring: true if it was the last.
    pub(crate) fn leave(&self) -> bool {
        self.live.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

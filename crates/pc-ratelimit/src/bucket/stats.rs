//! What a token bucket has done so far.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// A snapshot of a [`TokenBucket`](crate::TokenBucket)'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BucketStats {
    /// Permits granted (a probe sees each as produced and consumed). Permits a
    /// [`Throttled`](crate::Throttled) producer took for an item its inner producer then
    /// refused are given back and not counted.
    pub granted: u64,
    /// Permits refused for want of tokens (`try_acquire`) or of time (`acquire_timeout`); a
    /// probe sees each as dropped with [`DropReason::Full`](pc_core::DropReason::Full). A request
    /// over the burst is the caller's error and is counted in neither.
    pub rejected: u64,
    /// Total time `acquire` calls spent waiting, cancelled ones included.
    pub waited: Duration,
    /// `acquire` calls waiting right now.
    pub waiting: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    granted: AtomicU64,
    rejected: AtomicU64,
    waited_ns: AtomicU64,
    waiting: AtomicUsize,
}

impl Counters {
    pub(crate) fn granted(&self, n: u32) {
        self.granted.fetch_add(u64::from(n), Ordering::Relaxed);
    }

    pub(crate) fn rejected(&self, n: u32) {
        self.rejected.fetch_add(u64::from(n), Ordering::Relaxed);
    }

    pub(crate) fn start_waiting(&self) {
        self.waiting.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stop_waiting(&self, waited: Duration) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.waited_ns.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> BucketStats {
        BucketStats {
            granted: self.granted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            waited: Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed)),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

//! Counters split into cache-padded shards, so that tasks on different cores do not write the
//! same cache line.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;
use pc_core::{DropReason, FailReason, WaitKind};

use crate::buckets::{BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_NS, bucket_of};

/// Drop reasons with a slot of their own; the last slot takes reasons added later.
pub(crate) const DROP_REASONS: [DropReason; 7] = [
    DropReason::Full,
    DropReason::Oldest,
    DropReason::Shed,
    DropReason::Expired,
    DropReason::Late,
    DropReason::Closed,
    DropReason::Skipped,
];

/// Failure reasons with a slot of their own; the last slot takes reasons added later.
pub(crate) const FAIL_REASONS: [FailReason; 5] = [
    FailReason::Error,
    FailReason::Panicked,
    FailReason::TimedOut,
    FailReason::Cancelled,
    FailReason::Source,
];

/// Wait kinds with a slot of their own; the last slot takes kinds added later.
pub(crate) const WAIT_KINDS: [WaitKind; 6] = [
    WaitKind::Queue,
    WaitKind::SendBlocked,
    WaitKind::RecvBlocked,
    WaitKind::Throttled,
    WaitKind::Processing,
    WaitKind::Linger,
];

/// The name of the slot after the known ones, for values added to pc-core later.
pub(crate) const OTHER: &str = "other";

pub(crate) fn drop_slot(reason: DropReason) -> usize {
    DROP_REASONS
        .iter()
        .position(|known| *known == reason)
        .unwrap_or(DROP_REASONS.len())
}

pub(crate) fn fail_slot(reason: FailReason) -> usize {
    FAIL_REASONS
        .iter()
        .position(|known| *known == reason)
        .unwrap_or(FAIL_REASONS.len())
}

pub(crate) fn wait_slot(kind: WaitKind) -> usize {
    WAIT_KINDS
        .iter()
        .position(|known| *known == kind)
        .unwrap_or(WAIT_KINDS.len())
}

/// Latencies in nanoseconds, from 1 ns to one hour, two significant figures.
const LATENCY_MAX_NS: u64 = 3_600_000_000_000;
/// Batch sizes, up to 2^32 items, two significant figures.
const SIZE_MAX: u64 = 1 << 32;
const SIGNIFICANT_FIGURES: u8 = 2;

/// What one kind of histogram records into: the range of its exact histogram, and its fixed
/// buckets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scale {
    max: u64,
    pub(crate) bounds: &'static [u64],
}

/// Latencies in nanoseconds.
pub(crate) const LATENCY: Scale = Scale {
    max: LATENCY_MAX_NS,
    bounds: &LATENCY_BUCKETS_NS,
};

/// Batch sizes in items.
pub(crate) const BATCH_SIZE: Scale = Scale {
    max: SIZE_MAX,
    bounds: &BATCH_SIZE_BUCKETS,
};

/// A histogram made on first use (most components report few kinds), with the exact sum and
/// maximum that hdrhistogram does not keep (it rounds to its resolution and saturates at its
/// range), and the count in each fixed bucket.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    histogram: Option<Histogram<u64>>,
    sum: u64,
    max: u64,
    /// One count per bound of the scale, then one for values past the last bound.
    buckets: Vec<u64>,
}

impl Recorded {
    fn record(&mut self, value: u64, scale: Scale) {
        let histogram = self.histogram.get_or_insert_with(|| {
            Histogram::new_with_bounds(1, scale.max, SIGNIFICANT_FIGURES)
                .expect("constant bounds are valid")
        });
        histogram.saturating_record(value.max(1));
        self.sum = self.sum.saturating_add(value);
        self.max = self.max.max(value);
        if self.buckets.is_empty() {
            self.buckets = vec![0; scale.bounds.len() + 1];
        }
        self.buckets[bucket_of(scale.bounds, value)] += 1;
    }

    /// Adds this shard's values into `into`.
    pub(crate) fn merge_into(&self, into: &mut Recorded) {
        if let Some(histogram) = &self.histogram {
            match &mut into.histogram {
                Some(total) => total
                    .add(histogram)
                    .expect("histograms of one kind share their bounds"),
                None => into.histogram = Some(histogram.clone()),
            }
            into.sum = into.sum.saturating_add(self.sum);
            into.max = into.max.max(self.max);
            if into.buckets.is_empty() {
                into.buckets = vec![0; self.buckets.len()];
            }
            for (total, count) in into.buckets.iter_mut().zip(&self.buckets) {
                *total += count;
            }
        }
    }

    pub(crate) fn histogram(&self) -> Option<&Histogram<u64>> {
        self.histogram.as_ref()
    }

    pub(crate) fn sum(&self) -> u64 {
        self.sum
    }

    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The count in each fixed bucket (empty when nothing was recorded).
    pub(crate) fn buckets(&self) -> &[u64] {
        &self.buckets
    }

    /// The same, owned.
    pub(crate) fn into_buckets(self) -> Vec<u64> {
        self.buckets
    }
}

/// One shard: what the tasks of one thread (mostly) report.
#[derive(Debug, Default)]
pub(crate) struct Shard {
    pub(crate) produced: AtomicU64,
    pub(crate) consumed: AtomicU64,
    pub(crate) dropped: [AtomicU64; DROP_REASONS.len() + 1],
    pub(crate) failed: [AtomicU64; FAIL_REASONS.len() + 1],
    pub(crate) peak: AtomicUsize,
    /// Waits started minus waits ended, in wrapping arithmetic: a shard may see more ends than
    /// starts (a wait ended on another thread), the sum over shards never does.
    pub(crate) waiting: [AtomicU64; WAIT_KINDS.len() + 1],
    pub(crate) waits: [Mutex<Recorded>; WAIT_KINDS.len() + 1],
    pub(crate) batches: Mutex<Recorded>,
}

impl Shard {
    pub(crate) fn record_wait(&self, kind: WaitKind, nanos: u64) {
        lock(&self.waits[wait_slot(kind)]).record(nanos, LATENCY);
    }

    pub(crate) fn record_batch(&self, items: usize) {
        lock(&self.batches).record(items as u64, BATCH_SIZE);
    }
}

/// Locks a histogram; a panic while one was held left no broken invariant (counts only).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shards of one `Metrics`: one owned by each of the first live threads (see
/// [`slot`](crate::slot)), where counting is a plain load and store, and one shared by any
/// further thread, where it is an atomic read-modify-write.
#[derive(Debug)]
pub(crate) struct Shards {
    owned: Box<[CachePadded<Shard>]>,
    shared: CachePadded<Shard>,
}

impl Shards {
    pub(crate) fn new() -> Self {
        // Room for a runtime's workers, its blocking threads and a few more.
        let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
        let owned = (cores * 4).next_power_of_two().clamp(16, 64);
        Self {
            owned: (0..owned)
                .map(|_| CachePadded::new(Shard::default()))
                .collect(),
            shared: CachePadded::new(Shard::default()),
        }
    }

    /// The calling thread's shard.
    #[inline]
    pub(crate) fn local(&self) -> Local<'_> {
        match self.owned.get(crate::slot::current()) {
            Some(shard) => Local { shard, owned: true },
            None => Local {
                shard: &self.shared,
                owned: false,
            },
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.owned
            .iter()
            .chain([&self.shared])
            .map(|shard| &**shard)
    }

    pub(crate) fn sum(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.iter()
            .map(|shard| counter(shard).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// A thread's shard, and whether the thread is its only writer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Local<'a> {
    pub(crate) shard: &'a Shard,
    owned: bool,
}

impl Local<'_> {
    /// Adds `n` to one of the shard's counters. The only writer of an owned shard needs no
    /// read-modify-write (readers only load, and a store is never torn).
    #[inline]
    pub(crate) fn add(self, counter: &AtomicU64, n: u64) {
        if self.owned {
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Raises the shard's peak depth to `len`.
    #[inline]
    pub(crate) fn see_depth(self, len: usize) {
        let peak = &self.shard.peak;
        if len > peak.load(Ordering::Relaxed) {
            if self.owned {
                peak.store(len, Ordering::Relaxed);
            } else {
                peak.fetch_max(len, Ordering::Relaxed);
            }
        }
    }
}

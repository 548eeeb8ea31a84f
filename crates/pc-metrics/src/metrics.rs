//! `Metrics`: the `Probe` that keeps what a component reports.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc_core::{BlockKind, DepthSource, DropReason, FailReason, Probe, SharedProbe, WaitKind};

use crate::buckets;
use crate::rates::History;
use crate::recent::RecentHistory;
use crate::shard::{
    BATCH_SIZE, DROP_REASONS, FAIL_REASONS, LATENCY, OTHER, Recorded, Scale, Shards, WAIT_KINDS,
    drop_slot, fail_slot, lock, wait_slot,
};
use crate::snapshot::{MetricsSnapshot, PartitionBacklog, Recent, Summary};

/// Everything one component reports, kept cheaply enough to leave attached in production.
///
/// `Metrics` implements [`Probe`]: give it to any builder's `.probe(...)` (through
/// [`Metrics::probe`] or an `Arc` clone) and read it with [`snapshot`](Self::snapshot).
///
/// - Counts of produced, consumed, dropped (by [`DropReason`]) and failed (by [`FailReason`])
///   items, kept in per-thread shards so that producers and consumers on different cores do not
///   write one cache line.
/// - The current and peak depth, the items in flight (produced but neither consumed nor dropped),
///   and how many producers, consumers and throttled callers wait right now. Components that
///   hold a lock anyway (priority channel, bounded queue) report every change, so their peak is
///   exact; a pc-core channel's length is read from the queue at each snapshot instead (reading
///   it on every send would cost the cache lines the channel keeps apart), so its peak is the
///   largest depth a snapshot saw: sample often (a [`Reporter`](crate::Reporter)) to catch it,
///   or make the metrics [`with_exact_depth`](Self::with_exact_depth).
/// - Rates over the last 1, 10 and 60 seconds (see [`WindowRates`](crate::WindowRates)).
/// - Latency histograms per [`WaitKind`] and a histogram of batch sizes, with p50, p90, p99 and
///   max (hdrhistogram, two significant figures).
///
/// ```
/// use pc_core::channel;
/// use pc_metrics::Metrics;
///
/// # tokio_test::block_on(async {
/// let metrics = Metrics::new("jobs");
/// let (tx, rx) = channel::Builder::bounded(16).probe(metrics.probe()).build::<u32>()?;
/// for job in 0..10 {
///     tx.send(job).await?;
/// }
/// assert_eq!(metrics.snapshot().depth, 10);
/// for _ in 0..4 {
///     rx.recv().await?;
/// }
/// let snapshot = metrics.snapshot();
/// assert_eq!((snapshot.produced, snapshot.consumed), (10, 4));
/// // The channel's depth is read at each snapshot; the peak is the largest one read.
/// assert_eq!((snapshot.depth, snapshot.peak_depth), (6, 10));
/// println!("{snapshot}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Metrics {
    name: String,
    labels: BTreeMap<String, String>,
    shards: Shards,
    /// The latest depth reported, for components that report every change.
    depth: AtomicUsize,
    /// Components whose depth is read at each snapshot (pc-core's channels), and the largest
    /// total read so far.
    sources: Mutex<Vec<Arc<dyn DepthSource>>>,
    sampled_peak: AtomicUsize,
    /// Decline depth sources: every change is reported, so the peak is exact.
    exact_depth: bool,
    history: Mutex<History>,
    /// The histograms' bucket counts over the last minute.
    recent: Mutex<RecentHistory>,
    /// What the block told it is, with its capacity, last.
    described: Mutex<Option<(BlockKind, Option<usize>)>>,
    /// Each partition's backlog, as last reported.
    backlog: Mutex<BTreeMap<usize, (u64, Option<u64>)>>,
}

impl Metrics {
    /// Metrics for the component called `name` (the `queue` label in Prometheus).
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Self::with_labels(name, [] as [(String, String); 0])
    }

    /// Metrics for `name` with extra labels, for example `[("level", "0")]`.
    pub fn with_labels<K, V>(
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Arc<Self>
    where
        K: Into<String>,
        V: Into<String>,
    {
        Arc::new(Self {
            name: name.into(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            shards: Shards::new(),
            depth: AtomicUsize::new(0),
            sources: Mutex::new(Vec::new()),
            sampled_peak: AtomicUsize::new(0),
            exact_depth: false,
            history: Mutex::new(History::new()),
            recent: Mutex::new(RecentHistory::new()),
            described: Mutex::new(None),
            backlog: Mutex::new(BTreeMap::new()),
        })
    }

    /// Metrics for `name` whose peak depth is exact for pc-core channels too: the channel then
    /// reports its length on every send and receive instead of being read at each snapshot,
    /// which costs a read of both ends of its queue per operation.
    pub fn with_exact_depth(name: impl Into<String>) -> Arc<Self> {
        let mut metrics = Self::new(name);
        Arc::get_mut(&mut metrics)
            .expect("just made, not shared")
            .exact_depth = true;
        metrics
    }

    /// This component's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This component's extra labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// A handle to give to a builder's `.probe(...)`.
    pub fn probe(self: &Arc<Self>) -> SharedProbe {
        self.clone()
    }

    /// What was reported up to now, with rates over the last 1, 10 and 60 seconds.
    ///
    /// Each call also records a sample that later calls measure rates against (see
    /// [`WindowRates`](crate::WindowRates)).
    pub fn snapshot(&self) -> MetricsSnapshot {
        let produced = self.shards.sum(|s| &s.produced);
        let consumed = self.shards.sum(|s| &s.consumed);
        let dropped = self.by_reason(DROP_REASONS.iter().map(|r| r.as_str()), |shard, slot| {
            &shard.dropped[slot]
        });
        let failed = self.by_reason(FAIL_REASONS.iter().map(|r| r.as_str()), |shard, slot| {
            &shard.failed[slot]
        });
        // Items turned away at the door (`Full`) were never produced: not out of flight either.
        let turned_away = dropped.get(DropReason::Full.as_str()).copied().unwrap_or(0);
        let dropped_inside = dropped.values().sum::<u64>() - turned_away;
        let waiting = |kind: WaitKind| {
            let slot = wait_slot(kind);
            let sum = self.shards.sum(|s| &s.waiting[slot]);
            // Read while waits start and end, an end may be seen before its start.
            u64::try_from(sum as i64).unwrap_or(0)
        };
        let histograms = self.histograms();
        let counts = histograms.iter().map(|h| h.buckets().to_vec()).collect();
        let recent = lock(&self.recent).sample(counts);
        let mut summaries =
            histograms
                .into_iter()
                .zip(recent)
                .enumerate()
                .map(|(slot, (total, recent))| {
                    let scale = if slot <= WAIT_KINDS.len() {
                        LATENCY
                    } else {
                        BATCH_SIZE
                    };
                    summary(total, &recent, scale)
                });
        let mut latency = BTreeMap::new();
        let names = WAIT_KINDS.iter().map(|k| k.as_str()).chain([OTHER]);
        for (name, summary) in names.zip(summaries.by_ref()) {
            if let Some(summary) = summary {
                latency.insert(name.to_owned(), summary);
            }
        }
        let batch_sizes = summaries.next().flatten();
        let rates = lock(&self.history).sample(produced, consumed);
        let depth = self
            .read_sources()
            .unwrap_or_else(|| self.depth.load(Ordering::Relaxed));
        let peak_depth = self
            .shards
            .iter()
            .map(|s| s.peak.load(Ordering::Relaxed))
            .chain([self.sampled_peak.load(Ordering::Relaxed)])
            .max()
            .unwrap_or(0);
        let described = *lock(&self.described);
        MetricsSnapshot {
            name: self.name.clone(),
            labels: self.labels.clone(),
            kind: described.map(|(kind, _)| kind.as_str().to_owned()),
            capacity: described
                .and_then(|(_, capacity)| capacity)
                .map(|c| c as u64),
            produced,
            consumed,
            in_flight: produced.saturating_sub(consumed.saturating_add(dropped_inside)),
            depth: depth as u64,
            peak_depth: peak_depth as u64,
            waiting_producers: waiting(WaitKind::SendBlocked),
            waiting_consumers: waiting(WaitKind::RecvBlocked),
            waiting_throttled: waiting(WaitKind::Throttled),
            dropped,
            failed,
            rates,
            latency,
            batch_sizes,
            backlog: lock(&self.backlog)
                .iter()
                .map(|(&partition, &(pending, lag))| PartitionBacklog::new(partition, pending, lag))
                .collect(),
        }
    }

    /// The Prometheus text format of a fresh [`snapshot`](Self::snapshot).
    pub fn render_prometheus(&self) -> String {
        crate::prometheus::render(&[self.snapshot()])
    }

    /// The total depth of the components read on demand, forgetting those gone; `None` when
    /// none was ever attached.
    fn read_sources(&self) -> Option<usize> {
        let mut sources = lock(&self.sources);
        if sources.is_empty() {
            return None;
        }
        let mut total = 0;
        sources.retain(|source| match source.depth() {
            Some(depth) => {
                total += depth;
                true
            }
            None => false,
        });
        drop(sources);
        self.sampled_peak.fetch_max(total, Ordering::Relaxed);
        Some(total)
    }

    /// Counts per reason, summed over shards, without the reasons never reported.
    fn by_reason<'n>(
        &self,
        names: impl Iterator<Item = &'n str>,
        counter: impl Fn(&crate::shard::Shard, usize) -> &std::sync::atomic::AtomicU64,
    ) -> BTreeMap<String, u64> {
        names
            .chain([OTHER])
            .enumerate()
            .filter_map(|(slot, name)| {
                let n = self.shards.sum(|shard| counter(shard, slot));
                (n > 0).then(|| (name.to_owned(), n))
            })
            .collect()
    }

    /// The merged histogram of one kind over all shards, if anything was recorded.
    /// Every histogram merged over the shards: one per wait kind slot, then batch sizes.
    fn histograms(&self) -> Vec<Recorded> {
        let mut merged: Vec<Recorded> = (0..=WAIT_KINDS.len() + 1)
            .map(|_| Recorded::default())
            .collect();
        for shard in self.shards.iter() {
            let slots = shard.waits.iter().chain([&shard.batches]);
            for (total, slot) in merged.iter_mut().zip(slots) {
                lock(slot).merge_into(total);
            }
        }
        merged
    }
}

/// The summary of a merged histogram with its last minute's `recent` bucket counts, if it
/// holds any values.
fn summary(total: Recorded, recent: &[u64], scale: Scale) -> Option<Summary> {
    let histogram = total.histogram()?;
    // A quantile is the top of its bucket, which may pass the largest value recorded.
    let max = total.max();
    let quantile = |q| histogram.value_at_quantile(q).min(max);
    let estimate = |q| buckets::quantile(scale.bounds, recent, q, max).unwrap_or(0);
    Some(Summary {
        count: histogram.len(),
        sum: total.sum(),
        p50: quantile(0.5),
        p90: quantile(0.9),
        p99: quantile(0.99),
        max,
        recent: Recent {
            count: recent.iter().sum(),
            p50: estimate(0.5),
            p90: estimate(0.9),
            p99: estimate(0.99),
        },
        buckets: total.into_buckets(),
    })
}

impl Probe for Metrics {
    #[inline]
    fn produced(&self, n: u64) {
        let local = self.shards.local();
        local.add(&local.shard.produced, n);
    }

    #[inline]
    fn consumed(&self, n: u64) {
        let local = self.shards.local();
        local.add(&local.shard.consumed, n);
    }

    fn dropped(&self, n: u64, reason: DropReason) {
        let local = self.shards.local();
        local.add(&local.shard.dropped[drop_slot(reason)], n);
    }

    #[inline]
    fn depth(&self, len: usize) {
        self.depth.store(len, Ordering::Relaxed);
        self.shards.local().see_depth(len);
    }

    fn waited(&self, kind: WaitKind, duration: Duration) {
        self.shards
            .local()
            .shard
            .record_wait(kind, u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX));
    }

    #[inline]
    fn wait_started(&self, kind: WaitKind) {
        let local = self.shards.local();
        local.add(&local.shard.waiting[wait_slot(kind)], 1);
    }

    #[inline]
    fn wait_ended(&self, kind: WaitKind) {
        let local = self.shards.local();
        local.add(&local.shard.waiting[wait_slot(kind)], u64::MAX); // -1, wrapping
    }

    fn batched(&self, items: usize) {
        self.shards.local().shard.record_batch(items);
    }

    fn failed(&self, n: u64, reason: FailReason) {
        let local = self.shards.local();
        local.add(&local.shard.failed[fail_slot(reason)], n);
    }

    /// Takes the source: its depth is read at each snapshot, so the component does not have to
    /// report every change.
    fn backlog(&self, partition: usize, pending: u64, lag: Option<u64>) {
        lock(&self.backlog).insert(partition, (pending, lag));
    }

    fn described(&self, kind: BlockKind, capacity: Option<usize>) {
        *lock(&self.described) = Some((kind, capacity));
    }

    fn read_depth(&self, source: Arc<dyn DepthSource>) -> bool {
        if self.exact_depth {
            return false;
        }
        lock(&self.sources).push(source);
        true
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("name", &self.name)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

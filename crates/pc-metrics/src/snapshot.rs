//! What a snapshot holds, its human table, and its serde form.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use pc_core::{DropReason, FailReason, WaitKind};
use serde::{Deserialize, Serialize};

/// One component's numbers at one moment. Serializes with serde (JSON round-trips exactly);
/// `Display` prints a small table.
///
/// Latency summaries are in nanoseconds under [`latency`](Self::latency), keyed by
/// [`WaitKind::as_str`]; [`latency_of`](Self::latency_of) gives them as [`Duration`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The component's name.
    pub name: String,
    /// Its extra labels.
    pub labels: BTreeMap<String, String>,
    /// What kind of block reports here ([`BlockKind::as_str`](pc_core::BlockKind::as_str)),
    /// once one was built with these metrics as its probe; the last one built, if several.
    #[serde(default)]
    pub kind: Option<String>,
    /// The most items the block holds, as it last said (a `set_capacity` tells the new one);
    /// `None` for blocks without a bound, or not queues.
    #[serde(default)]
    pub capacity: Option<u64>,
    /// Items that entered.
    pub produced: u64,
    /// Items handed to a consumer (or, for pools, finished).
    pub consumed: u64,
    /// Items produced but neither consumed nor dropped yet (drops of items turned away at the
    /// door, [`DropReason::Full`](pc_core::DropReason::Full), never were produced).
    pub in_flight: u64,
    /// The depth last reported.
    pub depth: u64,
    /// The largest depth reported.
    pub peak_depth: u64,
    /// Producers waiting for space right now.
    pub waiting_producers: u64,
    /// Consumers waiting for an item right now.
    pub waiting_consumers: u64,
    /// Callers waiting on a rate limit right now.
    pub waiting_throttled: u64,
    /// Dropped items by [`DropReason::as_str`]; reasons never seen are absent.
    pub dropped: BTreeMap<String, u64>,
    /// Failed items by [`FailReason::as_str`]; reasons never seen are absent.
    pub failed: BTreeMap<String, u64>,
    /// Items per second over the last 1, 10 and 60 seconds.
    pub rates: Rates,
    /// Wait and processing times in nanoseconds by [`WaitKind::as_str`]; kinds never seen are
    /// absent.
    pub latency: BTreeMap<String, Summary>,
    /// Sizes of the batches formed, if any were.
    pub batch_sizes: Option<Summary>,
    /// A shared queue's backlog by partition, as its server last counted it
    /// ([`Probe::backlog`](pc_core::Probe::backlog)); empty for in-process blocks.
    #[serde(default)]
    pub backlog: Vec<PartitionBacklog>,
}

/// One partition's backlog, as the server last counted it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartitionBacklog {
    /// The partition (0 for a queue of one stream).
    pub partition: usize,
    /// Entries delivered and not yet acknowledged.
    pub pending: u64,
    /// Entries not yet delivered to the group; `None` when the server could not tell.
    pub lag: Option<u64>,
}

impl PartitionBacklog {
    /// A partition's backlog.
    pub fn new(partition: usize, pending: u64, lag: Option<u64>) -> Self {
        Self {
            partition,
            pending,
            lag,
        }
    }
}

impl MetricsSnapshot {
    /// Items dropped for `reason`.
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.as_str()).copied().unwrap_or(0)
    }

    /// Items dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Items that failed for `reason`.
    pub fn failed_for(&self, reason: FailReason) -> u64 {
        self.failed.get(reason.as_str()).copied().unwrap_or(0)
    }

    /// Items that failed for any reason.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Who waits now, by side: `producer`, `consumer`, `throttled`.
    pub fn waiting_by_side(&self) -> [(&'static str, u64); 3] {
        [
            ("producer", self.waiting_producers),
            ("consumer", self.waiting_consumers),
            ("throttled", self.waiting_throttled),
        ]
    }

    /// Every rate as `(direction, window, items per second)`: `produced` and `consumed` over
    /// `1s`, `10s` and `60s`.
    pub fn rates_by_window(&self) -> impl Iterator<Item = (&'static str, &'static str, f64)> {
        [
            ("produced", self.rates.produced),
            ("consumed", self.rates.consumed),
        ]
        .into_iter()
        .flat_map(|(direction, rates)| {
            [
                ("1s", rates.per_1s),
                ("10s", rates.per_10s),
                ("60s", rates.per_60s),
            ]
            .map(|(window, rate)| (direction, window, rate))
        })
    }

    /// The waits of `kind` as durations, if any were reported.
    pub fn latency_of(&self, kind: WaitKind) -> Option<Latency> {
        self.latency.get(kind.as_str()).map(|s| Latency {
            count: s.count,
            mean: Duration::from_nanos(s.sum.checked_div(s.count).unwrap_or(0)),
            p50: Duration::from_nanos(s.p50),
            p90: Duration::from_nanos(s.p90),
            p99: Duration::from_nanos(s.p99),
            max: Duration::from_nanos(s.max),
        })
    }
}

/// Items per second, produced and consumed, over each window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rates {
    /// Items entering.
    pub produced: WindowRates,
    /// Items leaving to consumers.
    pub consumed: WindowRates,
}

/// A rate over the last 1, 10 and 60 seconds.
///
/// Rates are measured between snapshots: each [`Metrics::snapshot`](crate::Metrics::snapshot)
/// records the counters, and a window's rate runs from the newest earlier sample at least that
/// old (or from the start, while the metrics are younger than the window) to now. With a
/// [`Reporter`](crate::Reporter) sampling every second, the 1 s rate covers one to two seconds
/// and never averages over the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowRates {
    /// Over the last second.
    pub per_1s: f64,
    /// Over the last 10 seconds.
    pub per_10s: f64,
    /// Over the last 60 seconds.
    pub per_60s: f64,
}

/// Quantiles of a histogram: nanoseconds for latencies, items for batch sizes; since the
/// start, and over the last minute.
///
/// Since-start quantiles are exact to two significant figures (hdrhistogram) within the
/// histograms' range (waits up to one hour, batches up to 2^32 items; a larger value counts at
/// the top of the range) and never above `max`; `count`, `sum` and `max` are exact, whatever
/// the values (`sum` saturates at `u64::MAX`).
///
/// Every value is also counted in a fixed bucket ([`buckets`](Self::buckets), bounds
/// [`LATENCY_BUCKETS_NS`](crate::LATENCY_BUCKETS_NS) and
/// [`BATCH_SIZE_BUCKETS`](crate::BATCH_SIZE_BUCKETS)): the Prometheus histograms are these
/// counts, and the [`recent`](Self::recent) quantiles are estimated from them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// Values per fixed bucket: `buckets[i]` counts the values above the bound before `i` (or
    /// from 0) up to and including bound `i`; the last entry, one past the bounds, counts the
    /// values above the last bound. Not cumulative.
    #[serde(default)]
    pub buckets: Vec<u64>,
    /// The same values over about the last minute (see [`Recent`]).
    #[serde(default)]
    pub recent: Recent,
}

/// Quantiles of the values recorded over about the last minute: from the newest snapshot at
/// least 60 s old (snapshots closer than 5 s apart count as one), or from the start while the
/// metrics are younger.
///
/// Estimated from the fixed buckets as Prometheus' `histogram_quantile` estimates them:
/// linearly within the bucket the quantile falls in, so they are as fine as the buckets (a
/// 1-2.5-5 step) and never above the since-start `max`. All zero when nothing was recorded in
/// the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recent {
    /// Values recorded in the window.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
}

impl Summary {
    /// The quantiles by their Prometheus label: `0.5`, `0.9`, `0.99` and `1` (the max).
    pub fn quantiles(&self) -> [(&'static str, u64); 4] {
        [
            ("0.5", self.p50),
            ("0.9", self.p90),
            ("0.99", self.p99),
            ("1", self.max),
        ]
    }
}

/// A latency [`Summary`] as durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// Waits recorded.
    pub count: u64,
    /// Their mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Longest.
    pub max: Duration,
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        for (key, value) in &self.labels {
            write!(f, " {key}={value}")?;
        }
        match (&self.kind, self.capacity) {
            (Some(kind), Some(capacity)) => write!(f, " ({kind}, capacity {capacity})")?,
            (Some(kind), None) => write!(f, " ({kind})")?,
            (None, _) => {}
        }
        writeln!(f)?;
        let r = &self.rates;
        writeln!(
            f,
            "  {:<10} {:>12}   {:>10} {:>10} {:>10}",
            "", "total", "1s/s", "10s/s", "60s/s"
        )?;
        for (label, total, rates) in [
            ("produced", self.produced, r.produced),
            ("consumed", self.consumed, r.consumed),
        ] {
            writeln!(
                f,
                "  {label:<10} {total:>12}   {:>10.1} {:>10.1} {:>10.1}",
                rates.per_1s, rates.per_10s, rates.per_60s
            )?;
        }
        writeln!(
            f,
            "  depth {} (peak {}), in flight {}, waiting: {} producers, {} consumers, {} throttled",
            self.depth,
            self.peak_depth,
            self.in_flight,
            self.waiting_producers,
            self.waiting_consumers,
            self.waiting_throttled
        )?;
        if !self.backlog.is_empty() {
            let pending: u64 = self.backlog.iter().map(|b| b.pending).sum();
            let lag: Option<u64> = self.backlog.iter().map(|b| b.lag).sum();
            write!(f, "  backlog: {pending} pending, ")?;
            match lag {
                Some(lag) => write!(f, "{lag} not delivered")?,
                None => write!(f, "not delivered unknown")?,
            }
            if self.backlog.len() > 1 {
                write!(f, " ({} partitions)", self.backlog.len())?;
            }
            writeln!(f)?;
        }
        for (label, counts) in [("dropped", &self.dropped), ("failed", &self.failed)] {
            if !counts.is_empty() {
                write!(f, "  {label}:")?;
                for (reason, n) in counts {
                    write!(f, " {reason} {n}")?;
                }
                writeln!(f)?;
            }
        }
        if !self.latency.is_empty() {
            writeln!(
                f,
                "  {:<14} {:>10} {:>10} {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}",
                "latency", "count", "p50", "p90", "p99", "max", "1m count", "1m p50", "1m p99"
            )?;
            for (kind, s) in &self.latency {
                writeln!(
                    f,
                    "  {kind:<14} {:>10} {:>10} {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}",
                    s.count,
                    Short(s.p50),
                    Short(s.p90),
                    Short(s.p99),
                    Short(s.max),
                    s.recent.count,
                    Short(s.recent.p50),
                    Short(s.recent.p99)
                )?;
            }
        }
        if let Some(s) = &self.batch_sizes {
            writeln!(
                f,
                "  batches {} of p50 {} p90 {} p99 {} max {} items; last minute {} of p50 {} p99 {}",
                s.count, s.p50, s.p90, s.p99, s.max, s.recent.count, s.recent.p50, s.recent.p99
            )?;
        }
        Ok(())
    }
}

/// Nanoseconds in the largest unit that keeps them above 1.
struct Short(u64);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0 as f64;
        let text = match self.0 {
            0..1_000 => format!("{}ns", self.0),
            1_000..1_000_000 => format!("{:.1}us", ns / 1e3),
            1_000_000..1_000_000_000 => format!("{:.1}ms", ns / 1e6),
            _ => format!("{:.2}s", ns / 1e9),
        };
        f.pad(&text)
    }
}

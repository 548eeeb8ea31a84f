//! What `Metrics` keeps, exactly: counts from many threads, waiters, rates on a paused clock,
//! histogram quantiles, snapshots through JSON, and the registry.

use std::sync::Arc;
use std::time::Duration;

use pc_core::probe::WaitTimer;
use pc_core::{DropReason, FailReason, Probe, SharedProbe, WaitKind};
use pc_metrics::{Metrics, MetricsSnapshot, PartitionBacklog, Recent, Registry, WindowRates};

#[test]
fn counts_from_many_threads_add_up_exactly() {
    let metrics = Metrics::new("jobs");
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let metrics = &metrics;
            scope.spawn(move || {
                for _ in 0..10_000 {
                    metrics.produced(1);
                    metrics.consumed(1);
                }
                metrics.dropped(3, DropReason::Full);
                metrics.dropped(1, DropReason::Late);
                metrics.failed(2, FailReason::Panicked);
            });
        }
    });
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed), (80_000, 80_000));
    assert_eq!(s.dropped_for(DropReason::Full), 24);
    assert_eq!(s.dropped_for(DropReason::Late), 8);
    assert_eq!(s.dropped_for(DropReason::Oldest), 0);
    assert_eq!(s.dropped_total(), 32);
    assert_eq!(s.failed_for(FailReason::Panicked), 16);
    assert_eq!(s.failed_total(), 16);
    assert_eq!(
        s.dropped.len(),
        2,
        "reasons never seen are absent: {:?}",
        s.dropped
    );
}

/// More live threads than shards of their own: the later ones share one, and still nothing is
/// lost.
#[test]
fn counts_add_up_when_threads_outnumber_shards() {
    let metrics = Metrics::new("jobs");
    let barrier = std::sync::Barrier::new(100);
    std::thread::scope(|scope| {
        for _ in 0..100 {
            let (metrics, barrier) = (&metrics, &barrier);
            scope.spawn(move || {
                barrier.wait(); // all 100 alive at once
                for _ in 0..1_000 {
                    metrics.produced(1);
                    metrics.wait_started(WaitKind::SendBlocked);
                }
                barrier.wait();
                for _ in 0..1_000 {
                    metrics.waited(WaitKind::SendBlocked, Duration::from_nanos(5));
                    metrics.wait_ended(WaitKind::SendBlocked);
                }
            });
        }
    });
    let s = metrics.snapshot();
    assert_eq!(s.produced, 100_000);
    assert_eq!(s.waiting_producers, 0);
    assert_eq!(
        s.latency_of(WaitKind::SendBlocked).expect("recorded").count,
        100_000
    );
}

#[test]
fn depth_is_the_last_reported_and_peak_the_largest() {
    let metrics = Metrics::new("q");
    for len in [1, 5, 3, 9, 2] {
        metrics.depth(len);
    }
    metrics.produced(10);
    metrics.consumed(6);
    metrics.dropped(1, DropReason::Oldest);
    let s = metrics.snapshot();
    assert_eq!((s.depth, s.peak_depth, s.in_flight), (2, 9, 3));
}

#[tokio::test(start_paused = true)]
async fn waiting_counts_who_waits_now_even_when_a_wait_is_cancelled() {
    let metrics = Metrics::new("q");
    let probe: SharedProbe = metrics.probe();
    let producers: Vec<_> = (0..3)
        .map(|_| WaitTimer::timed(Some(&probe), WaitKind::SendBlocked))
        .collect();
    let consumer = WaitTimer::counted(Some(&probe), WaitKind::RecvBlocked);
    let s = metrics.snapshot();
    assert_eq!((s.waiting_producers, s.waiting_consumers), (3, 1));

    tokio::time::advance(Duration::from_millis(40)).await;
    drop(producers);
    // A cancelled wait is a dropped timer too.
    let waiting = probe.clone();
    let task = tokio::spawn(async move {
        let _wait = WaitTimer::timed(Some(&waiting), WaitKind::Throttled);
        std::future::pending::<()>().await;
    });
    tokio::task::yield_now().await;
    assert_eq!(metrics.snapshot().waiting_throttled, 1);
    task.abort();
    let _ = task.await;

    let s = metrics.snapshot();
    assert_eq!(
        (
            s.waiting_producers,
            s.waiting_consumers,
            s.waiting_throttled
        ),
        (0, 1, 0)
    );
    let blocked = s.latency_of(WaitKind::SendBlocked).expect("recorded");
    assert_eq!(blocked.count, 3);
    drop(consumer);
    assert_eq!(metrics.snapshot().waiting_consumers, 0);
}

#[tokio::test(start_paused = true)]
async fn rates_cover_the_last_window_not_the_whole_run() {
    let metrics = Metrics::new("q");
    let second = Duration::from_secs(1);

    metrics.produced(10);
    tokio::time::advance(second).await;
    let s = metrics.snapshot();
    // Younger than every window: each rate runs from the start.
    assert_eq!(s.rates.produced, rates(10.0, 10.0, 10.0));

    metrics.produced(20);
    metrics.consumed(30);
    tokio::time::advance(second).await;
    let s = metrics.snapshot();
    assert_eq!(s.rates.produced, rates(20.0, 15.0, 15.0));
    assert_eq!(s.rates.consumed, rates(30.0, 15.0, 15.0));

    // A quiet minute, sampled every 10 s: the 1 s and 10 s rates fall to zero, the 60 s rate
    // covers the 60 s since the sample at 2 s.
    for _ in 0..6 {
        tokio::time::advance(10 * second).await;
        metrics.snapshot();
    }
    metrics.produced(62);
    tokio::time::advance(second).await;
    let s = metrics.snapshot();
    assert_eq!(s.rates.produced.per_1s, 62.0, "since the sample 1 s ago");
    assert_eq!(
        s.rates.produced.per_10s,
        62.0 / 11.0,
        "since the sample 11 s ago"
    );
    assert_eq!(
        s.rates.produced.per_60s,
        62.0 / 61.0,
        "since the sample 61 s ago"
    );
    assert_eq!(s.produced, 92, "totals stay totals");
}

fn rates(per_1s: f64, per_10s: f64, per_60s: f64) -> WindowRates {
    let mut rates = WindowRates::default();
    rates.per_1s = per_1s;
    rates.per_10s = per_10s;
    rates.per_60s = per_60s;
    rates
}

#[test]
fn latency_quantiles_come_from_the_histogram() {
    let metrics = Metrics::new("q");
    // Below 256 ns every value has a bucket of its own, so quantiles are exact.
    for ns in (1..=100).rev() {
        metrics.waited(WaitKind::Processing, Duration::from_nanos(ns));
    }
    let s = metrics.snapshot();
    let summary = &s.latency["processing"];
    assert_eq!(
        (
            summary.count,
            summary.sum,
            summary.p50,
            summary.p90,
            summary.p99,
            summary.max
        ),
        (100, 5050, 50, 90, 99, 100)
    );
    let latency = s.latency_of(WaitKind::Processing).expect("recorded");
    assert_eq!(latency.mean, Duration::from_nanos(50));
    assert_eq!(latency.p99, Duration::from_nanos(99));
    assert!(s.latency_of(WaitKind::Queue).is_none());

    // Larger values keep two significant figures.
    metrics.waited(WaitKind::Queue, Duration::from_secs(1));
    let max = metrics
        .snapshot()
        .latency_of(WaitKind::Queue)
        .expect("recorded")
        .max;
    assert!(
        max >= Duration::from_secs(1) && max < Duration::from_millis(1010),
        "{max:?}"
    );
}

#[test]
fn batch_sizes_are_summarized() {
    let metrics = Metrics::new("q");
    for size in [4, 4, 4, 1] {
        metrics.batched(size);
    }
    let sizes = metrics.snapshot().batch_sizes.expect("batches seen");
    assert_eq!(
        (sizes.count, sizes.sum, sizes.p50, sizes.max),
        (4, 13, 4, 4)
    );
}

/// A snapshot with every field filled in.
fn busy() -> MetricsSnapshot {
    let metrics = Metrics::with_labels("orders", [("level", "0"), ("region", "eu \"west\"")]);
    metrics.produced(7);
    metrics.consumed(4);
    metrics.dropped(1, DropReason::Shed);
    metrics.failed(1, FailReason::TimedOut);
    metrics.depth(2);
    metrics.batched(3);
    metrics.waited(WaitKind::Queue, Duration::from_micros(1_500));
    metrics.waited(WaitKind::Processing, Duration::from_millis(12));
    metrics.backlog(0, 3, Some(7));
    metrics.backlog(1, 1, Some(0));
    std::thread::sleep(Duration::from_millis(2)); // a non-zero span, so rates are not zero
    metrics.snapshot()
}

#[test]
fn snapshots_round_trip_through_json() {
    let snapshot = busy();
    assert!(snapshot.rates.produced.per_1s > 0.0);
    let json = serde_json::to_string(&snapshot).expect("serializes");
    let back: MetricsSnapshot = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, snapshot);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["produced"], 7);
    assert_eq!(value["dropped"]["shed"], 1);
    assert_eq!(value["latency"]["queue"]["count"], 1);
    assert_eq!(value["backlog"][1]["partition"], 1);
    assert_eq!(value["backlog"][0]["lag"], 7);
}

#[test]
fn display_prints_a_table() {
    let text = busy().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "orders level=0 region=eu \"west\"");
    assert!(lines[2].trim_start().starts_with("produced"), "{text}");
    assert!(lines[2].contains(" 7 "), "{text}");
    assert!(lines[3].contains(" 4 "), "{text}");
    assert!(text.contains("depth 2 (peak 2), in flight 2"), "{text}");
    assert!(text.contains("dropped: shed 1"), "{text}");
    assert!(text.contains("failed: timed_out 1"), "{text}");
    assert!(text.contains("processing"), "{text}");
    assert!(text.contains("batches 1 of p50 3"), "{text}");
    assert!(
        text.contains("backlog: 4 pending, 7 not delivered (2 partitions)"),
        "{text}"
    );
}

#[test]
fn a_backlog_whose_lag_is_unknown_says_so() {
    let metrics = Metrics::new("q");
    assert!(metrics.snapshot().backlog.is_empty());
    assert!(!metrics.snapshot().to_string().contains("backlog"));
    metrics.backlog(0, 2, Some(5));
    metrics.backlog(1, 0, None);
    let snapshot = metrics.snapshot();
    assert_eq!(
        snapshot.backlog,
        [
            PartitionBacklog::new(0, 2, Some(5)),
            PartitionBacklog::new(1, 0, None)
        ]
    );
    assert!(
        snapshot
            .to_string()
            .contains("backlog: 2 pending, not delivered unknown (2 partitions)"),
        "{snapshot}"
    );
}

#[test]
fn a_registry_gives_one_metrics_per_name_and_labels() {
    let registry = Registry::new();
    let a = registry.metrics("a");
    let a0 = registry.metrics_with("a", [("level", "0")]);
    assert!(Arc::ptr_eq(&a, &registry.metrics("a")));
    assert!(!Arc::ptr_eq(&a, &a0));
    a.produced(1);
    a0.produced(2);
    let names: Vec<(String, u64)> = registry
        .snapshot()
        .into_iter()
        .map(|s| (format!("{}{:?}", s.name, s.labels), s.produced))
        .collect();
    assert_eq!(
        names,
        [("a{}".to_owned(), 1), ("a{\"level\": \"0\"}".to_owned(), 2)]
    );
    let shown = registry.to_string();
    assert!(
        shown.starts_with("a\n") && shown.contains("a level=0\n"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_channel_depth_is_read_at_snapshots_or_reported_exactly_on_request() {
    for (metrics, peak) in [
        (Metrics::new("sampled"), 0),
        (Metrics::with_exact_depth("exact"), 3),
    ] {
        let (tx, rx) = pc_core::channel::Builder::bounded(8)
            .probe(metrics.probe())
            .build::<u32>()
            .expect("valid");
        tx.send_all(0..3).await.expect("open");
        for _ in 0..3 {
            rx.recv().await.expect("sent");
        }
        tx.send(3).await.expect("open");
        let s = metrics.snapshot();
        assert_eq!((s.depth, s.peak_depth), (1, peak.max(1)), "{}", s.name);
    }
}

/// Since-start quantiles keep every value; the recent ones only the last minute's, estimated
/// within their fixed bucket.
#[tokio::test(start_paused = true)]
async fn recent_quantiles_cover_the_last_minute() {
    let metrics = Metrics::new("window");
    for _ in 0..100 {
        metrics.waited(WaitKind::Queue, Duration::from_millis(1));
    }
    let first = metrics.snapshot().latency["queue"].clone();
    // 100 values in (0.5 ms, 1 ms]: the median halfway through, the 99th near its top.
    assert_eq!(
        (first.recent.count, first.recent.p50, first.recent.p99),
        (100, 750_000, 995_000)
    );
    // A snapshot a second for 66 s (the window reaches back 60 to 65 s), then 10 slower waits.
    for _ in 0..66 {
        tokio::time::advance(Duration::from_secs(1)).await;
        metrics.snapshot();
    }
    for _ in 0..10 {
        metrics.waited(WaitKind::Queue, Duration::from_millis(20));
    }
    let later = metrics.snapshot().latency["queue"].clone();
    assert_eq!(later.count, 110);
    // 10 values in (10 ms, 25 ms]: the median halfway, the largest capped at the max (20 ms).
    assert_eq!(
        (later.recent.count, later.recent.p50, later.recent.p99),
        (10, 17_500_000, 20_000_000)
    );
    // Since the start, the median is still the 1 ms waits.
    assert!(later.p50 < 1_100_000, "{later:?}");
    // A quiet minute: nothing recent, the since-start numbers unchanged.
    for _ in 0..66 {
        tokio::time::advance(Duration::from_secs(1)).await;
        metrics.snapshot();
    }
    let quiet = metrics.snapshot().latency["queue"].clone();
    assert_eq!(quiet.recent, Recent::default());
    assert_eq!((quiet.count, quiet.max), (110, 20_000_000));
}

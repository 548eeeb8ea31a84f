//! The ways out: Prometheus text (checked by `promtool` when installed), the tracing reporter,
//! and the bridge to the `metrics` facade.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc_core::{BlockKind, BuildError, DropReason, FailReason, Probe, WaitKind};
mod support;

use pc_metrics::{BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_NS, Registry, Reporter};

/// A registry with two labelled queues and every kind of number.
fn registry() -> Registry {
    let registry = Registry::new();
    let high = registry.metrics_with("jobs", [("level", "0")]);
    let low = registry.metrics_with("jobs", [("level", "1")]);
    high.produced(5);
    high.consumed(5);
    low.produced(7);
    low.consumed(2);
    low.depth(5);
    low.dropped(2, DropReason::Shed);
    low.failed(1, FailReason::Error);
    low.batched(2);
    high.waited(WaitKind::Queue, Duration::from_micros(250));
    high.waited(WaitKind::Processing, Duration::from_millis(3));
    high.described(BlockKind::PriorityChannel, Some(8));
    low.described(BlockKind::PriorityChannel, None);
    registry.metrics("pool").failed(3, FailReason::Panicked);
    let orders = registry.metrics("orders");
    orders.backlog(0, 3, Some(7));
    orders.backlog(1, 0, None);
    orders.backlog(0, 4, Some(6));
    registry
}

#[test]
fn prometheus_text_has_each_family_once_and_every_series() {
    let text = registry().render_prometheus();
    for family in [
        "pc_produced_total",
        "pc_consumed_total",
        "pc_dropped_total",
        "pc_failed_total",
        "pc_depth",
        "pc_wait_seconds",
        "pc_batch_size",
    ] {
        assert_eq!(
            text.matches(&format!("# TYPE {family} ")).count(),
            1,
            "{family} in\n{text}"
        );
    }
    for line in [
        r#"pc_produced_total{queue="jobs",level="0"} 5"#,
        r#"pc_produced_total{queue="jobs",level="1"} 7"#,
        r#"pc_produced_total{queue="pool"} 0"#,
        r#"pc_dropped_total{queue="jobs",level="1",reason="shed"} 2"#,
        r#"pc_failed_total{queue="pool",reason="panicked"} 3"#,
        r#"pc_in_flight{queue="jobs",level="1"} 3"#,
        r#"pc_wait_seconds_count{queue="jobs",level="0",kind="processing"} 1"#,
        r#"pc_wait_seconds_sum{queue="jobs",level="0",kind="queue"} 0.00025"#,
        r#"pc_batch_size_bucket{queue="jobs",level="1",le="1"} 0"#,
        r#"pc_batch_size_bucket{queue="jobs",level="1",le="2"} 1"#,
        r#"pc_batch_size_bucket{queue="jobs",level="1",le="10000"} 1"#,
        r#"pc_batch_size_bucket{queue="jobs",level="1",le="+Inf"} 1"#,
        r#"pc_batch_size_sum{queue="jobs",level="1"} 2"#,
        // Cumulative counts, `le` in seconds; a value at a bound counts in its bucket.
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="queue",le="0.0001"} 0"#,
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="queue",le="0.00025"} 1"#,
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="processing",le="0.0025"} 0"#,
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="processing",le="0.005"} 1"#,
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="processing",le="60"} 1"#,
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="processing",le="+Inf"} 1"#,
        r#"pc_wait_seconds_bucket{queue="jobs",level="0",kind="queue",le="0.000001"} 0"#,
        r#"pc_waiting{queue="pool",side="producer"} 0"#,
        r#"pc_block_info{queue="jobs",level="0",kind="priority_channel"} 1"#,
        r#"pc_capacity{queue="jobs",level="0"} 8"#,
        // The latest report of each partition; no lag where the server could not tell.
        r#"pc_backlog_pending{queue="orders",partition="0"} 4"#,
        r#"pc_backlog_pending{queue="orders",partition="1"} 0"#,
        r#"pc_backlog_lag{queue="orders",partition="0"} 6"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(!text.contains(r#"pc_backlog_lag{queue="orders",partition="1"}"#));
    for (family, kind) in [
        ("pc_backlog_pending", "gauge"),
        ("pc_backlog_lag", "gauge"),
        ("pc_wait_seconds", "histogram"),
        ("pc_batch_size", "histogram"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} {kind}\n")),
            "{family}"
        );
    }
    // Every bound and +Inf, for each of the three histograms.
    let buckets = |family: &str| text.matches(&format!("{family}_bucket{{")).count();
    assert_eq!(
        buckets("pc_wait_seconds"),
        2 * (LATENCY_BUCKETS_NS.len() + 1)
    );
    assert_eq!(buckets("pc_batch_size"), BATCH_SIZE_BUCKETS.len() + 1);
}

/// `promtool check metrics` (Debian package `prometheus`) parses and lints the text.
#[test]
fn promtool_accepts_the_text() {
    support::promtool_accepts(&registry().render_prometheus());
}

/// Collects what a `tracing` fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_reporter_emits_one_event_per_queue_per_period() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let registry = registry();
    let reporter = Reporter::new(registry.clone(), Duration::from_secs(5))
        .expect("valid")
        .spawn();
    tokio::time::sleep(Duration::from_millis(4_900)).await;
    assert!(
        captured.0.lock().expect("ok").is_empty(),
        "nothing before one period"
    );
    tokio::time::sleep(Duration::from_millis(10_200)).await; // ticks at 5, 10 and 15 s
    reporter.stop().await;
    tokio::time::sleep(Duration::from_secs(10)).await;

    let text = String::from_utf8(captured.0.lock().expect("ok").clone()).expect("utf-8");
    let events: Vec<&str> = text.lines().collect();
    assert_eq!(events.len(), 4 * 3, "four queues, three periods:\n{text}");
    assert!(events.iter().all(|e| e.contains("pc_metrics")), "{text}");
    assert_eq!(
        events
            .iter()
            .filter(|e| e.contains("queue=jobs produced=7 consumed=2 dropped=2 failed=1 depth=5"))
            .count(),
        3,
        "{text}"
    );
}

#[test]
fn a_reporter_needs_a_period() {
    assert_eq!(
        Reporter::new(Registry::new(), Duration::ZERO).unwrap_err(),
        BuildError::Zero { setting: "every" }
    );
}

#[cfg(feature = "metrics-rs")]
#[test]
fn the_bridge_hands_the_numbers_to_the_metrics_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let snapshots = registry().snapshot();
    metrics::with_local_recorder(&recorder, || pc_metrics::bridge::publish(&snapshots));

    let values: Vec<(String, Vec<String>, DebugValue)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect();
    let find = |name: &str, labels: &[&str]| {
        values
            .iter()
            .find(|(n, l, _)| n == name && l.iter().map(String::as_str).eq(labels.iter().copied()))
            .map(|(_, _, value)| value)
    };
    assert_eq!(
        find("pc_produced_total", &["queue=jobs", "level=1"]),
        Some(&DebugValue::Counter(7))
    );
    assert_eq!(
        find(
            "pc_dropped_total",
            &["queue=jobs", "level=1", "reason=shed"]
        ),
        Some(&DebugValue::Counter(2))
    );
    assert_eq!(
        find("pc_failed_total", &["queue=pool", "reason=panicked"]),
        Some(&DebugValue::Counter(3))
    );
    assert_eq!(
        find("pc_depth", &["queue=jobs", "level=1"]),
        Some(&DebugValue::Gauge(5.0.into()))
    );
    assert!(
        find(
            "pc_wait_seconds",
            &["queue=jobs", "level=0", "kind=queue", "quantile=0.99"]
        )
        .is_some()
    );
}

#[cfg(feature = "metrics-rs")]
#[tokio::test(start_paused = true)]
async fn a_reporter_can_also_feed_the_metrics_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The reporter's task runs on this thread (current-thread runtime), under this recorder.
    let _recorder = metrics::set_default_local_recorder(&recorder);
    let reporter = Reporter::new(registry(), Duration::from_secs(1))
        .expect("valid")
        .to_metrics_rs()
        .spawn();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    reporter.stop().await;
    // One snapshot: taking one resets what it read.
    let mut produced: Vec<DebugValue> = Vec::new();
    let mut backlog: Vec<(String, DebugValue)> = Vec::new();
    for (key, .., value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name();
        if name == "pc_produced_total" {
            produced.push(value);
        } else if name.starts_with("pc_backlog") {
            let partition = key
                .key()
                .labels()
                .find(|label| label.key() == "partition")
                .map(|label| label.value().to_owned())
                .unwrap_or_default();
            backlog.push((format!("{name}/{partition}"), value));
        }
    }
    assert_eq!(
        produced.len(),
        4,
        "one series per queue after one report: {produced:?}"
    );
    assert!(produced.contains(&DebugValue::Counter(7)), "{produced:?}");
    for series in [
        ("pc_backlog_pending/0", 4.0),
        ("pc_backlog_pending/1", 0.0),
        ("pc_backlog_lag/0", 6.0),
    ] {
        assert!(
            backlog.contains(&(series.0.to_owned(), DebugValue::Gauge(series.1.into()))),
            "{series:?} in {backlog:?}"
        );
    }
    assert_eq!(backlog.len(), 3, "no lag where unknown: {backlog:?}");
}

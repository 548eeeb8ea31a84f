//! Metrics at each edge of the checklist (`shared/EDGES.md`) that applies to a probe and its
//! exports, one section per edge.

use std::time::Duration;

use pc_core::probe::WaitTimer;
use pc_core::{DropReason, Probe, WaitKind};
use pc_metrics::{BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_NS, Metrics, Registry, Reporter};

// ## 1. Cancellation: a wait announced and then cancelled is ended exactly once.

#[test]
fn a_cancelled_wait_ends_once() {
    let metrics = Metrics::new("edges");
    let probe = metrics.probe();
    {
        let _waiting = WaitTimer::timed(Some(&probe), WaitKind::SendBlocked);
        assert_eq!(metrics.snapshot().waiting_producers, 1);
    }
    assert_eq!(metrics.snapshot().waiting_producers, 0);
}

// ## 4. Extreme durations

#[test]
fn waits_of_zero_and_max_are_recorded_without_panicking() {
    let metrics = Metrics::new("edges");
    metrics.waited(WaitKind::Processing, Duration::ZERO);
    metrics.waited(WaitKind::Processing, Duration::MAX);
    let latency = metrics.snapshot().latency_of(WaitKind::Processing).unwrap();
    assert_eq!(latency.count, 2);
    // The longest wait is kept exactly (to the nanosecond counts' top), not wrapped to
    // something small nor clamped to the histogram's range.
    assert_eq!(latency.max, Duration::from_nanos(u64::MAX));
    assert_eq!(latency.p50, Duration::from_nanos(1));
}

#[tokio::test(start_paused = true)]
async fn a_reporter_period_of_zero_is_an_error_and_max_never_reports() {
    assert_eq!(
        Reporter::new(Registry::new(), Duration::ZERO)
            .unwrap_err()
            .setting(),
        "every"
    );
    let handle = Reporter::new(Registry::new(), Duration::MAX)
        .unwrap()
        .spawn();
    tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
    handle.stop().await;
}

// ## 5. Extreme numbers

#[test]
fn counts_reach_the_top_exactly() {
    let metrics = Metrics::new("edges");
    metrics.produced(u64::MAX - 1);
    metrics.produced(1);
    metrics.consumed(u64::MAX);
    metrics.depth(usize::MAX);
    metrics.batched(usize::MAX);
    let snapshot = metrics.snapshot();
    assert_eq!(snapshot.produced, u64::MAX);
    assert_eq!(snapshot.consumed, u64::MAX);
    assert_eq!(snapshot.in_flight, 0);
    assert_eq!(snapshot.peak_depth, usize::MAX as u64);
}

/// Defect: a wait longer than the latency histogram's range (one hour) was reported with a
/// `max` of about one hour, and any `max` was rounded to the histogram's resolution, where
/// `max` is documented as exact. The largest value is kept exactly, beside the histogram, and
/// no quantile passes it.
#[test]
fn the_largest_wait_and_batch_are_exact_past_the_histograms_range() {
    let metrics = Metrics::new("edges");
    let two_hours = Duration::from_secs(7200);
    metrics.waited(WaitKind::SendBlocked, Duration::from_nanos(1_234_567));
    let latency = metrics
        .snapshot()
        .latency_of(WaitKind::SendBlocked)
        .unwrap();
    assert_eq!(latency.max, Duration::from_nanos(1_234_567));
    assert!(latency.p50 <= latency.max && latency.p99 <= latency.max);
    metrics.waited(WaitKind::SendBlocked, two_hours);
    let latency = metrics
        .snapshot()
        .latency_of(WaitKind::SendBlocked)
        .unwrap();
    assert_eq!((latency.count, latency.max), (2, two_hours));
    metrics.waited(WaitKind::SendBlocked, Duration::MAX);
    let latency = metrics
        .snapshot()
        .latency_of(WaitKind::SendBlocked)
        .unwrap();
    assert_eq!(latency.max, Duration::from_nanos(u64::MAX));
    // Waits of zero: recorded, and no quantile says more than nothing.
    metrics.waited(WaitKind::RecvBlocked, Duration::ZERO);
    let latency = metrics
        .snapshot()
        .latency_of(WaitKind::RecvBlocked)
        .unwrap();
    assert_eq!(
        (latency.count, latency.p50, latency.max),
        (1, Duration::ZERO, Duration::ZERO)
    );
    metrics.batched(usize::MAX);
    let batches = metrics.snapshot().batch_sizes.unwrap();
    assert_eq!(batches.max, usize::MAX as u64);
}

/// The fixed buckets at their edges: zero, a bound exactly, one past it, past the last bound,
/// `Duration::MAX`; every value counted once, and the recent quantiles, estimated from the
/// buckets, never past the largest value.
#[test]
fn fixed_buckets_count_each_value_once_at_every_edge() {
    let metrics = Metrics::new("edges");
    let waits = [
        (Duration::ZERO, 0),
        (Duration::from_nanos(1_000), 0),
        (Duration::from_nanos(1_001), 1),
        (Duration::from_secs(60), LATENCY_BUCKETS_NS.len() - 1),
        (
            Duration::from_nanos(60_000_000_001),
            LATENCY_BUCKETS_NS.len(),
        ),
        (Duration::MAX, LATENCY_BUCKETS_NS.len()),
    ];
    for (wait, _) in waits {
        metrics.waited(WaitKind::Queue, wait);
    }
    let snapshot = metrics.snapshot();
    let queue = &snapshot.latency["queue"];
    let mut expected = vec![0; LATENCY_BUCKETS_NS.len() + 1];
    for (_, bucket) in waits {
        expected[bucket] += 1;
    }
    assert_eq!(queue.buckets, expected);
    assert_eq!((queue.count, queue.recent.count), (6, 6));
    // Half the values past the last bound: from the median up, the estimate is that bound.
    assert_eq!(
        queue.recent.p90,
        LATENCY_BUCKETS_NS[LATENCY_BUCKETS_NS.len() - 1]
    );
    assert_eq!(queue.recent.p99, queue.recent.p90);
    // Zero and a bound exactly share the first bucket: the lowest estimates lie within it.
    let small = Metrics::new("small");
    small.waited(WaitKind::Queue, Duration::ZERO);
    let only_zero = &small.snapshot().latency["queue"];
    assert_eq!(only_zero.buckets[0], 1);
    assert_eq!(only_zero.recent.p99, 0, "never above the largest value, 0");
    // Batch sizes: 0, a bound, past the last bound.
    for items in [0, 2, 3, usize::MAX] {
        metrics.batched(items);
    }
    let batches = metrics.snapshot().batch_sizes.expect("batches");
    let mut expected = vec![0; BATCH_SIZE_BUCKETS.len() + 1];
    expected[0] = 1;
    expected[1] = 1;
    expected[2] = 1;
    expected[BATCH_SIZE_BUCKETS.len()] = 1;
    assert_eq!(batches.buckets, expected);
}

/// Defect: items in flight were `produced - consumed - dropped`, with drops of items turned
/// away at the door (`Full`), which were never produced, taken off too: a full queue that
/// dropped incoming items said nothing was in flight. Only drops of items that were inside
/// count.
#[test]
fn items_turned_away_at_the_door_were_never_in_flight() {
    let metrics = Metrics::new("edges");
    metrics.produced(4);
    metrics.dropped(10, DropReason::Full);
    assert_eq!(metrics.snapshot().in_flight, 4);
    metrics.dropped(1, DropReason::Oldest);
    metrics.consumed(1);
    let snapshot = metrics.snapshot();
    assert_eq!((snapshot.in_flight, snapshot.dropped_total()), (2, 11));
}

// ## 6. User code that panics
//
// pc-metrics runs no user code: it is the probe other blocks call, often from threads where
// user code panics. What it must do is keep every count a panicking thread made.

/// A thread that counts and then panics: its counts stay (the thread's shard is handed back as
/// the thread unwinds and exits), and the probe serves every other thread as before.
#[test]
fn counts_of_a_thread_that_panicked_are_kept() {
    let metrics = Metrics::new("edges");
    let probe = metrics.probe();
    let counting = std::thread::spawn({
        let probe = probe.clone();
        move || {
            probe.produced(5);
            probe.consumed(2);
            panic!("user code panics after counting");
        }
    });
    assert!(counting.join().is_err());
    probe.produced(1);
    let snapshot = metrics.snapshot();
    assert_eq!((snapshot.produced, snapshot.consumed), (6, 2));
}

// ## 7. Shutdown in every state

/// Walk: `stop` takes `&self`: called twice at once, and again after, each call returns with the
/// reporter's task ended (it consumed the handle, so a cancelled stop could not be retried).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_reporter_stops_once_for_every_caller() {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = alive();
    let reporter = Reporter::new(Registry::new(), Duration::from_secs(1))
        .unwrap()
        .spawn();
    assert_eq!(alive(), before + 1);
    {
        let mut cancelled = tokio_test::task::spawn(reporter.stop());
        let _ = cancelled.poll();
    }
    tokio::join!(reporter.stop(), reporter.stop());
    assert_eq!(alive(), before);
    reporter.stop().await;
}

// ## 2. The abandoned registration does not apply: a probe registers no waker and holds no
// waiter; `waiting_counts_who_waits_now_even_when_a_wait_is_cancelled` (tests/metrics.rs)
// covers waits that end unpolled.

// ## 3. Fairness does not apply: a probe serves no waiters.

// ## 8. Bounded memory: tested in tests/metrics.rs (histograms of fixed bounds, rate samples
// at most one per 50 ms over 60 s, `counts_add_up_when_threads_outnumber_shards`).

// ## 9. Weak memory: tested in tests/metrics.rs (`counts_from_many_threads_add_up_exactly`);
// every count is a thread-owned shard or an atomic add, summed at snapshots.

// ## 10. Promises across composition: tested in the facade's tests/metrics.rs (one probe per
// block, exact counts through each).

// ## 11. Hidden order assumptions does not apply: counts and histograms do not depend on the
// order events arrive in.

// ## 12. Errors that tell the truth: tested in tests/exports.rs (refusals exported by their
// `DropReason` and `FailReason`, never as a close).

// ## The randomized contract test does not apply: pc-metrics is no producer or consumer. The
// test checks each block's probe calls against the block's own stats, which is what a
// `Metrics` hears.

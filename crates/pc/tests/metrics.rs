//! Every block reports through `.probe(...)`: one `pc::metrics::Metrics` per block, with the
//! exact counts each should see.
#![cfg(all(
    feature = "metrics",
    feature = "priority",
    feature = "backpressure",
    feature = "ratelimit",
    feature = "batch",
    feature = "window",
    feature = "pool"
))]

use std::time::Duration;

use futures_util::StreamExt;
use pc::metrics::{Metrics, Registry};
use pc::{DropReason, FailReason, WaitKind, channel};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `max` lies within hdrhistogram's two significant figures of `exact`.
fn about(max: Duration, exact: Duration) -> bool {
    max >= exact && max.as_nanos() * 100 <= exact.as_nanos() * 101
}

#[tokio::test(start_paused = true)]
async fn channel_reports_sends_receives_depth_and_both_sides_waiting() {
    let metrics = Metrics::new("channel");
    let (tx, rx) = channel::Builder::bounded(4)
        .probe(metrics.probe())
        .build::<u32>()
        .unwrap();
    let producer = tokio::spawn(async move { tx.send_all(0..6).await });
    tokio::task::yield_now().await;
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.depth, s.waiting_producers), (4, 4, 1));

    tokio::time::sleep(secs(1)).await;
    for expected in 0..6 {
        assert_eq!(rx.recv().await.unwrap(), expected);
    }
    assert_eq!(producer.await.unwrap().unwrap(), 6);
    assert!(rx.recv().await.is_err(), "closed when the producer ended");

    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed, s.in_flight), (6, 6, 0));
    assert_eq!((s.depth, s.peak_depth), (0, 4));
    assert_eq!((s.waiting_producers, s.waiting_consumers), (0, 0));
    let blocked = s.latency_of(WaitKind::SendBlocked).unwrap();
    assert_eq!(blocked.count, 1);
    assert!(about(blocked.max, secs(1)), "{blocked:?}");
    // Consumers' waits are counted while they last, not timed.
    assert!(s.latency_of(WaitKind::RecvBlocked).is_none());
}

#[tokio::test]
async fn priority_reports_the_channel_and_each_level() {
    use pc::priority::{PriorityChannel, WhenFull};

    let registry = Registry::new();
    let total = registry.metrics("jobs");
    let levels: Vec<_> = ["0", "1"]
        .into_iter()
        .map(|level| registry.metrics_with("jobs", [("level", level)]))
        .collect();
    let (tx, rx) = PriorityChannel::builder::<&str>(2)
        .capacity(2)
        .when_full(WhenFull::ShedLowest)
        .probe(total.probe())
        .level_probes(levels.iter().map(|m| m.probe()))
        .build()
        .unwrap();
    tx.try_send("low a", 1).unwrap();
    tx.try_send("low b", 1).unwrap();
    tx.try_send("high", 0).unwrap(); // sheds "low a"
    assert_eq!(rx.recv().await.unwrap(), ("high", 0));
    let s = total.snapshot();
    assert_eq!(
        (s.produced, s.consumed, s.depth, s.peak_depth),
        (3, 1, 1, 2)
    );
    assert_eq!(s.dropped_for(DropReason::Shed), 1);

    let high = levels[0].snapshot();
    assert_eq!((high.produced, high.consumed, high.depth), (1, 1, 0));
    let low = levels[1].snapshot();
    assert_eq!(
        (low.produced, low.consumed, low.depth, low.peak_depth),
        (2, 0, 1, 2)
    );
    assert_eq!(low.dropped_for(DropReason::Shed), 1);

    drop(rx); // "low b" is stranded
    assert_eq!(levels[1].snapshot().dropped_for(DropReason::Closed), 1);
    assert_eq!(total.snapshot().dropped_total(), 2);
}

#[tokio::test]
async fn bounded_queue_reports_drops_by_reason() {
    use pc::backpressure::{BoundedQueue, Overflow};

    for (overflow, reason) in [
        (Overflow::DropIncoming, DropReason::Full),
        (Overflow::DropOldest, DropReason::Oldest),
    ] {
        let metrics = Metrics::new("queue");
        let (tx, rx) = BoundedQueue::builder::<u32>(2)
            .overflow(overflow)
            .probe(metrics.probe())
            .build()
            .unwrap();
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        rx.recv().await.unwrap();
        let s = metrics.snapshot();
        assert_eq!(s.dropped_for(reason), 3, "{overflow:?}");
        assert_eq!(
            (s.consumed, s.depth, s.peak_depth),
            (1, 1, 2),
            "{overflow:?}"
        );
        assert_eq!(s.produced, if reason == DropReason::Full { 2 } else { 5 });
        // Defect: the three items turned away at the door were taken off the items in flight
        // (never produced, they were never in): `DropIncoming` said 0 in flight with 1 queued.
        assert_eq!(s.in_flight, 1, "{overflow:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_adaptive_pacer_reports_its_waits_as_throttled() {
    use pc::backpressure::AdaptiveRate;

    let metrics = Metrics::new("pacer");
    let rate = AdaptiveRate::builder()
        .initial(10.0)
        .min(10.0)
        .max(10.0)
        .probe(metrics.probe())
        .build()
        .unwrap();
    for _ in 0..4 {
        rate.pace(0.5).await;
    }
    let s = metrics.snapshot();
    // The first send's slot is now; each later one waits 100 ms.
    let throttled = s.latency_of(WaitKind::Throttled).unwrap();
    assert_eq!(throttled.count, 3);
    assert!(
        about(throttled.max, Duration::from_millis(100)),
        "{throttled:?}"
    );
    assert_eq!(s.waiting_throttled, 0);
}

#[tokio::test(start_paused = true)]
async fn rate_limiters_report_grants_refusals_and_throttled_waits() {
    use pc::ratelimit::{Gcra, KeyedLimiter, TokenBucket};

    let metrics = Metrics::new("bucket");
    let bucket = TokenBucket::builder()
        .rate(10.0)
        .burst(2)
        .probe(metrics.probe())
        .build()
        .unwrap();
    for _ in 0..4 {
        bucket.acquire(1).await.unwrap();
    }
    assert!(bucket.try_acquire(1).is_err());
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed), (4, 4));
    assert_eq!(s.dropped_for(DropReason::Full), 1);
    let throttled = s.latency_of(WaitKind::Throttled).unwrap();
    assert_eq!(throttled.count, 2, "the third and fourth permits waited");
    assert!(
        about(throttled.max, Duration::from_millis(100)),
        "{throttled:?}"
    );
    assert_eq!(s.waiting_throttled, 0);

    let metrics = Metrics::new("gcra");
    let gcra = Gcra::builder()
        .rate(1.0)
        .burst(3)
        .probe(metrics.probe())
        .build()
        .unwrap();
    let granted = (0..5).filter(|_| gcra.try_acquire(1).is_ok()).count();
    let s = metrics.snapshot();
    assert_eq!((granted as u64, s.produced, s.dropped_total()), (3, 3, 2));
    let metrics = Metrics::new("keyed");
    let keyed = KeyedLimiter::builder()
        .rate(1.0)
        .burst(2)
        .probe(metrics.probe())
        .build::<&str>()
        .unwrap();
    let granted = ["a", "a", "a", "b", "b", "b", "b"]
        .iter()
        .filter(|key| keyed.try_acquire(key, 1).is_ok())
        .count();
    let s = metrics.snapshot();
    assert_eq!((granted as u64, s.produced, s.dropped_total()), (4, 4, 3));
}

#[tokio::test(start_paused = true)]
async fn batcher_and_processor_report_sizes_linger_processing_and_failures() {
    use pc::batch::{BatchExt, BatchProcessor, Batcher};

    let metrics = Metrics::new("batcher");
    let batcher = Batcher::builder(3, secs(1))
        .probe(metrics.probe())
        .build()
        .unwrap();
    let batches: Vec<Vec<u32>> = futures_util::stream::iter(0..7)
        .batch(batcher)
        .collect()
        .await;
    assert_eq!(batches.len(), 3);
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed), (7, 7));
    let sizes = s.batch_sizes.as_ref().unwrap();
    assert_eq!((sizes.count, sizes.sum, sizes.max), (3, 7, 3));
    assert_eq!(s.latency_of(WaitKind::Linger).unwrap().count, 3);

    let metrics = Metrics::new("processor");
    let batcher = Batcher::builder(4, secs(1)).build().unwrap();
    let processor = BatchProcessor::builder(batcher)
        .probe(metrics.probe())
        .build_per_item(|batch: Vec<u32>| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, String>(
                batch
                    .into_iter()
                    .map(|n| if n % 5 == 0 { Err(n) } else { Ok(n * 2) })
                    .collect(),
            )
        })
        .unwrap();
    let results: Vec<_> =
        futures_util::future::join_all((1..=8).map(|n| processor.process(n))).await;
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    processor.close_and_wait().await;
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed), (8, 8));
    assert_eq!(s.failed_for(FailReason::Error), 1);
    let processing = s.latency_of(WaitKind::Processing).unwrap();
    assert_eq!(processing.count, 2);
    assert!(
        about(processing.max, Duration::from_millis(50)),
        "{processing:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn windows_report_items_and_late_drops() {
    use pc::window::{Count, Window, WindowExt};

    let metrics = Metrics::new("window");
    let window = Window::tumbling(secs(10))
        .event_time(|at: &u64| secs(*at), secs(0))
        .probe(metrics.probe())
        .aggregate(Count)
        .build()
        .unwrap();
    // 25 moves the watermark past [0, 10) and [10, 20): 3 and 12 then arrive too late.
    let results: Vec<_> = futures_util::stream::iter([1, 11, 25, 3, 12, 26])
        .window(window)
        .collect()
        .await;
    assert_eq!(results.len(), 3);
    let s = metrics.snapshot();
    assert_eq!(s.produced, 6);
    assert_eq!(s.dropped_for(DropReason::Late), 2);
}

#[tokio::test(start_paused = true)]
async fn pipelines_report_items_in_and_out_runs_failures_and_skips() {
    use pc::pool::{OnError, Pipeline};

    let metrics = Metrics::new("pipeline");
    let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(1..=10u32))
        .probe(metrics.probe())
        .on_error(OnError::Skip)
        .stage(2, 4, |n: u32| async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if n % 4 == 3 { Err(n) } else { Ok(n) }
        })
        .and_then(|p| p.stage(1, 4, |n: u32| async move { Ok(n * 2) }))
        .unwrap()
        .ordered()
        .collect()
        .await;
    assert_eq!(out.len(), 8, "3 and 7 failed and were skipped");
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed, s.in_flight), (10, 8, 0));
    assert_eq!(s.failed_for(FailReason::Error), 2);
    assert_eq!(s.dropped_for(DropReason::Skipped), 2);
    // Ten runs of the first stage, eight of the second.
    assert_eq!(s.latency_of(WaitKind::Processing).unwrap().count, 18);
}

#[tokio::test(start_paused = true)]
async fn pools_report_runs_queue_waits_and_failures_by_reason() {
    use pc::pool::WorkerPool;

    let metrics = Metrics::new("pool");
    let pool = WorkerPool::builder(|n: u32| async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        match n {
            3 | 4 => Err("bad input"),
            5 => panic!("job 5"),
            6 => {
                tokio::time::sleep(secs(60)).await;
                Ok(n)
            }
            n => Ok(n),
        }
    })
    .workers(2)
    .timeout(secs(1))
    .probe(metrics.probe())
    .build()
    .unwrap();
    let mut handles = Vec::new();
    for n in 0..10 {
        handles.push(pool.submit(n).await.unwrap());
    }
    let outcomes = futures_util::future::join_all(handles).await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 6);
    pool.close_and_wait().await;
    let s = metrics.snapshot();
    assert_eq!((s.produced, s.consumed, s.in_flight), (10, 10, 0));
    assert_eq!(s.failed_for(FailReason::Error), 2);
    assert_eq!(s.failed_for(FailReason::Panicked), 1);
    assert_eq!(s.failed_for(FailReason::TimedOut), 1);
    assert_eq!(s.latency_of(WaitKind::Processing).unwrap().count, 10);
    assert_eq!(s.latency_of(WaitKind::Queue).unwrap().count, 10);
}

/// Each block tells its probe what it is and its capacity when built, and the new capacity
/// when it changes: the snapshot's `kind` and `capacity`.
#[tokio::test]
async fn every_block_tells_its_probe_its_kind_and_capacity() {
    use pc::backpressure::{AdaptiveRate, BoundedQueue};
    use pc::batch::{BatchProcessor, Batcher};
    use pc::pool::{Pipeline, WorkerPool};
    use pc::priority::PriorityChannel;
    use pc::ratelimit::{Gcra, KeyedLimiter, TokenBucket};
    use pc::window::{Count, Window};

    let registry = Registry::new();
    let probe = |name: &str| registry.metrics(name).probe();
    let (channel_tx, _channel_rx) = channel::Builder::bounded(8)
        .probe(probe("channel"))
        .build::<u32>()
        .unwrap();
    let (_unbounded_tx, _unbounded_rx) = channel::Builder::unbounded()
        .probe(probe("unbounded"))
        .build::<u32>()
        .unwrap();
    let (queue_tx, _queue_rx) = BoundedQueue::builder::<u32>(16)
        .probe(probe("queue"))
        .build()
        .unwrap();
    let (priority_tx, _priority_rx) = PriorityChannel::builder::<u32>(2)
        .capacity(32)
        .probe(probe("priority"))
        .build()
        .unwrap();
    let _pacer = AdaptiveRate::builder()
        .probe(probe("pacer"))
        .build()
        .unwrap();
    let _bucket = TokenBucket::builder()
        .rate(10.0)
        .burst(1)
        .probe(probe("bucket"))
        .build()
        .unwrap();
    let _gcra = Gcra::builder()
        .rate(10.0)
        .burst(1)
        .probe(probe("gcra"))
        .build()
        .unwrap();
    let _keyed = KeyedLimiter::builder()
        .rate(10.0)
        .burst(1)
        .probe(probe("keyed"))
        .build::<u32>()
        .unwrap();
    let batcher = Batcher::<u32>::builder(4, secs(1))
        .probe(probe("batcher"))
        .build()
        .unwrap();
    let processor = BatchProcessor::builder(Batcher::builder(4, secs(1)).build().unwrap())
        .intake(64)
        .probe(probe("processor"))
        .build(|batch: Vec<u32>| async move { Ok::<_, ()>(batch) })
        .unwrap();
    let _window: Window<u32, Count> = Window::tumbling(secs(1))
        .aggregate(Count)
        .probe(probe("window"))
        .build()
        .unwrap();
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .capacity(128)
        .probe(probe("pool"))
        .build()
        .unwrap();
    let _pipeline = Pipeline::from_stream(futures_util::stream::iter(0..1u32))
        .probe(probe("pipeline"))
        .stage(1, 4, |n: u32| async move { Ok::<_, ()>(n) });
    drop(batcher);

    let described = |registry: &Registry| -> Vec<(String, Option<String>, Option<u64>)> {
        registry
            .snapshot()
            .into_iter()
            .map(|s| (s.name, s.kind, s.capacity))
            .collect()
    };
    let kind = |k: &str| Some(k.to_owned());
    let expected = |channel: u64, queue: u64, priority: u64| {
        vec![
            ("channel".to_owned(), kind("channel"), Some(channel)),
            ("unbounded".to_owned(), kind("channel"), None),
            ("queue".to_owned(), kind("bounded_queue"), Some(queue)),
            (
                "priority".to_owned(),
                kind("priority_channel"),
                Some(priority),
            ),
            ("pacer".to_owned(), kind("adaptive_producer"), None),
            ("bucket".to_owned(), kind("rate_limiter"), None),
            ("gcra".to_owned(), kind("rate_limiter"), None),
            ("keyed".to_owned(), kind("rate_limiter"), None),
            ("batcher".to_owned(), kind("batcher"), None),
            ("processor".to_owned(), kind("batch_processor"), Some(64)),
            ("window".to_owned(), kind("window"), None),
            ("pool".to_owned(), kind("worker_pool"), Some(128)),
            ("pipeline".to_owned(), kind("pipeline"), None),
        ]
    };
    assert_eq!(described(&registry), expected(8, 16, 32));
    channel_tx.set_capacity(9).unwrap();
    queue_tx.set_capacity(17).unwrap();
    priority_tx.set_capacity(33).unwrap();
    assert_eq!(described(&registry), expected(9, 17, 33));
    // The Prometheus text carries both.
    let text = registry.render_prometheus();
    assert!(text.contains("pc_block_info{queue=\"pool\",kind=\"worker_pool\"} 1\n"));
    assert!(text.contains("pc_capacity{queue=\"queue\"} 17\n"));
    processor.close_and_wait().await;
    pool.close_and_wait().await;
}

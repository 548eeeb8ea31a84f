//! The tour's scenarios under paused time: the same code the tour plays, with exact counts.
#![cfg(feature = "metrics")]

#[path = "../examples/tour/scenarios.rs"]
mod scenarios;

use std::future::Future;
use std::time::Duration;

/// Under paused time a runtime with nothing to do jumps to the next timer, so this virtual
/// deadline turns a lost wake-up into an immediate failure instead of a hang.
async fn within_paused<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(365 * 24 * 3600), fut)
        .await
        .expect("the scenario hung")
}

#[tokio::test(start_paused = true)]
async fn csharp_basic_channel() {
    let report = within_paused(scenarios::csharp_basic_channel())
        .await
        .unwrap();
    assert_eq!(report.items, 1000);
    // The consumer sets the pace: 2 ms per message, after the first arrives.
    assert_eq!(report.wall, Duration::from_millis(2000));
}

#[tokio::test(start_paused = true)]
async fn csharp_multi_producer_multi_consumer() {
    let report = scenarios::csharp_multi_producer_multi_consumer()
        .await
        .unwrap();
    assert_eq!(report.items, 300);
    assert!(report.peak_depth <= 1000);
}

#[cfg(feature = "priority")]
#[tokio::test(start_paused = true)]
async fn csharp_priority() {
    let report = within_paused(scenarios::csharp_priority(1)).await.unwrap();
    assert_eq!(report.items, 250);
    // The slowest producer (the seed's priority 5) sends 50 messages 50 ms apart.
    assert_eq!(report.wall, Duration::from_millis(2500));
    assert!(report.peak_depth <= 200);
}

#[cfg(feature = "batch")]
#[tokio::test(start_paused = true)]
async fn csharp_batch_processor() {
    let report = within_paused(scenarios::csharp_batch_processor())
        .await
        .unwrap();
    assert_eq!(report.items, 250);
    // 25 full batches of 10, one at a time, 50 ms each: no batch waited for its linger.
    assert_eq!(report.wall, Duration::from_millis(25 * 50));
}

#[cfg(feature = "window")]
#[tokio::test(start_paused = true)]
async fn csharp_sliding_window() {
    let report = within_paused(scenarios::csharp_sliding_window(1))
        .await
        .unwrap();
    assert_eq!(report.items, 100);
}

#[cfg(feature = "window")]
#[tokio::test(start_paused = true)]
async fn csharp_sliding_window_played_faster_checks_the_same() {
    let report = within_paused(scenarios::csharp_sliding_window(5))
        .await
        .unwrap();
    assert_eq!(report.items, 100);
}

#[cfg(feature = "pool")]
#[tokio::test(start_paused = true)]
async fn go_basic_worker_pool() {
    let report = within_paused(scenarios::go_basic_worker_pool(1))
        .await
        .unwrap();
    assert_eq!(report.items, 10);
    // Rounds of 3, 3, 3 and 1 jobs of 500 ms.
    assert_eq!(report.wall, Duration::from_millis(2000));
}

#[cfg(feature = "pool")]
#[tokio::test(start_paused = true)]
async fn go_advanced_worker_pool() {
    let report = within_paused(scenarios::go_advanced_worker_pool(1))
        .await
        .unwrap();
    assert_eq!(report.items, 5);
    // Task 5 starts when task 2 ends, at 100 ms, and takes 2 s.
    assert_eq!(report.wall, Duration::from_millis(2100));
    assert_eq!(report.errors, 1, "task 3 fails");
    let (kind, p99) = report.p99.unwrap();
    assert_eq!(kind, pc::WaitKind::Processing);
    assert!(within_a_percent(p99, Duration::from_secs(2)), "{p99:?}");
}

/// `measured` is `exact` to the histogram's two significant figures.
fn within_a_percent(measured: Duration, exact: Duration) -> bool {
    measured >= exact && measured.as_nanos() * 100 <= exact.as_nanos() * 101
}

#[cfg(feature = "pool")]
#[tokio::test(start_paused = true)]
async fn go_basic_pipeline() {
    let report = within_paused(scenarios::go_basic_pipeline()).await.unwrap();
    assert_eq!((report.items, report.errors), (5, 0));
}

#[cfg(feature = "pool")]
#[tokio::test(start_paused = true)]
async fn go_error_pipeline() {
    let report = within_paused(scenarios::go_error_pipeline()).await.unwrap();
    assert_eq!((report.items, report.errors), (5, 1));
}

#[cfg(feature = "pool")]
#[tokio::test(start_paused = true)]
async fn go_fan_out_fan_in() {
    let report = within_paused(scenarios::go_fan_out_fan_in(1))
        .await
        .unwrap();
    assert_eq!(report.items, 10);
}

#[cfg(feature = "pool")]
#[tokio::test(start_paused = true)]
async fn go_load_balancer() {
    let report = within_paused(scenarios::go_load_balancer(1)).await.unwrap();
    assert_eq!(report.items, 20);
    assert_eq!(report.dropped, 0);
    let failing = (0..20u64)
        .filter(|&item| fastrand::Rng::with_seed(item).u32(0..10) == 0)
        .count() as u64;
    assert_eq!(
        report.errors, failing,
        "each failure counted by the pool's probe"
    );
}

#[tokio::test(start_paused = true)]
async fn csharp_capacity_comparison() {
    let outcomes = within_paused(scenarios::csharp_capacity_comparison()).await;
    assert_eq!(outcomes.len(), 4);
    for (outcome, capacity) in outcomes.into_iter().zip([10, 100, 1000, 10_000]) {
        let report = outcome.unwrap();
        assert_eq!(report.items, 10_000);
        assert!(
            report.peak_depth >= 1 && report.peak_depth <= capacity,
            "{report:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn go_basic_producer_consumer() {
    let report = within_paused(scenarios::go_basic_producer_consumer())
        .await
        .unwrap();
    assert!(report.items > 0);
    assert!(report.peak_depth <= 10);
}

#[cfg(feature = "ratelimit")]
#[tokio::test(start_paused = true)]
async fn go_token_bucket() {
    let report = within_paused(scenarios::go_token_bucket(1)).await.unwrap();
    // A full bucket of 5, then 2 a second; the first job asks at 200 ms, so the 34th permit
    // is due at 14.7 s and the 35th at 15.2 s, after the deadline.
    assert_eq!(report.items, 34);
    assert_eq!(report.wall, Duration::from_secs(15));
}

#[cfg(feature = "ratelimit")]
#[tokio::test(start_paused = true)]
async fn go_token_bucket_played_faster_counts_the_same() {
    let report = within_paused(scenarios::go_token_bucket(3)).await.unwrap();
    assert_eq!(report.items, 34);
    assert_eq!(report.wall, Duration::from_secs(5));
}

#[cfg(feature = "backpressure")]
#[tokio::test(start_paused = true)]
async fn go_backpressure_queue() {
    // Ticks at 50, ..., 9,950 ms; two consumers at 100 ms keep up, so nothing is handed back
    // and the queue never holds two.
    let report = within_paused(scenarios::go_backpressure_queue(
        1,
        Duration::from_millis(100),
    ))
    .await
    .unwrap();
    assert_eq!(
        (report.items, report.dropped, report.peak_depth),
        (199, 0, 1)
    );
    // Consumers at 150 ms take 133 items; the queue fills, 31 sends time out and hand back.
    let report = within_paused(scenarios::go_backpressure_queue(
        1,
        Duration::from_millis(150),
    ))
    .await
    .unwrap();
    assert_eq!(
        (report.items, report.dropped, report.peak_depth),
        (133, 31, 5)
    );
}

#[cfg(feature = "backpressure")]
#[tokio::test(start_paused = true)]
async fn csharp_adaptive_producer() {
    let (report, trace) = within_paused(scenarios::csharp_adaptive_producer(1))
        .await
        .unwrap();
    assert_eq!(report.items, 2_000);
    assert!(report.peak_depth <= 500);
    let rose = trace.windows(2).any(|w| w[0].0 < 0.2 && w[1].1 > w[0].1);
    let fell = trace.windows(2).any(|w| w[0].0 > 0.8 && w[1].1 < w[0].1);
    assert!(rose, "the rate rose below the low mark");
    assert!(fell, "the rate fell above the high mark");
}

//! The tour's scenarios under paused time: the same code the tour plays, with exact counts.

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

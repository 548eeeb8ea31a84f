//! The AIMD pacer under paused time: exact spacing, increase below the low mark, decrease
//! above the high one, within bounds. (C# example 4, the pacer driving a producer into a
//! queue, runs in the tour and in `crates/pc/tests/tour.rs`.)

use std::time::Duration;

use pc_backpressure::AdaptiveRate;
use tokio::time::{Instant, sleep};

fn pacer(initial: f64) -> AdaptiveRate {
    AdaptiveRate::builder()
        .initial(initial)
        .min(10.0)
        .max(400.0)
        .increase(50.0)
        .decrease(0.5)
        .adjust_every(Duration::from_millis(100))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn sends_are_spaced_by_deadline() {
    let rate = pacer(10.0);
    let start = Instant::now();
    for _ in 0..5 {
        rate.pace(0.5).await;
    }
    assert_eq!(start.elapsed(), Duration::from_millis(400));
    assert_eq!(rate.rate(), 10.0, "between the marks the rate holds");
}

#[tokio::test(start_paused = true)]
async fn additive_increase_multiplicative_decrease_within_bounds() {
    let rate = pacer(100.0);
    rate.pace(0.1).await; // below the low mark: +50
    assert_eq!(rate.rate(), 150.0);
    rate.pace(0.1).await; // within 100 ms of the last adjustment: unchanged
    assert_eq!(rate.rate(), 150.0);
    for _ in 0..10 {
        sleep(Duration::from_millis(100)).await;
        rate.pace(0.0).await;
    }
    assert_eq!(rate.rate(), 400.0, "capped at max");
    for _ in 0..10 {
        sleep(Duration::from_millis(100)).await;
        rate.pace(0.95).await;
    }
    assert_eq!(rate.rate(), 10.0, "halved down to min");
}

#[test]
fn bad_settings_are_build_errors() {
    let setting = |b: pc_backpressure::AdaptiveRateBuilder| b.build().unwrap_err().setting();
    assert_eq!(setting(AdaptiveRate::builder().min(0.0)), "min");
    assert_eq!(setting(AdaptiveRate::builder().min(50.0).max(10.0)), "min");
    assert_eq!(setting(AdaptiveRate::builder().initial(0.5)), "initial");
    assert_eq!(setting(AdaptiveRate::builder().decrease(1.0)), "decrease");
    assert_eq!(setting(AdaptiveRate::builder().marks(0.2, 0.8)), "marks");
    assert_eq!(
        setting(AdaptiveRate::builder().increase(f64::NAN)),
        "increase"
    );
}

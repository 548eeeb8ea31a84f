//! The AIMD pacer under paused time: exact spacing, increase below the low mark, decrease
//! above the high one, within bounds.

use std::sync::Arc;
use std::time::Duration;

use pc_backpressure::{AdaptiveProducer, AdaptiveRate, BoundedQueue};
use pc_core::Producer;
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

/// C# example 4: a queue of 500, a producer starting at 200/s pushing 2,000 items, a consumer
/// taking 1-10 ms each. Every item is consumed, the depth never passes the capacity, and the
/// rate falls above the high mark (80%) and rises below the low one (20%).
#[tokio::test(start_paused = true)]
async fn csharp_example_4_adaptive_producer() {
    let (tx, rx) = BoundedQueue::builder::<u32>(500).build().unwrap();
    let rate = Arc::new(
        AdaptiveRate::builder()
            .initial(200.0)
            .min(10.0)
            .max(2_000.0)
            .build()
            .unwrap(),
    );
    // The pacer's own view: the occupancy it is given at each send, and its rate then.
    let trace = Arc::new(std::sync::Mutex::new(Vec::new()));
    let occupancy = {
        let (tx, rate, trace) = (tx.clone(), Arc::clone(&rate), Arc::clone(&trace));
        move || {
            let occupancy = tx.occupancy();
            trace.lock().unwrap().push((occupancy, rate.rate()));
            occupancy
        }
    };
    let producer = AdaptiveProducer::new(tx.clone(), Arc::clone(&rate), occupancy);
    let consumer = tokio::spawn(async move {
        let mut rng = fastrand::Rng::with_seed(4);
        let mut consumed = 0u32;
        while let Ok(_item) = rx.recv().await {
            sleep(Duration::from_millis(rng.u64(1..10))).await;
            consumed += 1;
        }
        consumed
    });
    assert_eq!(producer.send_all(1..=2_000).await.unwrap(), 2_000);
    producer.close();
    drop(producer);
    assert_eq!(consumer.await.unwrap(), 2_000, "every item consumed");
    let stats = tx.stats();
    assert_eq!((stats.produced, stats.consumed), (2_000, 2_000));
    assert!(stats.peak_depth <= 500, "{stats:?}");
    let trace = trace.lock().unwrap();
    let rose = trace.windows(2).any(|w| w[0].0 < 0.2 && w[1].1 > w[0].1);
    let fell = trace.windows(2).any(|w| w[0].0 > 0.8 && w[1].1 < w[0].1);
    assert!(rose, "the rate rose below the low mark");
    assert!(
        fell,
        "the rate fell above the high mark: {:?}",
        &trace[..trace.len().min(40)]
    );
}

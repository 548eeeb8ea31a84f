//! Many tasks acquiring and cancelling at once, on a multi-thread runtime: the permits granted
//! never exceed what the rate allows, and nothing is left counted as waiting.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use support::bucket;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_acquires_and_cancellations_respect_the_rate() {
    // Real time, but bounded: 2,000 permits a second for about 0.3 s.
    let bucket = bucket(2_000.0, 50);
    let granted = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..16u64)
        .map(|task| {
            let (bucket, granted) = (bucket.clone(), Arc::clone(&granted));
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(task);
                for _ in 0..40 {
                    let n = rng.u32(1..4);
                    // Every other wait is raced against a short timer and may be cancelled.
                    if rng.bool() {
                        tokio::select! {
                            got = bucket.acquire(n) => { got.unwrap(); granted.fetch_add(u64::from(n), Ordering::SeqCst); }
                            () = tokio::time::sleep(Duration::from_micros(rng.u64(0..500))) => {}
                        }
                    } else {
                        bucket.acquire(n).await.unwrap();
                        granted.fetch_add(u64::from(n), Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("no hang")
            .unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let granted = granted.load(Ordering::SeqCst);
    let stats = bucket.stats();
    assert_eq!(
        stats.granted, granted,
        "the bucket counts exactly what callers got"
    );
    assert_eq!(stats.waiting, 0, "cancelled waits leave no waiter counted");
    // Burst plus rate times time, plus one permit of slack for the clock reads' rounding.
    let bound = 50.0 + 2_000.0 * elapsed + 1.0;
    assert!(
        (granted as f64) <= bound,
        "granted {granted} in {elapsed:.3} s, bound {bound:.1}"
    );
}

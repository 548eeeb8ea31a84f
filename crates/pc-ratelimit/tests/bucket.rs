//! The token bucket under paused time: exact waits, arrival order, refunds, settings at runtime.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc_core::{Probe, WaitKind};
use pc_ratelimit::{AcquireError, TokenBucket, TryAcquireError};
use support::bucket;
use tokio::time::{Instant, sleep};

/// Fails at once instead of hanging: under paused time a runtime with nothing to do jumps to
/// this (virtual) deadline.
async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(365 * 24 * 3600), fut)
        .await
        .expect("hung")
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order() {
    within(async {
        let bucket = bucket(1.0, 5);
        bucket.acquire(5).await.unwrap();
        let start = Instant::now();
        let done = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // A request for 5, then a stream of 1s: the 5 is not starved.
        for (i, n) in [5u32, 1, 1, 1].into_iter().enumerate() {
            let (bucket, done) = (bucket.clone(), Arc::clone(&done));
            tasks.push(tokio::spawn(async move {
                bucket.acquire(n).await.unwrap();
                done.lock().unwrap().push((i, start.elapsed()));
            }));
            tokio::task::yield_now().await; // arrive in this order
        }
        for task in tasks {
            task.await.unwrap();
        }
        let secs = |s| Duration::from_secs(s);
        assert_eq!(
            *done.lock().unwrap(),
            [(0, secs(5)), (1, secs(6)), (2, secs(7)), (3, secs(8))]
        );
        assert!(bucket.try_acquire(1).is_err(), "nothing left over at 8 s");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn try_acquire_does_not_jump_the_queue() {
    within(async {
        let bucket = bucket(1.0, 2);
        bucket.acquire(2).await.unwrap();
        let waiter = tokio::spawn({
            let bucket = bucket.clone();
            async move { bucket.acquire(2).await }
        });
        tokio::task::yield_now().await;
        sleep(Duration::from_millis(1500)).await;
        // One permit exists by now, but it is the waiter's.
        assert!(matches!(
            bucket.try_acquire(1),
            Err(TryAcquireError::Insufficient(_))
        ));
        waiter.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_gives_back_exactly_what_it_paid() {
    within(async {
        let bucket = bucket(1.0, 5);
        bucket.acquire(3).await.unwrap();
        assert_eq!(bucket.available(), 2);
        tokio::select! {
            _ = bucket.acquire(5) => panic!("5 permits cannot exist within 1 s"),
            () = sleep(Duration::from_secs(1)) => {}
        }
        assert_eq!(
            bucket.available(),
            3,
            "2 left + 1 refilled, nothing lost to the cancelled wait"
        );
        let stats = bucket.stats();
        assert_eq!((stats.granted, stats.waiting), (3, 0));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn no_extra_permit_after_a_long_idle() {
    let bucket = bucket(10.0, 3);
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(bucket.available(), 3);
    bucket.try_acquire(3).unwrap();
    assert!(bucket.try_acquire(1).is_err());
}

#[tokio::test(start_paused = true)]
async fn over_burst_and_timeouts_are_immediate_errors() {
    within(async {
        let bucket = bucket(2.0, 4);
        let start = Instant::now();
        assert_eq!(
            bucket.acquire(5).await,
            Err(AcquireError::OverBurst {
                requested: 5,
                burst: 4
            })
        );
        assert_eq!(
            bucket.try_acquire(5),
            Err(TryAcquireError::OverBurst {
                requested: 5,
                burst: 4
            })
        );
        bucket.acquire(4).await.unwrap();
        // 2 permits need 1 s: not within 999 ms (refused at once), within 1 s (waits exactly).
        assert_eq!(
            bucket.acquire_timeout(2, Duration::from_millis(999)).await,
            Err(AcquireError::Timeout)
        );
        assert_eq!(start.elapsed(), Duration::ZERO);
        bucket
            .acquire_timeout(2, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // The 2 permits refused for want of time; the requests over the burst are errors.
        assert_eq!(bucket.stats().rejected, 2);
        assert_eq!(
            AcquireError::Timeout.to_string(),
            "the permits would not exist before the timeout"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn rate_and_burst_change_while_running() {
    within(async {
        let bucket = bucket(1.0, 1);
        bucket.acquire(1).await.unwrap();
        bucket.set_rate(4.0).unwrap();
        assert_eq!(bucket.rate(), 4.0);
        let start = Instant::now();
        bucket.acquire(1).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        bucket.set_burst(3).unwrap();
        sleep(Duration::from_secs(10)).await;
        assert_eq!(bucket.available(), 3);
        assert_eq!(bucket.set_burst(0).unwrap_err().setting(), "burst");
        assert_eq!(bucket.set_rate(f64::NAN).unwrap_err().setting(), "rate");
        assert_eq!(bucket.burst(), 3);
    })
    .await;
}

#[derive(Debug, Default)]
struct Waits(Mutex<Vec<(WaitKind, Duration)>>);

impl Probe for Waits {
    fn waited(&self, kind: WaitKind, duration: Duration) {
        self.0.lock().unwrap().push((kind, duration));
    }
}

#[tokio::test(start_paused = true)]
async fn statistics_and_probe_see_every_wait() {
    within(async {
        let waits = Arc::new(Waits::default());
        let bucket = TokenBucket::builder()
            .rate(2.0)
            .burst(1)
            .probe(waits.clone())
            .build()
            .unwrap();
        for _ in 0..3 {
            bucket.acquire(1).await.unwrap();
        }
        assert!(bucket.try_acquire(1).is_err());
        let stats = bucket.stats();
        assert_eq!(stats.granted, 3);
        assert_eq!(stats.rejected, 1);
        assert_eq!(stats.waited, Duration::from_secs(1));
        assert_eq!(stats.waiting, 0);
        let half = Duration::from_millis(500);
        assert_eq!(
            *waits.0.lock().unwrap(),
            [(WaitKind::Throttled, half), (WaitKind::Throttled, half)]
        );
    })
    .await;
}

#[test]
fn bad_settings_are_build_errors() {
    let err = |b: pc_ratelimit::TokenBucketBuilder| b.build().unwrap_err().to_string();
    assert_eq!(
        err(TokenBucket::builder().rate(1.0).burst(0)),
        "invalid setting `burst`: must be at least 1"
    );
    assert!(err(TokenBucket::builder().rate(0.0).burst(1)).starts_with("invalid setting `rate`"));
    assert!(err(TokenBucket::builder().rate(-3.0).burst(1)).starts_with("invalid setting `rate`"));
    assert_eq!(
        err(TokenBucket::builder().burst(1)),
        "invalid setting `rate`: must be set"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_tasks_against_a_burst_of_twenty() {
    let bucket = bucket(0.001, 20);
    let gcra = Arc::new(
        pc_ratelimit::Gcra::builder()
            .rate(0.001)
            .burst(20)
            .build()
            .unwrap(),
    );
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (bucket, gcra) = (bucket.clone(), Arc::clone(&gcra));
            tokio::spawn(
                async move { (bucket.try_acquire(1).is_ok(), gcra.try_acquire(1).is_ok()) },
            )
        })
        .collect();
    let (mut from_bucket, mut from_gcra) = (0, 0);
    for task in tasks {
        let (a, b) = task.await.unwrap();
        from_bucket += usize::from(a);
        from_gcra += usize::from(b);
    }
    assert_eq!((from_bucket, from_gcra), (20, 20));
}

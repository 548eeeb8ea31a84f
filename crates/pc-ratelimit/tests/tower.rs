//! The tower layers: clones share one limiter, so the limit holds however a service is cloned.

#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pc_ratelimit::tower::{BoxError, KeyedRateLimitLayer, OverLimit, RateLimit, RateLimitLayer};
use pc_ratelimit::{KeyedLimiter, TokenBucket, TryAcquireError};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_ok};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

fn bucket(rate: f64, burst: u32) -> TokenBucket {
    TokenBucket::builder()
        .rate(rate)
        .burst(burst)
        .build()
        .unwrap()
}

/// 4 clones of one service, each called in a loop by a task of its own for 10.25 s of paused
/// time: exactly burst + rate x elapsed calls got through in total (5 + 2 x 10), where a limit
/// kept per clone would let four times the rate through.
#[tokio::test(start_paused = true)]
async fn four_clones_share_one_limit() {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let service = ServiceBuilder::new()
        .layer(RateLimitLayer::new(bucket(2.0, 5)))
        .service_fn(move |()| {
            counted.fetch_add(1, Ordering::Relaxed);
            async { Ok::<_, Infallible>(()) }
        });
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let mut clone = service.clone();
            tokio::spawn(async move {
                loop {
                    clone.ready().await.unwrap().call(()).await.unwrap();
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(10_250)).await;
    assert_eq!(calls.load(Ordering::Relaxed), 5 + 2 * 10);
    for task in tasks {
        task.abort();
    }
}

/// `poll_ready` is pending until the bucket grants a permit, woken when it does; `call` spends
/// it. A permit held by a clone that is dropped before its call goes back to the bucket.
#[tokio::test(start_paused = true)]
async fn poll_ready_waits_for_a_permit_and_an_unused_one_goes_back() {
    let bucket = bucket(1.0, 1);
    let mut first = RateLimit::new(
        service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }),
        bucket.clone(),
    );
    let mut second = first.clone();
    assert_ready_ok!(spawn(first.ready()).poll());
    let mut waiting = spawn(second.ready());
    assert_pending!(waiting.poll());
    // The first clone holds the only permit and is dropped without calling: it goes back.
    drop(first);
    assert!(waiting.is_woken());
    let ready = assert_ready_ok!(waiting.poll());
    assert_eq!(ready.call(7).await, Ok(7));
    let stats = bucket.stats();
    assert_eq!((stats.granted, bucket.available()), (1, 0));
    // The next permit comes 1 s later.
    let start = tokio::time::Instant::now();
    assert_eq!(second.ready().await.unwrap().call(8).await, Ok(8));
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

/// `call` without a ready `poll_ready` panics, as tower's contract allows, and says why.
#[tokio::test(start_paused = true)]
#[should_panic(expected = "RateLimit::call before poll_ready returned Ready")]
async fn call_before_ready_panics() {
    let mut service = RateLimitLayer::new(bucket(1.0, 1))
        .layer(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
    drop(service.call(1));
}

/// Per key: each key its own burst and rate, shared by every clone; a refused request answers
/// `OverLimit` at once, with when the key has a permit again, and never reaches the inner
/// service.
#[tokio::test(start_paused = true)]
async fn a_key_over_its_limit_is_refused_at_once() {
    let limiter = Arc::new(
        KeyedLimiter::builder()
            .rate(1.0)
            .burst(2)
            .build::<String>()
            .unwrap(),
    );
    let reached = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&reached);
    let service = ServiceBuilder::new()
        .layer(KeyedRateLimitLayer::new(
            Arc::clone(&limiter),
            |(tenant, _): &(String, u32)| tenant.clone(),
        ))
        .service_fn(move |(_, n): (String, u32)| {
            counted.fetch_add(1, Ordering::Relaxed);
            async move { Ok::<_, BoxError>(n) }
        });
    let mut outcomes = Vec::new();
    for (n, tenant) in ["acme", "acme", "acme", "globex"].into_iter().enumerate() {
        let mut clone = service.clone();
        let answer = clone
            .ready()
            .await
            .unwrap()
            .call((tenant.to_string(), n as u32))
            .await;
        outcomes.push(answer.map_err(|error| *error.downcast::<OverLimit>().unwrap()));
    }
    let refused = outcomes[2].clone().unwrap_err();
    let TryAcquireError::Insufficient(not_until) = refused.cause() else {
        panic!("{refused:?}");
    };
    assert_eq!(
        not_until.wait_from(tokio::time::Instant::now()),
        Duration::from_secs(1),
        "the key's next permit, 1 s after its burst"
    );
    assert_eq!(
        outcomes.iter().map(Result::is_ok).collect::<Vec<_>>(),
        [true, true, false, true]
    );
    assert_eq!(
        reached.load(Ordering::Relaxed),
        3,
        "the refused one went no further"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let mut again = service.clone();
    let answer = again.ready().await.unwrap().call(("acme".into(), 9)).await;
    assert_eq!(answer.unwrap(), 9);
}

/// Walk (extreme numbers): at a rate of 1e-9 per second, the second permit lies 31 years
/// ahead: `poll_ready` stays pending (a day of paused time changes nothing, and nothing
/// panics or overflows), and dropping the waiting service counts nothing granted.
#[tokio::test(start_paused = true)]
async fn a_rate_near_zero_keeps_poll_ready_pending() {
    let bucket = bucket(1e-9, 1);
    let mut service = RateLimitLayer::new(bucket.clone())
        .layer(service_fn(|n: u32| async move { Ok::<_, Infallible>(n) }));
    assert_eq!(service.ready().await.unwrap().call(1).await, Ok(1));
    let mut waiting = spawn(service.ready());
    assert_pending!(waiting.poll());
    tokio::time::advance(Duration::from_secs(86_400)).await;
    assert_pending!(waiting.poll());
    drop(waiting);
    drop(service);
    assert_eq!(bucket.stats().granted, 1);
}

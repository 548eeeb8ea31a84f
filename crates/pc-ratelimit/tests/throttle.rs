//! Throttled producers and streams.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use pc_core::{ProduceError, ProduceErrorKind, Producer, channel};
use pc_ratelimit::{Throttled, throttle};
use support::bucket;
use tokio::time::Instant;

/// A trait send's outcome as its error's kind and item.
fn parts<T>(sent: Result<(), ProduceError<T>>) -> Result<(), (ProduceErrorKind, T)> {
    sent.map_err(ProduceError::into_parts)
}

#[tokio::test(start_paused = true)]
async fn try_send_refuses_while_throttled_and_returns_unused_permits() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let paced = Throttled::new(tx, bucket(1.0, 2));
    paced.try_send(1).unwrap();
    // The channel is full: the permit taken for 2 is given back.
    assert_eq!(parts(paced.try_send(2)), Err((ProduceErrorKind::Full, 2)));
    assert_eq!(paced.bucket().available(), 1);
    assert_eq!(rx.recv().await, Ok(1));
    paced.try_send(3).unwrap();
    assert_eq!(rx.recv().await, Ok(3));
    // Now throttled: over the limit, although the channel has room.
    assert_eq!(
        parts(paced.try_send(4)),
        Err((ProduceErrorKind::OverLimit, 4))
    );
    assert_eq!(paced.bucket().stats().granted, 2);
    assert!(paced.close());
    assert_eq!(parts(paced.try_send(5)), Err((ProduceErrorKind::Closed, 5)));
}

#[tokio::test(start_paused = true)]
async fn send_timeout_covers_the_permit_and_the_send() {
    let (tx, _rx) = channel::unbounded::<u32>();
    let paced = Throttled::new(tx, bucket(1.0, 1));
    paced.send(1).await.unwrap();
    let start = Instant::now();
    assert_eq!(
        parts(paced.send_timeout(2, Duration::from_millis(500)).await),
        Err((ProduceErrorKind::TimedOut, 2))
    );
    paced.send_timeout(3, Duration::from_secs(1)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_shared_bucket_paces_several_producers_together() {
    let (tx, rx) = channel::unbounded::<u32>();
    let shared = bucket(10.0, 1);
    let a = Throttled::new(tx.clone(), shared.clone());
    let b = Throttled::new(tx, shared);
    let start = Instant::now();
    let (ra, rb) = tokio::join!(a.send_all(0..5), b.send_all(5..10));
    assert_eq!((ra.unwrap(), rb.unwrap()), (5, 5));
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(900),
        "10 items at 10/s, 1 at once"
    );
    assert_eq!(rx.len(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_stream_gives_its_held_permit_back() {
    let bucket = bucket(1.0, 1);
    let mut paced = throttle(futures_util::stream::iter(0..3), bucket.clone());
    assert_eq!(paced.next().await, Some(0));
    // The next item waits for its permit; stop waiting half way.
    tokio::select! {
        _ = paced.next() => panic!("the permit is 1 s away"),
        () = tokio::time::sleep(Duration::from_millis(500)) => {}
    }
    assert_eq!(
        futures_util::Stream::size_hint(&paced).0,
        2,
        "one held, one still in the source"
    );
    drop(paced);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bucket.available(), 1, "the held item's permit came back");
}

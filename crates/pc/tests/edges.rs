//! Edges across composition (`shared/EDGES.md`, 10): a promise of the traits holds on every
//! block that implements them, written once and run over each. The facade re-exports only;
//! each block's own edges are in its crate's `tests/edges.rs`.

// ## 6. User code that panics: each callback belongs to one block, and is walked in that
// block's `tests/edges.rs` (drop hooks in pc-backpressure and pc-priority, keys and `Ord` in
// pc-priority and pc-ratelimit, weighers in pc-batch, aggregates, keys and timestamps in
// pc-window, sources, keys and stages in pc-pool, codecs in pc-redis, items' `Drop` in pc-core).

use std::sync::Arc;
use std::time::Duration;

use pc::backpressure::{AdaptiveProducer, AdaptiveRate, BoundedQueue};
use pc::priority::PriorityChannel;
use pc::ratelimit::{Throttled, TokenBucket};
use pc::{Consumer, Producer, channel};

/// Every consumer: a batch of 0 is 0 at once, an unbounded linger waits for `max` items, zero
/// and unbounded timeouts neither panic nor wait wrongly.
async fn consumer_edges<C: Consumer<u32>>(consumer: &C, send: impl Fn(u32)) {
    let mut buf = Vec::new();
    send(1);
    assert_eq!(consumer.recv_batch(&mut buf, 0, Duration::MAX).await, 0);
    send(2);
    assert_eq!(consumer.recv_batch(&mut buf, 2, Duration::MAX).await, 2);
    assert_eq!(buf, [1, 2]);
    assert!(
        consumer
            .recv_timeout(Duration::ZERO)
            .await
            .unwrap_err()
            .is_timeout()
    );
    send(3);
    assert_eq!(consumer.recv_timeout(Duration::MAX).await, Ok(3));
}

/// Every producer: zero and unbounded timeouts on a producer with room, and the item handed
/// back by a zero timeout on a full one.
async fn producer_edges<P: Producer<u32>>(producer: &P, full_after: usize) {
    for i in 0..full_after {
        producer
            .send_timeout(i as u32, Duration::MAX)
            .await
            .unwrap();
    }
    let err = producer.send_timeout(99, Duration::ZERO).await.unwrap_err();
    assert!(err.is_timeout(), "full, not closed");
    assert_eq!(err.into_inner(), 99);
}

#[tokio::test(start_paused = true)]
async fn every_consumer_takes_the_same_edges() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    consumer_edges(&rx, |i| tx.try_send(i).unwrap()).await;
    let (tx, rx) = BoundedQueue::builder(4).build().unwrap();
    consumer_edges(&rx, |i| tx.try_send(i).unwrap()).await;
    let (tx, rx) = PriorityChannel::builder(2).capacity(4).build().unwrap();
    consumer_edges(&rx, |i| tx.try_send(i, 1).unwrap()).await;
    let (tx, rx) = channel::unbounded::<u32>();
    consumer_edges(&rx, |i| tx.try_send(i).unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn every_producer_takes_the_same_edges() {
    let (tx, _rx) = channel::bounded::<u32>(2).unwrap();
    producer_edges(&tx, 2).await;
    let (tx, _rx) = BoundedQueue::builder(2)
        .overflow(pc::backpressure::Overflow::Block)
        .build()
        .unwrap();
    producer_edges(&tx, 2).await;
    let (tx, _rx) = PriorityChannel::builder(2).capacity(2).build().unwrap();
    producer_edges(&tx, 2).await;
    let (tx, _rx) = channel::bounded::<u32>(2).unwrap();
    let bucket = TokenBucket::builder()
        .rate(1e9)
        .burst(1000)
        .build()
        .unwrap();
    producer_edges(&Throttled::new(tx, bucket), 2).await;
    let (tx, _rx) = channel::bounded::<u32>(2).unwrap();
    let rate = Arc::new(
        AdaptiveRate::builder()
            .initial(1e4)
            .max(1e4)
            .build()
            .unwrap(),
    );
    let paced = AdaptiveProducer::new(tx, rate, || 0.5);
    // Paced at 10,000/s: the sends with room wait out their slots under paused time.
    producer_edges(&paced, 2).await;
}

//! Edges across composition (`shared/EDGES.md`, 10): a promise of the traits holds on every
//! block that implements them, written once and run over each. The facade re-exports only;
//! each block's own edges are in its crate's `tests/edges.rs`.

// ## 6. User code that panics: each callback belongs to one block, and is walked in that
// block's `tests/edges.rs` (drop hooks in pc-backpressure and pc-priority, keys and `Ord` in
// pc-priority and pc-ratelimit, weighers in pc-batch, aggregates, keys and timestamps in
// pc-window, sources, keys and stages in pc-pool, codecs in pc-redis, items' `Drop` in pc-core).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use pc::backpressure::{AdaptiveProducer, AdaptiveRate, BoundedQueue};
use pc::batch::{Batcher, batch_consumer};
use pc::priority::PriorityChannel;
use pc::ratelimit::{Throttled, TokenBucket};
use pc::window::{Window, window_consumer};
use pc::{Consumer, Producer, channel};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq};

/// Every consumer: a batch of 0 is 0 at once, an unbounded linger waits for `max` items, zero
/// and unbounded timeouts neither panic nor wait wrongly.
async fn consumer_edges<C: Consumer<u32>>(consumer: &C, send: impl Fn(u32)) {
    let mut buf = Vec::new();
    send(1);
    assert_eq!(consumer.recv_batch(&mut buf, 0, Duration::MAX).await, Ok(0));
    send(2);
    assert_eq!(consumer.recv_batch(&mut buf, 2, Duration::MAX).await, Ok(2));
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

/// One idle stream of `consumer` (polled once, as the losing branch of a `select!`, and kept),
/// then one receive that waits, then one item: the receive is woken and gets it.
fn an_idle_stream_keeps_no_wake_up<C: Consumer<u32>>(
    consumer: &C,
    idle: impl Stream + Send,
    send: impl Fn(u32),
) {
    let mut idle = Box::pin(idle);
    {
        let mut next = spawn(idle.next());
        assert!(next.poll().is_pending(), "nothing to take yet");
    }
    let mut recv = spawn(consumer.recv());
    assert_pending!(recv.poll());
    send(7);
    assert!(recv.is_woken(), "the waiting receive is woken");
    assert_ready_eq!(recv.poll(), Ok(7));
}

// ## 2. The abandoned registration, through `Consumer::stream` and the blocks built on it

/// Listed: `Consumer::stream` was an `unfold` over `recv()`, so a stream polled once and kept
/// held a waiting receive's place and took the one wake-up a send gave: a receiver in `recv()`
/// hung while the item sat in the queue. Every consumer's stream is now woken by every item
/// and counts as nobody's wake-up, and `batch_consumer` and `window_consumer` inherit it.
#[tokio::test(start_paused = true)]
async fn an_idle_stream_keeps_no_wake_up_from_a_waiting_receive() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    an_idle_stream_keeps_no_wake_up(&rx, rx.stream(), |i| tx.try_send(i).unwrap());
    let (tx, rx) = BoundedQueue::builder(4).build().unwrap();
    an_idle_stream_keeps_no_wake_up(&rx, rx.stream(), |i| tx.try_send(i).unwrap());
    let (tx, rx) = PriorityChannel::builder(2).capacity(4).build().unwrap();
    an_idle_stream_keeps_no_wake_up(&rx, rx.stream(), |i| tx.try_send(i, 1).unwrap());
    let (tx, rx) = PriorityChannel::by_key::<u32, u32>(0)
        .capacity(4)
        .build()
        .unwrap();
    an_idle_stream_keeps_no_wake_up(&rx, rx.stream(), |i| tx.try_send(i, i).unwrap());
    for shape in ["channel", "queue", "priority"] {
        let batcher = || Batcher::builder(4, Duration::from_secs(1)).build().unwrap();
        let window = || Window::tumbling_count(4).build().unwrap();
        match shape {
            "channel" => {
                let (tx, rx) = channel::bounded::<u32>(4).unwrap();
                let send = |i| tx.try_send(i).unwrap();
                an_idle_stream_keeps_no_wake_up(&rx, batch_consumer(&rx, batcher()), send);
                an_idle_stream_keeps_no_wake_up(&rx, window_consumer(&rx, window()), send);
            }
            "queue" => {
                let (tx, rx) = BoundedQueue::builder(4).build().unwrap();
                let send = |i| tx.try_send(i).unwrap();
                an_idle_stream_keeps_no_wake_up(&rx, batch_consumer(&rx, batcher()), send);
                an_idle_stream_keeps_no_wake_up(&rx, window_consumer(&rx, window()), send);
            }
            _ => {
                let (tx, rx) = PriorityChannel::builder(2).capacity(4).build().unwrap();
                let send = |i| tx.try_send(i, 0).unwrap();
                an_idle_stream_keeps_no_wake_up(&rx, batch_consumer(&rx, batcher()), send);
                an_idle_stream_keeps_no_wake_up(&rx, window_consumer(&rx, window()), send);
            }
        }
    }
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
    assert!(err.is_refused() && !err.is_closed(), "full, not closed");
    assert_eq!(err.into_parts(), (pc::ProduceErrorKind::TimedOut, 99));
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

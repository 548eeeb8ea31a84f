//! `RedisProducer` as a `pc_core::Producer`: `try_send` through a bounded outbox.

mod support;

use std::time::Duration;

use pc_core::{AckConsumer, ProduceErrorKind, Producer};
use pc_redis::{RedisQueue, WhenFull};
use support::Server;

/// Generic code written against `Producer` runs over Redis.
async fn produce(out: &impl Producer<u32>, items: std::ops::Range<u32>) -> usize {
    out.send_all(items).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_send_goes_through_the_outbox_in_order() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    assert_eq!(produce(&producer, 0..10).await, 10);
    for n in 10..110 {
        producer.try_send(n).unwrap();
    }
    producer.close_and_flush().await;
    assert!(Producer::is_closed(&producer));
    let closed = producer.try_send(999).unwrap_err();
    assert_eq!(closed.into_parts(), (ProduceErrorKind::Closed, 999));
    let consumer = queue.consumer("c").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..110 {
        got.push(consumer.recv_delivery().await.unwrap().ack().await.unwrap());
    }
    assert_eq!(got, (0..110).collect::<Vec<_>>(), "in order, every one");
}

/// A full outbox reports `Full` and hands the item back: here the stream is at its cap (1),
/// so the outbox's task waits on its first item while 4 more fill the outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_hands_the_item_back() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .max_len(1)
        .outbox(4)
        .delete_on_ack(true)
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    producer.send(0).await.unwrap(); // the stream is full
    producer.try_send(1).unwrap();
    // Bounded wait (real time): the outbox's task takes item 1 and waits for room.
    for _ in 0..500 {
        if producer.outbox_len() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(producer.outbox_len(), 0);
    for n in 2..6 {
        // The task's receive frees its slot a moment after taking the item: bounded retries.
        let mut item = n;
        for _ in 0..1_000 {
            match producer.try_send(item) {
                Ok(()) => break,
                Err(full) if full.kind() == ProduceErrorKind::Full => item = full.into_inner(),
                Err(other) => panic!("{other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert_eq!(producer.outbox_len(), 4);
    let full = producer.try_send(6).unwrap_err();
    assert_eq!(full.into_parts(), (ProduceErrorKind::Full, 6));
    let consumer = queue.consumer("c").await.unwrap();
    let mut got = Vec::new();
    for _ in 0..6 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.recv_delivery())
            .await
            .expect("room is made, the outbox drains")
            .unwrap();
        got.push(delivery.ack().await.unwrap());
    }
    assert_eq!(got, (0..6).collect::<Vec<_>>());
    producer.close_and_flush().await;
    assert_eq!(producer.dropped(), 0);
}

/// Defect: through the `Producer` trait, a stream at its cap under `WhenFull::Reject` said the
/// producer was closed, so generic code stopped for good. It is `Rejected`, and the producer
/// takes items again once there is room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_at_the_cap_is_not_a_close() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .max_len(1)
        .when_full(WhenFull::Reject)
        .delete_on_ack(true)
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    Producer::send(&producer, 1).await.unwrap();
    let rejected = Producer::send(&producer, 2).await.unwrap_err();
    assert_eq!(rejected.into_parts(), (ProduceErrorKind::Rejected, 2));
    let rejected = Producer::send_timeout(&producer, 3, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(rejected.into_parts(), (ProduceErrorKind::Rejected, 3));
    assert!(!Producer::is_closed(&producer));
    let consumer = queue.consumer("c").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), consumer.recv_delivery())
        .await
        .expect("an item within the deadline (real time: a server)")
        .unwrap();
    assert_eq!(first.ack().await.unwrap(), 1);
    Producer::send(&producer, 4).await.unwrap();
}

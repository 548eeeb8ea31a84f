//! Acks sent together (`ack_batch`): held until the consumer's next read, a full batch, the
//! delay, or the close; each sent as one `XACK` (and `XDEL`) of many ids.
//!
//! Real server, real time: a held batch is checked under a delay of 10 s (far beyond any
//! stall), a delay that passes with a bounded loop of generous deadline.

mod support;

use std::time::Duration;

use pc_core::{AckConsumer, Consumer, Delivery};
use pc_redis::{Json, RedisConsumer, RedisProducer, RedisQueue, RedisQueueBuilder};
use support::{Server, len, pending};

const DEADLINE: Duration = Duration::from_secs(10);
const HELD: Duration = Duration::from_secs(10);

fn queue(server: &Server) -> RedisQueueBuilder<u32, Json> {
    RedisQueue::<u32>::builder(server.url.as_str(), "jobs").block(Duration::from_millis(50))
}

async fn next(consumer: &RedisConsumer<u32, Json>) -> Delivery<u32> {
    tokio::time::timeout(DEADLINE, consumer.recv_delivery())
        .await
        .expect("a delivery comes")
        .expect("the consumer is open")
}

/// A producer and a consumer of the queue `builder` makes, `items` already sent.
async fn holding<const N: usize>(
    builder: RedisQueueBuilder<u32, Json>,
    items: [u32; N],
) -> (RedisProducer<u32, Json>, RedisConsumer<u32, Json>) {
    let queue = builder.build().unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    producer.send_all(items).await.unwrap();
    (producer, consumer)
}

/// Acks return at once and are held; the next read sends them first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_acks_go_with_the_next_read() {
    let Some(server) = Server::start().await else {
        return;
    };
    let (producer, consumer) = holding(queue(&server).ack_batch(100, HELD), [1, 2, 3]).await;
    for n in 1..=3 {
        assert_eq!(next(&consumer).await.ack().await, Ok(n));
    }
    assert_eq!(pending(&server, "jobs", "pc").await, 3, "held, not sent");
    producer.send(4).await.unwrap();
    let fourth = next(&consumer).await;
    // The read that brought the fourth sent the three before it.
    assert_eq!(pending(&server, "jobs", "pc").await, 1);
    assert_eq!(fourth.ack().await, Ok(4));
    assert_eq!(
        len(&server, "jobs").await,
        4,
        "kept in the stream: no delete_on_ack"
    );
}

/// The ack that fills a batch sends it before it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ack_that_fills_a_batch_sends_it() {
    let Some(server) = Server::start().await else {
        return;
    };
    let (_producer, consumer) = holding(queue(&server).ack_batch(3, HELD), [1, 2, 3, 4]).await;
    let (first, second, third) = (
        next(&consumer).await,
        next(&consumer).await,
        next(&consumer).await,
    );
    first.ack().await.unwrap();
    second.ack().await.unwrap();
    assert_eq!(
        pending(&server, "jobs", "pc").await,
        4,
        "two held, the fourth fetched"
    );
    third.ack().await.unwrap();
    assert_eq!(pending(&server, "jobs", "pc").await, 1);
}

/// Held acks go after the delay even when nothing reads; and with `delete_on_ack` (a capped
/// queue), the batch deletes its entries too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_acks_go_after_the_delay_and_delete_their_entries() {
    let Some(server) = Server::start().await else {
        return;
    };
    let (_producer, consumer) = holding(
        queue(&server)
            .max_len(10)
            .ack_batch(100, Duration::from_millis(100)),
        [1, 2],
    )
    .await;
    next(&consumer).await.ack().await.unwrap();
    next(&consumer).await.ack().await.unwrap();
    for _ in 0..1_000 {
        if len(&server, "jobs").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(len(&server, "jobs").await, 0);
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// Closing sends what is held: the receive that finds the consumer closed returns once the
/// reader has sent them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_sends_every_held_ack() {
    let Some(server) = Server::start().await else {
        return;
    };
    let (_producer, consumer) = holding(queue(&server).ack_batch(100, HELD), [1, 2, 3]).await;
    for _ in 0..3 {
        next(&consumer).await.ack().await.unwrap();
    }
    assert_eq!(pending(&server, "jobs", "pc").await, 3);
    consumer.close();
    let end = tokio::time::timeout(DEADLINE, consumer.recv_delivery())
        .await
        .expect("the receive ends");
    assert!(end.unwrap_err().is_closed());
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// Found writing these tests: the acks of items taken by `try_recv` went as a bare `XACK`,
/// so a capped queue (which deletes each entry once acked) kept them, and they counted
/// against the cap for good. Now they are deleted like every other ack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_taken_by_try_recv_are_deleted_from_a_capped_queue() {
    let Some(server) = Server::start().await else {
        return;
    };
    let (producer, consumer) = holding(queue(&server).max_len(10), [1, 2, 3]).await;
    // One read fetches all three; the two behind the first wait, ready for `try_recv`.
    assert_eq!(next(&consumer).await.ack().await, Ok(1));
    assert_eq!(Consumer::try_recv(&consumer), Ok(2));
    assert_eq!(Consumer::try_recv(&consumer), Ok(3));
    // Their acks go with the next read, the one that brings the fourth.
    producer.send(4).await.unwrap();
    let fourth = next(&consumer).await;
    assert_eq!(pending(&server, "jobs", "pc").await, 1);
    assert_eq!(len(&server, "jobs").await, 1, "only the fourth is left");
    assert_eq!(fourth.ack().await, Ok(4));
    assert_eq!(len(&server, "jobs").await, 0);
}

/// A batch of zero acks is a build error.
#[test]
fn a_batch_of_zero_acks_is_refused() {
    let built = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
        .ack_batch(0, Duration::from_millis(1))
        .build();
    let err = built.map(drop).unwrap_err();
    assert!(err.to_string().contains("ack_batch"), "{err}");
}

//! Nacks with a delay, a nack backoff by delivery count, and leases renewed by `touch`.
//!
//! Real server, real time. Each delay is checked from below only (an entry never comes back
//! before its time, whatever the machine's load); each check that nobody reclaims an entry
//! uses a claim time of 3 s against renewals every second, so only a stall of the whole test
//! process of 2 s could let a reclaim in; every wait has a generous deadline.

mod support;

use std::time::{Duration, Instant};

use pc_core::{AckConsumer, Consumer, Delivery};
use pc_redis::{RedisConsumer, RedisQueue};
use support::{Server, pending};

const DEADLINE: Duration = Duration::from_secs(20);
const MS: Duration = Duration::from_millis(1);

fn queue(
    server: &Server,
    claim_idle: Duration,
) -> pc_redis::RedisQueueBuilder<u32, pc_redis::Json> {
    RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .claim_idle(claim_idle)
}

async fn next(consumer: &RedisConsumer<u32, pc_redis::Json>) -> Delivery<u32> {
    tokio::time::timeout(DEADLINE, consumer.recv_delivery())
        .await
        .expect("a delivery comes")
        .expect("the consumer is open")
}

/// Listed (issue 17): a nacked delivery came back at the next read, so an outage of a few
/// seconds used up `max_deliveries` in milliseconds. `nack_after` brings it back no sooner
/// than asked, counted as a new delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_nacked_with_a_delay_comes_back_no_sooner() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue(&server, Duration::from_secs(30)).build().unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    producer.send_all([1, 2]).await.unwrap();
    let first = next(&consumer).await;
    assert_eq!((*first.item(), first.delivery_count()), (1, 1));
    let nacked_at = Instant::now();
    assert_eq!(first.nack_after(400 * MS).await, Ok(1));
    // The entry behind it is not held up.
    let second = next(&consumer).await;
    assert_eq!(second.ack().await, Ok(2));
    let again = next(&consumer).await;
    assert!(nacked_at.elapsed() >= 400 * MS, "{:?}", nacked_at.elapsed());
    assert_eq!((*again.item(), again.delivery_count()), (1, 2));
    assert_eq!(again.ack().await, Ok(1));
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// With a nack backoff of 100 ms to 300 ms, the plain nacks of deliveries 1, 2 and 3 wait
/// 100, 200 and 300 ms (400 capped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_nacks_back_off_by_delivery_count() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue(&server, Duration::from_secs(30))
        .nack_backoff(100 * MS, 300 * MS)
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    producer.send(9).await.unwrap();
    let mut delivery = next(&consumer).await;
    for (count, wait) in [(1, 100), (2, 200), (3, 300)] {
        assert_eq!(delivery.delivery_count(), count);
        let nacked_at = Instant::now();
        delivery.nack().await.unwrap();
        delivery = next(&consumer).await;
        let waited = nacked_at.elapsed();
        assert!(waited >= wait * MS, "after delivery {count}: {waited:?}");
    }
    assert_eq!(delivery.delivery_count(), 4);
    assert_eq!(delivery.ack().await, Ok(9));
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// An entry nacked for longer than the claim time stays with its consumer while it waits:
/// another consumer reading all along never gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_longer_than_the_claim_time_keeps_the_entry_here() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue(&server, Duration::from_secs(3)).build().unwrap();
    let producer = queue.producer().await.unwrap();
    let here = queue.consumer("here").await.unwrap();
    let other = queue.consumer("other").await.unwrap();
    producer.send(5).await.unwrap();
    let delivery = next(&here).await;
    let nacked_at = Instant::now();
    delivery.nack_after(Duration::from_secs(7)).await.unwrap();
    // The other consumer reads for the whole delay and more.
    let reading = tokio::spawn(async move {
        let got = tokio::time::timeout(Duration::from_secs(9), Consumer::recv(&other)).await;
        (got.ok(), other)
    });
    let again = next(&here).await;
    assert!(nacked_at.elapsed() >= Duration::from_secs(7));
    assert_eq!((*again.item(), again.delivery_count()), (5, 2));
    again.ack().await.unwrap();
    let (got, _other) = reading.await.unwrap();
    assert_eq!(got, None, "the other consumer never had it");
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// A long job touched more often than the claim time keeps its delivery; left untouched, the
/// entry is reclaimed by another consumer, and a late touch says it is no longer this one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_keeps_a_long_job_and_says_when_it_was_lost() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue(&server, Duration::from_secs(3)).build().unwrap();
    let producer = queue.producer().await.unwrap();
    let worker = queue.consumer("worker").await.unwrap();
    let other = queue.consumer("other").await.unwrap();
    producer.send(1).await.unwrap();

    let long = next(&worker).await;
    let reading = tokio::spawn(async move {
        let got = tokio::time::timeout(Duration::from_secs(7), Consumer::recv(&other)).await;
        (got.ok(), other)
    });
    // 7 s of work, touched every second: never reclaimed.
    for _ in 0..7 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        long.touch().await.expect("still this consumer's");
    }
    let (got, other) = reading.await.unwrap();
    assert_eq!(got, None, "the other consumer never had it");
    assert_eq!(long.ack().await, Ok(1));

    // Left untouched past the claim time, the next entry goes to the other consumer.
    producer.send(2).await.unwrap();
    let forgotten = next(&worker).await;
    let taken = next(&other).await;
    assert_eq!((*taken.item(), taken.delivery_count()), (2, 2));
    let late = forgotten.touch().await.unwrap_err();
    assert!(
        late.to_string()
            .contains("no longer pending under this consumer"),
        "{late}"
    );
    taken.ack().await.unwrap();
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

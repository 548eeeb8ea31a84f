//! Retries that end: a consumer whose reads keep failing, and a producer whose sends keep
//! failing, give up when the queue's `RetryPolicy` says, each in a way its caller sees.
//!
//! Real server, real time: the policies here give up within about a second, and every wait
//! for that has a generous deadline (10 s) so that a slow machine does not fail the test.

mod support;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pc_core::{AckConsumer, ConsumeError, Consumer, DropReason, FailReason, Probe, Producer};
use pc_redis::{RedisQueue, RedisSendError, RetryPolicy};
use support::Server;

const DEADLINE: Duration = Duration::from_secs(10);
const MS: Duration = Duration::from_millis(1);

/// Counts failed reads of the source and items dropped as skipped.
#[derive(Debug, Default)]
struct Counts {
    source_failures: AtomicU64,
    skipped: AtomicU64,
}

impl Probe for Counts {
    fn failed(&self, n: u64, reason: FailReason) {
        if reason == FailReason::Source {
            self.source_failures.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn dropped(&self, n: u64, reason: DropReason) {
        if reason == DropReason::Skipped {
            self.skipped.fetch_add(n, Ordering::Relaxed);
        }
    }
}

fn queue(server: &Server, retry: RetryPolicy, probe: Arc<Counts>) -> RedisQueue<u32> {
    RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .retry(retry)
        .probe(probe)
        .build()
        .unwrap()
}

/// A policy that gives up half a second after the first failure.
fn half_a_second() -> RetryPolicy {
    RetryPolicy::default()
        .backoff(20 * MS, 100 * MS)
        .deadline(Duration::from_millis(500))
}

async fn recv(consumer: &impl Consumer<u32>) -> Result<u32, ConsumeError> {
    tokio::time::timeout(DEADLINE, consumer.recv())
        .await
        .expect("each receive ends")
}

fn says(err: &ConsumeError, text: &str) -> bool {
    err.is_failed() && err.source().is_some_and(|s| s.to_string().contains(text))
}

/// Listed (issue 17): a consumer whose reads the server refused retried every 100 ms without
/// end. Under a policy of 3 attempts, three receives are told of the three refused reads; the
/// third closed the consumer, which it finds closed: every later receive is `Closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reads_end_the_consumer_after_the_policys_attempts() {
    let Some(server) = Server::start().await else {
        return;
    };
    let counts = Arc::new(Counts::default());
    let retry = RetryPolicy::default().attempts(3).backoff(10 * MS, 10 * MS);
    let queue = queue(&server, retry, counts.clone());
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    producer.send(1).await.unwrap();
    assert_eq!(recv(&consumer).await, Ok(1));

    support::query(&server, &["XGROUP", "DESTROY", "jobs", "pc"]).await;
    for n in 1..=3 {
        let err = recv(&consumer).await.unwrap_err();
        assert!(says(&err, "NOGROUP"), "receive {n}: {err}");
    }
    assert!(Consumer::is_closed(&consumer), "the policy gave up");
    assert_eq!(Consumer::try_recv(&consumer), Err(ConsumeError::closed()));
    let last = tokio::time::timeout(DEADLINE, consumer.recv_delivery())
        .await
        .expect("the receive ends");
    assert!(last.unwrap_err().is_closed());
    assert_eq!(counts.source_failures.load(Ordering::Relaxed), 3);
}

/// A success in between starts the count again: with 2 attempts, a refused read, then a read
/// that succeeds, then a refused one, leave the consumer open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_succeeds_starts_the_count_again() {
    let Some(server) = Server::start().await else {
        return;
    };
    let counts = Arc::new(Counts::default());
    let retry = RetryPolicy::default().attempts(2).backoff(10 * MS, 10 * MS);
    let queue = queue(&server, retry, counts.clone());
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    for n in 0..2 {
        support::query(&server, &["XGROUP", "DESTROY", "jobs", "pc"]).await;
        let err = recv(&consumer).await.unwrap_err();
        assert!(says(&err, "NOGROUP"), "round {n}: {err}");
        support::query(&server, &["XGROUP", "CREATE", "jobs", "pc", "$"]).await;
        producer.send(n).await.unwrap();
        assert_eq!(recv(&consumer).await, Ok(n));
        assert!(!Consumer::is_closed(&consumer));
    }
    assert_eq!(counts.source_failures.load(Ordering::Relaxed), 2);
}

/// A consumer rides out an outage for as long as its policy's deadline, and no longer: the
/// receive under way then gets the connection's error, and the consumer is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_the_deadline_ends_the_consumer_with_its_error() {
    let Some(mut server) = Server::start().await else {
        return;
    };
    let counts = Arc::new(Counts::default());
    let queue = queue(&server, half_a_second(), counts.clone());
    let consumer = queue.consumer("c").await.unwrap();
    server.kill();
    let err = recv(&consumer).await.unwrap_err();
    assert!(err.is_failed(), "{err}");
    assert!(Consumer::is_closed(&consumer));
    assert!(recv(&consumer).await.unwrap_err().is_closed());
    // Only the last failure is reported: the outage before it was ridden out.
    assert_eq!(counts.source_failures.load(Ordering::Relaxed), 1);
}

/// A send through an outage longer than the policy's deadline fails with its item back; an
/// item of the outbox is dropped, counted as skipped. Both come back once the server does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_past_the_deadline_fail_and_the_outbox_drops_what_it_gave_up_on() {
    let Some(mut server) = Server::start_durable().await else {
        return;
    };
    let counts = Arc::new(Counts::default());
    let queue = queue(&server, half_a_second(), counts.clone());
    let producer = queue.producer().await.unwrap();
    producer.send(1).await.unwrap();
    server.kill();

    let sent = tokio::time::timeout(DEADLINE, producer.send(2))
        .await
        .expect("the send gives up");
    match sent {
        Err(RedisSendError::Server(item, _)) => assert_eq!(item, 2),
        other => panic!("{other:?}"),
    }
    Producer::try_send(&producer, 3).unwrap();
    for _ in 0..1_000 {
        if producer.dropped() == 1 {
            break;
        }
        tokio::time::sleep(10 * MS).await;
    }
    assert_eq!(producer.dropped(), 1, "the outbox gave up on its item");
    assert_eq!(counts.skipped.load(Ordering::Relaxed), 1);
    assert_eq!(producer.outbox_len(), 0);

    server.restart().await;
    producer.send(4).await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    assert_eq!(recv(&consumer).await, Ok(1));
    assert_eq!(recv(&consumer).await, Ok(4));
}

/// A policy out of bounds is the builder's error, naming the setting.
#[test]
fn a_policy_out_of_bounds_is_refused_by_the_builder() {
    let built = |retry: RetryPolicy| {
        RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
            .retry(retry)
            .build()
            .map(drop)
            .map_err(|err| err.to_string())
    };
    assert_eq!(built(RetryPolicy::never()), Ok(()));
    let err = built(RetryPolicy::default().jitter(2.0)).unwrap_err();
    assert!(err.contains("retry.jitter"), "{err}");
    let err = built(RetryPolicy::default().attempts(0)).unwrap_err();
    assert!(err.contains("retry.attempts"), "{err}");
}

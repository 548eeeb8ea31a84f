//! pc-redis under the other blocks, and under cancellation.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::AckConsumer;
use pc_pool::WorkerPool;
use pc_redis::RedisQueue;
use support::{Server, pending, queue_holding};

/// A worker pool drains a Redis consumer unchanged: each job's delivery is acked when the job
/// succeeds and delivered again when it fails, so a job failing once succeeds on its retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_pool_runs_over_a_redis_consumer() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue_holding(&server, "jobs", 0..200).await;
    let consumer = queue.consumer("pool").await.unwrap();
    let failed_once = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
    let pool = WorkerPool::builder({
        let failed_once = failed_once.clone();
        move |n: u32| {
            let failed_once = failed_once.clone();
            async move {
                // Every tenth job fails on its first delivery only.
                if n.is_multiple_of(10) && failed_once.lock().unwrap().insert(n) {
                    return Err(format!("job {n} failed once"));
                }
                Ok(n)
            }
        }
    })
    .workers(4)
    .build_over_acked(consumer)
    .unwrap();
    let mut done = HashSet::new();
    let mut failures = 0;
    let mut results = pool.results();
    while done.len() < 200 {
        let result = tokio::time::timeout(Duration::from_secs(10), results.next())
            .await
            .expect("every job ends")
            .expect("the pool runs");
        match result.output {
            Ok(n) => assert!(done.insert(n), "job {n} succeeded twice"),
            Err(_) => failures += 1,
        }
    }
    assert_eq!(failures, 20);
    assert_eq!(pool.ack_errors(), 0);
    pool.abort().await;
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// Reads cancelled at random points, many mid-block: every message is still delivered, since
/// a cancelled read makes the consumer replay what is pending under its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reads_lose_nothing() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(20))
        .batch(8)
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    let sender = tokio::spawn(async move {
        for n in 0..1_000u32 {
            producer.send(n).await.unwrap();
            if n.is_multiple_of(50) {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
    });
    let mut rng = 7u64;
    let mut got = HashSet::new();
    let mut cancelled = 0;
    while cancelled < 1_000 {
        // A cancellation point between 0 and 3 ms into the read.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let after = Duration::from_micros(rng % 3_000);
        match tokio::time::timeout(after, consumer.recv_delivery()).await {
            Ok(delivery) => {
                got.insert(delivery.unwrap().ack().await.unwrap());
            }
            Err(_) => cancelled += 1,
        }
    }
    sender.await.unwrap();
    while got.len() < 1_000 {
        let Ok(delivery) =
            tokio::time::timeout(Duration::from_secs(5), consumer.recv_delivery()).await
        else {
            let missing: Vec<u32> = (0..1_000).filter(|n| !got.contains(n)).collect();
            panic!(
                "lost {} ({missing:?}), {} pending",
                missing.len(),
                pending(&server, "jobs", "pc").await
            );
        };
        got.insert(delivery.unwrap().ack().await.unwrap());
    }
    assert_eq!(got, (0..1_000).collect::<HashSet<_>>());
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// As a plain `Consumer`: `recv` acks as it hands out, `try_recv` takes what was fetched and
/// acks it with the next read, and `close` ends the receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_consumer_is_a_consumer() {
    use pc_core::{ConsumeError, ConsumeErrorKind, Consumer};

    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue_holding(&server, "jobs", 0..10).await;
    let consumer = queue.consumer("c").await.unwrap();
    assert_eq!(consumer.recv().await.unwrap(), 0);
    // The first read fetched the whole batch: the rest comes to hand as the reader decodes it
    // (real time, bounded: nine entries take well under the deadline).
    let at_hand = tokio::time::timeout(Duration::from_secs(10), async {
        while consumer.len() < 9 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(at_hand.is_ok(), "the batch is at hand");
    assert_eq!(consumer.len(), 9);
    let mut at_hand = Vec::new();
    while let Ok(n) = consumer.try_recv() {
        at_hand.push(n);
    }
    assert_eq!(at_hand, (1..10).collect::<Vec<_>>());
    assert_eq!(consumer.try_recv(), Err(ConsumeErrorKind::Empty.into()));
    assert!(!consumer.is_closed());
    consumer.close();
    assert_eq!(consumer.recv().await, Err(ConsumeError::closed()));
    assert_eq!(consumer.try_recv(), Err(ConsumeError::closed()));
    assert_eq!(pending(&server, "jobs", "pc").await, 0, "every item acked");
}

/// What the queue reports through its probe: sends, deliveries, drops and dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_hears_sends_deliveries_drops_and_dead_letters() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use pc_core::{DropReason, FailReason, Probe};
    use pc_redis::WhenFull;

    #[derive(Debug, Default)]
    struct Counts {
        produced: AtomicU64,
        consumed: AtomicU64,
        dropped_full: AtomicU64,
        failed: AtomicU64,
    }
    impl Probe for Counts {
        fn produced(&self, n: u64) {
            self.produced.fetch_add(n, Ordering::Relaxed);
        }
        fn consumed(&self, n: u64) {
            self.consumed.fetch_add(n, Ordering::Relaxed);
        }
        fn dropped(&self, n: u64, reason: DropReason) {
            if reason == DropReason::Full {
                self.dropped_full.fetch_add(n, Ordering::Relaxed);
            }
        }
        fn failed(&self, n: u64, _: FailReason) {
            self.failed.fetch_add(n, Ordering::Relaxed);
        }
    }

    let Some(server) = Server::start().await else {
        return;
    };
    let counts = Arc::new(Counts::default());
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .max_len(3)
        .when_full(WhenFull::DropIncoming)
        .max_deliveries(1)
        .block(Duration::from_millis(50))
        .probe(counts.clone())
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    producer.send_all(0..5).await.unwrap(); // 3 added, 2 dropped
    let consumer = queue.consumer("c").await.unwrap();
    for _ in 0..2 {
        consumer.recv_delivery().await.unwrap().ack().await.unwrap();
    }
    // The third fails once: its second delivery goes to the dead letters.
    consumer
        .recv_delivery()
        .await
        .unwrap()
        .nack()
        .await
        .unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(300), consumer.recv_delivery()).await;
    assert!(nothing.is_err());
    assert_eq!(counts.produced.load(Ordering::Relaxed), 3);
    assert_eq!(counts.dropped_full.load(Ordering::Relaxed), 2);
    assert_eq!(counts.consumed.load(Ordering::Relaxed), 3);
    assert_eq!(counts.failed.load(Ordering::Relaxed), 1);
}

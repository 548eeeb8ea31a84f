//! The group's backlog (pending and undelivered entries, from `XINFO GROUPS`): asked of the
//! queue, and reported to the probe by each consumer. Real time against a local server; waits
//! are bounded loops.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pc_core::{AckConsumer, Probe};
use pc_redis::{Backlog, RedisQueue};
use support::Server;

fn backlog(pending: u64, lag: Option<u64>, consumers: u64) -> (u64, Option<u64>, u64) {
    (pending, lag, consumers)
}

fn parts(b: Backlog) -> (u64, Option<u64>, u64) {
    (b.pending, b.lag, b.consumers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_counts_pending_and_undelivered_entries() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .batch(3)
        .build()
        .unwrap();
    // No stream, then no group yet: what is sent waits for the group's first read.
    assert_eq!(
        parts(queue.backlog().await.unwrap()),
        backlog(0, Some(0), 0)
    );
    queue
        .producer()
        .await
        .unwrap()
        .send_all(0..10)
        .await
        .unwrap();
    assert_eq!(
        parts(queue.backlog().await.unwrap()),
        backlog(0, Some(10), 0)
    );

    let consumer = queue.consumer("worker").await.unwrap();
    let mut deliveries = Vec::new();
    for _ in 0..3 {
        deliveries.push(consumer.recv_delivery().await.unwrap());
    }
    // One read of 3: 3 pending, 7 never delivered.
    assert_eq!(
        parts(queue.backlog().await.unwrap()),
        backlog(3, Some(7), 1)
    );
    for delivery in deliveries.drain(..2) {
        delivery.ack().await.unwrap();
    }
    assert_eq!(
        parts(queue.backlog().await.unwrap()),
        backlog(1, Some(7), 1)
    );
}

/// Backlog reports, as a probe hears them.
#[derive(Default)]
struct Reports(Mutex<Vec<(usize, u64, Option<u64>)>>);

impl Probe for Reports {
    fn backlog(&self, partition: usize, pending: u64, lag: Option<u64>) {
        self.0.lock().unwrap().push((partition, pending, lag));
    }
}

impl Reports {
    /// Waits (bounded) for a report equal to `wanted`.
    async fn until(&self, wanted: (usize, u64, Option<u64>)) {
        let deadline = Instant::now().checked_add(Duration::from_secs(10)).unwrap();
        while !self.0.lock().unwrap().contains(&wanted) {
            assert!(
                Instant::now() < deadline,
                "no report {wanted:?} in {:?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Each consumer reports the backlog every `backlog_every`, idle or not; each partition of a
/// partitioned queue under its own index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_report_the_backlog_to_the_probe() {
    let Some(server) = Server::start().await else {
        return;
    };
    let reports = Arc::new(Reports::default());
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .batch(2)
        .backlog_every(Duration::from_millis(100))
        .probe(reports.clone())
        .build()
        .unwrap();
    queue
        .producer()
        .await
        .unwrap()
        .send_all(0..5)
        .await
        .unwrap();
    let consumer = queue.consumer("worker").await.unwrap();
    // Reported at once, before any read: 5 undelivered.
    reports.until((0, 0, Some(5))).await;
    let held = consumer.recv_delivery().await.unwrap();
    // Idle, with one read of 2 made: reported again all the same.
    reports.until((0, 2, Some(3))).await;
    drop(held);

    let partitioned_reports = Arc::new(Reports::default());
    let partitioned = RedisQueue::<u32>::builder(server.url.as_str(), "orders")
        .block(Duration::from_millis(50))
        .backlog_every(Duration::from_millis(100))
        .probe(partitioned_reports.clone())
        .partitioned(2)
        .build()
        .unwrap();
    partitioned
        .producer()
        .await
        .unwrap()
        .send_all(0..6)
        .await
        .unwrap();
    let _consumer = partitioned.consumer("worker").await.unwrap();
    partitioned_reports.until((0, 0, Some(3))).await;
    partitioned_reports.until((1, 0, Some(3))).await;
    // The consumer reads ahead of its receives: each partition's 3 entries are fetched (and
    // pending) although none was received yet.
    partitioned_reports.until((0, 3, Some(0))).await;
    partitioned_reports.until((1, 3, Some(0))).await;
    let asked: Vec<_> = partitioned
        .backlog()
        .await
        .unwrap()
        .into_iter()
        .map(parts)
        .collect();
    assert_eq!(asked, [backlog(3, Some(0), 1), backlog(3, Some(0), 1)]);
}

#[test]
fn a_zero_backlog_period_is_refused() {
    let built = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
        .backlog_every(Duration::ZERO)
        .build();
    assert!(matches!(
        built,
        Err(pc_core::BuildError::Zero {
            setting: "backlog_every"
        })
    ));
}

//! Queues on a Redis Cluster: a local one of 3 masters with a replica each (6 `redis-server`s
//! on this machine, slots split by the test's `LocalCluster`). These tests need real time:
//! a failover takes the cluster's node timeout (1 s) and an election; waits are bounded
//! loops with deadlines of tens of seconds.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pc_core::Consumer;
use pc_redis::RedisQueue;
use support::Seen;

fn queue(urls: &[String], stream: &str) -> RedisQueue<u32> {
    RedisQueue::<u32>::builder(urls[0].as_str(), stream)
        .cluster_nodes(urls[1..].to_vec())
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_secs(5))
        .build()
        .expect("valid settings")
}

/// Whichever node a queue starts from, its producers and consumers work with the master of
/// its stream's slot (each node is tried first in turn: masters of other slots and replicas
/// redirect).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_works_from_any_node_of_a_cluster() {
    let Some(cluster) = support::cluster(3, 1).await else {
        return;
    };
    let urls = cluster.urls();
    for start in 0..urls.len() {
        let mut rotated = urls.clone();
        rotated.rotate_left(start);
        let stream = format!("jobs-{start}");
        let queue = queue(&rotated, &stream);
        let producer = queue.producer().await.expect("connects");
        producer.send_all(0..100).await.expect("sent");
        let consumer = queue.consumer("worker").await.expect("connects");
        let got = support::take_acked(&consumer, 100).await;
        assert_eq!(got, (0..100).collect::<Vec<_>>(), "from node {start}");
        consumer.close();
        assert!(consumer.recv().await.is_err());
    }
}

/// SIGKILL of the master serving the stream while 2 producers send and 2 consumers work: its
/// replica takes over, producers and consumers find it by themselves, every send that
/// returned `Ok` (confirmed by a replica: `replicas(1, ..)`) is received, and nothing stays
/// pending. The killed node is started again once its replica took over, to be the new
/// master's replica: sends need one to be confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_mid_run_loses_no_confirmed_send() {
    const PER_PRODUCER: u32 = 10_000;
    const CHUNK: u32 = 100;
    let Some(mut cluster) = support::cluster(3, 1).await else {
        return;
    };
    let urls = cluster.urls();
    let queue = RedisQueue::<u32>::builder(urls[0].as_str(), "jobs")
        .cluster_nodes(urls[1..].to_vec())
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_secs(3))
        .replicas(1, Duration::from_secs(2))
        .build()
        .expect("valid settings");

    let confirmed: Seen = Arc::default();
    let received: Seen = Arc::default();
    let mut producers = Vec::new();
    for p in 0..2 {
        let producer = Arc::new(queue.producer().await.expect("connects"));
        let items = p * PER_PRODUCER..(p + 1) * PER_PRODUCER;
        let pace = Duration::from_millis(20);
        producers.push(tokio::spawn(support::send_chunks(
            items,
            CHUNK,
            pace,
            Arc::clone(&confirmed),
            move |chunk| {
                let producer = Arc::clone(&producer);
                async move { producer.send_all(chunk).await.is_ok() }
            },
        )));
    }
    let mut consumers = Vec::new();
    for c in 0..2 {
        let consumer = Arc::new(queue.consumer(format!("worker-{c}")).await.expect("joins"));
        let task = support::collect(Arc::clone(&consumer), Arc::clone(&received));
        consumers.push((consumer, task));
    }

    // Kill the stream's master once a tenth of the items went through.
    let until = support::deadline(Duration::from_secs(120));
    while received.lock().unwrap().len() < (PER_PRODUCER / 5) as usize {
        assert!(Instant::now() < until, "the run stalled before the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = support::fail_over(&mut cluster, "jobs", until).await;
    let after_kill = confirmed.lock().unwrap().len();

    let mut failed = 0;
    for producer in producers {
        failed += producer.await.expect("the producer task");
    }
    let expected = confirmed.lock().unwrap().clone();
    assert_eq!(
        expected.len() + (failed * CHUNK) as usize,
        (2 * PER_PRODUCER) as usize,
        "every chunk confirmed or failed"
    );
    assert!(
        after_kill < expected.len(),
        "sends went on after the failover: {after_kill} confirmed by then"
    );
    // Every confirmed send is received, and nothing stays pending (acks lost in the
    // failover are made good by a reclaim).
    support::all_received(&cluster, &["jobs"], &expected, &received, until).await;
    assert_ne!(cluster.master_of("jobs").await.expect("a master"), victim);
    eprintln!(
        "confirmed {after_kill} by the failover, {} of {} in all, {failed} chunks failed, {} distinct received",
        expected.len(),
        2 * PER_PRODUCER,
        received.lock().unwrap().len()
    );
    for (consumer, task) in consumers {
        consumer.close();
        task.await.expect("the consumer task");
    }
}

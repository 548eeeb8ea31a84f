//! Queues on a Redis Cluster: a local one of 3 masters with a replica each (6 `redis-server`s
//! on this machine, slots split by the test's `LocalCluster`). These tests need real time:
//! a failover takes the cluster's node timeout (1 s) and an election; waits are bounded
//! loops with deadlines of tens of seconds.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pc_core::{AckConsumer, Consumer};
use pc_redis::RedisQueue;

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
        let mut got = Vec::new();
        for _ in 0..100 {
            let (item, ack) = consumer
                .recv_delivery()
                .await
                .expect("delivered")
                .into_parts();
            got.push(item);
            ack.ack().await.expect("acked");
        }
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

    let confirmed = Arc::new(Mutex::new(HashSet::new()));
    let received = Arc::new(Mutex::new(HashSet::new()));
    let mut producers = Vec::new();
    for p in 0..2 {
        let producer = queue.producer().await.expect("connects");
        let confirmed = Arc::clone(&confirmed);
        producers.push(tokio::spawn(async move {
            let mut failed = 0;
            for start in (0..PER_PRODUCER).step_by(CHUNK as usize) {
                let first = p * PER_PRODUCER + start;
                let chunk: Vec<u32> = (first..first + CHUNK).collect();
                match producer.send_all(chunk.iter().copied()).await {
                    Ok(_) => confirmed.lock().unwrap().extend(chunk),
                    Err(_) => failed += 1,
                }
                // Paced, so that the sends span the kill and the failover.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            failed
        }));
    }
    let mut consumers = Vec::new();
    for c in 0..2 {
        let consumer = Arc::new(
            queue
                .consumer(format!("worker-{c}"))
                .await
                .expect("connects"),
        );
        let received = Arc::clone(&received);
        let task = tokio::spawn({
            let consumer = Arc::clone(&consumer);
            async move {
                while let Ok(delivery) = consumer.recv_delivery().await {
                    let (item, ack) = delivery.into_parts();
                    received.lock().unwrap().insert(item);
                    // A lost ack leaves the entry pending, to be claimed and acked again.
                    let _ = ack.ack().await;
                }
            }
        });
        consumers.push((consumer, task));
    }

    // Kill the stream's master once a tenth of the items went through.
    let deadline = Instant::now()
        .checked_add(Duration::from_secs(120))
        .expect("a near instant");
    while received.lock().unwrap().len() < (PER_PRODUCER / 5) as usize {
        assert!(Instant::now() < deadline, "the run stalled before the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let master = cluster.master_of("jobs").await.expect("a master");
    cluster.kill(master);
    let at_kill = confirmed.lock().unwrap().len();
    // Once its replica took over, the killed node comes back as the new master's replica:
    // until then, no replica confirms a send, and sends fail (after the wait's timeout).
    while cluster
        .master_of("jobs")
        .await
        .ok()
        .is_none_or(|now| now == master)
    {
        assert!(Instant::now() < deadline, "no replica took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster
        .restart(master)
        .expect("the killed node starts again");

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
        at_kill < expected.len(),
        "sends went on after the kill: {at_kill} confirmed at the kill"
    );
    // Every confirmed send is received, and nothing stays pending (acks lost in the
    // failover are made good by a reclaim).
    loop {
        let missing = expected.difference(&received.lock().unwrap()).count();
        let pending = if missing == 0 {
            pending(&cluster, "jobs").await
        } else {
            None
        };
        if pending == Some(0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} confirmed items never received; pending {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(
        cluster.master_of("jobs").await.expect("a new master"),
        master
    );
    let received = received.lock().unwrap().len();
    eprintln!(
        "confirmed {at_kill} at the kill, {} of {} in all, {failed} chunks failed, {received} distinct received",
        expected.len(),
        2 * PER_PRODUCER
    );
    for (consumer, task) in consumers {
        consumer.close();
        task.await.expect("the consumer task");
    }
}

/// Entries pending in `stream`'s group `pc`, asked of its master now; `None` when that cannot
/// be asked yet (no master, or it does not answer).
async fn pending(cluster: &pc_redis::LocalCluster, stream: &str) -> Option<usize> {
    let master = cluster.master_of(stream).await.ok()?;
    let url = &cluster.urls()[master];
    let mut connection = redis::Client::open(url.as_str())
        .ok()?
        .get_multiplexed_async_connection()
        .await
        .ok()?;
    let (count, ..): (usize, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(stream)
        .arg("pc")
        .query_async(&mut connection)
        .await
        .ok()?;
    Some(count)
}

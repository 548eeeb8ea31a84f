//! Queues on a Redis Cluster: a local one of 3 masters with a replica each (6 `redis-server`s
//! on this machine, slots split by the test's `LocalCluster`). These tests need real time:
//! a failover takes the cluster's node timeout (1 s) and an election; waits are bounded
//! loops with deadlines of tens of seconds.

mod support;

use std::time::Duration;

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

//! Partitioned queues: on a local Redis Cluster of 3 masters with a replica each (6
//! `redis-server`s started by the test), and on a single server. These tests run in real time:
//! holds are renewed every third of a lease, and waits are bounded loops with generous
//! deadlines.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pc_core::{AckConsumer, BuildError, ProduceErrorKind, Producer};
use pc_redis::{PartitionedConsumer, PartitionedQueue, RedisQueue};

const LEASE: Duration = Duration::from_secs(1);

use support::{Seen, deadline};

/// Waits until every consumer holds exactly `each` partitions.
async fn balanced<T: Send + 'static>(consumers: &[Arc<PartitionedConsumer<T>>], each: usize) {
    let until = deadline(Duration::from_secs(30));
    loop {
        let held: Vec<Vec<usize>> = consumers.iter().map(|c| c.partitions()).collect();
        if held.iter().all(|partitions| partitions.len() == each) {
            let all: HashSet<usize> = held.iter().flatten().copied().collect();
            assert_eq!(all.len(), each * consumers.len(), "no partition held twice");
            return;
        }
        assert!(Instant::now() < until, "never balanced: {held:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The run: 100,000 items from 4 producers through 8 partitions on a 3-master cluster
/// to 4 consumers, each holding 2 partitions. Every item arrives exactly once, the items of
/// each key in the order sent, and nothing stays pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_by_key_arrive_once_in_order_across_a_cluster() {
    const PRODUCERS: u32 = 4;
    const KEYS_PER_PRODUCER: u32 = 50;
    const PER_KEY: u32 = 500;
    let Some(cluster) = support::cluster(3, 1).await else {
        return;
    };
    let urls = cluster.urls();
    let queue: PartitionedQueue<(u32, u32)> = RedisQueue::builder(urls[0].as_str(), "orders")
        .cluster_nodes(urls[1..].to_vec())
        .block(Duration::from_millis(100))
        .ack_batch(64, Duration::from_millis(10))
        .partitioned(8)
        .lease(LEASE)
        .build()
        .expect("valid settings");

    let mut consumers = Vec::new();
    for c in 0..4 {
        consumers.push(Arc::new(
            queue.consumer(format!("worker-{c}")).await.expect("joins"),
        ));
    }
    balanced(&consumers, 2).await;

    // Items are (key, sequence number); all of a key from one producer, in order.
    let received = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for consumer in &consumers {
        let consumer = Arc::clone(consumer);
        let received = Arc::clone(&received);
        tasks.push(tokio::spawn(async move {
            while let Ok(delivery) = consumer.recv_delivery().await {
                let (item, ack) = delivery.into_parts();
                received.lock().unwrap().push(item);
                ack.ack().await.expect("acked");
            }
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let producer = queue.producer().await.expect("connects");
        producers.push(tokio::spawn(async move {
            // Through the outboxes, pipelined: each partition's keeps its items' order.
            for seq in 0..PER_KEY {
                for k in 0..KEYS_PER_PRODUCER {
                    let key = p * KEYS_PER_PRODUCER + k;
                    let name = format!("key-{key}");
                    let mut item = (key, seq);
                    while let Err(full) = producer.try_send_keyed(&name, item) {
                        assert_eq!(full.kind(), ProduceErrorKind::Full);
                        item = full.into_inner();
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            producer.close();
            producer.close_and_flush().await;
            assert_eq!(producer.dropped(), 0);
        }));
    }
    for producer in producers {
        producer.await.expect("the producer task");
    }
    let total = (PRODUCERS * KEYS_PER_PRODUCER * PER_KEY) as usize;
    let until = deadline(Duration::from_secs(120));
    while received.lock().unwrap().len() < total {
        assert!(Instant::now() < until, "items missing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for consumer in &consumers {
        consumer.close();
    }
    for task in tasks {
        task.await.expect("the consumer task");
    }

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), total, "nothing twice");
    let mut last: BTreeMap<u32, u32> = BTreeMap::new();
    for (key, seq) in received {
        let expected = last.get(&key).map_or(0, |seq| seq + 1);
        assert_eq!(seq, expected, "key {key} out of order");
        last.insert(key, seq);
    }
    assert_eq!(last.len(), (PRODUCERS * KEYS_PER_PRODUCER) as usize);
    assert!(last.values().all(|&seq| seq == PER_KEY - 1));
    let streams: Vec<&str> = (0..queue.partitions())
        .map(|index| queue.partition_stream(index))
        .collect();
    assert_eq!(support::pending_on(&cluster, &streams).await, Some(0));
}

/// A consumer that dies (its runtime gone, as a crashed process's) loses its partitions a
/// lease later; the other takes them and reclaims what the dead one left unacked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_consumer_s_partitions_and_entries_go_to_the_other() {
    let Some(server) = support::Server::start().await else {
        return;
    };
    let queue: PartitionedQueue<u32> = RedisQueue::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_secs(2))
        .partitioned(4)
        .lease(LEASE)
        .build()
        .expect("valid settings");
    queue
        .producer()
        .await
        .expect("connects")
        .send_all(0..200)
        .await
        .expect("sent");

    // The doomed consumer lives on a runtime of its own, dropped mid-work: its tasks end
    // there, without giving anything up.
    let doomed_queue = queue.clone();
    let taken = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let taken = runtime.block_on(async {
            let doomed = doomed_queue.consumer("doomed").await.expect("joins");
            assert_eq!(doomed.partitions().len(), 4, "alone, it holds everything");
            let mut taken = Vec::new();
            for _ in 0..50 {
                let delivery = doomed.recv_delivery().await.expect("delivered");
                taken.push(*delivery.item());
                // Left unsettled: the entry stays pending under the dead consumer's name.
                std::mem::forget(delivery);
            }
            std::mem::forget(doomed);
            taken
        });
        drop(runtime);
        taken
    })
    .join()
    .expect("the doomed consumer's thread");
    assert_eq!(taken.len(), 50);

    let survivor = Arc::new(queue.consumer("survivor").await.expect("joins"));
    let mut received = HashSet::new();
    let until = deadline(Duration::from_secs(30));
    while received.len() < 200 {
        assert!(Instant::now() < until, "{} of 200 received", received.len());
        let next = tokio::time::timeout(Duration::from_secs(1), survivor.recv_delivery()).await;
        if let Ok(delivery) = next {
            let delivery = delivery.expect("delivered");
            received.insert(*delivery.item());
            delivery.ack().await.expect("acked");
        }
    }
    assert!(taken.iter().all(|item| received.contains(item)));
    assert_eq!(survivor.partitions(), vec![0, 1, 2, 3]);
}

/// On one server (no cluster), the partitions are streams of that server, shared the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_on_a_single_server_are_shared_by_consumers() {
    let Some(server) = support::Server::start().await else {
        return;
    };
    let queue: PartitionedQueue<u32> = RedisQueue::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(100))
        .partitioned(4)
        .lease(LEASE)
        .build()
        .expect("valid settings");
    let consumers = vec![
        Arc::new(queue.consumer("a").await.expect("joins")),
        Arc::new(queue.consumer("b").await.expect("joins")),
    ];
    balanced(&consumers, 2).await;
    let producer = queue.producer().await.expect("connects");
    assert_eq!(producer.send_all(0..100).await.expect("sent"), 100);
    let mut got = Vec::new();
    for consumer in &consumers {
        // Round-robin: each pair of partitions holds half of the items.
        for _ in 0..50 {
            let delivery = consumer.recv_delivery().await.expect("delivered");
            got.push(*delivery.item());
            delivery.ack().await.expect("acked");
        }
    }
    got.sort_unstable();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn partitioned_settings_are_checked_when_built() {
    let build = |partitions: usize, lease: Duration| {
        RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
            .partitioned(partitions)
            .lease(lease)
            .build()
            .map(drop)
    };
    assert!(matches!(
        build(0, LEASE),
        Err(BuildError::Zero {
            setting: "partitions"
        })
    ));
    assert!(matches!(
        build(1025, LEASE),
        Err(BuildError::Invalid {
            setting: "partitions",
            ..
        })
    ));
    build(1024, LEASE).expect("the most partitions");
    for lease in [Duration::ZERO, Duration::MAX] {
        assert!(matches!(
            build(4, lease),
            Err(BuildError::Invalid {
                setting: "lease",
                ..
            })
        ));
    }
    let named = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
        .dead_letter("failed")
        .partitioned(4)
        .build();
    assert!(matches!(
        named,
        Err(BuildError::Invalid {
            setting: "dead_letter",
            ..
        })
    ));
    // The queue's own settings are checked too.
    let bad = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
        .batch(0)
        .partitioned(4)
        .build();
    assert!(matches!(bad, Err(BuildError::Zero { setting: "batch" })));
    let queue = RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs")
        .partitioned(8)
        .build()
        .expect("valid settings");
    assert_eq!(queue.partition_stream(3), "{jobs:3}");
    assert_eq!(
        queue.partition_of("customer-42"),
        queue.partition_of("customer-42")
    );
}

/// SIGKILL of a master serving partitions while 4 producers send (each send confirmed by a
/// replica) and 4 consumers work: its replica takes over, producers and consumers find it by
/// themselves, every send that returned `Ok` is received, and nothing stays pending. The
/// killed node comes back once its replica took over, to confirm sends as the new replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_run_loses_no_confirmed_send() {
    const PER_PRODUCER: u32 = 5_000;
    const CHUNK: u32 = 50;
    let Some(mut cluster) = support::cluster(3, 1).await else {
        return;
    };
    let urls = cluster.urls();
    let queue: PartitionedQueue<u32> = RedisQueue::builder(urls[0].as_str(), "orders")
        .cluster_nodes(urls[1..].to_vec())
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_secs(3))
        .replicas(1, Duration::from_secs(2))
        .partitioned(8)
        .lease(LEASE)
        .build()
        .expect("valid settings");

    let received: Seen = Arc::default();
    let mut consumers = Vec::new();
    for c in 0..4 {
        let consumer = Arc::new(queue.consumer(format!("worker-{c}")).await.expect("joins"));
        let task = support::collect(Arc::clone(&consumer), Arc::clone(&received));
        consumers.push((consumer, task));
    }
    let confirmed: Seen = Arc::default();
    let mut producers = Vec::new();
    for p in 0..4 {
        let producer = Arc::new(queue.producer().await.expect("connects"));
        let items = p * PER_PRODUCER..(p + 1) * PER_PRODUCER;
        let pace = Duration::from_millis(10);
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

    let until = deadline(Duration::from_secs(150));
    while received.lock().unwrap().len() < 2_000 {
        assert!(Instant::now() < until, "the run stalled before the kill");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    support::fail_over(&mut cluster, queue.partition_stream(0), until).await;
    let after_kill = confirmed.lock().unwrap().len();

    for producer in producers {
        producer.await.expect("the producer task");
    }
    let expected = confirmed.lock().unwrap().clone();
    assert!(
        after_kill < expected.len(),
        "sends went on after the failover"
    );
    let streams: Vec<&str> = (0..queue.partitions())
        .map(|index| queue.partition_stream(index))
        .collect();
    support::all_received(&cluster, &streams, &expected, &received, until).await;
    eprintln!(
        "confirmed {after_kill} by the failover, {} of {} in all, {} distinct received",
        expected.len(),
        4 * PER_PRODUCER,
        received.lock().unwrap().len()
    );
    for (consumer, task) in consumers {
        consumer.close();
        task.await.expect("the consumer task");
    }
}

/// A hold that lapsed unseen (here deleted behind the consumer's back) and that nobody took is
/// taken again by its holder at the next renewal, without stopping its partition's consumer:
/// restarted, that consumer would replay what it had handed out and not yet settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_hold_nobody_took_is_kept_without_a_replay() {
    let Some(server) = support::Server::start().await else {
        return;
    };
    let queue: PartitionedQueue<u32> = RedisQueue::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .partitioned(1)
        .lease(Duration::from_millis(300))
        .build()
        .expect("valid settings");
    let producer = queue.producer().await.expect("connects");
    let consumer = queue.consumer("only").await.expect("joins");
    producer.send(1).await.expect("sent");
    let first = consumer.recv_delivery().await.expect("delivered");
    assert_eq!(*first.item(), 1);

    support::query(&server, &["DEL", "{jobs:0}:holder"]).await;
    // The next renewal round (every 100 ms) takes it again: bounded wait.
    let mut connection = server.connection().await;
    let until = deadline(Duration::from_secs(10));
    loop {
        let holder: Option<String> = redis::cmd("GET")
            .arg("{jobs:0}:holder")
            .query_async(&mut connection)
            .await
            .expect("GET");
        if holder.as_deref() == Some("only") {
            break;
        }
        assert!(Instant::now() < until, "the hold was never taken again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(consumer.partitions(), vec![0]);

    producer.send(2).await.expect("sent");
    let next = tokio::time::timeout(Duration::from_secs(10), consumer.recv_delivery())
        .await
        .expect("delivered")
        .expect("delivered");
    assert_eq!(*next.item(), 2, "the unsettled first item was not replayed");
    first.ack().await.expect("acked");
    next.ack().await.expect("acked");
}

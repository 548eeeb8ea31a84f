//! pc-redis against a real redis-server: exact accounting of every message.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use pc_core::{AckConsumer, BuildError};
use pc_redis::{RedisError, RedisQueue, RedisSendError, WhenFull};
use support::{Server, dead_reasons, len, pending};

#[test]
fn bad_settings_are_build_errors() {
    let builder = || RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs");
    assert_eq!(
        RedisQueue::<u32>::builder("not a url", "jobs")
            .build()
            .unwrap_err()
            .setting(),
        "url"
    );
    assert_eq!(
        RedisQueue::<u32>::builder("redis://127.0.0.1/", "")
            .build()
            .unwrap_err()
            .setting(),
        "stream"
    );
    assert_eq!(builder().group("").build().unwrap_err().setting(), "group");
    for (error, setting) in [
        (builder().max_len(0).build().unwrap_err(), "max_len"),
        (builder().batch(0).build().unwrap_err(), "batch"),
        (
            builder().block(Duration::ZERO).build().unwrap_err(),
            "block",
        ),
        (
            builder().max_deliveries(0).build().unwrap_err(),
            "max_deliveries",
        ),
    ] {
        assert_eq!(error, BuildError::Zero { setting });
    }
    assert_eq!(
        builder()
            .block(Duration::from_secs(5))
            .claim_idle(Duration::from_secs(5))
            .build()
            .unwrap_err()
            .setting(),
        "block"
    );
    assert_eq!(
        builder()
            .when_full(WhenFull::Reject)
            .build()
            .unwrap_err()
            .setting(),
        "when_full"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_typed_error_with_its_url() {
    let url = "redis+unix:///nonexistent/pc-redis.sock";
    let queue = RedisQueue::<u32>::builder(url, "jobs").build().unwrap();
    match queue.producer().await {
        Err(RedisError::Connect { url: said, .. }) => assert_eq!(said, url),
        other => panic!("{other:?}"),
    }
    let error = queue.consumer("c").await.unwrap_err();
    assert!(error.to_string().contains(url), "{error}");
}

/// 4 producers x 25,000 messages, 4 consumers reading batches of 64: the processed set is
/// exactly the set sent, nothing twice, nothing left pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_send_is_processed_once() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<(u32, u32)>::builder(server.url.as_str(), "jobs")
        .batch(64)
        .block(Duration::from_millis(200))
        .build()
        .unwrap();
    let consumers: Vec<_> = (0..4)
        .map(|c| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let consumer = queue.consumer(format!("c{c}")).await.unwrap();
                let mut got = Vec::new();
                loop {
                    let delivery =
                        tokio::time::timeout(Duration::from_secs(2), consumer.recv_delivery())
                            .await;
                    let Ok(delivery) = delivery else { break };
                    let (item, ack) = delivery.unwrap().into_parts();
                    ack.ack().await.unwrap();
                    got.push(item);
                }
                got
            })
        })
        .collect();
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let producer = queue.producer().await.unwrap();
                producer
                    .send_all((0..25_000).map(|n| (p, n)))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for producer in producers {
        assert_eq!(producer.await.unwrap(), 25_000);
    }
    let mut seen = HashSet::new();
    for consumer in consumers {
        for item in consumer.await.unwrap() {
            assert!(seen.insert(item), "{item:?} processed twice");
        }
    }
    assert_eq!(seen.len(), 100_000);
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// A message that fails every time is dead-lettered once after `max_deliveries`, with its
/// reason; the others are processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_goes_to_the_dead_letters_once() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = RedisQueue::<String>::builder(server.url.as_str(), "jobs")
        .max_deliveries(3)
        .block(Duration::from_millis(50))
        .claim_idle(Duration::from_millis(500))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    producer
        .send_all(["a", "poison", "b", "c"].map(String::from))
        .await
        .unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    let mut processed = Vec::new();
    let mut poison_deliveries = Vec::new();
    let mut poison_keys = HashSet::new();
    // Bounded: 4 messages, the poison one seen 3 times.
    for _ in 0..6 {
        let Ok(delivery) =
            tokio::time::timeout(Duration::from_secs(3), consumer.recv_delivery()).await
        else {
            break;
        };
        let delivery = delivery.unwrap();
        if delivery.item() == "poison" {
            poison_deliveries.push(delivery.delivery_count());
            poison_keys.insert(delivery.key().expect("a message id").to_owned());
            delivery.nack().await.unwrap();
        } else {
            processed.push(delivery.ack().await.unwrap());
        }
    }
    assert_eq!(processed, ["a", "b", "c"]);
    assert_eq!(poison_deliveries, [1, 2, 3]);
    assert_eq!(poison_keys.len(), 1, "one message id across its deliveries");
    // The fourth delivery went to the dead letters instead.
    let dead = tokio::time::timeout(Duration::from_millis(500), consumer.recv_delivery()).await;
    assert!(dead.is_err(), "nothing left to deliver");
    assert_eq!(len(&server, "{jobs}:dead").await, 1);
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
    assert_eq!(
        dead_reasons(&server, "{jobs}:dead").await,
        ["delivered 4 times"]
    );
}

/// A consumer that took entries and died (dropped, never settling them): another consumer
/// takes them over once they have been idle for the claim time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_consumers_entries_are_reclaimed() {
    let Some(server) = Server::start().await else {
        return;
    };
    let claim_idle = Duration::from_millis(600);
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(100))
        .claim_idle(claim_idle)
        .build()
        .unwrap();
    queue
        .producer()
        .await
        .unwrap()
        .send_all(0..10)
        .await
        .unwrap();
    {
        let doomed = queue.consumer("doomed").await.unwrap();
        for _ in 0..10 {
            let delivery = doomed.recv_delivery().await.unwrap();
            std::mem::forget(delivery.into_parts().1); // dies holding it
        }
    }
    assert_eq!(pending(&server, "jobs", "pc").await, 10);
    let heir = queue.consumer("heir").await.unwrap();
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    while got.len() < 10 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), heir.recv_delivery())
            .await
            .expect("reclaimed in time")
            .unwrap();
        assert_eq!(delivery.delivery_count(), 2);
        got.push(delivery.ack().await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    // Within the claim time plus two reclaim ticks (half a claim time each), with slack for a
    // loaded machine.
    assert!(started.elapsed() < claim_idle * 2 + Duration::from_secs(2));
    assert_eq!(pending(&server, "jobs", "pc").await, 0);
}

/// A cap of 5: rejected sends hand the item back, dropped ones are counted, blocked ones wait
/// until consumers make room; sent = delivered + dropped for each policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_stream_rejects_drops_or_blocks_as_asked() {
    let Some(server) = Server::start().await else {
        return;
    };
    let make = |stream: &str, when_full| {
        RedisQueue::<u32>::builder(server.url.as_str(), stream)
            .max_len(5)
            .when_full(when_full)
            .delete_on_ack(true)
            .block(Duration::from_millis(50))
            .build()
            .unwrap()
    };
    let reject = make("reject", WhenFull::Reject);
    let producer = reject.producer().await.unwrap();
    producer.send_all(0..5).await.unwrap();
    match producer.send(5).await {
        Err(RedisSendError::Full(item)) => assert_eq!(item, 5),
        other => panic!("{other:?}"),
    }
    assert_eq!(len(&server, "reject").await, 5);

    let drop_incoming = make("incoming", WhenFull::DropIncoming);
    let producer = drop_incoming.producer().await.unwrap();
    producer.send_all(0..8).await.unwrap();
    assert_eq!(len(&server, "incoming").await, 5, "three dropped");

    let blocking = make("blocking", WhenFull::default());
    let producer = blocking.producer().await.unwrap();
    let sender = tokio::spawn(async move { producer.send_all(0..20).await.unwrap() });
    let consumer = blocking.consumer("c").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 20 {
        let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.recv_delivery())
            .await
            .expect("room is made")
            .unwrap();
        assert!(len(&server, "blocking").await <= 5);
        got.push(delivery.ack().await.unwrap());
    }
    assert_eq!(sender.await.unwrap(), 20);
    assert_eq!(got, (0..20).collect::<Vec<_>>());
}

/// A queue tells its probe what it is and its cap when built (no server needed: building
/// does not connect).
#[test]
fn a_queue_tells_its_probe_its_kind_and_cap() {
    use std::sync::{Arc, Mutex};

    use pc_core::{BlockKind, Probe};

    #[derive(Default)]
    struct Told(Mutex<Vec<(BlockKind, Option<usize>)>>);
    impl Probe for Told {
        fn described(&self, kind: BlockKind, capacity: Option<usize>) {
            self.0.lock().unwrap().push((kind, capacity));
        }
    }
    for (max_len, capacity) in [(Some(100), Some(100)), (None, None)] {
        let told = Arc::new(Told::default());
        let mut builder =
            RedisQueue::<u32>::builder("redis://127.0.0.1/", "jobs").probe(told.clone());
        if let Some(max_len) = max_len {
            builder = builder.max_len(max_len);
        }
        builder.build().expect("valid settings");
        assert_eq!(*told.0.lock().unwrap(), [(BlockKind::RedisQueue, capacity)]);
    }
}

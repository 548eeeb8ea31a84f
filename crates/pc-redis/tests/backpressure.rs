//! A capped stream under producers faster than paused consumers, for each policy: the stream
//! never holds more than its cap, and sent = delivered + dropped (or handed back).
//!
//! Real time: consumers pause 2 s; the length is sampled every 10 ms; loops are bounded.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pc_core::AckConsumer;
use pc_redis::{RedisQueue, RedisSendError, WhenFull};
use support::{Server, len};

const CAP: usize = 1_000;
const PER_PRODUCER: u32 = 1_500;

struct Outcome {
    sent: u64,
    delivered: u64,
    dropped: u64,
    handed_back: u64,
    longest: u64,
}

async fn run(server: &Server, stream: &str, when_full: WhenFull) -> Outcome {
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), stream)
        .max_len(CAP)
        .when_full(when_full)
        .block(Duration::from_millis(50))
        .build()
        .unwrap();
    // The group first, so that nothing is added before consumers could see it.
    drop(queue.consumer("setup").await.unwrap());

    let sampling = Arc::new(AtomicBool::new(true));
    let longest = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn({
        let (sampling, longest) = (sampling.clone(), longest.clone());
        let mut connection = server.connection().await;
        let stream = stream.to_owned();
        async move {
            while sampling.load(Ordering::Relaxed) {
                let n: u64 = redis::cmd("XLEN")
                    .arg(&stream)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                longest.fetch_max(n, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });

    let handed_back = Arc::new(AtomicU64::new(0));
    let mut producers = Vec::new();
    let mut dropped_by = Vec::new();
    for p in 0..2u32 {
        let producer = queue.producer().await.unwrap();
        dropped_by.push(producer.clone());
        let handed_back = handed_back.clone();
        producers.push(tokio::spawn(async move {
            for n in 0..PER_PRODUCER {
                match producer.send(p * PER_PRODUCER + n).await {
                    Ok(()) => {}
                    Err(RedisSendError::Full(_)) => {
                        handed_back.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(other) => panic!("{other}"),
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await; // consumers paused
    let delivered = Arc::new(AtomicU64::new(0));
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let (queue, delivered) = (queue.clone(), delivered.clone());
            tokio::spawn(async move {
                let consumer = queue.consumer(format!("c{c}")).await.unwrap();
                // Until a second passes with nothing to take.
                while let Ok(delivery) =
                    tokio::time::timeout(Duration::from_secs(1), consumer.recv_delivery()).await
                {
                    delivery.unwrap().ack().await.unwrap();
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    for consumer in consumers {
        consumer.await.unwrap();
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.await.unwrap();
    assert_eq!(len(server, stream).await, 0, "acked entries are deleted");
    Outcome {
        sent: u64::from(2 * PER_PRODUCER),
        delivered: delivered.load(Ordering::Relaxed),
        dropped: dropped_by.iter().map(|p| p.dropped()).sum(),
        handed_back: handed_back.load(Ordering::Relaxed),
        longest: longest.load(Ordering::Relaxed),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_stream_accounts_for_every_send_under_each_policy() {
    let Some(server) = Server::start().await else {
        return;
    };
    for (stream, when_full) in [
        ("block", WhenFull::default()),
        ("reject", WhenFull::Reject),
        ("incoming", WhenFull::DropIncoming),
        ("oldest", WhenFull::DropOldest),
    ] {
        let o = run(&server, stream, when_full).await;
        assert!(o.longest <= CAP as u64, "{stream}: {} entries", o.longest);
        assert_eq!(
            o.sent,
            o.delivered + o.dropped + o.handed_back,
            "{stream}: delivered {}, dropped {}, handed back {}",
            o.delivered,
            o.dropped,
            o.handed_back
        );
        // With consumers paused, exactly the cap is delivered unless producers wait for room.
        let expected = if stream == "block" {
            o.sent
        } else {
            CAP as u64
        };
        assert_eq!(o.delivered, expected, "{stream}");
    }
}

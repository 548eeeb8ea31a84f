//! A queue chosen at run time: the in-process channel or a Redis stream, held as
//! `Box<dyn DynProducer<T>>` and `Box<dyn DynConsumer<T>>`, and driven by code generic over the
//! traits.

mod support;

use std::time::Duration;

use pc_core::dynamic::{DynConsumer, DynProducer};
use pc_core::{Consumer, Producer, channel};
use pc_redis::RedisQueue;
use support::Server;

/// Where the queue lives, as a program's setting would say.
enum Backend<'a> {
    InProcess,
    Redis(&'a str),
}

async fn open(backend: Backend<'_>) -> (Box<dyn DynProducer<u32>>, Box<dyn DynConsumer<u32>>) {
    match backend {
        Backend::InProcess => {
            let (tx, rx) = channel::bounded(8).unwrap();
            (tx.into_dyn(), rx.into_dyn())
        }
        Backend::Redis(url) => {
            let queue = RedisQueue::<u32>::builder(url, "jobs")
                .block(Duration::from_millis(50))
                .build()
                .unwrap();
            let producer = queue.producer().await.unwrap();
            let consumer = queue.consumer("c").await.unwrap();
            (producer.into_dyn(), consumer.into_dyn())
        }
    }
}

/// Generic code: sends `items` and hands back the count sent.
async fn produce(out: &impl Producer<u32>, items: std::ops::Range<u32>) -> usize {
    out.send_all(items).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_chosen_at_run_time_runs_the_same_code() {
    let Some(server) = Server::start().await else {
        return;
    };
    let mut producers: Vec<Box<dyn DynProducer<u32>>> = Vec::new();
    let mut consumers: Vec<Box<dyn DynConsumer<u32>>> = Vec::new();
    for backend in [Backend::InProcess, Backend::Redis(server.url.as_str())] {
        let (tx, rx) = open(backend).await;
        producers.push(tx);
        consumers.push(rx);
    }
    for (n, producer) in producers.iter().enumerate() {
        let base = 100 * n as u32;
        assert_eq!(produce(producer, base..base + 5).await, 5);
        producer.try_send(base + 5).unwrap();
        producer
            .send_timeout(base + 6, Duration::from_secs(10))
            .await
            .unwrap();
    }
    for (n, consumer) in consumers.iter().enumerate() {
        let base = 100 * n as u32;
        let mut got: Vec<u32> = Vec::new();
        // Real time for the Redis stream: bounded, generous deadline per batch.
        while got.len() < 7 {
            let added = tokio::time::timeout(
                Duration::from_secs(10),
                consumer.recv_batch(&mut got, 7, Duration::from_millis(20)),
            )
            .await
            .expect("items within the deadline")
            .expect("open consumers hand items out");
            assert!(added > 0, "a batch holds an item at least");
        }
        // Redis' `try_send` goes through the producer's outbox, a task of its own, so it may
        // land after the direct `send_timeout`: every item once, in any order across the two.
        got.sort_unstable();
        assert_eq!(got, (base..base + 7).collect::<Vec<_>>(), "case {n}");
    }
    for producer in &producers {
        assert!(producer.close());
        assert!(producer.is_closed());
        let closed = producer.send(999).await.unwrap_err();
        assert!(closed.is_closed());
    }
}

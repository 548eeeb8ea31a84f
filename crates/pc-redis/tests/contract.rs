//! The producer-consumer contract, written once against the pc-core traits and run over the
//! in-process channel and over Redis: every item exactly once (modulo the duplicates a crash
//! may cause, none here), close and drain, cancel safety of receives.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use pc_core::{Consumer, Producer, channel};
use pc_redis::RedisQueue;
use support::Server;

/// 4 producers x 500 items over `make()`'s halves, 2 consumers: every item once.
async fn exactly_once<P, C>(tx: P, rx: C)
where
    P: Producer<u32> + Clone + 'static,
    C: Consumer<u32> + Clone + 'static,
{
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send_all(p * 500..(p + 1) * 500).await.unwrap() })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await
                {
                    got.push(n);
                }
                got
            })
        })
        .collect();
    for p in producers {
        assert_eq!(p.await.unwrap(), 500);
    }
    let mut seen = HashSet::new();
    for c in consumers {
        for n in c.await.unwrap() {
            assert!(seen.insert(n), "{n} twice");
        }
    }
    assert_eq!(seen, (0..2_000).collect::<HashSet<_>>());
}

/// Receives cancelled at every point of a wait lose nothing.
async fn cancel_safe<P: Producer<u32>, C: Consumer<u32>>(tx: P, rx: C) {
    for n in 0..100u32 {
        // A receive cancelled while nothing is there...
        assert!(
            tokio::time::timeout(Duration::from_millis(5), rx.recv())
                .await
                .is_err()
        );
        tx.send(n).await.unwrap();
        // ... does not take the item that comes next.
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("delivered")
            .unwrap();
        assert_eq!(got, n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_keeps_the_contract() {
    let (tx, rx) = channel::bounded::<u32>(64).unwrap();
    exactly_once(tx, rx).await;
    let (tx, rx) = channel::bounded::<u32>(64).unwrap();
    cancel_safe(tx, rx).await;
    // Close and drain: what was sent before the close is still received, then the end.
    let (tx, rx) = channel::bounded::<u32>(64).unwrap();
    tx.send_all(0..10).await.unwrap();
    assert!(tx.close());
    let mut drained = Vec::new();
    while let Ok(n) = rx.recv().await {
        drained.push(n);
    }
    assert_eq!(drained, (0..10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keeps_the_contract() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = |stream: &str| {
        RedisQueue::<u32>::builder(server.url.as_str(), stream)
            .block(Duration::from_millis(20))
            .build()
            .unwrap()
    };
    let q = queue("once");
    let rx = std::sync::Arc::new(q.consumer("c").await.unwrap());
    exactly_once(q.producer().await.unwrap(), rx).await;

    let q = queue("cancel");
    let rx = q.consumer("c").await.unwrap();
    cancel_safe(q.producer().await.unwrap(), rx).await;

    // Close and drain: the producer's close flushes its outbox; the stream keeps what was sent
    // for any consumer, and a closed consumer ends its receives.
    let q = queue("drain");
    let tx = q.producer().await.unwrap();
    for n in 0..10 {
        tx.try_send(n).unwrap();
    }
    tx.close_and_flush().await;
    assert!(tx.send(10).await.is_err(), "closed");
    let rx = q.consumer("c").await.unwrap();
    let mut drained = Vec::new();
    while drained.len() < 10 {
        drained.push(rx.recv().await.unwrap());
    }
    assert_eq!(drained, (0..10).collect::<Vec<_>>());
    rx.close();
    assert!(rx.recv().await.is_err());
}

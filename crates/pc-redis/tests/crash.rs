//! Crashes: the server killed with SIGKILL mid-run and restarted on its AOF.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use pc_core::AckConsumer;
use pc_redis::{RedisQueue, RedisSendError};
use support::{Server, pending};

/// With `appendfsync always`, every send that returned `Ok` survives a `kill -9` of the
/// server, and producer and consumer carry on by themselves once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ok_send_survives_a_server_crash() {
    let Some(mut server) = Server::start_durable().await else {
        return;
    };
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(100))
        .claim_idle(Duration::from_secs(1))
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sender = tokio::spawn({
        let progress = progress.clone();
        async move {
            let mut sent = HashSet::new();
            for n in 0..3_000u32 {
                // Bounded retries: the producer reconnects by itself; this only re-offers the item
                // when a send gave up (the server was down for longer than its retries).
                for _ in 0..100 {
                    match producer.send(n).await {
                        Ok(()) => {
                            sent.insert(n);
                            progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                        Err(RedisSendError::Server(..)) => {
                            tokio::time::sleep(Duration::from_millis(50)).await
                        }
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            sent
        }
    });
    let receiver = tokio::spawn(async move {
        let mut got = HashSet::new();
        // Real time, bounded: 60 s for 3,000 messages and one crash.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while got.len() < 3_000 && tokio::time::Instant::now() < deadline {
            let Ok(delivery) =
                tokio::time::timeout(Duration::from_secs(1), consumer.recv_delivery()).await
            else {
                continue;
            };
            let (n, ack) = delivery.unwrap().into_parts();
            // An ack lost with the server leaves the entry pending: it comes again.
            let _ = ack.ack().await;
            got.insert(n);
        }
        got
    });
    // Mid-run: a third of the messages sent (bounded wait, real time).
    for _ in 0..2_000 {
        if progress.load(std::sync::atomic::Ordering::Relaxed) >= 1_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let at_kill = progress.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        (1_000..3_000).contains(&at_kill),
        "killed mid-run: {at_kill} sent"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart().await;
    let sent = sender.await.unwrap();
    let got = receiver.await.unwrap();
    assert_eq!(sent.len(), 3_000, "every send succeeded in the end");
    let missing: Vec<_> = sent.difference(&got).collect();
    assert!(missing.is_empty(), "sent but never processed: {missing:?}");
    let _ = pending(&server, "jobs", "pc").await;
}

//! Many producers and many consumers: every item exactly once, per-producer order kept.

mod support;

use std::collections::HashSet;

use pc_core::channel;
use support::{drainers, within};

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 25_000;

async fn run(capacity: usize) {
    let (tx, rx) = channel::bounded::<(u64, u64)>(capacity).unwrap();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for seq in 0..PER_PRODUCER {
                    tx.send((p, seq)).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers = drainers(&rx, CONSUMERS);
    drop(rx);
    for producer in producers {
        producer.await.unwrap();
    }
    let mut seen = HashSet::new();
    for consumer in consumers {
        let got = consumer.await.unwrap();
        // Each consumer sees every producer's items in the order they were sent.
        let mut last = [None::<u64>; PRODUCERS as usize];
        for &(p, seq) in &got {
            let prev = last[p as usize].replace(seq);
            assert!(
                prev.is_none_or(|prev| prev < seq),
                "producer {p}: {prev:?} then {seq}"
            );
            assert!(seen.insert((p, seq)), "({p}, {seq}) delivered twice");
        }
    }
    assert_eq!(seen.len() as u64, PRODUCERS * PER_PRODUCER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_by_four_capacity_1() {
    within(run(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_by_four_capacity_1024() {
    within(run(1024)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unbounded_four_by_four() {
    within(async {
        let (tx, rx) = channel::unbounded::<u64>();
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(
                    async move { tx.send_all((0..1000).map(|i| p * 1000 + i)).await.unwrap() },
                )
            })
            .collect();
        drop(tx);
        let mut sent = 0;
        for producer in producers {
            sent += producer.await.unwrap();
        }
        assert_eq!(sent, 4000);
        let mut got = Vec::new();
        while let Ok(item) = rx.recv().await {
            got.push(item);
        }
        got.sort_unstable();
        assert_eq!(got, (0..4000).collect::<Vec<_>>());
    })
    .await;
}

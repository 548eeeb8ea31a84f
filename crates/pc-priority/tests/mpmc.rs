//! Many producers and consumers on a real multi-threaded runtime: every item exactly once, FIFO
//! per producer and level at each consumer.

mod support;

use std::collections::HashMap;

use pc_priority::{ByKey, PriorityChannel, PriorityReceiver, PrioritySender, Store};
use support::within;

const PRODUCERS: usize = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 25_000;
const LEVELS: usize = 8;

/// (producer, priority, sequence within that producer and priority)
type Item = (usize, usize, u64);

async fn run<S: Store>(
    tx: PrioritySender<Item, S>,
    rx: PriorityReceiver<Item, S>,
    priority: fn(usize) -> S::Priority,
) {
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut next = [0u64; LEVELS];
                for n in 0..PER_PRODUCER {
                    let level = (n as usize * 7 + producer) % LEVELS;
                    tx.send((producer, level, next[level]), priority(level))
                        .await
                        .unwrap();
                    next[level] += 1;
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut last: HashMap<(usize, usize), u64> = HashMap::new();
                let mut got = Vec::new();
                while let Ok((item, _)) = rx.recv().await {
                    let (producer, level, seq) = item;
                    if let Some(previous) = last.insert((producer, level), seq) {
                        assert!(seq > previous, "FIFO per producer and level at a consumer");
                    }
                    got.push(item);
                }
                got
            })
        })
        .collect();
    drop(rx);
    for producer in producers {
        producer.await.unwrap();
    }
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.await.unwrap());
    }
    assert_eq!(all.len(), PRODUCERS * PER_PRODUCER as usize);
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        PRODUCERS * PER_PRODUCER as usize,
        "no duplicates"
    );
    let mut expected = Vec::new();
    for producer in 0..PRODUCERS {
        let mut next = [0u64; LEVELS];
        for n in 0..PER_PRODUCER {
            let level = (n as usize * 7 + producer) % LEVELS;
            expected.push((producer, level, next[level]));
            next[level] += 1;
        }
    }
    expected.sort_unstable();
    assert_eq!(all, expected, "every item exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_over_eight_levels_each_item_once() {
    within(async {
        let (tx, rx) = PriorityChannel::builder(LEVELS)
            .capacity(64)
            .build()
            .unwrap();
        run(tx, rx, |level| level).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_by_key_each_item_once() {
    within(async {
        let (tx, rx): (_, PriorityReceiver<Item, ByKey<usize>>) =
            PriorityChannel::by_key(0).capacity(64).build().unwrap();
        run(tx, rx, |level| level).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_by_four_weighted_each_item_once() {
    within(async {
        let (tx, rx) = PriorityChannel::builder(LEVELS)
            .capacity(16)
            .scheduling(pc_priority::Scheduling::Weighted(vec![
                8, 7, 6, 5, 4, 3, 2, 1,
            ]))
            .build()
            .unwrap();
        run(tx, rx, |level| level).await;
    })
    .await;
}

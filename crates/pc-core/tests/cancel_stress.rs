//! Random cancellation, both sides at once: 4 producers and 4 consumers on a 2-worker runtime,
//! every wait raced in `select!` against a random number of yields, mixing `send`, `reserve`,
//! `recv` and `recv_batch`. Every item is counted: received exactly once, or (a cancelled
//! `send`) never enqueued and never received. Run in release too (`cargo xtask ci` does).

mod support;

use std::collections::HashSet;
use std::time::Duration;

use pc_core::channel;
use support::within;

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u64 = 2_000;
const ROUNDS: u64 = 8;

/// Yields a random number of times (0 to 3): the race is lost or won at varying points.
async fn random_yields(rng: &mut fastrand::Rng) {
    for _ in 0..rng.u8(0..4) {
        tokio::task::yield_now().await;
    }
}

/// Sends its items by `send` or `reserve`, each wait raced against yields. Returns the items
/// it knows went in, and those whose cancelled `send` dropped them.
async fn produce(tx: channel::Sender<u64>, first: u64, seed: u64) -> (Vec<u64>, Vec<u64>) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let (mut sent, mut dropped) = (Vec::new(), Vec::new());
    for item in first..first + PER_PRODUCER {
        loop {
            if rng.bool() {
                tokio::select! {
                    done = tx.send(item) => {
                        done.unwrap();
                        sent.push(item);
                    }
                    () = random_yields(&mut rng) => dropped.push(item),
                }
                break;
            }
            // A cancelled reservation keeps the item: try again.
            tokio::select! {
                permit = tx.reserve() => {
                    permit.unwrap().send(item).unwrap();
                    sent.push(item);
                    break;
                }
                () = random_yields(&mut rng) => {}
            }
        }
    }
    (sent, dropped)
}

/// Receives by `recv` or `recv_batch` until the channel is closed and drained, each wait raced
/// against yields.
async fn consume(rx: channel::Receiver<u64>, seed: u64) -> Vec<u64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut got = Vec::new();
    let mut buf = Vec::new();
    loop {
        let closed = if rng.bool() {
            tokio::select! {
                item = rx.recv() => match item {
                    Ok(item) => {
                        got.push(item);
                        false
                    }
                    Err(_) => true,
                },
                () = random_yields(&mut rng) => false,
            }
        } else {
            let linger = Duration::from_micros(rng.u64(0..50));
            let closed = tokio::select! {
                n = rx.recv_batch(&mut buf, rng.usize(1..8), linger) => n == 0,
                () = random_yields(&mut rng) => false,
            };
            // Cancel safe: what was gathered before the cancellation is in `buf`.
            got.append(&mut buf);
            closed
        };
        if closed {
            return got;
        }
    }
}

async fn round(seed: u64) {
    let (tx, rx) = channel::bounded::<u64>(4).unwrap();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| tokio::spawn(produce(tx.clone(), p * PER_PRODUCER, seed * 100 + p)))
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| tokio::spawn(consume(rx.clone(), seed * 100 + 50 + c as u64)))
        .collect();
    drop(rx);
    let (mut sent, mut dropped) = (HashSet::new(), HashSet::new());
    for producer in producers {
        let (s, d) = producer.await.unwrap();
        sent.extend(s);
        dropped.extend(d);
    }
    let mut received = Vec::new();
    for consumer in consumers {
        received.extend(consumer.await.unwrap());
    }
    let received_set: HashSet<u64> = received.iter().copied().collect();
    assert_eq!(
        received.len(),
        received_set.len(),
        "seed {seed}: an item came twice"
    );
    assert_eq!(
        received_set, sent,
        "seed {seed}: exactly the sent items arrive"
    );
    assert!(sent.is_disjoint(&dropped), "seed {seed}");
    assert_eq!(
        sent.len() + dropped.len(),
        (PRODUCERS * PER_PRODUCER) as usize,
        "seed {seed}: every item is sent or was dropped by its cancelled send"
    );
    assert!(
        !dropped.is_empty(),
        "seed {seed}: the cancellations happened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cancellation_on_both_sides_counts_every_item() {
    within(async {
        for seed in 0..ROUNDS {
            round(seed).await;
        }
    })
    .await;
}

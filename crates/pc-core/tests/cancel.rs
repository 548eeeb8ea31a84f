//! Cancelled waits lose nothing: every item is delivered, handed back, or (for a cancelled plain
//! `send`) provably never enqueued.

mod support;

use std::collections::HashSet;

use pc_core::channel;
use support::within;

const ATTEMPTS: u64 = 10_000;

/// Yields a random number of times (0 to 3), so the race with a wait for space is lost or won
/// at varying points.
async fn random_yields(rng: &mut fastrand::Rng) {
    for _ in 0..rng.u8(0..4) {
        tokio::task::yield_now().await;
    }
}

/// A consumer that drains slowly, keeping the channel close to full.
fn slow_consumer(rx: channel::Receiver<u64>) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut got = Vec::new();
        while let Ok(item) = rx.recv().await {
            got.push(item);
            random_yields(&mut rng).await;
        }
        got
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reservations_hand_every_item_back() {
    within(async {
        let (tx, rx) = channel::bounded::<u64>(4).unwrap();
        let consumer = slow_consumer(rx);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut handed_back = Vec::new();
        for item in 0..ATTEMPTS {
            tokio::select! {
                permit = tx.reserve() => permit.unwrap().send(item).unwrap(),
                () = random_yields(&mut rng) => handed_back.push(item),
            }
        }
        drop(tx);
        let delivered = consumer.await.unwrap();
        assert!(
            !handed_back.is_empty() && !delivered.is_empty(),
            "both sides of the race ran"
        );
        let mut all: Vec<u64> = delivered.iter().chain(&handed_back).copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..ATTEMPTS).collect::<Vec<_>>(),
            "delivered + handed back = attempted"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_sends_never_enqueue() {
    within(async {
        let (tx, rx) = channel::bounded::<u64>(4).unwrap();
        let consumer = slow_consumer(rx);
        let mut rng = fastrand::Rng::with_seed(2);
        let mut completed = HashSet::new();
        let mut cancelled = HashSet::new();
        for item in 0..ATTEMPTS {
            tokio::select! {
                sent = tx.send(item) => {
                    sent.unwrap();
                    completed.insert(item);
                }
                () = random_yields(&mut rng) => {
                    cancelled.insert(item);
                }
            }
        }
        drop(tx);
        let delivered: HashSet<u64> = consumer.await.unwrap().into_iter().collect();
        assert!(
            !cancelled.is_empty() && !completed.is_empty(),
            "both sides of the race ran"
        );
        assert_eq!(
            delivered, completed,
            "exactly the completed sends were delivered"
        );
        assert_eq!(completed.len() + cancelled.len(), ATTEMPTS as usize);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_sends_hand_every_item_back() {
    within(async {
        let (tx, rx) = channel::bounded::<u64>(2).unwrap();
        let consumer = slow_consumer(rx);
        let mut handed_back = Vec::new();
        for item in 0..ATTEMPTS {
            match tx.send_timeout(item, std::time::Duration::ZERO).await {
                Ok(()) => {}
                Err(err) => handed_back.push(err.into_inner()),
            }
        }
        drop(tx);
        let delivered = consumer.await.unwrap();
        let mut all: Vec<u64> = delivered.iter().chain(&handed_back).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..ATTEMPTS).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_receives_lose_nothing() {
    within(async {
        let (tx, rx) = channel::bounded::<u64>(16).unwrap();
        let producer = tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(3);
            for item in 0..ATTEMPTS {
                tx.send(item).await.unwrap();
                random_yields(&mut rng).await;
            }
        });
        let mut rng = fastrand::Rng::with_seed(4);
        let mut got = Vec::new();
        let mut cancelled = 0u64;
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    Ok(item) => got.push(item),
                    Err(_) => break,
                },
                () = random_yields(&mut rng) => cancelled += 1,
            }
        }
        producer.await.unwrap();
        assert!(cancelled > 0, "some receives were cancelled");
        assert_eq!(
            got,
            (0..ATTEMPTS).collect::<Vec<_>>(),
            "each item once, in order"
        );
    })
    .await;
}

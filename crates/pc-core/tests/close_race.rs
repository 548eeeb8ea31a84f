//! Closing while senders, reservations and receivers are all in flight, on a multi-thread
//! runtime: every item is received, handed back, or reported stranded; nothing hangs.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pc_core::channel::{self, Sender};
use support::{RecordingProbe, within};

const ROUNDS: u64 = 200;
const SENDERS: u64 = 4;
const PER_SENDER: u64 = 50;

/// Sends `PER_SENDER` items through every way of sending; returns (sent, handed back).
async fn send_every_way(tx: Sender<u64>, first: u64) -> (Vec<u64>, Vec<u64>) {
    let mut sent = Vec::new();
    let mut back = Vec::new();
    for item in first..first + PER_SENDER {
        let result = match item % 4 {
            0 => tx.send(item).await.map_err(|e| e.into_inner()),
            1 => match tx.reserve().await {
                Ok(permit) => {
                    tokio::task::yield_now().await; // hold the slot across an await
                    permit.send(item).map_err(|e| e.into_inner())
                }
                Err(_) => Err(item),
            },
            2 => tx
                .send_timeout(item, Duration::from_millis(50))
                .await
                .map_err(|e| e.into_inner()),
            _ => match tx.try_send(item) {
                Ok(()) => Ok(()),
                Err(err) if err.is_full() => {
                    tx.send(err.into_inner()).await.map_err(|e| e.into_inner())
                }
                Err(err) => Err(err.into_inner()),
            },
        };
        match result {
            Ok(()) => sent.push(item),
            Err(item) => back.push(item),
        }
    }
    (sent, back)
}

/// One round: `close_by` decides how the channel ends while everything runs.
async fn round(seed: u64, drop_receivers: bool) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let probe = Arc::new(RecordingProbe::default());
    let (tx, rx) = channel::Builder::bounded(4)
        .probe(probe.clone())
        .build::<u64>()
        .unwrap();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| tokio::spawn(send_every_way(tx.clone(), s * PER_SENDER)))
        .collect();
    let receivers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            let limit = if drop_receivers {
                rng.usize(0..40)
            } else {
                usize::MAX
            };
            tokio::spawn(async move {
                let mut got = Vec::new();
                while got.len() < limit {
                    match rx.recv().await {
                        Ok(item) => got.push(item),
                        Err(_) => break,
                    }
                }
                got // the receiver is dropped here, possibly while items are queued
            })
        })
        .collect();
    drop(rx);
    for _ in 0..rng.u8(0..20) {
        tokio::task::yield_now().await;
    }
    if !drop_receivers {
        tx.close();
    }
    drop(tx);

    let mut sent = HashSet::new();
    let mut back = HashSet::new();
    for sender in senders {
        let (s, b) = sender.await.unwrap();
        sent.extend(s);
        back.extend(b);
    }
    let mut received = Vec::new();
    for receiver in receivers {
        received.extend(receiver.await.unwrap());
    }
    let received_set: HashSet<u64> = received.iter().copied().collect();
    assert_eq!(
        received.len(),
        received_set.len(),
        "an item was received twice"
    );
    assert!(
        sent.is_disjoint(&back),
        "an item was both sent and handed back"
    );
    assert_eq!(
        sent.len() + back.len(),
        (SENDERS * PER_SENDER) as usize,
        "every attempt accounted for"
    );
    assert!(
        received_set.is_subset(&sent),
        "only sent items are received"
    );
    let stranded: u64 = probe.dropped.lock().unwrap().iter().map(|(n, _)| n).sum();
    assert_eq!(
        received.len() as u64 + stranded,
        sent.len() as u64,
        "every sent item is received or reported stranded"
    );
    assert_eq!(probe.produced.load(Ordering::SeqCst), sent.len() as u64);
    if !drop_receivers {
        assert_eq!(stranded, 0, "a closed channel is drained, not stranded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_while_everything_is_in_flight() {
    within(async {
        for seed in 0..ROUNDS {
            round(seed, false).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_receiver_leaves_while_everything_is_in_flight() {
    within(async {
        for seed in 0..ROUNDS {
            round(seed, true).await;
        }
    })
    .await;
}

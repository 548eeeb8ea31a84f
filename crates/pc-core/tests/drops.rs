//! Items are dropped exactly once, whoever holds them at teardown.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pc_core::channel;
use support::{Counted, within};

#[tokio::test]
async fn every_item_is_dropped_exactly_once() {
    within(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel::bounded::<Counted>(16).unwrap();
        for id in 0..10 {
            tx.send(Counted::new(id, &drops)).await.unwrap();
        }
        // Three received and dropped by us, one refused and handed back, one in a permit.
        for _ in 0..3 {
            drop(rx.recv().await.unwrap());
        }
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        tx.close();
        let refused = tx
            .try_send(Counted::new(100, &drops))
            .unwrap_err()
            .into_inner();
        assert_eq!(refused.id, 100);
        drop(refused);
        assert_eq!(drops.load(Ordering::SeqCst), 4);
        // Teardown with 7 items still queued.
        drop(tx);
        drop(rx);
        assert_eq!(drops.load(Ordering::SeqCst), 11);
    })
    .await;
}

#[tokio::test]
async fn items_queued_through_clones_are_dropped_once() {
    within(async {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel::unbounded::<Counted>();
        let rx2 = rx.clone();
        let tx2 = tx.clone();
        for id in 0..50 {
            let sender = if id % 2 == 0 { &tx } else { &tx2 };
            sender.send(Counted::new(id, &drops)).await.unwrap();
        }
        drop(rx.recv().await.unwrap());
        drop(rx2.recv().await.unwrap());
        drop((tx, tx2, rx));
        assert_eq!(
            drops.load(Ordering::SeqCst),
            2,
            "rx2 still holds the channel open"
        );
        drop(rx2);
        assert_eq!(drops.load(Ordering::SeqCst), 50);
    })
    .await;
}

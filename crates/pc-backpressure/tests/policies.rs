//! Every overflow policy accounts for every item: delivered, handed back, or dropped.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pc_backpressure::{BoundedQueue, OfferError, Overflow, Pressure};
use pc_core::{Consumer, DropReason, Producer, RecvError};
use support::{EVERY_POLICY, assert_every_item_once, within};

type Dropped = Arc<Mutex<Vec<(u64, DropReason)>>>;

/// 4 producers x 2,000 items, 2 consumers, capacity 8: returns (delivered, handed back, dropped).
async fn run(overflow: Overflow) -> (Vec<u64>, Vec<u64>, Vec<(u64, DropReason)>) {
    let dropped: Dropped = Arc::default();
    let hook = Arc::clone(&dropped);
    let (tx, rx) = BoundedQueue::builder(8)
        .overflow(overflow)
        .on_drop(move |item, reason| hook.lock().unwrap().push((item, reason)))
        .build()
        .unwrap();
    let producers: Vec<_> = (0..4u64)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut back = Vec::new();
                for i in 0..2_000 {
                    if let Err(err) = tx.send(p * 10_000 + i).await {
                        back.push(err.into_inner());
                    }
                }
                back
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(item) = rx.recv().await {
                    got.push(item);
                    if got.len() % 3 == 0 {
                        tokio::task::yield_now().await; // slower than the producers
                    }
                }
                got
            })
        })
        .collect();
    let mut handed_back = Vec::new();
    for producer in producers {
        handed_back.extend(producer.await.unwrap());
    }
    let mut delivered = Vec::new();
    for consumer in consumers {
        delivered.extend(consumer.await.unwrap());
    }
    let stats = rx.stats();
    assert_eq!(stats.consumed as usize, delivered.len());
    assert_eq!(stats.rejected as usize, handed_back.len());
    drop(rx);
    let dropped = dropped.lock().unwrap().clone();
    (delivered, handed_back, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_policy_accounts_for_every_item() {
    within(async {
        for overflow in EVERY_POLICY {
            let (delivered, back, dropped) = run(overflow).await;
            assert_every_item_once(&delivered, &back, &dropped, 8_000);
            match overflow {
                Overflow::Block => assert_eq!(delivered.len(), 8_000),
                Overflow::DropIncoming => {
                    assert!(back.is_empty());
                    assert!(dropped.iter().all(|(_, why)| *why == DropReason::Full));
                }
                Overflow::DropOldest => {
                    assert!(back.is_empty());
                    assert!(dropped.iter().all(|(_, why)| *why == DropReason::Oldest));
                }
                _ => assert!(dropped.is_empty()),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn drop_oldest_evicts_exactly_the_oldest() {
    let dropped: Dropped = Arc::default();
    let hook = Arc::clone(&dropped);
    let (tx, rx) = BoundedQueue::builder(3)
        .overflow(Overflow::DropOldest)
        .on_drop(move |item, reason| hook.lock().unwrap().push((item, reason)))
        .build()
        .unwrap();
    for i in 1..=6u64 {
        tx.send(i).await.unwrap();
    }
    let oldest = DropReason::Oldest;
    assert_eq!(
        *dropped.lock().unwrap(),
        [(1, oldest), (2, oldest), (3, oldest)]
    );
    assert_eq!(
        [rx.try_recv(), rx.try_recv(), rx.try_recv()],
        [Ok(4), Ok(5), Ok(6)]
    );
    assert_eq!(tx.stats().dropped_oldest, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn never_more_than_the_capacity_against_a_stalled_consumer() {
    within(async {
        for overflow in [
            Overflow::DropOldest,
            Overflow::DropIncoming,
            Overflow::Reject,
        ] {
            let (tx, rx) = BoundedQueue::builder::<u64>(16)
                .overflow(overflow)
                .build()
                .unwrap();
            let producers: Vec<_> = (0..2u64)
                .map(|p| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in 0..500_000 {
                            let _ = tx.try_send(p * 1_000_000 + i);
                        }
                    })
                })
                .collect();
            // Nobody receives; sample the depth until the producers are done.
            let mut samples = 0u64;
            while !producers.iter().all(|p| p.is_finished()) {
                assert!(rx.len() <= 16, "{overflow:?}: depth {}", rx.len());
                samples += 1;
                tokio::task::yield_now().await;
            }
            for producer in producers {
                producer.await.unwrap();
            }
            let stats = tx.stats();
            assert!(samples > 0);
            assert_eq!(stats.depth, 16);
            assert!(stats.peak_depth <= 16, "{stats:?}");
            let attempted = 1_000_000;
            let accounted = stats.produced + stats.dropped_incoming + stats.rejected;
            assert_eq!(accounted, attempted, "{overflow:?}: {stats:?}");
            assert_eq!(stats.produced, 16 + stats.dropped_oldest, "{overflow:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn pressure_has_hysteresis() {
    let (tx, rx) = BoundedQueue::builder::<u32>(10)
        .watermarks(0.8, 0.2)
        .build()
        .unwrap();
    let mut watch = tx.subscribe();
    for i in 0..7 {
        tx.send(i).await.unwrap();
    }
    assert_eq!(
        tx.pressure(),
        Pressure::Normal,
        "7 of 10 is below the high mark"
    );
    tx.send(7).await.unwrap();
    assert_eq!(tx.pressure(), Pressure::High, "8 of 10 reaches it");
    assert!(watch.has_changed().unwrap());
    assert_eq!(*watch.borrow_and_update(), Pressure::High);
    for _ in 0..5 {
        rx.recv().await.unwrap();
    }
    assert_eq!(
        rx.pressure(),
        Pressure::High,
        "3 left: still above the low mark"
    );
    rx.recv().await.unwrap();
    assert_eq!(rx.pressure(), Pressure::Normal, "2 left: the low mark");
    watch.changed().await.unwrap();
    assert_eq!(*watch.borrow(), Pressure::Normal);
}

#[tokio::test]
async fn rejected_and_closed_items_come_back() {
    let (tx, rx) = BoundedQueue::builder(1)
        .overflow(Overflow::Reject)
        .build()
        .unwrap();
    tx.send(1).await.unwrap();
    assert!(matches!(tx.send(2).await, Err(OfferError::Rejected(2))));
    assert_eq!(Producer::try_send(&tx, 3).unwrap_err().into_inner(), 3);
    assert_eq!(
        Producer::send_timeout(&tx, 4, Duration::from_secs(1))
            .await
            .unwrap_err()
            .into_inner(),
        4
    );
    assert!(tx.close());
    assert!(matches!(tx.send(5).await, Err(OfferError::Closed(5))));
    assert_eq!(Consumer::recv(&rx).await, Ok(1));
    assert_eq!(rx.recv().await, Err(RecvError));
    assert_eq!(tx.stats().rejected, 3);
}

#[tokio::test]
async fn the_last_receiver_reports_what_it_strands() {
    let dropped: Dropped = Arc::default();
    let hook = Arc::clone(&dropped);
    let (tx, rx) = BoundedQueue::builder(4)
        .on_drop(move |item, reason| hook.lock().unwrap().push((item, reason)))
        .build()
        .unwrap();
    tx.send(1u64).await.unwrap();
    tx.send(2).await.unwrap();
    let rx2 = rx.clone();
    drop(rx);
    assert!(
        dropped.lock().unwrap().is_empty(),
        "a receiver is still alive"
    );
    drop(rx2);
    let closed = DropReason::Closed;
    assert_eq!(*dropped.lock().unwrap(), [(1, closed), (2, closed)]);
    assert!(matches!(tx.send(3).await, Err(OfferError::Closed(3))));
    assert_eq!(tx.stats().dropped_closed, 2);
}

#[test]
fn bad_settings_are_build_errors() {
    assert_eq!(
        BoundedQueue::builder::<u8>(0)
            .build()
            .unwrap_err()
            .setting(),
        "capacity"
    );
    for (high, low) in [(0.2, 0.8), (1.5, 0.1), (0.5, 0.5), (f64::NAN, 0.1)] {
        let err = BoundedQueue::builder::<u8>(4)
            .watermarks(high, low)
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "watermarks", "{high} {low}");
    }
}

#[tokio::test]
async fn waiting_producers_and_consumers_are_counted() {
    let (tx, rx) = BoundedQueue::builder::<u32>(1).build().unwrap();
    let consumer = tokio::spawn({
        let rx = rx.clone();
        async move { rx.recv().await }
    });
    tokio::task::yield_now().await;
    assert_eq!(tx.stats().waiting_consumers, 1);
    tx.send(1).await.unwrap();
    assert_eq!(consumer.await.unwrap(), Ok(1));
    tx.send(2).await.unwrap();
    let producer = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(3).await }
    });
    tokio::task::yield_now().await;
    let stats = rx.stats();
    assert_eq!((stats.waiting_producers, stats.waiting_consumers), (1, 0));
    assert_eq!(rx.recv().await, Ok(2));
    producer.await.unwrap().unwrap();
    assert_eq!(rx.stats().waiting_producers, 0);
}

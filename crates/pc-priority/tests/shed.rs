//! `WhenFull::ShedLowest`: every item is delivered or counted as shed and handed to the hook.

mod support;

use std::sync::{Arc, Mutex};

use pc_core::DropReason;
use pc_priority::{PriorityChannel, TrySendError, WhenFull};
use support::RecordingProbe;

#[tokio::test]
async fn each_high_send_into_a_full_channel_sheds_exactly_the_oldest_low_item() {
    let shed = Arc::new(Mutex::new(Vec::new()));
    let probe = Arc::new(RecordingProbe::default());
    let hook = Arc::clone(&shed);
    let (tx, rx) = PriorityChannel::builder(4)
        .capacity(10)
        .when_full(WhenFull::ShedLowest)
        .on_drop(move |item, level| hook.lock().unwrap().push((item, level)))
        .probe(probe.clone())
        .build()
        .unwrap();
    for n in 0..10 {
        tx.send(n, 3).await.unwrap();
    }
    for n in 100..106 {
        tx.send(n, 0).await.unwrap();
        assert_eq!(tx.len(), 10, "still full: one in, one out");
    }
    assert_eq!(
        *shed.lock().unwrap(),
        [(0, 3), (1, 3), (2, 3), (3, 3), (4, 3), (5, 3)]
    );
    tx.close();
    let mut delivered = Vec::new();
    while let Ok((item, _)) = rx.recv().await {
        delivered.push(item);
    }
    assert_eq!(delivered, [100, 101, 102, 103, 104, 105, 6, 7, 8, 9]);
    let sent = 16;
    assert_eq!(delivered.len() + shed.lock().unwrap().len(), sent);
    assert_eq!(probe.produced.load(std::sync::atomic::Ordering::SeqCst), 16);
    assert_eq!(probe.consumed.load(std::sync::atomic::Ordering::SeqCst), 10);
    assert_eq!(
        *probe.dropped.lock().unwrap(),
        vec![(1, DropReason::Shed); 6]
    );
}

#[tokio::test]
async fn the_lowest_non_empty_level_goes_first_and_nothing_at_or_above_the_sender() {
    let (tx, rx) = PriorityChannel::builder(4)
        .capacity(3)
        .when_full(WhenFull::ShedLowest)
        .build()
        .unwrap();
    tx.try_send("a1", 1).unwrap();
    tx.try_send("b2", 2).unwrap();
    tx.try_send("c1", 1).unwrap();
    // Level 2 is the lowest non-empty level below 1.
    tx.try_send("d1", 1).unwrap();
    // Nothing below level 1 is left: a level-1 send (or lower) finds the channel full.
    assert!(matches!(
        tx.try_send("e1", 1),
        Err(TrySendError::Full("e1"))
    ));
    assert!(matches!(
        tx.try_send("f3", 3),
        Err(TrySendError::Full("f3"))
    ));
    // Level 0 sheds the oldest of level 1.
    tx.try_send("g0", 0).unwrap();
    let order: Vec<&str> = (0..3).map(|_| rx.try_recv().unwrap().0).collect();
    assert_eq!(order, ["g0", "c1", "d1"]);
}

#[tokio::test]
async fn a_send_that_cannot_shed_waits_for_space() {
    let (tx, rx) = PriorityChannel::builder(2)
        .capacity(1)
        .when_full(WhenFull::ShedLowest)
        .build()
        .unwrap();
    tx.try_send(1, 0).unwrap();
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(2, 0).await }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    assert_eq!(rx.recv().await.unwrap(), (1, 0));
    waiting.await.unwrap().unwrap();
    assert_eq!(rx.recv().await.unwrap(), (2, 0));
}

#[tokio::test]
async fn keyed_channels_shed_the_oldest_of_the_largest_key() {
    let shed = Arc::new(Mutex::new(Vec::new()));
    let hook = Arc::clone(&shed);
    let (tx, rx) = PriorityChannel::by_key(0u32)
        .capacity(4)
        .when_full(WhenFull::ShedLowest)
        .on_drop(move |item, key| hook.lock().unwrap().push((item, key)))
        .build()
        .unwrap();
    for (item, key) in [("x", 7), ("y", 9), ("z", 9), ("w", 2)] {
        tx.try_send(item, key).unwrap();
    }
    tx.try_send("urgent", 1).unwrap();
    tx.try_send("urgent too", 8).unwrap();
    assert!(tx.try_send("not urgent", 9).unwrap_err().is_full());
    assert_eq!(*shed.lock().unwrap(), [("y", 9), ("z", 9)]);
    let order: Vec<&str> = (0..4).map(|_| rx.try_recv().unwrap().0).collect();
    assert_eq!(order, ["urgent", "w", "x", "urgent too"]);
}

#[tokio::test]
async fn a_reservation_sheds_too() {
    let (tx, rx) = PriorityChannel::builder(2)
        .capacity(1)
        .when_full(WhenFull::ShedLowest)
        .build()
        .unwrap();
    tx.try_send("low", 1).unwrap();
    let permit = tx.reserve(0).await.unwrap();
    assert_eq!(tx.len(), 0, "the low item made room for the reservation");
    assert!(tx.try_send("another low", 1).unwrap_err().is_full());
    permit.send("high").unwrap();
    assert_eq!(rx.try_recv().unwrap(), ("high", 0));
}

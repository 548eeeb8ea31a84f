//! A probe sees exact counts, depths, waits and stranded items.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::{DropReason, WaitKind, channel};
use support::{RecordingProbe, within, within_paused};

#[tokio::test(start_paused = true)]
async fn counts_and_depth() {
    within_paused(async {
        let probe = Arc::new(RecordingProbe::default());
        let (tx, mut rx) = channel::Builder::bounded(4)
            .probe(probe.clone())
            .build::<u32>()
            .unwrap();
        tx.send(1).await.unwrap();
        tx.try_send(2).unwrap();
        tx.send_timeout(3, Duration::from_secs(1)).await.unwrap();
        tx.reserve().await.unwrap().send(4).unwrap();
        assert_eq!(*probe.depths.lock().unwrap(), [1, 2, 3, 4]);
        assert_eq!(
            tx.try_send(5).unwrap_err().into_inner(),
            5,
            "a refused send is not counted"
        );

        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.next().await, Some(3));
        let mut buf = Vec::new();
        assert_eq!(rx.recv_batch(&mut buf, 8, Duration::ZERO).await, 1);

        assert_eq!(probe.produced.load(Ordering::SeqCst), 4);
        assert_eq!(probe.consumed.load(Ordering::SeqCst), 4);
        assert_eq!(*probe.depths.lock().unwrap(), [1, 2, 3, 4, 3, 2, 1, 0]);
        assert!(probe.waits.lock().unwrap().is_empty(), "nothing waited");
        assert!(probe.dropped.lock().unwrap().is_empty());
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn time_blocked_on_a_full_channel() {
    within_paused(async {
        let probe = Arc::new(RecordingProbe::default());
        let (tx, rx) = channel::Builder::bounded(1)
            .probe(probe.clone())
            .build::<u32>()
            .unwrap();
        tx.send(1).await.unwrap();
        let consumer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            rx.recv().await.unwrap();
            rx
        });
        tx.send(2).await.unwrap();
        let _rx = consumer.await.unwrap();
        assert_eq!(
            *probe.waits.lock().unwrap(),
            [(WaitKind::SendBlocked, Duration::from_millis(250))]
        );
    })
    .await;
}

#[tokio::test]
async fn items_stranded_by_the_last_receiver_are_reported() {
    within(async {
        let probe = Arc::new(RecordingProbe::default());
        let (tx, rx) = channel::Builder::unbounded()
            .probe(probe.clone())
            .build::<u32>()
            .unwrap();
        tx.send_all(0..7).await.unwrap();
        rx.recv().await.unwrap();
        drop(rx);
        assert_eq!(*probe.dropped.lock().unwrap(), [(6, DropReason::Closed)]);
        assert_eq!(DropReason::Closed.to_string(), "closed");
        assert_eq!(WaitKind::SendBlocked.as_str(), "send_blocked");
    })
    .await;
}

#[tokio::test]
async fn counts_come_from_the_slots_without_a_probe() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(4).unwrap();
        tx.send_all(0..3).await.unwrap();
        drop(tx.try_reserve().unwrap()); // a slot taken and given back unused
        rx.recv().await.unwrap();
        let counts = rx.counts().unwrap();
        assert_eq!((counts.sent, counts.received), (3, 1));
        tx.close();
        assert!(tx.try_send(9).is_err(), "refused: not counted");
        assert_eq!(tx.counts().unwrap().sent, 3);
        assert!(channel::unbounded::<u32>().0.counts().is_none());
    })
    .await;
}

#[tokio::test]
async fn counts_keep_what_was_sent_through_hand_offs_put_backs_and_the_last_receiver_leaving() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(4).unwrap();
        // Handed to a parked receive, which is dropped before it takes it: put back.
        let mut parked = tokio_test::task::spawn(rx.recv());
        assert!(parked.poll().is_pending());
        tx.send(1).await.unwrap();
        assert_eq!(rx.counts().unwrap().sent, 1);
        drop(parked);
        tx.send_all([2, 3]).await.unwrap();
        assert_eq!(rx.recv().await, Ok(1));
        let counts = tx.counts().unwrap();
        assert_eq!((counts.sent, counts.received), (3, 1));
        // The last receiver goes: the two queued items are dropped, and stay counted as sent.
        drop(rx);
        let counts = tx.counts().unwrap();
        assert_eq!((counts.sent, counts.received), (3, 1));
    })
    .await;
}

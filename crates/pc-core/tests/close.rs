//! Closing: drain, then `Closed`; sends after close hand their item back.

mod support;

use std::sync::Arc;
use std::time::Duration;

use pc_core::{Consumer, DropReason, Producer, RecvError, SendError, TrySendError, channel};
use support::{RecordingProbe, within};

#[tokio::test]
async fn queued_items_drain_after_close() {
    within(async {
        let (tx, rx) = channel::bounded(1000).unwrap();
        for i in 0..1000 {
            tx.send(i).await.unwrap();
        }
        assert!(tx.close());
        assert!(
            !tx.close(),
            "a second close reports that it was already closed"
        );
        assert!(tx.is_closed() && rx.is_closed());
        let mut got = Vec::new();
        while let Ok(item) = rx.recv().await {
            got.push(item);
        }
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert_eq!(rx.recv().await, Err(RecvError));
    })
    .await;
}

#[tokio::test]
async fn sends_after_close_hand_items_back() {
    let (tx, rx) = channel::bounded::<u32>(10).unwrap();
    rx.close();
    let mut handed_back = Vec::new();
    for i in 0..100 {
        let SendError(item) = tx.send(i).await.unwrap_err();
        handed_back.push(item);
    }
    assert_eq!(handed_back, (0..100).collect::<Vec<_>>());
    assert_eq!(tx.try_send(7), Err(TrySendError::Closed(7)));
    assert!(tx.reserve().await.is_err());
    assert_eq!(rx.len(), 0);
}

#[tokio::test]
async fn dropping_the_last_sender_closes() {
    within(async {
        let (tx, rx) = channel::bounded(4).unwrap();
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        drop(tx);
        assert!(!rx.is_closed(), "one sender is still alive");
        tx2.send(2).await.unwrap();
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.recv().await, Ok(1));
        assert_eq!(rx.recv().await, Ok(2));
        assert_eq!(rx.recv().await, Err(RecvError));
    })
    .await;
}

#[tokio::test]
async fn dropping_the_last_receiver_wakes_a_waiting_sender() {
    within(async {
        let probe = Arc::new(RecordingProbe::default());
        let (tx, rx) = channel::Builder::bounded(2)
            .probe(probe.clone())
            .build::<u32>()
            .unwrap();
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.send(3).await }
        });
        tokio::task::yield_now().await;
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed(), "one receiver is still alive");
        drop(rx2);
        assert_eq!(waiting.await.unwrap(), Err(SendError(3)));
        assert!(tx.is_closed());
        // The two queued items can never be received: they are reported, not lost silently.
        assert_eq!(*probe.dropped.lock().unwrap(), [(2, DropReason::Closed)]);
    })
    .await;
}

#[tokio::test]
async fn a_permit_taken_before_close_still_delivers() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        let permit = tx.reserve().await.unwrap();
        assert!(tx.close());
        assert!(tx.try_reserve().unwrap_err().is_closed());
        permit.send(9).unwrap();
        assert_eq!(rx.recv().await, Ok(9));
        assert_eq!(rx.recv().await, Err(RecvError));
    })
    .await;
}

#[tokio::test]
async fn generic_code_sees_the_close() {
    async fn drain(consumer: &impl Consumer<u32>) -> Vec<u32> {
        let mut got = Vec::new();
        while let Ok(item) = consumer.recv().await {
            got.push(item);
        }
        got
    }
    within(async {
        let (tx, rx) = channel::bounded(8).unwrap();
        Producer::send_all(&tx, [1, 2, 3]).await.unwrap();
        assert!(Producer::close(&tx));
        assert_eq!(drain(&rx).await, [1, 2, 3]);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(1)).await,
            Err(pc_core::RecvTimeoutError::Closed)
        );
    })
    .await;
}

//! The traits over async-channel's own halves, through `&T`, `Box<T>` and `Arc<T>`, and the
//! `Stream`/`Sink` conversions.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt, stream};
use pc_core::{Consumer, ProduceError, ProduceErrorKind, Producer, SendError, Stage, channel};
use support::{within, within_paused};

/// Moves everything from `from` to `to`, transformed by `stage`, then closes `to`.
async fn relay<S, C, P>(stage: &S, from: C, to: P) -> usize
where
    S: Stage<u32, Output = u32>,
    C: Consumer<u32>,
    P: Producer<u32>,
{
    let mut moved = 0;
    while let Ok(item) = from.recv().await {
        if let Ok(out) = stage.run(item).await {
            to.send(out).await.unwrap();
            moved += 1;
        }
    }
    to.close();
    moved
}

#[tokio::test]
async fn one_generic_function_over_every_handle() {
    within(async {
        let double = |x: u32| async move { if x == 3 { Err("three") } else { Ok(x * 2) } };

        let (a_tx, a_rx) = async_channel::bounded(8);
        let (b_tx, b_rx) = channel::bounded(8).unwrap();
        Producer::send_all(&a_tx, [1, 2, 3, 4]).await.unwrap();
        a_tx.close();
        assert_eq!(relay(&double, &a_rx, Box::new(b_tx)).await, 3);

        let (c_tx, c_rx) = async_channel::unbounded();
        assert_eq!(relay(&double, Arc::new(b_rx), &c_tx).await, 3);
        assert_eq!(Consumer::capacity(&c_rx), None);
        assert_eq!(Consumer::len(&c_rx), 3);
        let got: Vec<u32> = Consumer::stream(&c_rx).collect().await;
        assert_eq!(got, [4, 8, 16]);
        assert!(Consumer::is_closed(&c_rx) && Producer::is_closed(&c_tx));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn async_channel_sender_hands_items_back() {
    within_paused(async {
        let (tx, rx) = async_channel::bounded::<u32>(1);
        Producer::try_send(&tx, 1).unwrap();
        assert_eq!(
            Producer::try_send(&tx, 2).map_err(ProduceError::into_parts),
            Err((ProduceErrorKind::Full, 2))
        );
        let started = tokio::time::Instant::now();
        assert_eq!(
            Producer::send_timeout(&tx, 3, Duration::from_millis(20))
                .await
                .map_err(ProduceError::into_parts),
            Err((ProduceErrorKind::TimedOut, 3))
        );
        assert_eq!(started.elapsed(), Duration::from_millis(20));

        let consumer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let first = Consumer::recv(&rx).await.unwrap();
            (first, rx)
        });
        Producer::send_timeout(&tx, 4, Duration::from_millis(20))
            .await
            .unwrap();
        let (first, rx) = consumer.await.unwrap();
        assert_eq!(first, 1);
        assert_eq!(Consumer::try_recv(&rx), Ok(4));
        assert!(Producer::close(&tx));
        assert_eq!(
            Producer::send(&tx, 5)
                .await
                .map_err(ProduceError::into_parts),
            Err((ProduceErrorKind::Closed, 5))
        );
        assert_eq!(
            Producer::send_timeout(&tx, 6, Duration::ZERO)
                .await
                .map_err(ProduceError::into_parts),
            Err((ProduceErrorKind::Closed, 6))
        );
    })
    .await;
}

#[tokio::test]
async fn sink_and_stream() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        let keep = tx.clone();
        let mut sink = tx.into_sink();
        let consumer = tokio::spawn(rx.collect::<Vec<_>>());
        sink.send_all(&mut stream::iter(0..100).map(Ok))
            .await
            .unwrap();
        sink.close().await.unwrap();
        assert!(!keep.is_closed(), "closing a sink closes only that sink");
        drop(sink);
        drop(keep);
        assert_eq!(consumer.await.unwrap(), (0..100).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn sink_reports_a_closed_channel() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let mut sink = tx.into_sink();
        sink.send(1).await.unwrap();
        rx.close();
        assert_eq!(sink.send(2).await.unwrap_err(), SendError(None));
        assert_eq!(rx.recv().await, Ok(1));
    })
    .await;
}

#[tokio::test]
async fn a_sink_holding_a_slot_gives_it_back_when_dropped() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let mut sink = tx.clone().into_sink();
        futures_util::future::poll_fn(|cx| {
            futures_util::Sink::<u32>::poll_ready(std::pin::Pin::new(&mut sink), cx)
        })
        .await
        .unwrap();
        assert!(
            tx.try_send(1).unwrap_err().is_full(),
            "the sink holds the only slot"
        );
        drop(sink);
        tx.try_send(1).unwrap();
        assert_eq!(rx.recv().await, Ok(1));
    })
    .await;
}

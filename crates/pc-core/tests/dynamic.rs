//! The object-safe companions: any producer or consumer boxed, shared and driven by code
//! generic over the traits, with the boxed consumer's own `recv_batch` and `stream`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::dynamic::{DynConsumer, DynProducer};
use pc_core::{ConsumeError, Consumer, ProduceErrorKind, Producer, channel};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_eq};

/// Generic code over the traits, fed boxes.
async fn relay(from: &impl Consumer<u32>, to: &impl Producer<u32>) -> usize {
    let mut moved = 0;
    while let Ok(item) = from.recv().await {
        to.send(item + 1).await.unwrap();
        moved += 1;
    }
    to.close();
    moved
}

/// Each kind of producer and consumer, picked at run time into one type.
fn pick(n: usize) -> (Box<dyn DynProducer<u32>>, Box<dyn DynConsumer<u32>>) {
    match n % 3 {
        0 => {
            let (tx, rx) = channel::bounded(2).unwrap();
            (tx.into_dyn(), rx.into_dyn())
        }
        1 => {
            let (tx, rx) = channel::unbounded();
            (tx.into_dyn(), rx.into_dyn())
        }
        _ => {
            let (tx, rx) = async_channel::bounded(2);
            (tx.into_dyn(), rx.into_dyn())
        }
    }
}

#[tokio::test(start_paused = true)]
async fn boxes_chosen_at_run_time_run_generic_code() {
    for n in 0..3 {
        let (in_tx, in_rx) = pick(n);
        let (out_tx, out_rx) = pick(n + 1);
        let feeder = tokio::spawn(async move {
            assert_eq!(in_tx.send_all(0..10).await.unwrap(), 10);
            assert!(in_tx.close());
        });
        let relayed = tokio::spawn(async move { relay(&in_rx, &out_tx).await });
        let mut got = Vec::new();
        while out_rx
            .recv_batch(&mut got, 4, Duration::from_millis(1))
            .await
            .is_ok()
        {}
        feeder.await.unwrap();
        assert_eq!(relayed.await.unwrap(), 10);
        assert_eq!(got, (1..=10).collect::<Vec<_>>(), "case {n}");
    }
}

/// Every method through the box answers as the producer itself does, errors included.
#[tokio::test(start_paused = true)]
async fn a_boxed_producer_keeps_its_answers() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let tx = tx.into_dyn();
    tx.try_send(1).unwrap();
    assert_eq!(
        tx.try_send(2).unwrap_err().into_parts(),
        (ProduceErrorKind::Full, 2)
    );
    let timed_out = tx.send_timeout(3, Duration::from_millis(5)).await;
    assert_eq!(
        timed_out.unwrap_err().into_parts(),
        (ProduceErrorKind::TimedOut, 3)
    );
    assert!(!tx.is_closed());
    assert!(tx.close());
    assert!(!tx.close(), "closed once");
    assert!(tx.is_closed());
    assert_eq!(
        tx.send(4).await.unwrap_err().into_parts(),
        (ProduceErrorKind::Closed, 4)
    );
    let rx: Arc<dyn DynConsumer<u32>> = Arc::from(rx.into_dyn());
    assert_eq!(
        (rx.len(), rx.capacity(), rx.is_empty()),
        (1, Some(1), false)
    );
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(ConsumeError::closed()));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)).await,
        Err(ConsumeError::closed())
    );
}

/// One boxed consumer shared by four tasks through an `Arc`: every item exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_boxed_consumer_hands_each_item_out_once() {
    let (tx, rx) = channel::bounded::<u32>(8).unwrap();
    let (tx, rx): (Arc<dyn DynProducer<u32>>, Arc<dyn DynConsumer<u32>>) =
        (Arc::from(tx.into_dyn()), Arc::from(rx.into_dyn()));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let rx = Arc::clone(&rx);
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok(item) = rx.recv().await {
                    got.push(item);
                }
                got
            })
        })
        .collect();
    assert_eq!(tx.send_all(0..10_000).await.unwrap(), 10_000);
    tx.close();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for reader in readers {
        let got = reader.await.unwrap();
        total += got.len();
        seen.extend(got);
    }
    assert_eq!((total, seen.len()), (10_000, 10_000));
    assert_eq!(seen.last(), Some(&9_999));
}

/// The box's stream is the consumer's own: left pending and never polled again, it keeps
/// neither the item nor the wake-up from a receive that waits.
#[tokio::test(start_paused = true)]
async fn an_idle_boxed_stream_keeps_nothing() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let rx = rx.into_dyn();
    let mut idle = spawn(rx.stream());
    assert_pending!(idle.poll_next());
    let mut waiting = spawn(rx.recv());
    assert_pending!(waiting.poll());
    tx.send(1).await.unwrap();
    assert!(waiting.is_woken());
    assert_ready_eq!(waiting.poll(), Ok(1));
    drop(waiting);
    tx.send(2).await.unwrap();
    assert_ready_eq!(idle.poll_next(), Some(2));
    tx.close();
    assert_ready_eq!(idle.poll_next(), None);
}

/// Boxing a box, and the forwarding impls over `&dyn`, keep working.
#[tokio::test(start_paused = true)]
async fn boxes_nest_and_borrow() {
    let (tx, rx) = channel::unbounded::<u32>();
    let twice = tx.into_dyn().into_dyn();
    let borrowed: &dyn DynProducer<u32> = &*twice;
    borrowed.send(5).await.unwrap();
    let rx = rx.into_dyn();
    let by_ref: &dyn DynConsumer<u32> = &*rx;
    assert_eq!(Consumer::recv(&by_ref).await, Ok(5));
    drop(twice);
    let mut rest = rx.stream();
    assert_eq!(rest.next().await, None);
}

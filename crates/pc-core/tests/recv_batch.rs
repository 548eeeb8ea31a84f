//! `recv_batch` under paused time, for our channel and through the trait's provided method.

mod support;

use std::time::Duration;

use pc_core::{ConsumeError, Consumer, Producer, channel};
use support::within_paused;
use tokio::time::{Instant, sleep};

const LINGER: Duration = Duration::from_millis(50);

/// Runs the same checks against any consumer; `make` builds a fresh channel each time.
async fn check_contract<S, C>(make: impl Fn() -> (S, C))
where
    S: Producer<u32> + 'static,
    C: Consumer<u32>,
{
    // Waits for the first item however long it takes, then lingers from that item.
    let (tx, rx) = make();
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        sleep(Duration::from_secs(3600)).await;
        tx.send(1).await.unwrap();
        sleep(Duration::from_millis(40)).await;
        tx.send(2).await.unwrap();
        sleep(Duration::from_millis(20)).await; // 60 ms after the first item: too late
        tx.send(3).await.unwrap();
        tx
    });
    let mut buf = Vec::new();
    assert_eq!(rx.recv_batch(&mut buf, 10, LINGER).await, Ok(2));
    assert_eq!(buf, [1, 2]);
    assert_eq!(start.elapsed(), Duration::from_secs(3600) + LINGER);
    let tx = producer.await.unwrap();

    // Never more than `max`; appends to what the buffer already holds.
    let mut buf = vec![99];
    tx.send_all(4..20).await.unwrap();
    let before = Instant::now();
    assert_eq!(rx.recv_batch(&mut buf, 5, LINGER).await, Ok(5));
    assert_eq!(buf, [99, 3, 4, 5, 6, 7]);
    assert_eq!(
        before.elapsed(),
        Duration::ZERO,
        "a full batch does not linger"
    );

    // A zero linger takes what is queued and returns at once.
    let mut buf = Vec::new();
    assert_eq!(rx.recv_batch(&mut buf, 100, Duration::ZERO).await, Ok(12));
    assert_eq!(buf, (8..20).collect::<Vec<_>>());

    // Closed only when closed and drained; a close ends the linger early.
    tx.send(20).await.unwrap();
    assert!(tx.close());
    let mut buf = Vec::new();
    let before = Instant::now();
    assert_eq!(rx.recv_batch(&mut buf, 100, LINGER).await, Ok(1));
    assert_eq!(
        before.elapsed(),
        Duration::ZERO,
        "closed: nothing more can come"
    );
    assert_eq!(
        rx.recv_batch(&mut buf, 100, LINGER).await,
        Err(ConsumeError::closed())
    );
    assert_eq!(buf, [20]);
}

#[tokio::test(start_paused = true)]
async fn pc_channel() {
    within_paused(async {
        check_contract(|| channel::bounded::<u32>(64).unwrap()).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn pc_channel_unbounded() {
    within_paused(async {
        check_contract(channel::unbounded::<u32>).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn provided_method_over_async_channel() {
    within_paused(async {
        check_contract(|| async_channel::bounded::<u32>(64)).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn slots_are_freed_while_the_batch_lingers() {
    within_paused(async {
        // Capacity 2: a sender waiting for space must get it while the receiver lingers,
        // otherwise the batch could never grow past the capacity.
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        let producer = tokio::spawn(async move { tx.send_all(0..6).await.unwrap() });
        let mut buf = Vec::new();
        assert_eq!(rx.recv_batch(&mut buf, 6, LINGER).await, 6);
        assert_eq!(buf, [0, 1, 2, 3, 4, 5]);
        assert_eq!(producer.await.unwrap(), 6);
    })
    .await;
}

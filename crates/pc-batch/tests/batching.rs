//! When batches leave, exactly, under paused time.

use std::time::Duration;

use futures_util::StreamExt;
use pc_batch::{BatchExt, Batcher, batch_consumer};
use pc_core::{BuildError, channel};
use tokio::time::{Instant, sleep};

const LINGER: Duration = Duration::from_millis(100);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A source that sends `items` at the given offsets from now, then stays open (silent) until
/// dropped, or closes after the last one if `close` is set.
fn timed_source(items: Vec<(u64, u32)>, close: bool) -> channel::Receiver<u32> {
    let (tx, rx) = channel::unbounded();
    tokio::spawn(async move {
        let start = Instant::now();
        for (at, item) in items {
            tokio::time::sleep_until(start + ms(at)).await;
            tx.send(item).await.unwrap();
        }
        if !close {
            std::future::pending::<()>().await;
        }
    });
    rx
}

#[tokio::test(start_paused = true)]
async fn a_quiet_stream_gets_one_batch_exactly_linger_after_its_first_item() {
    let rx = timed_source(vec![(0, 1), (10, 2), (20, 3)], false);
    let batcher = Batcher::builder(10, LINGER).build().unwrap();
    let start = Instant::now();
    let mut batches = batch_consumer(&rx, batcher);
    assert_eq!(batches.next().await, Some(vec![1, 2, 3]));
    assert_eq!(start.elapsed(), LINGER);
    // Nothing more arrives: no empty batch ever leaves.
    assert!(
        tokio::time::timeout(ms(10_000), batches.next())
            .await
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_trickle_faster_than_the_linger_still_leaves_every_linger() {
    // One item every 30 ms, for 600 ms.
    let rx = timed_source((0..20).map(|i| (i * 30, i as u32)).collect(), true);
    let batcher = Batcher::builder(1000, LINGER).build().unwrap();
    let start = Instant::now();
    let mut batches = batch_consumer(&rx, batcher);
    let mut seen = Vec::new();
    while let Some(batch) = batches.next().await {
        seen.push((start.elapsed().as_millis(), batch));
    }
    // Each batch leaves 100 ms after its first item (max age, never pushed back by the next).
    assert_eq!(
        seen,
        [
            (100, vec![0, 1, 2, 3]),
            (220, vec![4, 5, 6, 7]),
            (340, vec![8, 9, 10, 11]),
            (460, vec![12, 13, 14, 15]),
            (570, vec![16, 17, 18, 19]), // the source ends at 570 ms: the partial batch leaves
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_leaves_at_once_and_its_linger_does_not_fire_later() {
    let rx = timed_source(vec![(0, 1), (0, 2), (50, 3)], false);
    let batcher = Batcher::builder(2, LINGER).build().unwrap();
    let start = Instant::now();
    let mut batches = batch_consumer(&rx, batcher);
    assert_eq!(batches.next().await, Some(vec![1, 2]));
    assert_eq!(start.elapsed(), Duration::ZERO);
    // The next batch's linger starts at its own first item (50 ms), not at the first batch's.
    assert_eq!(batches.next().await, Some(vec![3]));
    assert_eq!(start.elapsed(), ms(150));
}

#[tokio::test]
async fn weights_close_batches_and_an_oversized_item_travels_alone() {
    let batcher = Batcher::builder(100, LINGER)
        .max_weight(10, |n: &u64| *n)
        .build()
        .unwrap();
    let items = [3, 3, 4, 5, 6, 25, 1, 10, 2];
    let batches: Vec<Vec<u64>> = futures_util::stream::iter(items)
        .batch(batcher)
        .collect()
        .await;
    assert_eq!(
        batches,
        [
            vec![3, 3, 4], // exactly 10: leaves at once
            vec![5],       // 5 + 6 would pass 10
            vec![6],       // 25 is heavier than any batch...
            vec![25],      // ...and goes alone, after what came before it
            vec![1],       // 1 + 10 would pass 10
            vec![10],
            vec![2], // the final partial batch
        ]
    );
}

#[tokio::test]
async fn an_empty_source_gives_no_batch() {
    let batcher = Batcher::builder(4, LINGER).build().unwrap();
    let batches: Vec<Vec<u8>> = futures_util::stream::iter(Vec::new())
        .batch(batcher)
        .collect()
        .await;
    assert!(batches.is_empty());
}

#[tokio::test(start_paused = true)]
async fn flush_sends_the_partial_batch_now() {
    let (tx, rx) = channel::unbounded();
    let batcher = Batcher::builder(10, LINGER).build().unwrap();
    let mut batches = batch_consumer(&rx, batcher);
    let flusher = batches.flusher();
    // With nothing held, a flush does nothing.
    flusher.flush();
    tx.send(1).await.unwrap();
    tx.send(2).await.unwrap();
    let start = Instant::now();
    let waiter = tokio::spawn({
        let flusher = flusher.clone();
        async move {
            sleep(ms(30)).await;
            flusher.flush();
        }
    });
    assert_eq!(batches.next().await, Some(vec![1, 2]));
    assert_eq!(start.elapsed(), ms(30), "flushed, not lingered");
    waiter.await.unwrap();
    tx.send(3).await.unwrap();
    drop(tx);
    assert_eq!(batches.next().await, Some(vec![3]));
    assert_eq!(batches.next().await, None);
}

#[test]
fn zero_settings_are_build_errors() {
    let zero = |setting| BuildError::Zero { setting };
    assert_eq!(
        Batcher::<u8>::builder(0, LINGER).build().unwrap_err(),
        zero("max_items")
    );
    assert_eq!(
        Batcher::<u8>::builder(1, Duration::ZERO)
            .build()
            .unwrap_err(),
        zero("linger")
    );
    assert_eq!(
        Batcher::<u8>::builder(1, LINGER)
            .max_weight(0, |_| 1)
            .build()
            .unwrap_err(),
        zero("max_weight")
    );
    let batcher = Batcher::<u8>::builder(7, LINGER).build().unwrap();
    assert_eq!((batcher.max_items(), batcher.linger()), (7, LINGER));
}

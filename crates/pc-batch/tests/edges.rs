//! The batcher and the batch processor at each edge of the checklist (`shared/EDGES.md`), one
//! section per edge.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pc_batch::{BatchExt, BatchProcessor, Batcher, ProcessError};
use tokio::time::{Instant, sleep};
use tokio_test::assert_pending;
use tokio_test::task::spawn;

fn batcher(max: usize, linger: Duration) -> Batcher<u64> {
    Batcher::builder(max, linger).build().unwrap()
}

// ## 1. Cancellation at every await point

#[tokio::test(start_paused = true)]
async fn a_cancelled_process_call_leaves_the_others_answered() {
    let processor = BatchProcessor::builder(batcher(2, Duration::from_millis(10)))
        .build(|items: Vec<u64>| async move { Ok::<_, String>(items) })
        .unwrap();
    {
        let mut gone = spawn(processor.process(1));
        assert_pending!(gone.poll());
    }
    assert_eq!(processor.process(2).await.unwrap(), 2);
    processor.close().await;
}

// ## 4. Extreme durations

/// A linger of `Duration::MAX` means a batch waits for `max_items` or the end of the source,
/// however long (it panicked adding the linger to an instant).
#[tokio::test(start_paused = true)]
async fn an_unbounded_linger_waits_for_a_full_batch() {
    let (tx, rx) = pc_core::channel::unbounded::<u64>();
    let mut batches = rx.batch(batcher(3, Duration::MAX));
    tx.try_send(1).unwrap();
    let mut next = spawn(batches.next());
    assert_pending!(next.poll());
    sleep(Duration::from_secs(86_400 * 365)).await;
    assert_pending!(next.poll());
    drop(next);
    tx.try_send(2).unwrap();
    tx.try_send(3).unwrap();
    tx.try_send(4).unwrap();
    assert_eq!(batches.next().await, Some(vec![1, 2, 3]));
    drop(tx);
    assert_eq!(batches.next().await, Some(vec![4]));
    assert_eq!(batches.next().await, None);
}

#[test]
fn a_zero_linger_or_size_is_a_typed_error() {
    assert_eq!(
        Batcher::<u64>::builder(1, Duration::ZERO)
            .build()
            .unwrap_err()
            .setting(),
        "linger"
    );
    assert_eq!(
        Batcher::<u64>::builder(0, Duration::from_millis(1))
            .build()
            .unwrap_err()
            .setting(),
        "max_items"
    );
}

// ## 5. Extreme numbers

#[tokio::test(start_paused = true)]
async fn a_huge_max_items_still_leaves_at_the_linger() {
    let start = Instant::now();
    let batches: Vec<Vec<u64>> = futures_util::stream::iter(0..5)
        .chain(futures_util::stream::pending())
        .batch(batcher(usize::MAX, Duration::from_millis(7)))
        .take(1)
        .collect()
        .await;
    assert_eq!(batches, [vec![0, 1, 2, 3, 4]]);
    assert_eq!(start.elapsed(), Duration::from_millis(7));
}

// ## 6. User code that panics

/// A handler that panics in the call that makes its future, for batches holding 13.
fn touchy(items: Vec<u64>) -> impl Future<Output = Result<Vec<u64>, String>> + Send {
    assert!(!items.contains(&13), "unlucky batch");
    async move { Ok(items) }
}

/// Found by the edge walk: a handler that panicked before returning its future killed the
/// processor's driver: every caller got `Lost` and the processor was closed for good.
#[tokio::test(start_paused = true)]
async fn a_handler_that_panics_before_its_future_fails_its_batch_alone() {
    let processor = Arc::new(
        BatchProcessor::builder(batcher(1, Duration::from_millis(1)))
            .build(touchy)
            .unwrap(),
    );
    assert!(matches!(
        processor.process(13).await,
        Err(ProcessError::Lost)
    ));
    assert_eq!(processor.process(14).await.unwrap(), 14);
    let in_future = Arc::new(AtomicUsize::new(0));
    let panics_inside = BatchProcessor::builder(batcher(1, Duration::from_millis(1)))
        .build({
            let in_future = Arc::clone(&in_future);
            move |items: Vec<u64>| {
                let in_future = Arc::clone(&in_future);
                async move {
                    if in_future.fetch_add(1, Ordering::SeqCst) == 0 {
                        panic!("inside the future");
                    }
                    Ok::<_, String>(items)
                }
            }
        })
        .unwrap();
    assert!(matches!(
        panics_inside.process(1).await,
        Err(ProcessError::Lost)
    ));
    assert_eq!(panics_inside.process(2).await.unwrap(), 2);
    panics_inside.close().await;
    processor.close().await;
    assert!(processor.is_closed());
}

// ## 7. Shutdown in every state

#[tokio::test(start_paused = true)]
async fn close_answers_a_partial_batch_and_refuses_new_items() {
    let processor = Arc::new(
        BatchProcessor::builder(batcher(10, Duration::from_secs(3600)))
            .build(|items: Vec<u64>| async move { Ok::<_, String>(items) })
            .unwrap(),
    );
    let waiting = {
        let processor = Arc::clone(&processor);
        tokio::spawn(async move { processor.process(7).await })
    };
    sleep(Duration::from_millis(1)).await;
    processor.close().await;
    assert_eq!(waiting.await.unwrap().unwrap(), 7);
    assert!(matches!(
        processor.process(8).await,
        Err(ProcessError::Closed(8))
    ));
}

// ## 2, 3, 8, 9, 10, 11, 12: a `Batched` stream keeps its one registration in its own source
// and its flusher's `AtomicWaker` (both woken, never absorbing); callers are batched in arrival
// order; a batch never exceeds `max_items` / `max_weight` (tests/model.rs); errors reach the
// callers they concern as `Batch`, `Item` or `CountMismatch`, never `Closed`
// (tests/processor.rs).

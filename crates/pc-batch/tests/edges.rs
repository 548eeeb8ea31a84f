//! The batcher and the batch processor at each edge of the checklist (`shared/EDGES.md`), one
//! section per edge.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
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
    processor.close_and_wait().await;
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

/// Walk: every count at its largest: a processor with `usize::MAX` items per batch (its
/// default intake multiplied past `usize::MAX`) and an intake of `usize::MAX` work, weights
/// near `u64::MAX` never overflow their sum, and a concurrency no semaphore can hold is a typed
/// error where it panicked inside tokio.
#[tokio::test(start_paused = true)]
async fn counts_at_their_largest_work_or_are_typed_errors() {
    let echo = |items: Vec<u64>| async move { Ok::<_, String>(items) };
    let huge = Batcher::builder(usize::MAX, Duration::from_millis(1))
        .build()
        .unwrap();
    let processor = BatchProcessor::builder(huge)
        .concurrency(4)
        .build(echo)
        .unwrap();
    assert_eq!(processor.process(1).await.unwrap(), 1);
    processor.close_and_wait().await;
    let processor = BatchProcessor::builder(batcher(2, Duration::from_millis(1)))
        .intake(usize::MAX)
        .build(echo)
        .unwrap();
    assert_eq!(processor.process(2).await.unwrap(), 2);
    processor.close_and_wait().await;
    let refused = BatchProcessor::builder(batcher(2, Duration::from_millis(1)))
        .concurrency(usize::MAX)
        .build(echo)
        .unwrap_err();
    assert_eq!(refused.setting(), "concurrency");

    let heavy = Batcher::builder(10, Duration::from_millis(1))
        .max_weight(u64::MAX, |item: &u64| *item)
        .build()
        .unwrap();
    let batches: Vec<Vec<u64>> = futures_util::stream::iter([u64::MAX - 1, 1, u64::MAX, 2, 3])
        .batch(heavy)
        .collect()
        .await;
    assert_eq!(batches, [vec![u64::MAX - 1, 1], vec![u64::MAX], vec![2, 3]]);
}

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
    panics_inside.close_and_wait().await;
    processor.close_and_wait().await;
    assert!(processor.is_closed());
}

/// A weigher that panics on 13.
fn weighed(max: usize) -> Batcher<u64> {
    Batcher::builder(max, Duration::from_millis(10))
        .max_weight(100, |item: &u64| {
            assert!(*item != 13, "cannot weigh 13");
            *item
        })
        .build()
        .unwrap()
}

/// Listed: a weigher that panicked on one item ran inside the processor's driver, which died:
/// every later `process` got `Closed`. The weigher now runs in the caller's `process`, so the
/// panic is that caller's and the processor serves the others.
#[tokio::test(start_paused = true)]
async fn a_weigher_that_panics_fails_its_caller_alone() {
    let processor = BatchProcessor::builder(weighed(2))
        .build(|items: Vec<u64>| async move { Ok::<_, String>(items) })
        .unwrap();
    let unlucky = AssertUnwindSafe(processor.process(13)).catch_unwind().await;
    assert!(unlucky.is_err(), "the weigher's panic reaches the caller");
    let (a, b) = tokio::join!(processor.process(1), processor.process(2));
    assert_eq!((a.unwrap(), b.unwrap()), (1, 2));
    assert!(!processor.is_closed());
    processor.close_and_wait().await;
}

/// Walk: a `Batched` stream whose weigher panics re-raises to the task that polls it, drops
/// that one item, and batches the rest as if it had never come.
#[tokio::test(start_paused = true)]
async fn a_batched_stream_goes_on_after_its_weigher_panics() {
    let (tx, rx) = pc_core::channel::unbounded::<u64>();
    let mut batches = rx.batch(weighed(3));
    for item in [1, 13, 2, 3, 4] {
        tx.try_send(item).unwrap();
    }
    drop(tx);
    let unlucky = AssertUnwindSafe(batches.next()).catch_unwind().await;
    assert!(unlucky.is_err());
    assert_eq!(batches.next().await, Some(vec![1, 2, 3]));
    assert_eq!(batches.next().await, Some(vec![4]));
    assert_eq!(batches.next().await, None);
}

/// An output whose `Drop` panics for the value 1.
#[derive(Debug, PartialEq)]
struct DropsBadly(u64);

impl Drop for DropsBadly {
    fn drop(&mut self) {
        if self.0 == 1 && !std::thread::panicking() {
            panic!("dropping 1");
        }
    }
}

/// Walk: the output of a caller that stopped waiting is dropped by the processor; when that
/// `Drop` panicked, the callers after it in the batch got `Lost` instead of their outputs.
#[tokio::test(start_paused = true)]
async fn an_unwanted_output_that_panics_on_drop_leaves_the_others_answered() {
    let processor = BatchProcessor::builder(batcher(2, Duration::from_secs(3600)))
        .build(|items: Vec<u64>| async move {
            Ok::<_, String>(items.into_iter().map(DropsBadly).collect())
        })
        .unwrap();
    {
        // Enqueued, then no longer waited for.
        let mut gone = spawn(processor.process(1));
        assert_pending!(gone.poll());
    }
    assert_eq!(processor.process(2).await.unwrap(), DropsBadly(2));
    assert_eq!(processor.process(3).await.unwrap(), DropsBadly(3));
    processor.close_and_wait().await;
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
    processor.close_and_wait().await;
    assert_eq!(waiting.await.unwrap().unwrap(), 7);
    assert!(matches!(
        processor.process(8).await,
        Err(ProcessError::Closed(8))
    ));
}

/// Tasks alive on this runtime.
fn alive() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Listed: `close`, cancelled once and called again, returned at once while a batch was still
/// in flight (the first call had taken the driver's handle out before awaiting it): its
/// callers had no answer and its tasks lived on. Every call now waits for every task.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn close_cancelled_then_called_again_waits_for_the_batch_in_flight() {
    let before = alive();
    let processor = Arc::new(
        BatchProcessor::builder(batcher(1, Duration::from_millis(1)))
            .build(|items: Vec<u64>| async move {
                sleep(Duration::from_secs(10)).await;
                Ok::<_, String>(items)
            })
            .unwrap(),
    );
    // A batch of one leaves at once: its handler runs from now for 10 s.
    let start = Instant::now();
    let caller = tokio::spawn({
        let processor = Arc::clone(&processor);
        async move { processor.process(7).await }
    });
    sleep(Duration::from_millis(5)).await;
    let gave_up = tokio::time::timeout(Duration::from_millis(1), processor.close_and_wait()).await;
    assert!(gave_up.is_err(), "the batch holds the processor up");
    tokio::join!(processor.close_and_wait(), processor.close_and_wait());
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(caller.await.unwrap().unwrap(), 7);
    assert_eq!(alive(), before, "no task of the processor is left");
    processor.close_and_wait().await;
}

// ## 2. The abandoned registration: tested in the facade's tests/edges.rs
// (`an_idle_stream_keeps_no_wake_up_from_a_waiting_receive`, `batch_consumer` over three
// consumers); a `Batched` stream's only other registration is its flusher's `AtomicWaker`,
// which a flush wakes whoever holds it.

// ## 3. Fairness: tested in tests/processor.rs
// (`seed_example_three_gives_each_of_250_callers_its_own_output_in_order`): callers are
// batched in arrival order, through pc-core's channel.

// ## 8. Bounded memory: tested in tests/model.rs (no batch exceeds `max_items` or
// `max_weight`) and tests/processor.rs
// (`callers_wait_for_room_and_batches_in_flight_stay_within_concurrency`).

// ## 9. Weak memory does not apply: the batcher has no atomic protocol of its own (the flush
// flag is a single swap, the intake is pc-core's channel with its loom models).

// ## 10. Promises across composition: tested in tests/processor.rs (one output per caller,
// in order, through a batcher, a channel and the handler) and the facade's tests/edges.rs.

// ## 11. Hidden order assumptions: tested in tests/model.rs (batches hold items in arrival
// order for any sizes, weights and lingers).

// ## 12. Errors and probes that tell the truth: errors are tested in tests/processor.rs
// (`Batch`, `Item` and `CountMismatch` reach exactly the callers they concern; `Closed` only
// after `close`); the probe here.

/// What a batcher's probe hears.
#[derive(Debug, Default)]
struct Heard {
    produced: AtomicU64,
    consumed: AtomicU64,
    dropped: AtomicU64,
    batches: AtomicU64,
}

impl pc_core::Probe for Heard {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::SeqCst);
    }
    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::SeqCst);
    }
    fn dropped(&self, n: u64, reason: pc_core::DropReason) {
        assert_eq!(reason, pc_core::DropReason::Closed);
        self.dropped.fetch_add(n, Ordering::SeqCst);
    }
    fn batched(&self, _: usize) {
        self.batches.fetch_add(1, Ordering::SeqCst);
    }
}

/// Defect: items of a batch stream dropped with a batch unfinished (or ready and not taken)
/// were never reported: the probe counted them in flight for good (5 produced, 3 consumed,
/// none dropped). Items are consumed as their batch leaves, and dropped (`Closed`) with the
/// stream.
#[tokio::test(start_paused = true)]
async fn a_dropped_batch_stream_reports_what_it_held() {
    let heard = Arc::new(Heard::default());
    let batcher = Batcher::builder(3, Duration::from_secs(1))
        .probe(heard.clone())
        .build()
        .unwrap();
    // Five items, then a source with nothing more for now.
    let source = futures_util::stream::iter(0..5u32).chain(futures_util::stream::pending());
    let mut batches = source.batch(batcher);
    assert_eq!(batches.next().await, Some(vec![0, 1, 2]));
    let count = |n: &AtomicU64| n.load(Ordering::SeqCst);
    assert_eq!((count(&heard.consumed), count(&heard.batches)), (3, 1));
    // 3 and 4 wait in the open batch.
    assert_pending!(spawn(batches.next()).poll());
    assert_eq!(count(&heard.produced), 5);
    drop(batches);
    let (produced, consumed, dropped) = (
        count(&heard.produced),
        count(&heard.consumed),
        count(&heard.dropped),
    );
    assert_eq!(consumed + dropped, produced, "nothing left in flight");
    assert_eq!(consumed, 3);
}

// ## The randomized contract test does not apply as such: a batcher's items come out as
// batches, not as the items sent, so it is no `Consumer` of the items a `Producer` takes; its
// promises across composition are the facade's tests/edges.rs (`batch_consumer` over every
// consumer).

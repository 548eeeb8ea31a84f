//! `BatchProcessor`: each caller gets its own result, errors reach exactly the callers they
//! concern, and closing finishes everything in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pc_batch::{BatchProcessor, Batcher, ProcessError};
use pc_core::BuildError;
use tokio::time::{Instant, sleep};

/// One caller's task: its item and what `process` returned for it.
type Caller<Out, E, IE> = tokio::task::JoinHandle<(u64, Result<Out, ProcessError<u64, E, IE>>)>;

/// Submits `0..n`, each item from a task of its own.
fn spawn_callers<Out, E, IE>(
    processor: &Arc<BatchProcessor<u64, Out, E, IE>>,
    n: u64,
) -> Vec<Caller<Out, E, IE>>
where
    Out: Send + 'static,
    E: Send + Sync + 'static,
    IE: Send + 'static,
{
    (0..n)
        .map(|i| {
            let processor = Arc::clone(processor);
            tokio::spawn(async move { (i, processor.process(i).await) })
        })
        .collect()
}

fn batcher(max: usize, linger_ms: u64) -> Batcher<u64> {
    Batcher::builder(max, Duration::from_millis(linger_ms))
        .build()
        .unwrap()
}

/// C# example 3: 250 items, batches of 10, linger 200 ms, a handler taking 50 ms per batch:
/// 250 outputs, each caller its own, in input order through `process_stream`.
#[tokio::test(start_paused = true)]
async fn seed_example_three_gives_each_of_250_callers_its_own_output_in_order() {
    let batches = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&batches);
    let processor = BatchProcessor::builder(batcher(10, 200))
        .build(move |items: Vec<u64>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                sleep(Duration::from_millis(50)).await;
                Ok::<_, String>(
                    items
                        .into_iter()
                        .map(|n| format!("Processed-{n}"))
                        .collect(),
                )
            }
        })
        .unwrap();
    let start = Instant::now();
    let outputs: Vec<String> = processor
        .process_stream(futures_util::stream::iter(1..=250), 20)
        .map(Result::unwrap)
        .collect()
        .await;
    let expected: Vec<String> = (1..=250).map(|n| format!("Processed-{n}")).collect();
    assert_eq!(outputs, expected);
    assert_eq!(batches.load(Ordering::SeqCst), 25, "25 full batches of 10");
    // Concurrency 1: 25 batches of 50 ms each, one after the other.
    assert_eq!(start.elapsed(), Duration::from_millis(25 * 50));
    processor.close_and_wait().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_batch_fails_exactly_its_callers() {
    let batch_no = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&batch_no);
    let processor = Arc::new(
        BatchProcessor::builder(batcher(10, 5))
            .concurrency(4)
            .build(move |items: Vec<u64>| {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    sleep(Duration::from_millis(1)).await;
                    if n % 7 == 6 {
                        Err(format!("batch {n} failed"))
                    } else {
                        Ok(items.into_iter().map(|i| i * 2).collect())
                    }
                }
            })
            .unwrap(),
    );
    let callers = spawn_callers(&processor, 1000);
    let (mut ok, mut failed) = (0, 0);
    let mut failures_by_batch = std::collections::HashMap::new();
    for caller in callers {
        match caller.await.unwrap() {
            (i, Ok(out)) => {
                assert_eq!(out, i * 2, "caller {i} got its own output");
                ok += 1;
            }
            (_, Err(ProcessError::Batch(err))) => {
                *failures_by_batch.entry(err.to_string()).or_insert(0) += 1;
                failed += 1;
            }
            (i, Err(other)) => panic!("caller {i}: {other:?}"),
        }
    }
    processor.close_and_wait().await;
    let batches = batch_no.load(Ordering::SeqCst);
    let failed_batches = (0..batches).filter(|n| n % 7 == 6).count();
    assert_eq!(ok + failed, 1000);
    assert_eq!(failures_by_batch.len(), failed_batches);
    // Every failed batch failed each of its callers, and only them.
    assert!(failures_by_batch.values().all(|&n| (1..=10).contains(&n)));
    assert!(failed > 0 && ok > 0);
}

#[tokio::test(start_paused = true)]
async fn a_per_item_handler_fails_only_the_failed_items() {
    let processor = Arc::new(
        BatchProcessor::builder(batcher(16, 5))
            .concurrency(2)
            .build_per_item(|items: Vec<u64>| async move {
                Ok::<_, String>(
                    items
                        .into_iter()
                        .map(|i| {
                            if i % 7 == 0 {
                                Err(format!("bad {i}"))
                            } else {
                                Ok(i + 1)
                            }
                        })
                        .collect(),
                )
            })
            .unwrap(),
    );
    let callers = spawn_callers(&processor, 1000);
    for caller in callers {
        match caller.await.unwrap() {
            (i, Ok(out)) => assert_eq!(out, i + 1),
            (i, Err(ProcessError::Item(err))) => {
                assert_eq!(i % 7, 0);
                assert_eq!(err, format!("bad {i}"));
            }
            (i, Err(other)) => panic!("caller {i}: {other:?}"),
        }
    }
    processor.close_and_wait().await;
}

#[tokio::test(start_paused = true)]
async fn a_wrong_number_of_outputs_is_an_error_to_each_caller() {
    let processor = BatchProcessor::builder(batcher(3, 5))
        .build(|items: Vec<u64>| async move {
            Ok::<_, String>(items.into_iter().skip(1).collect::<Vec<_>>())
        })
        .unwrap();
    let (a, b, c) = tokio::join!(
        processor.process(1),
        processor.process(2),
        processor.process(3)
    );
    for got in [a, b, c] {
        assert!(matches!(
            got,
            Err(ProcessError::CountMismatch {
                inputs: 3,
                outputs: 2
            })
        ));
    }
    processor.close_and_wait().await;
}

#[tokio::test(start_paused = true)]
async fn callers_wait_for_room_and_batches_in_flight_stay_within_concurrency() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now, top) = (Arc::clone(&in_flight), Arc::clone(&peak));
    let processor = Arc::new(
        BatchProcessor::builder(batcher(4, 5))
            .concurrency(2)
            .intake(4)
            .build(move |items: Vec<u64>| {
                let (now, top) = (Arc::clone(&now), Arc::clone(&top));
                async move {
                    let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                    top.fetch_max(running, Ordering::SeqCst);
                    sleep(Duration::from_millis(10)).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, String>(items)
                }
            })
            .unwrap(),
    );
    for caller in spawn_callers(&processor, 200) {
        let (i, got) = caller.await.unwrap();
        assert_eq!(got.unwrap(), i, "every caller got its own item back");
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    processor.close_and_wait().await;
}

#[tokio::test(start_paused = true)]
async fn close_flushes_the_partial_batch_and_finishes_what_is_in_flight() {
    let done = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&done);
    let processor = Arc::new(
        BatchProcessor::builder(batcher(100, 60_000))
            .build(move |items: Vec<u64>| {
                let counter = Arc::clone(&counter);
                async move {
                    sleep(Duration::from_millis(30)).await;
                    counter.fetch_add(items.len(), Ordering::SeqCst);
                    Ok::<_, String>(items)
                }
            })
            .unwrap(),
    );
    let callers = spawn_callers(&processor, 5);
    tokio::task::yield_now().await;
    let start = Instant::now();
    processor.close_and_wait().await;
    // No 60 s linger: the partial batch left at close, and close waited for its handler.
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    assert_eq!(done.load(Ordering::SeqCst), 5);
    for caller in callers {
        let (i, got) = caller.await.unwrap();
        assert_eq!(got.unwrap(), i);
    }
    assert!(processor.is_closed());
    assert_eq!(processor.process(9).await.unwrap_err().into_item(), Some(9));
}

#[tokio::test]
async fn zero_settings_are_build_errors() {
    let handler = |items: Vec<u64>| async move { Ok::<_, String>(items) };
    assert_eq!(
        BatchProcessor::builder(batcher(2, 5))
            .concurrency(0)
            .build(handler)
            .unwrap_err(),
        BuildError::Zero {
            setting: "concurrency"
        }
    );
    assert_eq!(
        BatchProcessor::builder(batcher(2, 5))
            .intake(0)
            .build(handler)
            .unwrap_err(),
        BuildError::Zero { setting: "intake" }
    );
}

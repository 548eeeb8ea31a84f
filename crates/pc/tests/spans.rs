//! The opt-in `tracing` spans of pools, pipelines and batch processors, seen by a subscriber
//! that keeps every span with its parent and fields, and every event with the span it fell in.
#![cfg(all(feature = "pool", feature = "batch"))]

#[path = "support/capture.rs"]
mod capture;

use std::sync::Arc;
use std::time::Duration;

use capture::{Seen, capture, field};
use futures_util::StreamExt;
use pc::batch::{BatchProcessor, Batcher};
use pc::pool::{JobError, OnError, Pipeline, WorkerPool};
use tracing::Instrument;

#[tokio::test(start_paused = true)]
async fn a_pools_jobs_run_in_spans_whose_parent_is_the_callers() {
    let (_guard, log) = capture();
    let pool = WorkerPool::builder(|n: u32| async move {
        tracing::info!("running {n}");
        match n {
            1 => Err("refused"),
            2 => panic!("job 2 panics"),
            3 => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(n)
            }
            _ => Ok(n),
        }
    })
    .workers(1)
    .timeout(Duration::from_secs(1))
    .spans()
    .build()
    .unwrap();
    let request = tracing::info_span!("request", user = "ada");
    let mut handles = Vec::new();
    for n in 0..4 {
        let handle = pool.submit(n).instrument(request.clone()).await.unwrap();
        handles.push(handle);
    }
    // One job sent without a span around it: a job span of its own, with no parent.
    let lone = pool.submit(4).await.unwrap();
    let outcomes: Vec<_> = futures_util::future::join_all(handles).await;
    assert!(matches!(outcomes[1], Err(JobError::Failed("refused"))));
    assert!(matches!(outcomes[2], Err(JobError::Panicked(_))));
    assert!(matches!(outcomes[3], Err(JobError::TimedOut(_))));
    assert_eq!(lone.await.unwrap(), 4);
    pool.close_and_wait().await;

    let log = log.lock().unwrap();
    let request = &log.named("request")[0];
    let jobs = log.named("job");
    let seen: Vec<(&str, &str, &str, &str, Option<usize>)> = jobs
        .iter()
        .map(|job| {
            (
                job.target.as_str(),
                field(job, "id"),
                field(job, "worker"),
                field(job, "outcome"),
                job.parent,
            )
        })
        .collect();
    let parent = Some(request.key);
    assert_eq!(
        seen,
        [
            ("pc_pool", "0", "0", "ok", parent),
            ("pc_pool", "1", "0", "error", parent),
            ("pc_pool", "2", "0", "panicked", parent),
            ("pc_pool", "3", "0", "timed_out", parent),
            ("pc_pool", "4", "0", "ok", None),
        ]
    );
    // What the stage logged fell within its job's span.
    for (n, job) in jobs.iter().enumerate() {
        let message = format!("running {n}");
        assert!(
            log.events
                .iter()
                .any(|(m, within)| *m == message && *within == Some(job.key)),
            "{message} outside job {n}: {:?}",
            log.events
        );
    }
    assert!(jobs.iter().all(|job| !job.open), "every job span closed");
}

#[tokio::test]
async fn a_pool_without_spans_makes_none() {
    let (_guard, log) = capture();
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .workers(1)
        .build()
        .unwrap();
    let handle = pool
        .submit(1)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap();
    assert_eq!(handle.await.unwrap(), 1);
    pool.close_and_wait().await;
    let log = log.lock().unwrap();
    assert_eq!(log.spans.len(), 1, "only the caller's: {:?}", log.spans);
}

#[tokio::test]
async fn a_pipelines_items_run_in_a_span_per_stage_under_the_builders_span() {
    let (_guard, log) = capture();
    let ingest = tracing::info_span!("ingest");
    let pipeline = ingest.in_scope(|| {
        Pipeline::from_stream(futures_util::stream::iter(0..3u32))
            .on_error(OnError::Forward)
            .spans()
    });
    let out: Vec<_> = pipeline
        .stage(1, 4, |n: u32| async move {
            tracing::info!("first {n}");
            if n == 1 { Err("no 1") } else { Ok(n * 10) }
        })
        .unwrap()
        .stage(1, 4, |n: u32| async move { Ok(n + 1) })
        .unwrap()
        .ordered()
        .collect()
        .await;
    assert_eq!(out.len(), 3);
    let log = log.lock().unwrap();
    let ingest = Some(log.named("ingest")[0].key);
    let mut items: Vec<(String, String, String, Option<usize>)> = log
        .named("item")
        .iter()
        .map(|item| {
            assert_eq!(item.target, "pc_pool");
            (
                field(item, "stage").to_owned(),
                field(item, "seq").to_owned(),
                field(item, "outcome").to_owned(),
                item.parent,
            )
        })
        .collect();
    items.sort();
    let expected: Vec<(String, String, String, Option<usize>)> = [
        ("0", "0", "ok"),
        ("0", "1", "error"),
        ("0", "2", "ok"),
        // Item 1 failed in the first stage: its error passes the second stage untouched.
        ("1", "0", "ok"),
        ("1", "2", "ok"),
    ]
    .into_iter()
    .map(|(stage, seq, outcome)| (stage.into(), seq.into(), outcome.into(), ingest))
    .collect();
    assert_eq!(items, expected);
    let first_stage: Vec<&Seen> = log
        .spans
        .iter()
        .filter(|s| s.name == "item" && field(s, "stage") == "0")
        .collect();
    for item in first_stage {
        let message = format!("first {}", field(item, "seq"));
        assert!(
            log.events
                .iter()
                .any(|(m, within)| *m == message && *within == Some(item.key)),
            "{message}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_processors_batches_run_in_spans_under_the_builders_span() {
    let (_guard, log) = capture();
    let service = tracing::info_span!("service");
    let batcher = Batcher::builder(2, Duration::from_millis(10))
        .build()
        .unwrap();
    let processor = service
        .in_scope(|| {
            BatchProcessor::builder(batcher)
                .spans()
                .build_per_item(|batch: Vec<u32>| async move {
                    tracing::info!("writing {}", batch.len());
                    if batch.contains(&99) {
                        panic!("99 in the batch");
                    }
                    if batch.contains(&7) {
                        return Err("the batch failed");
                    }
                    Ok(batch
                        .into_iter()
                        .map(|n| if n == 3 { Err("no 3") } else { Ok(n) })
                        .collect())
                })
        })
        .unwrap();
    // One batch at a time, each full: [1, 2], [3, 4], [7, 8], [99, 100].
    for pair in [[1, 2], [3, 4], [7, 8], [99, 100]] {
        let results = futures_util::future::join_all(pair.map(|n| processor.process(n))).await;
        assert_eq!(results.len(), 2);
    }
    processor.close_and_wait().await;
    let log = log.lock().unwrap();
    let service = Some(log.named("service")[0].key);
    let batches: Vec<String> = log
        .named("batch")
        .iter()
        .map(|b| {
            assert_eq!((b.target.as_str(), b.parent), ("pc_batch", service));
            let get = |name| field(b, name);
            let (batch, items, failed) = (get("batch"), get("items"), get("failed"));
            format!(
                "{batch}: {items} items, {failed} failed, {}",
                get("outcome")
            )
        })
        .collect();
    assert_eq!(
        batches,
        [
            "0: 2 items, 0 failed, ok",
            "1: 2 items, 1 failed, error",
            "2: 2 items, 2 failed, error",
            "3: 2 items, 2 failed, panicked",
        ]
    );
    let writes = log
        .events
        .iter()
        .filter(|(m, within)| {
            m == "writing 2" && within.is_some_and(|key| log.spans[key].name == "batch")
        })
        .count();
    assert_eq!(writes, 4, "every batch's log within its span");
}

/// Jobs cancelled in the queue end their spans as `cancelled`, with the worker that took
/// them off.
#[tokio::test]
async fn jobs_cancelled_in_the_queue_end_their_spans_as_cancelled() {
    let (_guard, log) = capture();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let pool = WorkerPool::builder({
        let gate = Arc::clone(&gate);
        move |n: u32| {
            let gate = Arc::clone(&gate);
            async move {
                let _ = gate.acquire().await;
                Ok::<_, ()>(n)
            }
        }
    })
    .workers(1)
    .spans()
    .build()
    .unwrap();
    let running = pool.submit(0).await.unwrap();
    let queued = pool.submit(1).await.unwrap();
    tokio::task::yield_now().await;
    pool.abort().await;
    assert!(matches!(running.await, Err(JobError::Cancelled)));
    assert!(matches!(queued.await, Err(JobError::Cancelled)));
    let log = log.lock().unwrap();
    let outcomes: Vec<(String, String, String)> = log
        .named("job")
        .iter()
        .map(|job| {
            let get = |name| field(job, name).to_owned();
            (get("id"), get("worker"), get("outcome"))
        })
        .collect();
    let expected = [("0", "0", "cancelled"), ("1", "0", "cancelled")]
        .map(|(id, worker, outcome)| (id.to_owned(), worker.to_owned(), outcome.to_owned()));
    assert_eq!(outcomes, expected);
}

/// An item whose stage is still running when the pipeline is cancelled ends its span as
/// `cancelled`.
#[tokio::test]
async fn an_item_cancelled_mid_stage_ends_its_span_as_cancelled() {
    let (_guard, log) = capture();
    let started = Arc::new(tokio::sync::Notify::new());
    let mut output = Pipeline::from_stream(futures_util::stream::iter([1u32]))
        .spans()
        .stage(1, 1, {
            let started = Arc::clone(&started);
            move |n: u32| {
                let started = Arc::clone(&started);
                async move {
                    started.notify_one();
                    std::future::pending::<()>().await;
                    Ok::<_, ()>(n)
                }
            }
        })
        .unwrap()
        .ordered();
    started.notified().await;
    output.cancel().await;
    let log = log.lock().unwrap();
    let items = log.named("item");
    assert_eq!(items.len(), 1);
    assert_eq!(field(&items[0], "outcome"), "cancelled");
    assert!(!items[0].open);
}

//! The worker pool and the pipeline at each edge of the checklist (`shared/EDGES.md`), one
//! section per edge.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::{DropReason, Probe, Producer, Stage, channel};
use pc_pool::{JobError, OnError, Pipeline, PipelineError, WorkerPool};
use support::{alive, ms};
use tokio::time::sleep;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

/// A stage that panics in its synchronous part, before any future exists, for one input.
#[derive(Clone)]
struct PanicsBeforeItsFuture(u32);

impl Stage<u32> for PanicsBeforeItsFuture {
    type Output = u32;
    type Error = String;

    fn run(&self, input: u32) -> impl Future<Output = Result<u32, String>> + Send {
        assert_ne!(input, self.0, "no future for {input}");
        async move { Ok(input * 10) }
    }
}

// ## 1. Cancellation at every await point

#[tokio::test(start_paused = true)]
async fn a_submit_cancelled_while_waiting_for_room_queues_nothing() {
    let pool = WorkerPool::builder(|n: u32| async move {
        sleep(ms(100)).await;
        Ok::<_, ()>(n)
    })
    .workers(1)
    .capacity(1)
    .build()
    .unwrap();
    let running = pool.submit(0).await.unwrap();
    sleep(ms(1)).await;
    let queued = pool.submit(1).await.unwrap();
    {
        let mut waiting = spawn(pool.submit(2));
        assert_pending!(waiting.poll());
    }
    assert_eq!(running.await, Ok(0));
    assert_eq!(queued.await, Ok(1));
    pool.close_and_wait().await;
    assert_eq!(pool.cancelled(), 0);
}

// ## 2. The abandoned registration: a `JobHandle` kept unpolled does not hold the pool up.

#[tokio::test(start_paused = true)]
async fn an_unpolled_job_handle_holds_nothing_up() {
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .workers(1)
        .capacity(2)
        .build()
        .unwrap();
    let mut first = spawn(pool.submit(1).await.unwrap());
    let _ = first.poll();
    let second = pool.submit(2).await.unwrap();
    assert_eq!(second.await, Ok(2));
    pool.close_and_wait().await;
    assert_eq!(assert_ready!(first.poll()), Ok(1));
}

// ## 6. User code that panics

/// Defect: a job that panicked before returning its future killed its worker unaccounted: the
/// job was reported `Cancelled`, `workers()` still counted the dead worker, the next job never
/// ran and `close()` waited forever.
#[tokio::test(start_paused = true)]
async fn a_job_that_panics_before_its_future_fails_alone() {
    let pool = WorkerPool::builder(PanicsBeforeItsFuture(3))
        .workers(1)
        .capacity(8)
        .build()
        .unwrap();
    let handles: Vec<_> = futures_util::future::join_all((0..6).map(|n| pool.submit(n)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let outcomes = futures_util::future::join_all(handles).await;
    assert_eq!(outcomes[..3], [Ok(0), Ok(10), Ok(20)]);
    assert_eq!(
        outcomes[3],
        Err(JobError::Panicked(
            "assertion `left != right` failed: no future for 3\n  left: 3\n right: 3".into()
        ))
    );
    assert_eq!(outcomes[4..], [Ok(40), Ok(50)]);
    assert_eq!(pool.workers(), 1);
    pool.close_and_wait().await;
    assert_eq!(pool.workers(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_blocking_job_that_panics_before_its_future_fails_alone() {
    let pool = WorkerPool::builder(PanicsBeforeItsFuture(1))
        .workers(1)
        .blocking()
        .build()
        .unwrap();
    let failed = pool.submit(1).await.unwrap().await;
    assert!(
        matches!(failed, Err(JobError::Panicked(message)) if message.contains("no future for 1"))
    );
    assert_eq!(pool.submit(2).await.unwrap().await, Ok(20));
    pool.close_and_wait().await;
}

/// The same panic in a pipeline stage: it made the panicking item and every item after it
/// vanish with no error.
#[tokio::test(start_paused = true)]
async fn a_stage_that_panics_before_its_future_fails_that_item_only() {
    let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(0..5u32))
        .stage(1, 2, PanicsBeforeItsFuture(2))
        .unwrap()
        .ordered()
        .collect()
        .await;
    assert_eq!(out.len(), 5);
    assert_eq!(out[..2], [Ok(0), Ok(10)]);
    assert!(matches!(&out[2], Err(PipelineError::Panicked(m)) if m.contains("no future for 2")));
    assert_eq!(out[3..], [Ok(30), Ok(40)]);
}

/// Every output of `staged`, in the source's order or as they come.
async fn outputs<T, E>(staged: Pipeline<T, E>, ordered: bool) -> Vec<Result<T, PipelineError<E>>>
where
    T: Send + 'static,
    E: Send + 'static,
{
    let output = if ordered {
        staged.ordered()
    } else {
        staged.unordered()
    };
    output.collect().await
}

/// A source that gives 0, 1, 2 and panics when asked for the fourth item.
fn breaks_at_three() -> impl futures_util::Stream<Item = u32> + Send + 'static {
    futures_util::stream::iter(0..6u32).map(|n| {
        assert!(n != 3, "the source broke at {n}");
        n
    })
}

/// Listed: a source that panicked was taken for a source that ended: the output ended after
/// the items before it, with no error. Now the panic comes out last, as `Source`, under every
/// error policy and with both outputs, through stages or none.
#[tokio::test(start_paused = true)]
async fn a_source_that_panics_ends_the_output_with_its_error() {
    let broke = PipelineError::Source("the source broke at 3".into());
    for on_error in [OnError::Forward, OnError::Skip, OnError::Stop] {
        for ordered in [true, false] {
            let staged = Pipeline::from_stream(breaks_at_three())
                .on_error(on_error)
                .stage(2, 2, |n: u32| async move { Ok::<_, String>(n * 10) })
                .unwrap()
                .stage(2, 2, |n: u32| async move { Ok::<_, String>(n + 1) })
                .unwrap();
            let mut out = outputs(staged, ordered).await;
            assert_eq!(
                out.pop(),
                Some(Err(broke.clone())),
                "{on_error:?}, ordered {ordered}"
            );
            out.sort_by_key(|r| *r.as_ref().unwrap());
            assert_eq!(
                out,
                [Ok(1), Ok(11), Ok(21)],
                "{on_error:?}, ordered {ordered}"
            );
        }
    }
    let bare: Vec<Result<u32, PipelineError<String>>> = Pipeline::from_stream(breaks_at_three())
        .ordered()
        .collect()
        .await;
    assert_eq!(bare, [Ok(0), Ok(1), Ok(2), Err(broke)]);
}

/// Walk: a `key_by` key that panicked killed the router task, and the output ended early with
/// no error; the key is user code like a stage, so its panic is now that item's failure.
#[tokio::test(start_paused = true)]
async fn a_key_that_panics_fails_that_item_only() {
    let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(0..6u32))
        .key_by(|n: &u32| {
            assert!(*n != 4, "no key for {n}");
            n % 2
        })
        .stage(2, 2, |n: u32| async move { Ok::<_, String>(n * 10) })
        .unwrap()
        .ordered()
        .collect()
        .await;
    assert_eq!(out.len(), 6);
    assert_eq!(out[..4], [Ok(0), Ok(10), Ok(20), Ok(30)]);
    assert_eq!(out[4], Err(PipelineError::Panicked("no key for 4".into())));
    assert_eq!(out[5], Ok(50));
}

/// What a test source does when it receives 3.
#[derive(Clone, Copy)]
enum AtThree {
    Panics,
    /// The read fails in the backend (the item is gone with it); reads after it succeed.
    FailsTheRead,
}

/// A consumer over a channel that does `AtThree` when it receives 3.
struct SourceAtThree(channel::Receiver<u32>, AtThree);

fn failed_at_three() -> pc_core::ConsumeError {
    pc_core::ConsumeError::failed("the read of 3 was refused")
}

impl SourceAtThree {
    /// A source holding 0..6, closed: it ends after them.
    fn holding_0_to_6(at_three: AtThree) -> Self {
        let (tx, rx) = channel::bounded(8).unwrap();
        for n in 0..6u32 {
            tx.try_send(n).unwrap();
        }
        Self(rx, at_three)
    }

    fn take(&self, item: u32) -> Result<u32, pc_core::ConsumeError> {
        match (item, self.1) {
            (3, AtThree::Panics) => panic!("the source broke at {item}"),
            (3, AtThree::FailsTheRead) => Err(failed_at_three()),
            _ => Ok(item),
        }
    }
}

impl pc_core::Consumer<u32> for SourceAtThree {
    async fn recv(&self) -> Result<u32, pc_core::ConsumeError> {
        self.take(self.0.recv().await?)
    }

    fn try_recv(&self) -> Result<u32, pc_core::ConsumeError> {
        self.take(self.0.try_recv()?)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn capacity(&self) -> Option<usize> {
        self.0.capacity()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Walk: a pool's source that panicked killed the task feeding the pool; the intake stayed
/// open, so the results stream never ended and nothing said why. Now the panic comes on the
/// results stream as `Source`, the jobs taken before it run, and the stream ends.
#[tokio::test(start_paused = true)]
async fn a_pool_source_that_panics_ends_the_results_with_its_error() {
    let (tx, rx) = channel::bounded(8).unwrap();
    for n in 0..6u32 {
        tx.try_send(n).unwrap();
    }
    let (failed, outputs) = source_failure_and_outputs(SourceAtThree(rx, AtThree::Panics)).await;
    assert_eq!(
        failed,
        Err(JobError::Source("the source broke at 3".into()))
    );
    assert_eq!(outputs, [Ok(0), Ok(10), Ok(20)]);
    assert!(tx.is_closed(), "the pool let go of its source");
}

/// Runs a pool of two workers (n -> n x 10) over `source` to the end of its results: the
/// source's failure on them, and the jobs' outputs in order.
async fn source_failure_and_outputs(
    source: SourceAtThree,
) -> (
    Result<u32, JobError<String>>,
    Vec<Result<u32, JobError<String>>>,
) {
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, String>(n * 10) })
        .workers(2)
        .build_over(source)
        .unwrap();
    // Paused time jumps to the deadline if the stream never ends, as it did before.
    let results = pool.results().map(|r| r.output).collect::<Vec<_>>();
    let mut outputs = tokio::time::timeout(Duration::from_secs(3600), results)
        .await
        .expect("the results stream ends");
    let source = outputs
        .iter()
        .position(|r| matches!(r, Err(err) if err.is_source()));
    let failed = outputs.remove(source.expect("the source's failure is on the results"));
    outputs.sort_by_key(|r| *r.as_ref().unwrap());
    pool.close_and_wait().await;
    (failed, outputs)
}

/// A source's failed read is not its end: the pool puts it on the results as `SourceFailed`
/// (the source's error as its `source()`) and goes on taking, to the source's close.
#[tokio::test(start_paused = true)]
async fn a_pool_source_that_fails_a_read_reports_it_and_goes_on() {
    let source = SourceAtThree::holding_0_to_6(AtThree::FailsTheRead);
    let (failed, outputs) = source_failure_and_outputs(source).await;
    let Err(JobError::SourceFailed(err)) = failed else {
        panic!("a read's failure, not a panic");
    };
    assert!(err.is_failed());
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("the read of 3 was refused"));
    assert_eq!(outputs, [Ok(0), Ok(10), Ok(20), Ok(40), Ok(50)]);
}

/// In a pipeline the failed read comes out in its place among the items, under every policy:
/// it is not an item's failure, so `Skip` keeps it and `Stop` goes on past it.
#[tokio::test(start_paused = true)]
async fn a_pipeline_source_that_fails_a_read_reports_it_in_its_place() {
    let refused = |e: &pc_core::ConsumeError| {
        std::error::Error::source(e).map(ToString::to_string)
            == Some("the read of 3 was refused".into())
    };
    for on_error in [OnError::Forward, OnError::Skip, OnError::Stop] {
        for ordered in [true, false] {
            let source = SourceAtThree::holding_0_to_6(AtThree::FailsTheRead);
            let staged = Pipeline::from_consumer(source)
                .on_error(on_error)
                .stage(2, 2, |n: u32| async move { Ok::<_, String>(n * 10) })
                .unwrap();
            let mut out = outputs(staged, ordered).await;
            let at = out
                .iter()
                .position(Result::is_err)
                .expect("the failure comes out");
            let err = out.remove(at).unwrap_err();
            assert!(
                matches!(&err, PipelineError::SourceFailed(e) if refused(e)),
                "{on_error:?}, ordered {ordered}: {err}"
            );
            if ordered || on_error == OnError::Stop {
                assert_eq!(at, 3, "in its place, {on_error:?}");
            } else {
                out.sort_by_key(|r| *r.as_ref().unwrap());
            }
            assert_eq!(
                out,
                [Ok(0), Ok(10), Ok(20), Ok(40), Ok(50)],
                "{on_error:?}, ordered {ordered}"
            );
        }
    }
}

/// An output whose `Drop` panics for 1.
#[derive(Debug, PartialEq)]
struct DropsBadly(u32);

impl Drop for DropsBadly {
    fn drop(&mut self) {
        if self.0 == 1 && !std::thread::panicking() {
            panic!("dropping 1");
        }
    }
}

/// Walk: the outcome of a job whose handle was dropped is dropped by the worker; when that
/// `Drop` panicked, it took the worker down, and the next job never ran.
#[tokio::test(start_paused = true)]
async fn an_unwanted_output_that_panics_on_drop_keeps_the_worker() {
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, String>(DropsBadly(n)) })
        .workers(1)
        .build()
        .unwrap();
    drop(pool.submit(1).await.unwrap());
    let next = pool.submit(2).await.unwrap();
    let done = tokio::time::timeout(Duration::from_secs(3600), next).await;
    assert_eq!(done.expect("the worker lives on"), Ok(DropsBadly(2)));
    assert_eq!(pool.workers(), 1);
    pool.close_and_wait().await;
}

// ## 7. Shutdown in every state

/// Defect: `cancel()` never returned while a stage under `OnError::Stop` waited to send its
/// error into a full buffer (here the output's, which nobody reads).
#[tokio::test(start_paused = true)]
async fn cancel_returns_while_a_stopping_stage_waits_on_a_full_buffer() {
    let mut output = Pipeline::from_stream(futures_util::stream::iter(0..10u32))
        .on_error(OnError::Stop)
        .stage(1, 1, |n: u32| async move {
            if n == 1 { Err("one") } else { Ok(n) }
        })
        .unwrap()
        .unordered();
    // Item 0 fills the output's buffer; the error for item 1 waits for room.
    sleep(ms(10)).await;
    tokio::time::timeout(Duration::from_secs(1), output.cancel())
        .await
        .expect("cancel returned");
}

/// Lets every task that can run, run (paused time: the clock moves only when all are idle).
async fn settle() {
    sleep(ms(1)).await;
}

/// Listed: a pipeline dropped before `ordered()` or `unordered()`, on the builder's error path
/// too, left its source task parked on the source, which took the next item and dropped it.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_pipeline_dropped_before_its_output_lets_go_of_its_source() {
    let before = alive();
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let pipeline = Pipeline::from_consumer(rx)
        .stage(2, 2, |n: u32| async move { Ok::<_, String>(n) })
        .unwrap();
    settle().await;
    assert_eq!(alive(), before + 3, "the source and two workers");
    drop(pipeline);
    settle().await;
    assert_eq!(alive(), before, "every task ended");
    assert!(tx.try_send(1).unwrap_err().is_closed(), "nobody takes it");

    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let refused =
        Pipeline::from_consumer(rx).stage(0, 2, |n: u32| async move { Ok::<_, String>(n) });
    assert_eq!(refused.unwrap_err().setting(), "concurrency");
    settle().await;
    assert_eq!(alive(), before, "the source task ended with the builder");
    assert!(tx.try_send(1).unwrap_err().is_closed(), "nobody takes it");
}

/// Walk: `close` cancelled while it waits, then called again, and called twice at once: each
/// call returns only when the job in flight is done and no task of the pool is left.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn close_cancelled_then_called_again_waits_for_every_task() {
    let before = alive();
    let pool = WorkerPool::builder(|n: u32| async move {
        sleep(Duration::from_secs(10)).await;
        Ok::<_, String>(n)
    })
    .workers(2)
    .build()
    .unwrap();
    let job = pool.submit(1).await.unwrap();
    let start = tokio::time::Instant::now();
    let gave_up = tokio::time::timeout(ms(1), pool.close_and_wait()).await;
    assert!(gave_up.is_err(), "the job holds the pool up");
    tokio::join!(pool.close_and_wait(), pool.close_and_wait());
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(alive(), before);
    assert_eq!(job.await, Ok(1));
    // Once stopped, every later call returns at once.
    pool.close_and_wait().await;
    assert_eq!(pool.abort().await, 0);
    assert_eq!(pool.shutdown(Duration::MAX).await, 0);
}

/// Walk: a pipeline's `cancel` dropped after its first poll, then called again, and twice at
/// once: each returns with no task of the pipeline left.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn pipeline_cancel_cancelled_then_called_again_ends_every_task() {
    let before = alive();
    let mut output = Pipeline::from_stream(futures_util::stream::pending::<u32>())
        .stage(2, 2, |n: u32| async move { Ok::<_, String>(n) })
        .unwrap()
        .ordered();
    settle().await;
    assert_eq!(alive(), before + 3);
    {
        let mut first = spawn(output.cancel());
        let _ = first.poll();
    }
    output.cancel().await;
    assert_eq!(alive(), before);
    output.cancel().await;
    assert_eq!(output.next().await, None);
}

/// Defect: dropping a pool built over an idle source leaked its feeder task, parked on the
/// source for good with the stage and a receiver.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dropping_a_pool_over_an_idle_source_ends_every_task() {
    let before = alive();
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .workers(2)
        .build_over(rx)
        .unwrap();
    sleep(ms(1)).await;
    assert_eq!(alive(), before + 3);
    drop(pool);
    sleep(ms(1)).await;
    assert_eq!(alive(), before, "feeder and workers ended");
    assert!(tx.is_closed(), "the source's receiver went with the feeder");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn close_joins_workers_a_concurrent_resize_started() {
    let before = alive();
    let pool = Arc::new(
        WorkerPool::builder(|n: u32| async move {
            sleep(ms(5)).await;
            Ok::<_, ()>(n)
        })
        .workers(1)
        .build()
        .unwrap(),
    );
    let handles: Vec<_> = futures_util::future::join_all((0..8).map(|n| pool.submit(n)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let resizer = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move {
            for workers in [4, 1, 3, 2, 4] {
                pool.resize(workers).unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    pool.close_and_wait().await;
    resizer.await.unwrap();
    assert_eq!(pool.workers(), 0);
    assert_eq!(alive(), before);
    for (n, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.await, Ok(n as u32));
    }
}

// ## 8. Bounded memory

/// Defect: ordered output had no backpressure behind one slow item: 10,000 items pulled from
/// the source, 9,999 held in the reorder buffer. Now the source waits once the pipeline holds
/// as many items as its buffers and workers: 16 + 1 after the source, 2 + 4 in the stage.
#[tokio::test(start_paused = true)]
async fn ordered_output_holds_the_source_back_behind_a_slow_item() {
    let pulled = Arc::new(AtomicU64::new(0));
    let source = futures_util::stream::iter(0..10_000u64).inspect({
        let pulled = Arc::clone(&pulled);
        move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        }
    });
    let output = Pipeline::from_stream(source)
        .stage(2, 4, |n: u64| async move {
            if n == 0 {
                sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, ()>(n)
        })
        .unwrap()
        .ordered();
    // A reader that waits for item 0 all along, taking whatever comes out meanwhile.
    let reader = tokio::spawn(async move {
        let mut output = output;
        let mut out = Vec::new();
        while let Some(item) = output.next().await {
            out.push(item.unwrap());
        }
        out
    });
    sleep(Duration::from_secs(30)).await;
    assert_eq!(pulled.load(Ordering::SeqCst), 23);
    assert_eq!(reader.await.unwrap(), (0..10_000).collect::<Vec<_>>());
}

// ## 10. Promises across composition

/// Defect: `key_by` kept order only in the first stage after it; from the second stage on,
/// items of one key overtook each other.
#[tokio::test(start_paused = true)]
async fn key_by_keeps_order_through_every_later_stage() {
    let delay = |salt: u64, i: u64| ms(fastrand::Rng::with_seed(i * 131 + salt).u64(1..30));
    let items: Vec<(u64, u64)> = (0..400).map(|i| (i % 7, i)).collect();
    let stage = |salt: u64| {
        move |(key, i): (u64, u64)| async move {
            sleep(delay(salt, i)).await;
            Ok::<_, ()>((key, i))
        }
    };
    let out: Vec<(u64, u64)> = Pipeline::from_stream(futures_util::stream::iter(items))
        .key_by(|&(key, _): &(u64, u64)| key)
        .stage(2, 2, |item: (u64, u64)| async move { Ok::<_, ()>(item) })
        .unwrap()
        .stage(4, 2, stage(2))
        .unwrap()
        .stage(2, 3, stage(3))
        .unwrap()
        .unordered()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(out.len(), 400);
    for key in 0..7 {
        let mine: Vec<u64> = out
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|&(_, i)| i)
            .collect();
        let expected: Vec<u64> = (0..400).filter(|i| i % 7 == key).collect();
        assert_eq!(mine, expected, "key {key}");
    }
}

/// Defect: `OnError::Stop` with `ordered()` gave `[Ok(0), Ok(1), Ok(2), Err(3), Ok(5), Ok(6)]`
/// and item 4 vanished. The error comes last, after every item before it, in both modes.
#[tokio::test(start_paused = true)]
async fn stop_gives_every_item_before_the_error_then_the_error_last() {
    for ordered in [true, false] {
        let pipeline = Pipeline::from_stream(futures_util::stream::iter(0..8u32))
            .on_error(OnError::Stop)
            .stage(3, 2, |n: u32| async move {
                // Later items finish first.
                sleep(ms(u64::from(10 - n))).await;
                if n == 3 {
                    Err(format!("bad {n}"))
                } else {
                    Ok(n)
                }
            })
            .unwrap()
            .stage(2, 2, |n: u32| async move { Ok(n) })
            .unwrap();
        let output = if ordered {
            pipeline.ordered()
        } else {
            pipeline.unordered()
        };
        let mut out: Vec<_> = output.collect().await;
        assert_eq!(
            out.pop(),
            Some(Err(PipelineError::Stage("bad 3".into()))),
            "{ordered}"
        );
        out.sort_by_key(|r| *r.as_ref().unwrap());
        assert_eq!(out, [Ok(0), Ok(1), Ok(2)], "ordered: {ordered}");
    }
}

/// Defect: under `OnError::Stop`, unordered output handed out an item that came after the
/// failing one (it finished first): `[Ok(2), Ok(0), Err(1)]`. Ordered output was right; both
/// keep the one promise now.
#[tokio::test(start_paused = true)]
async fn stop_never_hands_out_an_item_after_the_failing_one_unordered_either() {
    for ordered in [true, false] {
        let pipeline = Pipeline::from_stream(futures_util::stream::iter(0..3u32))
            .on_error(OnError::Stop)
            .stage(3, 3, |n: u32| async move {
                // Item 2 is done first, then 1 fails, then 0 is done.
                sleep(ms(u64::from(30 - 10 * n))).await;
                if n == 1 { Err(n) } else { Ok(n) }
            })
            .unwrap();
        let output = if ordered {
            pipeline.ordered()
        } else {
            pipeline.unordered()
        };
        let out: Vec<_> = output.collect().await;
        assert_eq!(
            out,
            [Ok(0), Err(PipelineError::Stage(1))],
            "ordered: {ordered}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn stop_takes_the_first_failure_in_source_order() {
    let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(0..10u32))
        .on_error(OnError::Stop)
        .stage(4, 4, |n: u32| async move {
            // Item 5 fails first in time, item 2 first in order.
            sleep(ms(if n == 5 { 1 } else { 20 })).await;
            if n == 2 || n == 5 { Err(n) } else { Ok(n) }
        })
        .unwrap()
        .unordered()
        .collect()
        .await;
    assert_eq!(out.last(), Some(&Err(PipelineError::Stage(2))));
    let mut oks: Vec<u32> = out
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    oks.sort_unstable();
    assert_eq!(oks, [0, 1]);
}

/// Every item is accounted for under `Forward` and `Skip`, ordered or not: out + skipped = in.
#[tokio::test(start_paused = true)]
async fn every_policy_accounts_for_every_item() {
    for on_error in [OnError::Forward, OnError::Skip] {
        for ordered in [true, false] {
            let pipeline = Pipeline::from_stream(futures_util::stream::iter(0..50u32))
                .on_error(on_error)
                .stage(3, 2, |n: u32| async move {
                    sleep(ms(u64::from(n % 5))).await;
                    if n.is_multiple_of(7) { Err(n) } else { Ok(n) }
                })
                .unwrap();
            let output = if ordered {
                pipeline.ordered()
            } else {
                pipeline.unordered()
            };
            let mut output = std::pin::pin!(output);
            let mut out = Vec::new();
            while let Some(item) = output.next().await {
                out.push(item);
            }
            let errors = out.iter().filter(|r| r.is_err()).count() as u64;
            let oks = out.len() as u64 - errors;
            let skipped = output.skipped();
            assert_eq!(oks, 42);
            let expected = if on_error == OnError::Skip {
                (0, 8)
            } else {
                (8, 0)
            };
            assert_eq!(
                (errors, skipped),
                expected,
                "{on_error:?}, ordered {ordered}"
            );
        }
    }
}

// ## 4. Extreme durations

#[tokio::test(start_paused = true)]
async fn timeouts_of_zero_and_max() {
    let err = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .timeout(Duration::ZERO)
        .build::<u32>()
        .unwrap_err();
    assert_eq!(err.setting(), "timeout");
    let pool = WorkerPool::builder(|n: u32| async move {
        sleep(Duration::from_secs(3600)).await;
        Ok::<_, ()>(n)
    })
    .workers(1)
    .timeout(Duration::MAX)
    .build()
    .unwrap();
    assert_eq!(pool.submit(1).await.unwrap().await, Ok(1));
    Producer::send_timeout(&pool, 2, Duration::MAX)
        .await
        .unwrap();
    Producer::send_timeout(&pool, 3, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(pool.shutdown(Duration::MAX).await, 0);
    assert_eq!(
        pool.results()
            .recv_batch(&mut Vec::new(), 8, Duration::MAX)
            .await,
        2
    );
}

/// Walk: a job whose work ends at the very instant of its deadline finished in time (the run
/// is polled before the timer, as `tokio::time::timeout` does); one tick later it did not.
#[tokio::test(start_paused = true)]
async fn a_job_ending_on_its_deadline_is_in_time() {
    let pool = WorkerPool::builder(|ms: u64| async move {
        sleep(Duration::from_millis(ms)).await;
        Ok::<_, ()>(ms)
    })
    .workers(2)
    .timeout(Duration::from_millis(100))
    .build()
    .unwrap();
    let on_time = pool.submit(100).await.unwrap();
    let late = pool.submit(101).await.unwrap();
    assert_eq!(on_time.await, Ok(100));
    assert_eq!(
        late.await,
        Err(JobError::TimedOut(Duration::from_millis(100)))
    );
}

// ## 5. Extreme numbers

/// Walk: `workers(usize::MAX)`, a stage's concurrency of `usize::MAX` and a resize to it tried
/// to allocate and spawn that many tasks; they are typed errors. Capacities and buffers of
/// `usize::MAX` work.
#[tokio::test(start_paused = true)]
async fn counts_at_their_largest_work_or_are_typed_errors() {
    let double = |n: u32| async move { Ok::<_, String>(n * 2) };
    let err = WorkerPool::builder(double)
        .workers(usize::MAX)
        .build::<u32>();
    assert_eq!(err.unwrap_err().setting(), "workers");
    let pool = WorkerPool::builder(double)
        .workers(2)
        .capacity(usize::MAX)
        .build()
        .unwrap();
    assert_eq!(pool.resize(usize::MAX).unwrap_err().setting(), "workers");
    assert_eq!(pool.submit(4).await.unwrap().await, Ok(8));
    pool.close_and_wait().await;
    let err =
        Pipeline::from_stream(futures_util::stream::iter(0..3u32)).stage(usize::MAX, 1, double);
    assert_eq!(err.unwrap_err().setting(), "concurrency");
    let out: Vec<_> = Pipeline::from_stream(futures_util::stream::iter(0..3u32))
        .stage(2, usize::MAX, double)
        .unwrap()
        .ordered()
        .collect()
        .await;
    assert_eq!(out, [Ok(0), Ok(2), Ok(4)]);
}

// ## 3. Fairness: tested in pc-core's tests/edges.rs: the intake is pc-core's channel, whose
// waiting senders are served before newcomers.

// ## 9. Weak memory: tested in pc-core's loom models for the intake; the pipeline's window and
// the cancel are checked under 2 worker threads in tests/pipeline.rs and tests/pool.rs.

// ## 11. Hidden order assumptions: tested in tests/pipeline.rs
// (`unordered_output_keeps_every_item_and_ordered_restores_the_order`,
// `per_key_order_holds_while_keys_go_in_parallel`) and `key_by_keeps_order_through_every_later_stage`
// above.

// ## 12. Errors and probes that tell the truth: errors are tested in tests/pool.rs and
// tests/pipeline.rs (`Failed`, `Panicked`, `TimedOut`, `Cancelled` and `Source` each where they
// belong; a refused submit hands its input back); the probe here.

/// Counts what a probe hears: items in, out, and dropped.
#[derive(Debug, Default)]
struct Heard {
    produced: AtomicU64,
    consumed: AtomicU64,
    dropped: AtomicU64,
}

impl Probe for Heard {
    fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::SeqCst);
    }
    fn consumed(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::SeqCst);
    }
    fn dropped(&self, n: u64, reason: DropReason) {
        assert!(reason.was_inside(), "a pool turns nothing away at the door");
        self.dropped.fetch_add(n, Ordering::SeqCst);
    }
}

/// Defect: a job the feeder had taken from the source and held, waiting for room, when the
/// pool stopped was reported dropped (`Closed`) without ever being reported produced: the
/// probe counted more out than in. Every job that comes in is produced, then consumed or
/// dropped, exactly once.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_job_the_feeder_holds_at_a_stop_was_produced_before_it_is_dropped() {
    let heard = Arc::new(Heard::default());
    let (tx, rx) = channel::bounded::<u32>(8).unwrap();
    for n in 0..4 {
        tx.try_send(n).unwrap();
    }
    let pool = WorkerPool::builder(|n: u32| async move {
        sleep(Duration::from_secs(60)).await;
        Ok::<_, ()>(n)
    })
    .workers(1)
    .capacity(1)
    .probe(heard.clone())
    .build_over(rx)
    .unwrap();
    // One job runs, one waits in the queue, one is in the feeder's hands, one in the source.
    sleep(ms(1)).await;
    assert_eq!(tx.len(), 1);
    assert_eq!(pool.abort().await, 3);
    let count = |n: &AtomicU64| n.load(Ordering::SeqCst);
    assert_eq!(count(&heard.produced), 3);
    assert_eq!(count(&heard.consumed) + count(&heard.dropped), 3);
    assert_eq!(count(&heard.dropped), 2);
}

// ## The randomized contract test: pools fed by submits and by their feeder over a channel
// run in the facade's tests/contract.rs (`worker_pool`, `worker_pool_over_a_channel`), read
// through their results.

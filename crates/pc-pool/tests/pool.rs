//! The worker pool's contract, with every job counted: each ends exactly once, with its own
//! output, its own error, or cancelled.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::{BuildError, ProduceError, ProduceErrorKind, Producer, SendError, TrySendError};
use pc_pool::{JobError, WorkerPool};
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

use support::{alive, ms, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_of_100_000_jobs_answers_its_own_handle_once() {
    within(async {
        let pool = WorkerPool::builder(|n: u64| async move { Ok::<_, ()>(n * 3) })
            .workers(4)
            .capacity(256)
            .build()
            .unwrap();
        let pool = Arc::new(pool);
        let submitters: Vec<_> = (0..4u64)
            .map(|part| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move {
                    let mut handles = Vec::new();
                    for n in (part * 25_000)..((part + 1) * 25_000) {
                        handles.push((n, pool.submit(n).await.unwrap()));
                    }
                    let mut answered = 0;
                    for (n, handle) in handles {
                        assert_eq!(handle.await, Ok(n * 3));
                        answered += 1;
                    }
                    answered
                })
            })
            .collect();
        let mut answered = 0;
        for submitter in submitters {
            answered += submitter.await.unwrap();
        }
        assert_eq!(answered, 100_000);
        // Through an `Arc` with `Producer` in scope: the waiting close has its own name.
        pool.close_and_wait().await;
        assert_eq!(pool.workers(), 0);
    })
    .await;
}

/// `close` and `Producer::close` are one: through an `Arc` with the trait in scope, method
/// syntax may find either, and both close the intake at once; the queued jobs still run, and
/// `close_and_wait` waits for them.
#[tokio::test(start_paused = true)]
async fn close_through_an_arc_is_the_traits_and_the_pools_alike() {
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&ran);
    let pool = WorkerPool::builder(move |_: u32| {
        let ran = Arc::clone(&counted);
        async move {
            sleep(ms(10)).await;
            ran.fetch_add(1, Ordering::Relaxed);
            Ok::<_, ()>(())
        }
    })
    .workers(1)
    .capacity(4)
    .build()
    .unwrap();
    let pool = Arc::new(pool);
    for n in 0..3 {
        pool.try_send(n).unwrap();
    }
    assert!(pool.close(), "this call closed it");
    assert!(!Producer::close(&pool), "closed already, by the same close");
    assert!(!WorkerPool::close(&pool));
    assert_eq!(
        pool.try_send(9).map_err(ProduceError::into_parts),
        Err((ProduceErrorKind::Closed, 9))
    );
    assert_eq!(ran.load(Ordering::Relaxed), 0, "close returns at once");
    pool.close_and_wait().await;
    assert_eq!(ran.load(Ordering::Relaxed), 3, "the queued jobs still ran");
    assert_eq!(pool.workers(), 0);
}

#[tokio::test(start_paused = true)]
async fn jobs_over_the_timeout_fail_alone() {
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(if n.is_multiple_of(10) {
            ms(2000)
        } else {
            ms(10)
        })
        .await;
        Ok::<_, ()>(n)
    })
    .workers(4)
    .timeout(ms(1000))
    .build()
    .unwrap();
    let mut handles = Vec::new();
    for n in 0..1000u64 {
        handles.push((n, pool.submit(n).await.unwrap()));
    }
    let mut timed_out = 0;
    for (n, handle) in handles {
        match handle.await {
            Ok(got) => assert_eq!(got, n),
            Err(JobError::TimedOut(limit)) => {
                assert_eq!((n % 10, limit), (0, ms(1000)));
                timed_out += 1;
            }
            Err(other) => panic!("job {n}: {other:?}"),
        }
    }
    assert_eq!(timed_out, 100);
    assert_eq!(pool.workers(), 4);
    pool.close_and_wait().await;
}

#[tokio::test(start_paused = true)]
async fn go_basic_pool_three_workers_ten_jobs_of_half_a_second() {
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(ms(500)).await;
        Ok::<_, ()>(n * 2)
    })
    .workers(3)
    .capacity(10)
    .build()
    .unwrap();
    let start = Instant::now();
    for n in 1..=10 {
        pool.send(n).await.unwrap();
    }
    pool.close_and_wait().await;
    let results: Vec<_> = pool.results().collect().await;
    assert_eq!(
        Instant::now() - start,
        ms(2000),
        "4 rounds of 3, 3, 3 and 1 jobs"
    );
    let mut outputs: Vec<u64> = results
        .iter()
        .map(|r| *r.output.as_ref().unwrap())
        .collect();
    outputs.sort_unstable();
    assert_eq!(outputs, (1..=10).map(|n| n * 2).collect::<Vec<_>>());
    let ids: HashSet<u64> = results.iter().map(|r| r.id).collect();
    assert_eq!(ids, (0..10).collect());
    assert!(
        results
            .iter()
            .all(|r| r.worker < 3 && r.duration == ms(500))
    );
}

/// Two workers whose jobs take 10 ms and count themselves in `done`.
fn counting_pool(
    done: Arc<AtomicUsize>,
    capacity: usize,
) -> WorkerPool<u32, impl pc_core::Stage<u32, Output = (), Error = ()>> {
    WorkerPool::builder(move |_: u32| {
        let done = done.clone();
        async move {
            sleep(ms(10)).await;
            done.fetch_add(1, Ordering::Relaxed);
            Ok::<_, ()>(())
        }
    })
    .workers(2)
    .capacity(capacity)
    .build()
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn close_completes_every_queued_job_and_refuses_new_ones() {
    let done = Arc::new(AtomicUsize::new(0));
    let pool = counting_pool(done.clone(), 1000);
    let handles: Vec<_> = (0..500).map(|n| pool.try_submit(n).unwrap()).collect();
    assert_eq!(pool.queued(), 500);
    pool.close_and_wait().await;
    assert_eq!(done.load(Ordering::Relaxed), 500);
    assert_eq!(pool.workers(), 0);
    for handle in handles {
        assert_eq!(handle.await, Ok(()));
    }
    assert_eq!(pool.submit(7).await.unwrap_err(), SendError(7));
    assert_eq!(pool.try_submit(8).unwrap_err(), TrySendError::Closed(8));
    assert_eq!(
        pool.send(9).await.map_err(ProduceError::into_parts),
        Err((ProduceErrorKind::Closed, 9))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_exactly_the_unfinished_and_leaves_no_task() {
    let before = alive();
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(ms(100)).await;
        Ok::<_, ()>(n)
    })
    .workers(4)
    .build()
    .unwrap();
    let mut handles = Vec::new();
    for n in 0..100u64 {
        handles.push(pool.submit(n).await.unwrap());
    }
    assert_eq!(alive(), before + 4);
    // In 250 ms, two rounds of 4 finish and a third is under way.
    let cancelled = pool.shutdown(ms(250)).await;
    assert_eq!(cancelled, 100 - 8);
    assert_eq!(alive(), before, "no task of the pool is alive");
    let (mut ok, mut gone) = (0, 0);
    for handle in handles {
        match handle.await {
            Ok(_) => ok += 1,
            Err(JobError::Cancelled) => gone += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((ok, gone), (8, 92));
    assert_eq!(pool.cancelled(), 92);
}

#[tokio::test(start_paused = true)]
async fn abort_and_the_token_cancel_jobs_on_the_results_stream_too() {
    let token = CancellationToken::new();
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(ms(100)).await;
        Ok::<_, ()>(n)
    })
    .workers(2)
    .cancel_token(&token)
    .build()
    .unwrap();
    pool.send_all(0..10).await.unwrap();
    sleep(ms(150)).await;
    token.cancel();
    let results: Vec<_> = pool.results().collect().await;
    assert_eq!(results.len(), 10, "every job reported once");
    let cancelled = results
        .iter()
        .filter(|r| r.output == Err(JobError::Cancelled))
        .count();
    assert_eq!(
        cancelled, 8,
        "two finished at 100 ms; two running and six queued cancelled"
    );
    assert_eq!(pool.abort().await, 0, "nothing left to cancel");
    assert_eq!(pool.cancelled(), 8);
    assert!(pool.is_closed());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_pool_lets_queued_jobs_finish() {
    let before = alive();
    let done = Arc::new(AtomicUsize::new(0));
    let pool = counting_pool(done.clone(), 1024);
    let handles: Vec<_> = (0..10).map(|n| pool.try_submit(n).unwrap()).collect();
    drop(pool);
    for handle in handles {
        assert_eq!(handle.await, Ok(()));
    }
    assert_eq!(done.load(Ordering::Relaxed), 10);
    // The workers end once the queue is drained.
    sleep(ms(1)).await;
    assert_eq!(alive(), before);
}

#[tokio::test]
async fn bad_settings_are_build_errors() {
    let stage = |n: u32| async move { Ok::<_, ()>(n) };
    assert_eq!(
        WorkerPool::builder(stage).workers(0).build().unwrap_err(),
        BuildError::Zero { setting: "workers" }
    );
    assert_eq!(
        WorkerPool::builder(stage).capacity(0).build().unwrap_err(),
        BuildError::Zero {
            setting: "capacity"
        }
    );
    assert_eq!(
        WorkerPool::builder(stage)
            .timeout(Duration::ZERO)
            .build()
            .unwrap_err(),
        BuildError::Zero { setting: "timeout" }
    );
}

#[test]
fn building_outside_a_runtime_is_an_error() {
    let err = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "runtime");
}

/// The Go seed's tasks for its pool with a context.
#[derive(Debug, Clone, Copy)]
enum Task {
    Slow,
    Fast,
    Error,
}

async fn seed_task(task: Task) -> Result<&'static str, &'static str> {
    match task {
        Task::Slow => {
            sleep(ms(2000)).await;
            Ok("Slow task completed")
        }
        Task::Fast => {
            sleep(ms(100)).await;
            Ok("Fast task completed")
        }
        Task::Error => Err("task failed"),
    }
}

/// The Go seed's pool with a context: 3 workers, tasks slow, fast, error, fast, slow, and a
/// deadline; returns each job's outcome by id and when the pool stopped.
async fn go_pool_with_deadline(
    deadline: Duration,
) -> (
    Vec<(u64, Result<&'static str, JobError<&'static str>>)>,
    Duration,
) {
    let token = CancellationToken::new();
    let pool = WorkerPool::builder(seed_task)
        .workers(3)
        .cancel_token(&token)
        .build()
        .unwrap();
    let start = Instant::now();
    let canceller = tokio::spawn({
        let token = token.clone();
        async move {
            sleep(deadline).await;
            token.cancel();
        }
    });
    pool.send_all([Task::Slow, Task::Fast, Task::Error, Task::Fast, Task::Slow])
        .await
        .unwrap();
    pool.close_and_wait().await;
    let stopped = Instant::now() - start;
    canceller.abort();
    let mut results: Vec<_> = pool.results().map(|r| (r.id + 1, r.output)).collect().await;
    results.sort_by_key(|(id, _)| *id);
    (results, stopped)
}

#[tokio::test(start_paused = true)]
async fn go_pool_with_context_finishes_before_its_deadline() {
    let (results, stopped) = go_pool_with_deadline(ms(5000)).await;
    assert_eq!(
        results,
        [
            (1, Ok("Slow task completed")),
            (2, Ok("Fast task completed")),
            (3, Err(JobError::Failed("task failed"))),
            (4, Ok("Fast task completed")),
            (5, Ok("Slow task completed")),
        ]
    );
    // Task 5 starts when task 2 ends, at 100 ms, and takes 2 s.
    assert_eq!(stopped, ms(2100));
}

#[tokio::test(start_paused = true)]
async fn go_pool_with_context_cancels_what_its_deadline_cuts() {
    let (results, stopped) = go_pool_with_deadline(ms(1000)).await;
    assert_eq!(
        results,
        [
            (1, Err(JobError::Cancelled)),
            (2, Ok("Fast task completed")),
            (3, Err(JobError::Failed("task failed"))),
            (4, Ok("Fast task completed")),
            (5, Err(JobError::Cancelled)),
        ]
    );
    assert_eq!(stopped, ms(1000));
}

#[tokio::test(start_paused = true)]
async fn resize_up_and_down_under_load_loses_nothing() {
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(ms(10)).await;
        Ok::<_, ()>(n)
    })
    .workers(2)
    .capacity(10_000)
    .build()
    .unwrap();
    let handles: Vec<_> = (0..2000u64).map(|n| pool.try_submit(n).unwrap()).collect();
    sleep(ms(95)).await;
    pool.resize(8).unwrap();
    assert_eq!(pool.workers(), 8, "new workers start at once");
    sleep(ms(500)).await;
    pool.resize(3).unwrap();
    // The extra workers retire as their jobs end, within one job's time.
    sleep(ms(10)).await;
    assert_eq!(pool.workers(), 3);
    assert_eq!(
        pool.resize(0).unwrap_err(),
        BuildError::Zero { setting: "workers" }
    );
    let mut seen = HashSet::new();
    for handle in handles {
        let id = handle.id();
        assert_eq!(handle.await, Ok(id), "each job its own output");
        assert!(seen.insert(id));
    }
    assert_eq!(seen.len(), 2000);
    pool.close_and_wait().await;
    assert_eq!(pool.workers(), 0);
    pool.resize(4).unwrap();
    assert_eq!(pool.workers(), 0, "a stopped pool stays stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_drains_any_consumer_and_stops_when_it_ends() {
    within(async {
        let (tx, rx) = pc_core::channel::bounded::<u64>(64).unwrap();
        let pool = WorkerPool::builder(|n: u64| async move { Ok::<_, ()>(n + 1) })
            .workers(3)
            .build_over(rx)
            .unwrap();
        let producer = tokio::spawn(async move {
            tx.send_all(0..10_000).await.unwrap();
            // Dropping `tx` closes the source: the pool stops after its last job.
        });
        let mut outputs: Vec<u64> = pool.results().map(|r| r.output.unwrap()).collect().await;
        producer.await.unwrap();
        outputs.sort_unstable();
        assert_eq!(outputs, (1..=10_000).collect::<Vec<_>>());
        pool.close_and_wait().await;
        assert_eq!(pool.workers(), 0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn closing_a_pool_over_a_consumer_leaves_the_rest_in_it() {
    let (tx, rx) = pc_core::channel::bounded::<u64>(100).unwrap();
    tx.send_all(0..100).await.unwrap();
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(ms(10)).await;
        Ok::<_, ()>(n)
    })
    .workers(2)
    .capacity(4)
    .build_over(rx.clone())
    .unwrap();
    sleep(ms(25)).await;
    pool.close_and_wait().await;
    let results: Vec<_> = pool.results().collect().await;
    let done = results.iter().filter(|r| r.output.is_ok()).count();
    let cancelled = results
        .iter()
        .filter(|r| r.output == Err(JobError::Cancelled))
        .count();
    // Every item is in exactly one place: done, cancelled (taken but never queued), or still
    // in the source.
    assert_eq!(done + cancelled + rx.len(), 100);
    assert_eq!(
        cancelled, 1,
        "the item the feeder held while the queue was full"
    );
    // Two rounds of two finished by 25 ms, two running at the close, and the queue of four.
    assert_eq!(done, 2 + 2 + 2 + 4);
}

/// A job that blocks its thread until the test, on the same single-threaded runtime, answers:
/// on the runtime's own thread it could never be answered (the wait gives up after a minute
/// and fails the job, so a regression fails the test instead of hanging it).
#[tokio::test]
async fn blocking_jobs_leave_the_runtime_free() {
    let (started_tx, started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (answer_tx, answer_rx) = std::sync::mpsc::channel::<u32>();
    let answer_rx = Arc::new(std::sync::Mutex::new(answer_rx));
    let pool = WorkerPool::builder(move |_: ()| {
        let (started_tx, answer_rx) = (started_tx.clone(), Arc::clone(&answer_rx));
        async move {
            started_tx.send(()).map_err(|_| "test gone")?;
            let answer = answer_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60));
            answer.map_err(|_| "the runtime never answered")
        }
    })
    .workers(1)
    .blocking()
    .build()
    .unwrap();
    let handle = pool.submit(()).await.unwrap();
    let mut started_rx = started_rx;
    within(started_rx.recv()).await.unwrap();
    answer_tx.send(7).unwrap();
    assert_eq!(within(handle).await, Ok(7));
    pool.close_and_wait().await;
}

/// The Go seed's fan-out/fan-in: 3 workers square 1..=10 with 0-99 ms of simulated work each
/// (seeded); every square arrives once, and the workers share the load.
#[tokio::test(start_paused = true)]
async fn go_fan_out_fan_in_squares_one_to_ten() {
    let (tx, rx) = pc_core::channel::bounded::<u64>(1).unwrap();
    let pool = WorkerPool::builder(|n: u64| async move {
        let work = fastrand::Rng::with_seed(n).u64(0..100);
        sleep(ms(work)).await;
        Ok::<_, ()>(n * n)
    })
    .workers(3)
    .build_over(rx)
    .unwrap();
    tokio::spawn(async move { tx.send_all(1..=10).await.unwrap() });
    let results: Vec<_> = pool.results().collect().await;
    let mut squares: Vec<u64> = results
        .iter()
        .map(|r| *r.output.as_ref().unwrap())
        .collect();
    squares.sort_unstable();
    assert_eq!(squares, (1..=10u64).map(|n| n * n).collect::<Vec<_>>());
    let workers: HashSet<usize> = results.iter().map(|r| r.worker).collect();
    assert_eq!(workers.len(), 3, "all three workers took jobs");
}

/// The Go seed's load balancer: 4 workers with queues of their own, 20 items in turn, 10% of
/// items failing (seeded): each worker gets exactly 5, and each failure is reported with its
/// item.
#[tokio::test(start_paused = true)]
async fn go_load_balancer_round_robin_gives_each_worker_five() {
    let fails = |item: u64| fastrand::Rng::with_seed(item).u32(0..10) == 0;
    let pool = WorkerPool::builder(move |item: u64| async move {
        sleep(ms(fastrand::Rng::with_seed(item + 100).u64(10..50))).await;
        if fails(item) {
            Err(format!("item {item} failed"))
        } else {
            Ok(item * 10)
        }
    })
    .workers(4)
    .balance(pc_pool::Balance::RoundRobin)
    .build()
    .unwrap();
    pool.send_all(0..20).await.unwrap();
    pool.close_and_wait().await;
    let results: Vec<_> = pool.results().collect().await;
    assert_eq!(results.len(), 20);
    for worker in 0..4 {
        let mine: Vec<u64> = results
            .iter()
            .filter(|r| r.worker == worker)
            .map(|r| r.id)
            .collect();
        assert_eq!(mine.len(), 5, "worker {worker}");
        assert!(mine.iter().all(|id| id % 4 == worker as u64), "in turn");
    }
    for r in &results {
        match &r.output {
            Ok(out) => assert_eq!((*out, fails(r.id)), (r.id * 10, false)),
            Err(JobError::Failed(message)) => {
                assert!(fails(r.id));
                assert_eq!(message, &format!("item {} failed", r.id));
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    let failed = results.iter().filter(|r| r.output.is_err()).count();
    assert_eq!(failed, (0..20).filter(|&item| fails(item)).count());
}

/// Every fourth job is 50 times longer: round robin piles them all on one worker; two random
/// choices by queue depth steer around it. Completion time of each job, from its submission.
async fn p99_completion(balance: pc_pool::Balance) -> Duration {
    let pool = WorkerPool::builder(|n: u64| async move {
        sleep(if n.is_multiple_of(4) { ms(50) } else { ms(1) }).await;
        Ok::<_, ()>(n)
    })
    .workers(4)
    .capacity(1000)
    .balance(balance)
    .build()
    .unwrap();
    let mut waiters = Vec::new();
    for n in 0..400u64 {
        let submitted = Instant::now();
        let handle = pool.submit(n).await.unwrap();
        // Each job's own waiter notes when it is done.
        waiters.push(tokio::spawn(async move {
            handle.await.unwrap();
            Instant::now() - submitted
        }));
        sleep(ms(4)).await;
    }
    let mut completions = Vec::new();
    for waiter in waiters {
        completions.push(waiter.await.unwrap());
    }
    completions.sort_unstable();
    completions[completions.len() * 99 / 100]
}

#[tokio::test(start_paused = true)]
async fn least_loaded_beats_round_robin_on_p99_of_skewed_jobs() {
    let round_robin = p99_completion(pc_pool::Balance::RoundRobin).await;
    let least_loaded = p99_completion(pc_pool::Balance::LeastLoaded).await;
    assert!(
        least_loaded < round_robin,
        "p99: least loaded {least_loaded:?}, round robin {round_robin:?}"
    );
}

#[tokio::test]
async fn a_pool_with_queues_per_worker_cannot_be_resized() {
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .workers(2)
        .balance(pc_pool::Balance::LeastLoaded)
        .build()
        .unwrap();
    assert_eq!(pool.resize(3).unwrap_err().setting(), "workers");
    let handle = pool.submit(5).await.unwrap();
    assert_eq!(handle.await, Ok(5));
    pool.close_and_wait().await;
}

/// C# example 6 on a pool: 3 producers of 100 work items each, 2 workers; all 300 processed
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csharp_three_producers_two_consumers_process_each_item_once() {
    within(async {
        let pool = Arc::new(
            WorkerPool::builder(|item: String| async move {
                sleep(ms(1)).await;
                Ok::<_, ()>(format!("processed {item}"))
            })
            .workers(2)
            .capacity(50)
            .build()
            .unwrap(),
        );
        let producers: Vec<_> = (1..=3)
            .map(|producer| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move {
                    for i in 1..=100 {
                        pool.send(format!("P{producer}-Item{i}")).await.unwrap();
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.await.unwrap();
        }
        pool.close_and_wait().await;
        let outputs: HashSet<String> = pool.results().map(|r| r.output.unwrap()).collect().await;
        assert_eq!(outputs.len(), 300);
        for producer in 1..=3 {
            for i in 1..=100 {
                assert!(outputs.contains(&format!("processed P{producer}-Item{i}")));
            }
        }
    })
    .await;
}

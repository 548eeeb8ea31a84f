//! tower: the pool as a `Service` (a place reserved by `poll_ready`), and tower stacks as
//! stages of pools and pipelines.

#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::channel;
use pc_pool::{JobError, Pipeline, ServiceStage, WorkerPool};
use tokio::sync::Semaphore;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_ok};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

/// `poll_ready` holds a place in the queue: with the one worker busy and the queue (1) taken
/// by a ready service, a second service waits, and is woken when the place is given back by
/// dropping the first without a call. Every job answered is counted.
#[tokio::test(start_paused = true)]
async fn poll_ready_reserves_a_place_in_the_queue() {
    let gate = Arc::new(Semaphore::new(0));
    let open = Arc::clone(&gate);
    let pool = WorkerPool::builder(move |n: u32| {
        let gate = Arc::clone(&open);
        async move {
            gate.acquire().await.unwrap().forget();
            Ok::<_, Infallible>(n + 100)
        }
    })
    .workers(1)
    .capacity(1)
    .build()
    .unwrap();
    let mut busy = pool.service();
    let running = busy.ready().await.unwrap().call(0);
    // The worker takes job 0; the queue's one place is free again.
    tokio::task::yield_now().await;
    let mut first = pool.service();
    assert_ready_ok!(spawn(first.ready()).poll());
    let mut second = pool.service();
    let mut waiting = spawn(second.ready());
    assert_pending!(waiting.poll());
    drop(first);
    assert!(waiting.is_woken(), "the unused place went back");
    let queued = assert_ready_ok!(waiting.poll()).call(1);
    gate.add_permits(2);
    assert_eq!((running.await, queued.await), (Ok(100), Ok(101)));
    pool.close_and_wait().await;
}

/// A closed pool: `poll_ready` fails with `Closed`, and a place reserved before the close still
/// queues its job, which runs.
#[tokio::test(start_paused = true)]
async fn a_closed_pool_is_a_ready_error_and_a_held_place_still_runs() {
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, Infallible>(n * 3) })
        .workers(1)
        .build()
        .unwrap();
    let mut held = pool.service();
    held.ready().await.unwrap();
    assert!(pool.close());
    let mut late = pool.service();
    assert_eq!(late.ready().await.unwrap_err(), JobError::Closed);
    assert_eq!(held.call(5).await, Ok(15));
    pool.close_and_wait().await;
    assert_eq!(pool.workers(), 0);
}

/// `call` without a ready `poll_ready` panics, as tower's contract allows, and says why.
#[tokio::test(start_paused = true)]
#[should_panic(expected = "PoolService::call before poll_ready returned Ready")]
async fn call_before_ready_panics() {
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, Infallible>(n) })
        .build()
        .unwrap();
    drop(pool.service().call(1));
}

/// tower's `retry` and `timeout` compose into a pool's stage: a call that fails twice succeeds
/// on its third try; one that hangs times out on each of its three tries and fails with the
/// timeout as the stage's error, after exactly 3 s; the worker goes on.
#[tokio::test(start_paused = true)]
async fn retry_and_timeout_compose_into_a_pool() {
    /// Up to this many tries per request (tower clones the policy for each request).
    #[derive(Clone)]
    struct Tries(u32);
    impl tower::retry::Policy<u32, u32, BoxError> for Tries {
        type Future = std::future::Ready<()>;
        fn retry(
            &mut self,
            _: &mut u32,
            result: &mut Result<u32, BoxError>,
        ) -> Option<Self::Future> {
            (result.is_err() && self.0 > 1).then(|| {
                self.0 -= 1;
                std::future::ready(())
            })
        }
        fn clone_request(&mut self, request: &u32) -> Option<u32> {
            Some(*request)
        }
    }
    let tries = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&tries);
    let flaky = ServiceBuilder::new()
        .retry(Tries(3))
        .timeout(Duration::from_secs(1))
        .service_fn(move |n: u32| {
            let attempt = counted.fetch_add(1, Ordering::Relaxed);
            async move {
                if n == 0 {
                    std::future::pending::<()>().await;
                }
                if attempt < 2 {
                    Err::<u32, BoxError>("not yet".into())
                } else {
                    Ok(n * 10)
                }
            }
        });
    let pool = WorkerPool::builder(ServiceStage::new(flaky))
        .workers(1)
        .build()
        .unwrap();
    let three = pool.submit(3).await.unwrap();
    assert_eq!(three.await.unwrap(), 30);
    assert_eq!(tries.load(Ordering::Relaxed), 3);
    let started = tokio::time::Instant::now();
    match pool.submit(0).await.unwrap().await {
        Err(JobError::Failed(error)) => assert!(error.is::<tower::timeout::error::Elapsed>()),
        other => panic!("{other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(tries.load(Ordering::Relaxed), 6);
    let four = pool.submit(4).await.unwrap();
    assert_eq!(four.await.unwrap(), 40, "the worker went on");
    pool.close_and_wait().await;
}

/// A tower service as a pipeline stage: each item runs on a clone, in order.
#[tokio::test(start_paused = true)]
async fn a_service_is_a_pipeline_stage() {
    let (tx, rx) = channel::bounded::<u32>(8).unwrap();
    let double = service_fn(|n: u32| async move { Ok::<_, Infallible>(n * 2) });
    let plus_one_times_ten =
        service_fn(|n: u32| async move { Ok::<_, Infallible>(n + 1) }).map_response(|n| n * 10);
    let out = Pipeline::from_consumer(rx)
        .stage(2, 4, ServiceStage::new(double))
        .unwrap()
        .stage(2, 4, ServiceStage::new(plus_one_times_ten))
        .unwrap()
        .ordered();
    tx.send_all(1..=4).await.unwrap();
    tx.close();
    let out: Vec<_> = out.map(Result::unwrap).collect().await;
    assert_eq!(out, [30, 50, 70, 90]);
}

/// A service that is `Send` but not `Sync` (most are: they hold a boxed future, a `Cell`)
/// still makes a stage: each input runs on a clone of it.
#[tokio::test(start_paused = true)]
async fn a_service_that_is_not_sync_is_a_stage() {
    let total = std::cell::Cell::new(1000u32);
    let offset = service_fn(move |n: u32| {
        // Each call runs on its own clone: the cell never sees another call's write.
        total.set(total.get() + n);
        std::future::ready(Ok::<_, Infallible>(total.get()))
    });
    let pool = WorkerPool::builder(ServiceStage::new(offset))
        .workers(2)
        .build()
        .unwrap();
    let mut answers = Vec::new();
    for n in 1..=3 {
        answers.push(pool.submit(n).await.unwrap().await.unwrap());
    }
    assert_eq!(answers, [1001, 1002, 1003]);
    pool.close_and_wait().await;
}

/// User code that panics inside a service, in its `clone` (taken for each input) or in its
/// `call`, fails that job alone as `Panicked`; the worker goes on with the next job.
#[tokio::test(start_paused = true)]
async fn a_service_that_panics_fails_that_job_alone() {
    struct Touchy {
        clones: Arc<AtomicU32>,
    }
    impl Clone for Touchy {
        fn clone(&self) -> Self {
            // The second clone panics: the stage takes one per input.
            assert!(
                self.clones.fetch_add(1, Ordering::Relaxed) != 1,
                "clone refused"
            );
            Self {
                clones: Arc::clone(&self.clones),
            }
        }
    }
    let touchy = Touchy {
        clones: Arc::new(AtomicU32::new(0)),
    };
    // The service holds the whole `Touchy`, so each of its clones clones it.
    let service = service_fn(move |n: u32| {
        std::hint::black_box(&touchy);
        assert!(n != 13, "thirteen");
        std::future::ready(Ok::<_, Infallible>(n))
    });
    let pool = WorkerPool::builder(ServiceStage::new(service))
        .workers(1)
        .build()
        .unwrap();
    let mut outcomes = Vec::new();
    for n in [1, 2, 13, 4] {
        outcomes.push(pool.submit(n).await.unwrap().await);
    }
    assert_eq!(
        outcomes,
        [
            Ok(1),
            Err(JobError::Panicked("clone refused".into())),
            Err(JobError::Panicked("thirteen".into())),
            Ok(4)
        ]
    );
    pool.close_and_wait().await;
}

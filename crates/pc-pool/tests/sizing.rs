//! Adaptive pools: what the controller is told, how the pool follows it, and the built-in
//! controllers against a backend with a concurrency knee, under paused time.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use pc_core::{BuildError, Producer};
use pc_pool::sizing::{Aimd, Controller, Gradient2, LittlesLaw, Sample, Vegas};
use pc_pool::{Balance, JobError, MAX_WORKERS, WorkerPool};
use support::{ms, slow_double};
use tokio::time::Instant;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_controller_sees_each_jobs_times_and_the_pools_state() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = {
        let seen = Arc::clone(&seen);
        move |sample: &Sample| {
            seen.lock().unwrap().push(*sample);
            sample.workers
        }
    };
    let pool = WorkerPool::builder(|n: u32| async move {
        tokio::time::sleep(ms(10)).await;
        if n == 2 { Err("two") } else { Ok(n) }
    })
    .workers(1)
    .adaptive(1, 4, record)
    .build()
    .unwrap();
    let start = Instant::now();
    let handles = [
        pool.submit(0).await.unwrap(),
        pool.submit(1).await.unwrap(),
        pool.submit(2).await.unwrap(),
    ];
    let [a, b, c] = handles;
    assert_eq!(
        (a.await, b.await, c.await),
        (Ok(0), Ok(1), Err(JobError::Failed("two")))
    );
    let seen = seen.lock().unwrap().clone();
    let expected: Vec<Sample> = (0..3)
        .map(|n| {
            let mut sample = Sample::new(start + ms(10 * (n + 1)), ms(10));
            sample.queue_time = ms(10 * n);
            sample.in_flight = 1;
            sample.queued = 2 - n as usize;
            sample.failed = n == 2;
            sample.workers = 1;
            sample.min = 1;
            sample.max = 4;
            sample
        })
        .collect();
    assert_eq!(seen, expected);
    pool.close_and_wait().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_pool_follows_its_controller_within_the_bounds_and_loses_no_job() {
    let most = Arc::new(AtomicUsize::new(0));
    let stage = slow_double(&most);
    // As many as possible while jobs wait, as few as possible once none do: out of bounds
    // both ways, brought within them.
    let greedy = |sample: &Sample| if sample.queued > 0 { usize::MAX } else { 0 };
    let pool = WorkerPool::builder(stage)
        .workers(1)
        .adaptive(2, 5, greedy)
        .build()
        .unwrap();
    assert_eq!(pool.workers(), 2, "started within the bounds");
    for n in 0..40 {
        pool.send(n).await.unwrap();
    }
    let results = pool.results();
    let mut done: Vec<u32> = Vec::new();
    for _ in 0..40 {
        done.push(results.recv().await.unwrap().output.unwrap());
    }
    done.sort_unstable();
    assert_eq!(
        done,
        (0..40).map(|n| n * 2).collect::<Vec<_>>(),
        "each job once"
    );
    assert_eq!(most.load(Ordering::SeqCst), 5, "grew to the most");
    assert_eq!(
        pool.target_workers(),
        2,
        "shrank to the fewest once nothing waited"
    );
    tokio::task::yield_now().await;
    assert_eq!(pool.workers(), 2, "the idle workers over the count retired");
    pool.close_and_wait().await;
    assert_eq!(pool.workers(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_controller_that_panics_stops_sizing_and_its_panic_is_raised_at_close() {
    let mut calls = 0;
    let breaks = move |sample: &Sample| {
        calls += 1;
        assert!(calls < 3, "the controller broke");
        sample.workers + 1
    };
    let pool = WorkerPool::builder(|n: u32| async move {
        tokio::time::sleep(ms(10)).await;
        Ok::<_, ()>(n)
    })
    .workers(1)
    .adaptive(1, 8, breaks)
    .build()
    .unwrap();
    let mut handles = Vec::new();
    for n in 0..10 {
        handles.push(pool.submit(n).await.unwrap());
    }
    for (n, handle) in (0..).zip(handles) {
        assert_eq!(handle.await, Ok(n), "every job still runs");
    }
    assert_eq!(
        pool.target_workers(),
        3,
        "two decisions, then the size is kept"
    );
    let closed = std::panic::AssertUnwindSafe(pool.close_and_wait())
        .catch_unwind()
        .await;
    let panic = closed.expect_err("the controller's panic is raised");
    assert_eq!(
        pc_core::task::panic_message(panic.as_ref()),
        "the controller broke"
    );
    // Raised once; the pool is stopped.
    pool.close_and_wait().await;
    assert_eq!(pool.workers(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn adaptive_settings_are_checked_at_build() {
    fn refused(
        min: usize,
        max: usize,
        controller: impl Controller,
        balance: Balance,
    ) -> BuildError {
        WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
            .balance(balance)
            .adaptive(min, max, controller)
            .build::<u32>()
            .unwrap_err()
    }
    let shared = Balance::Shared;
    assert_eq!(
        refused(0, 4, Aimd::new(), shared),
        BuildError::Zero { setting: "min" }
    );
    assert_eq!(refused(5, 4, Aimd::new(), shared).setting(), "min");
    assert_eq!(
        refused(1, MAX_WORKERS + 1, Aimd::new(), shared).setting(),
        "max"
    );
    assert_eq!(
        refused(1, 4, Aimd::new(), Balance::RoundRobin).setting(),
        "adaptive"
    );
    let setting = |controller| refused(1, 4, controller, shared).setting();
    assert_eq!(setting(Aimd::new().backoff(1.0)), "backoff");
    assert_eq!(setting(Aimd::new().backoff(f64::NAN)), "backoff");
    assert_eq!(setting(Aimd::new().tolerance(1.0)), "tolerance");
    assert_eq!(setting(Aimd::new().timeout(Duration::ZERO)), "timeout");
    let setting = |controller| refused(1, 4, controller, shared).setting();
    assert_eq!(setting(Vegas::new().smoothing(0.0)), "smoothing");
    let setting = |controller| refused(1, 4, controller, shared).setting();
    assert_eq!(
        setting(Gradient2::new().tolerance(f64::INFINITY)),
        "tolerance"
    );
    assert_eq!(setting(Gradient2::new().drift(0.5)), "drift");
    assert_eq!(setting(Gradient2::new().long_window(0)), "long_window");
    let setting = |controller| refused(1, 4, controller, shared).setting();
    assert_eq!(setting(LittlesLaw::new().utilisation(1.5)), "utilisation");
    assert_eq!(setting(LittlesLaw::new().hysteresis(1.0)), "hysteresis");
    assert_eq!(setting(LittlesLaw::new().window(Duration::ZERO)), "window");
    // Accepted at their edges.
    let accepted = Aimd::new()
        .backoff(0.01)
        .tolerance(1.01)
        .timeout(Duration::MAX);
    WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n) })
        .adaptive(1, MAX_WORKERS, accepted)
        .build::<u32>()
        .unwrap();
}

/// What a pool sized by `controller` did over 20 s of 1,200 jobs a second offered to a backend
/// whose jobs take 10 ms with up to 8 running and proportionally longer with more (so at most
/// 800 a second get done, however many workers): the sizes it ran in the last 10 s, and the
/// jobs it finished in them.
async fn past_the_knee(controller: impl Controller) -> (std::ops::RangeInclusive<usize>, usize) {
    let running = Arc::new(AtomicUsize::new(0));
    let backend = move |_: u32| {
        let running = Arc::clone(&running);
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_micros(10_000 * now.max(8) as u64 / 8)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ()>(())
        }
    };
    let pool = WorkerPool::builder(backend)
        .workers(8)
        .capacity(64)
        .adaptive(1, 64, controller)
        .build()
        .unwrap();
    let results = pool.results();
    let finished = Arc::new(AtomicUsize::new(0));
    let counter = tokio::spawn({
        let finished = Arc::clone(&finished);
        async move {
            while results.recv().await.is_ok() {
                finished.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let (mut smallest, mut largest, mut before) = (usize::MAX, 0, 0);
    for tick in 0..20_000_u32 {
        // 6 jobs every 5 ms; refused when the queue is full.
        for _ in 0..if tick % 5 == 0 { 2 } else { 1 } {
            let _ = pool.try_send(tick);
        }
        tokio::time::sleep(ms(1)).await;
        if tick == 10_000 {
            before = finished.load(Ordering::SeqCst);
        }
        if tick >= 10_000 {
            smallest = smallest.min(pool.target_workers());
            largest = largest.max(pool.target_workers());
        }
    }
    let done = finished.load(Ordering::SeqCst) - before;
    pool.abort().await;
    counter.await.unwrap();
    (smallest..=largest, done)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn no_built_in_controller_grows_the_pool_past_the_backends_knee() {
    // Past 8 workers throughput is flat and every job slower: each controller settles between
    // the knee and 2.5 times it, and gets at least 0.9 of the 8,000 jobs the backend can do in
    // 10 s (less than all of them only because its timer rounds a job's 16.25 ms up to 17).
    let runs = [
        ("aimd", past_the_knee(Aimd::new()).await, (10, 13), 7826),
        ("vegas", past_the_knee(Vegas::new()).await, (13, 13), 7645),
        (
            "gradient2",
            past_the_knee(Gradient2::new()).await,
            (18, 19),
            7905,
        ),
        (
            "littles_law",
            past_the_knee(LittlesLaw::new()).await,
            (8, 8),
            8000,
        ),
    ];
    for (name, (sizes, done), (smallest, largest), finished) in runs {
        assert!(
            *sizes.start() >= 8 && *sizes.end() <= 20,
            "{name}: {sizes:?}"
        );
        assert!(done >= 7200, "{name}: {done} jobs");
        // The runs are deterministic (paused time): the exact figures, so that a change to a
        // controller shows here.
        assert_eq!((sizes, done), (smallest..=largest, finished), "{name}");
    }
}

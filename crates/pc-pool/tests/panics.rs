//! Panicking jobs, in a test binary of their own: the test silences the panic hook, which is
//! global to the process.

mod support;

use pc_pool::{JobError, WorkerPool};

use support::within;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_percent_of_jobs_panic_and_only_they_fail() {
    // Silence the default hook: 1,000 panic messages would bury the test's output.
    std::panic::set_hook(Box::new(|_| {}));
    within(async {
        let pool = WorkerPool::builder(|n: u64| async move {
            if n % 100 == 42 {
                panic!("job {n} panicked");
            }
            Ok::<_, ()>(n)
        })
        .workers(4)
        .build()
        .unwrap();
        let mut handles = Vec::with_capacity(100_000);
        for n in 0..100_000u64 {
            handles.push((n, pool.submit(n).await.unwrap()));
        }
        let (mut ok, mut panicked) = (0, 0);
        for (n, handle) in handles {
            match handle.await {
                Ok(got) => {
                    assert_eq!(got, n);
                    ok += 1;
                }
                Err(JobError::Panicked(message)) => {
                    assert_eq!(n % 100, 42);
                    assert_eq!(message, format!("job {n} panicked"));
                    panicked += 1;
                }
                Err(other) => panic!("job {n}: {other:?}"),
            }
        }
        assert_eq!((ok, panicked), (99_000, 1_000));
        assert_eq!(pool.workers(), 4, "a panic fails its job, not its worker");
        pool.close_and_wait().await;
    })
    .await;
    let _ = std::panic::take_hook();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_job_that_panics_fails_alone() {
    std::panic::set_hook(Box::new(|_| {}));
    within(async {
        let pool = WorkerPool::builder(|n: u32| async move {
            if n == 0 {
                panic!("zero");
            }
            Ok::<_, ()>(n)
        })
        .workers(2)
        .blocking()
        .build()
        .unwrap();
        let zero = pool.submit(0).await.unwrap();
        let two = pool.submit(2).await.unwrap();
        assert_eq!(zero.await, Err(JobError::Panicked("zero".into())));
        assert_eq!(two.await, Ok(2));
        assert_eq!(pool.workers(), 2);
        pool.close_and_wait().await;
    })
    .await;
    let _ = std::panic::take_hook();
}

//! A job on the blocking pool runs on a thread of tokio's blocking pool: its span goes with
//! it. The capture is the process' global subscriber here (the blocking thread does not see
//! a test thread's own), so this test has a binary of its own.
#![cfg(feature = "pool")]

#[path = "support/capture.rs"]
mod capture;

use capture::{capture_globally, field};
use pc::pool::WorkerPool;
use tracing::Instrument;

#[tokio::test]
async fn a_blocking_job_logs_within_its_span() {
    let log = capture_globally();
    let pool = WorkerPool::builder(|n: u32| async move {
        tracing::info!("on a blocking thread {n}");
        Ok::<_, ()>(n)
    })
    .workers(1)
    .blocking()
    .spans()
    .build()
    .unwrap();
    let handle = pool
        .submit(5)
        .instrument(tracing::info_span!("request"))
        .await
        .unwrap();
    assert_eq!(handle.await.unwrap(), 5);
    pool.close_and_wait().await;
    let log = log.lock().unwrap();
    let job = &log.named("job")[0];
    assert_eq!(field(job, "outcome"), "ok");
    assert_eq!(job.parent, Some(log.named("request")[0].key));
    let within: Vec<_> = log
        .events
        .iter()
        .filter(|(message, _)| message == "on a blocking thread 5")
        .map(|(_, within)| *within)
        .collect();
    assert_eq!(within, [Some(job.key)]);
}

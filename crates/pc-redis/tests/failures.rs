//! Reads the server refuses: the receive that waited is told, as a failure and not as the end,
//! the probe counts it, and the consumer goes on once the server takes its reads again.
//!
//! Real server, real time: generous deadlines (seconds) on every wait, bounded loops.

mod support;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pc_core::{AckConsumer, ConsumeError, Consumer, FailReason, Probe};
use pc_pool::{JobError, WorkerPool};
use pc_redis::RedisQueue;
use support::{Server, query, queue_holding};

const DEADLINE: Duration = Duration::from_secs(10);

/// Counts failed reads of the source.
#[derive(Debug, Default)]
struct SourceFailures(AtomicU64);

impl Probe for SourceFailures {
    fn failed(&self, n: u64, reason: FailReason) {
        if reason == FailReason::Source {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }
}

fn refused_for_the_group(err: &ConsumeError) -> bool {
    err.is_failed()
        && err
            .source()
            .is_some_and(|source| source.to_string().contains("NOGROUP"))
}

/// Listed (issue 17): a consumer whose group was deleted retried every 100 ms without end,
/// and its receives waited in silence. Now each failed read fails one waiting receive with the
/// server's error as its source; within its retry policy the consumer stays open, and takes
/// entries again once the group is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_the_server_refuses_fails_the_receive_and_the_consumer_goes_on() {
    let Some(server) = Server::start().await else {
        return;
    };
    let failures = Arc::new(SourceFailures::default());
    let queue = RedisQueue::<u32>::builder(server.url.as_str(), "jobs")
        .block(Duration::from_millis(50))
        .probe(failures.clone())
        .build()
        .unwrap();
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    producer.send(1).await.unwrap();
    let first = tokio::time::timeout(DEADLINE, Consumer::recv(&consumer)).await;
    assert_eq!(first.expect("the first entry comes"), Ok(1));

    query(&server, &["XGROUP", "DESTROY", "jobs", "pc"]).await;
    for _ in 0..2 {
        let refused = tokio::time::timeout(DEADLINE, Consumer::recv(&consumer))
            .await
            .expect("the receive is told");
        let err = refused.unwrap_err();
        assert!(refused_for_the_group(&err), "{err}");
        assert!(!Consumer::is_closed(&consumer), "a failure is not the end");
    }
    let refused = tokio::time::timeout(DEADLINE, consumer.recv_delivery())
        .await
        .expect("the receive is told");
    assert!(refused_for_the_group(&refused.unwrap_err()));

    // The group back, the next entry comes, after whatever failures were reported before.
    query(&server, &["XGROUP", "CREATE", "jobs", "pc", "$"]).await;
    producer.send(2).await.unwrap();
    let mut told = 3;
    let item = loop {
        let got = tokio::time::timeout(DEADLINE, Consumer::recv(&consumer))
            .await
            .expect("each receive ends");
        match got {
            Ok(item) => break item,
            Err(err) => {
                assert!(err.is_failed(), "{err}");
                told += 1;
                assert!(told < 1_000, "reads of the restored group succeed");
            }
        }
    };
    assert_eq!(item, 2);
    // Every failed read told one receive, and the probe heard of each.
    assert_eq!(failures.0.load(Ordering::Relaxed), told);
}

/// A pool over a consumer whose group is gone puts each failed read on its results, keeps
/// its workers, and runs the jobs once the group is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_over_a_refused_consumer_reports_and_goes_on() {
    let Some(server) = Server::start().await else {
        return;
    };
    let queue = queue_holding(&server, "jobs", 0..0).await;
    let producer = queue.producer().await.unwrap();
    let consumer = queue.consumer("c").await.unwrap();
    query(&server, &["XGROUP", "DESTROY", "jobs", "pc"]).await;
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, String>(n * 10) })
        .workers(2)
        .build_over_acked(consumer)
        .unwrap();
    let mut results = pool.results();
    let first = tokio::time::timeout(DEADLINE, futures_util::StreamExt::next(&mut results))
        .await
        .expect("the failure comes on the results")
        .expect("the results go on");
    assert!(
        matches!(&first.output, Err(JobError::SourceFailed(err)) if refused_for_the_group(err)),
        "{:?}",
        first.output
    );
    query(&server, &["XGROUP", "CREATE", "jobs", "pc", "$"]).await;
    producer.send(7).await.unwrap();
    let mut reported = 0;
    let output = loop {
        let next = tokio::time::timeout(DEADLINE, futures_util::StreamExt::next(&mut results))
            .await
            .expect("each result comes")
            .expect("the results go on");
        match next.output {
            Err(JobError::SourceFailed(_)) => {
                reported += 1;
                assert!(reported < 1_000, "reads of the restored group succeed");
            }
            output => break output,
        }
    };
    assert_eq!(output, Ok(70));
    pool.abort().await;
}

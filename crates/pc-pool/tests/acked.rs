//! A pool over an acknowledged source settles each job's delivery by its outcome.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pc_core::{AckConsumer, AckFuture, Acker, ConsumeError, Delivery};
use pc_pool::WorkerPool;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Acked,
    Nacked,
}

/// Hands out 0..n as owed deliveries and records how each was settled.
#[derive(Clone, Default)]
struct Source {
    items: Arc<Mutex<VecDeque<u32>>>,
    settled: Arc<Mutex<Vec<(u32, Settled)>>>,
}

struct Record {
    item: u32,
    settled: Arc<Mutex<Vec<(u32, Settled)>>>,
}

impl Acker for Record {
    fn ack(self: Box<Self>) -> AckFuture {
        self.settled
            .lock()
            .unwrap()
            .push((self.item, Settled::Acked));
        Box::pin(async { Ok(()) })
    }

    fn nack(self: Box<Self>) -> AckFuture {
        self.settled
            .lock()
            .unwrap()
            .push((self.item, Settled::Nacked));
        Box::pin(async { Ok(()) })
    }
}

impl AckConsumer<u32> for Source {
    async fn recv_delivery(&self) -> Result<Delivery<u32>, ConsumeError> {
        let item = self
            .items
            .lock()
            .unwrap()
            .pop_front()
            .ok_or(ConsumeError::closed())?;
        let settled = Arc::clone(&self.settled);
        Ok(Delivery::owed(item, 1, Record { item, settled }))
    }
}

#[tokio::test(start_paused = true)]
async fn success_acks_and_every_failure_nacks() {
    let source = Source::default();
    source.items.lock().unwrap().extend(0..20);
    let pool = WorkerPool::builder(|n: u32| async move {
        match n {
            7 => panic!("job 7"),
            13 => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(n)
            }
            n if n % 5 == 0 => Err("multiple of 5"),
            n => Ok(n),
        }
    })
    .workers(3)
    .timeout(Duration::from_secs(1))
    .build_over_acked(source.clone())
    .unwrap();
    let results: Vec<_> = pool.results().collect().await;
    assert_eq!(results.len(), 20);
    let mut settled = source.settled.lock().unwrap().clone();
    settled.sort_unstable_by_key(|(item, _)| *item);
    let expected: Vec<(u32, Settled)> = (0..20)
        .map(|n| {
            let failed = n == 7 || n == 13 || n % 5 == 0;
            (
                n,
                if failed {
                    Settled::Nacked
                } else {
                    Settled::Acked
                },
            )
        })
        .collect();
    assert_eq!(
        settled, expected,
        "each delivery settled once, by its outcome"
    );
    assert_eq!(pool.ack_errors(), 0);
}

#[tokio::test]
async fn in_process_queues_are_acknowledged_sources_with_nothing_to_settle() {
    let (tx, rx) = pc_core::channel::bounded::<u32>(8).unwrap();
    tx.send_all(1..=5).await.unwrap();
    drop(tx);
    let pool = WorkerPool::builder(|n: u32| async move { Ok::<_, ()>(n * 2) })
        .build_over_acked(rx)
        .unwrap();
    let mut outputs: Vec<u32> = pool.results().map(|r| r.output.unwrap()).collect().await;
    outputs.sort_unstable();
    assert_eq!(outputs, [2, 4, 6, 8, 10]);
}

//! A priority channel's capacity changed while it runs: room added is taken at once by the
//! senders waiting, room taken away sheds nothing, and a transfer across changes counts every
//! item once.

mod support;

use pc_core::BuildError;
use pc_priority::{PriorityChannel, WhenFull};
use support::within;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_ok};

#[test]
fn growing_lets_waiting_senders_in_and_shrinking_sheds_nothing() {
    let (tx, rx) = PriorityChannel::builder(2).capacity(1).build().unwrap();
    tx.try_send(0u32, 1).unwrap();
    let mut waiting = spawn(tx.send(1, 0));
    assert_pending!(waiting.poll());
    tx.set_capacity(2).unwrap();
    assert!(waiting.is_woken());
    assert_ready_ok!(waiting.poll());
    assert_eq!((tx.len(), tx.capacity()), (2, Some(2)));
    tx.set_capacity(1).unwrap();
    assert!(tx.try_send(2, 0).unwrap_err().is_full());
    assert_eq!(rx.try_recv(), Ok((1, 0)));
    assert!(
        tx.try_send(2, 0).unwrap_err().is_full(),
        "1 queued: at the new capacity"
    );
    assert_eq!(rx.try_recv(), Ok((0, 1)));
    tx.try_send(2, 0).unwrap();
    assert_eq!(rx.capacity(), Some(1));
}

/// Under `ShedLowest`, a channel over its new capacity sheds as a full one does: one lower
/// item per higher send, never the excess at once.
#[test]
fn shedding_meets_the_new_capacity_one_item_at_a_time() {
    let (tx, rx) = PriorityChannel::builder(2)
        .capacity(3)
        .when_full(WhenFull::ShedLowest)
        .build()
        .unwrap();
    for n in 0..3u32 {
        tx.try_send(n, 1).unwrap();
    }
    tx.set_capacity(1).unwrap();
    tx.try_send(9, 0).unwrap();
    assert_eq!(tx.len(), 3, "one shed for one sent");
    assert_eq!(rx.try_recv(), Ok((9, 0)));
}

#[test]
fn zero_and_unbounded_are_errors() {
    let (tx, _rx) = PriorityChannel::builder::<u32>(2)
        .capacity(4)
        .build()
        .unwrap();
    assert!(matches!(tx.set_capacity(0), Err(BuildError::Zero { .. })));
    assert_eq!(tx.capacity(), Some(4));
    let (unbounded, _rx) = PriorityChannel::builder::<u32>(2).build().unwrap();
    assert!(matches!(
        unbounded.set_capacity(4),
        Err(BuildError::Invalid { .. })
    ));
    assert_eq!(unbounded.capacity(), None);
}

/// 4 producers and 2 consumers while the capacity moves between 1 and 32: every item once.
/// Real threads; the deadline is generous and only a hang (a lost wake-up) reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_across_changes_counts_every_item_once() {
    let (tx, rx) = PriorityChannel::builder(4).capacity(8).build().unwrap();
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..2_000 {
                    tx.send(p * 10_000 + i, (i % 4) as usize).await.unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Ok((item, _)) = rx.recv().await {
                    got.push(item);
                }
                got
            })
        })
        .collect();
    drop(rx);
    let resizer = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(5);
            for _ in 0..1_000 {
                tx.set_capacity(rng.usize(1..=32)).unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    drop(tx);
    let all = async {
        for producer in producers {
            producer.await.unwrap();
        }
        resizer.await.unwrap();
        let mut seen = Vec::new();
        for consumer in consumers {
            seen.extend(consumer.await.unwrap());
        }
        seen
    };
    let mut seen = within(all).await;
    seen.sort_unstable();
    let sent: Vec<u32> = (0..4)
        .flat_map(|p| (0..2_000).map(move |i| p * 10_000 + i))
        .collect();
    assert_eq!(seen, sent);
}

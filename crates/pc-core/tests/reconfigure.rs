//! A channel's capacity changed while it runs: room added goes to parked senders at once and
//! in order, room taken away never drops an item, and a transfer across changes counts every
//! item once.

mod support;

use pc_core::{BuildError, ReserveManyError, channel};
use support::{drainers, within};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_ok};

#[test]
fn growing_wakes_parked_senders_at_once_in_order() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(0).unwrap();
    let mut first = spawn(tx.send(1));
    let mut second = spawn(tx.send(2));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    tx.set_capacity(2).unwrap();
    assert!(first.is_woken() && !second.is_woken());
    assert!(
        tx.try_send(9).unwrap_err().is_full(),
        "the new slot is owed"
    );
    assert_ready_ok!(first.poll());
    tx.set_capacity(3).unwrap();
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(tx.capacity(), Some(3));
    assert_eq!(
        std::iter::from_fn(|| rx.try_recv().ok()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn shrinking_drops_nothing_and_sends_wait_for_the_excess_to_drain() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    for n in 0..4 {
        tx.try_send(n).unwrap();
    }
    tx.set_capacity(2).unwrap();
    assert_eq!((tx.len(), tx.capacity()), (4, Some(2)));
    let mut parked = spawn(tx.send(4));
    assert_pending!(parked.poll());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(!parked.is_woken(), "2 queued: still at the new capacity");
    assert!(tx.try_send(9).unwrap_err().is_full());
    assert_eq!(rx.try_recv(), Ok(2));
    assert!(parked.is_woken());
    assert_ready_ok!(parked.poll());
    assert_eq!(rx.counts().map(|c| (c.sent, c.received)), Some((5, 3)));
    assert_eq!(
        std::iter::from_fn(|| rx.try_recv().ok()).collect::<Vec<_>>(),
        [3, 4]
    );
}

/// A reservation of 3 parked when the capacity drops to 2 would wait forever for 3 free
/// slots: it is granted once it is alone in the channel. A new one of 3 is too many.
#[test]
fn a_parked_reservation_larger_than_the_new_capacity_is_granted_alone() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    let mut three = spawn(tx.reserve_many(3));
    assert_pending!(three.poll());
    tx.set_capacity(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(!three.is_woken());
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(three.is_woken());
    let permits = assert_ready_ok!(three.poll());
    for (permit, n) in permits.zip(10..) {
        permit.send(n).unwrap();
    }
    assert_eq!(tx.len(), 3);
    assert!(matches!(
        tx.try_reserve_many(3),
        Err(ReserveManyError::TooMany {
            requested: 3,
            capacity: 2
        })
    ));
}

#[test]
fn zero_and_unbounded_are_errors() {
    let (tx, _rx) = channel::bounded::<u32>(4).unwrap();
    assert!(matches!(tx.set_capacity(0), Err(BuildError::Zero { .. })));
    assert_eq!(tx.capacity(), Some(4));
    let (unbounded, _rx) = channel::unbounded::<u32>();
    assert!(matches!(
        unbounded.set_capacity(8),
        Err(BuildError::Invalid { .. })
    ));
    assert_eq!(unbounded.capacity(), None);
    assert!(tx.set_capacity(usize::MAX).is_ok());
}

/// 4 producers and 4 consumers while the capacity moves between 1 and 64: every item once.
/// Real threads; the deadline is generous and only a hang (a lost wake-up) reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_across_changes_counts_every_item_once() {
    let (tx, rx) = channel::bounded::<u32>(8).unwrap();
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..5_000 {
                    tx.send(p * 10_000 + i).await.unwrap();
                }
            })
        })
        .collect();
    let consumers = drainers(&rx, 4);
    drop(rx);
    let resizer = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(3);
            for _ in 0..2_000 {
                tx.set_capacity(rng.usize(1..=64)).unwrap();
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
        .flat_map(|p| (0..5_000).map(move |i| p * 10_000 + i))
        .collect();
    assert_eq!(seen, sent);
}

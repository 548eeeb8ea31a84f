//! A queue bounded by weight as well as count: each policy meeting a queue full by weight, the
//! item heavier than the bound admitted alone, arrival order among the senders waiting for
//! weight, and every way out of the queue giving its item's weight back.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pc_backpressure::{BoundedQueue, Discipline, OfferError, Overflow, Receiver, Sender};
use pc_core::{BuildError, DropReason};
use tokio::time::Instant;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_ok};

use support::{EVERY_POLICY, assert_every_item_once, within};

/// An item with its weight.
type Parcel = (u64, u64);

type Dropped = Arc<Mutex<Vec<(u64, DropReason)>>>;

/// A queue of `capacity` parcels weighing at most `max`, each parcel weighing what it says,
/// with a hook that records what it drops.
fn parcels(
    capacity: usize,
    max: u64,
    overflow: Overflow,
) -> (Sender<Parcel>, Receiver<Parcel>, Dropped) {
    let dropped: Dropped = Arc::default();
    let hook = Arc::clone(&dropped);
    let (tx, rx) = BoundedQueue::builder(capacity)
        .max_weight(max, |&(_, weight): &Parcel| weight)
        .overflow(overflow)
        .on_drop(move |(id, _), reason| hook.lock().unwrap().push((id, reason)))
        .build()
        .unwrap();
    (tx, rx, dropped)
}

fn ids(rx: &Receiver<Parcel>) -> Vec<u64> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn a_blocked_send_waits_for_its_weight_and_newcomers_queue_behind_it() {
    let (tx, rx, _) = parcels(100, 10, Overflow::Block);
    tx.try_send((0, 4)).unwrap();
    tx.try_send((1, 4)).unwrap();
    let mut blocked = spawn(tx.send((2, 4)));
    assert_pending!(blocked.poll());
    assert_eq!(tx.stats().waiting_producers, 1);
    // 2 are free, but they are the blocked send's: a newcomer waits behind it.
    assert!(tx.try_send((3, 1)).unwrap_err().is_full());
    assert_eq!(tx.stats().rejected, 1);
    assert!(!blocked.is_woken());

    assert_eq!(rx.try_recv(), Ok((0, 4)));
    assert!(blocked.is_woken());
    assert_ready_ok!(blocked.poll());
    assert_eq!((tx.weight(), tx.len()), (8, 2));
    assert_eq!(tx.stats().waiting_producers, 0);
    tx.try_send((3, 1)).unwrap();
    assert_eq!(ids(&rx), [1, 2, 3]);
    assert_eq!(rx.weight(), 0);
}

#[test]
fn an_item_heavier_than_the_bound_is_admitted_alone() {
    let (tx, rx, _) = parcels(100, 10, Overflow::Block);
    tx.try_send((0, 3)).unwrap();
    let mut heavy = spawn(tx.send((1, 25)));
    assert_pending!(heavy.poll());
    let mut light = spawn(tx.send((2, 1)));
    assert_pending!(light.poll(), "behind the heavy one, in arrival order");

    assert_eq!(rx.try_recv(), Ok((0, 3)));
    assert!(heavy.is_woken());
    assert_ready_ok!(heavy.poll());
    assert_eq!(tx.weight(), 10, "charged the whole bound");
    assert_pending!(light.poll());

    assert_eq!(rx.try_recv(), Ok((1, 25)));
    assert!(light.is_woken());
    assert_ready_ok!(light.poll());
    assert_eq!((tx.weight(), tx.max_weight()), (1, Some(10)));

    // Without waiting: alone it goes in, beside anything it is refused.
    let (tx, rx, _) = parcels(100, 10, Overflow::Reject);
    tx.try_send((0, 25)).unwrap();
    assert!(tx.try_send((1, 0)).is_ok(), "weighing nothing, it fits");
    assert!(matches!(tx.try_send((2, 1)), Err(e) if e.is_full()));
    assert_eq!(ids(&rx), [0, 1]);
    tx.try_send((3, 1)).unwrap();
    assert!(tx.try_send((4, 25)).unwrap_err().is_full());
}

#[tokio::test(start_paused = true)]
async fn each_policy_meets_a_queue_full_by_weight() {
    let (tx, rx, dropped) = parcels(100, 10, Overflow::Reject);
    tx.send((0, 6)).await.unwrap();
    assert!(matches!(
        tx.send((1, 5)).await,
        Err(OfferError::Rejected((1, 5)))
    ));
    assert_eq!((tx.stats().rejected, tx.weight()), (1, 6));

    let (tx, _rx, dropped_incoming) = parcels(100, 10, Overflow::DropIncoming);
    tx.send((0, 6)).await.unwrap();
    tx.send((1, 5)).await.unwrap();
    assert_eq!(*dropped_incoming.lock().unwrap(), [(1, DropReason::Full)]);
    assert_eq!((tx.stats().dropped_incoming, tx.weight()), (1, 6));

    let start = Instant::now();
    let (tx, _rx, _) = parcels(100, 10, Overflow::BlockFor(Duration::from_millis(30)));
    tx.send((0, 6)).await.unwrap();
    assert!(matches!(
        tx.send((1, 5)).await,
        Err(OfferError::TimedOut((1, 5)))
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(30));
    assert_eq!((tx.stats().rejected, tx.weight(), tx.len()), (1, 6, 1));

    // As many of the oldest as free the new item's weight, and no more.
    let (tx, rx_oldest, dropped_oldest) = parcels(100, 10, Overflow::DropOldest);
    for id in 0..3 {
        tx.send((id, 3)).await.unwrap();
    }
    tx.send((3, 5)).await.unwrap();
    assert_eq!(
        *dropped_oldest.lock().unwrap(),
        [(0, DropReason::Oldest), (1, DropReason::Oldest)]
    );
    assert_eq!((tx.weight(), tx.stats().dropped_oldest), (8, 2));
    // A heavy one evicts everything, and is then alone.
    tx.send((4, 50)).await.unwrap();
    assert_eq!(tx.weight(), 10);
    assert_eq!(ids(&rx_oldest), [4]);
    assert_eq!(rx_oldest.weight(), 0);
    drop(rx);
    assert!(
        dropped
            .lock()
            .unwrap()
            .iter()
            .all(|(_, why)| *why == DropReason::Closed)
    );
}

/// Received, streamed, past a deadline, shed by CoDel, taken newest first, stranded at the
/// close: every way out frees the weight.
#[tokio::test(start_paused = true)]
async fn every_way_out_gives_the_weight_back() {
    let (tx, mut rx, _) = parcels(100, 10, Overflow::Reject);
    tx.send((0, 2)).await.unwrap();
    tx.send_with_deadline((1, 3), Instant::now()).await.unwrap();
    tx.send((2, 4)).await.unwrap();
    assert_eq!(tx.weight(), 9);
    assert_eq!(rx.recv().await, Ok((0, 2)));
    assert_eq!(tx.weight(), 7);
    assert_eq!(
        rx.try_recv(),
        Ok((2, 4)),
        "past its deadline, 1 was dropped on the way"
    );
    assert_eq!((tx.weight(), tx.stats().expired), (0, 1));
    tx.send((3, 10)).await.unwrap();
    assert_eq!(rx.next().await, Some((3, 10)));
    tx.send((4, 10)).await.unwrap();
    {
        let mut stream = pc_core::Consumer::stream(&rx);
        assert_eq!(stream.next().await, Some((4, 10)));
    }
    assert_eq!(tx.weight(), 0);

    // CoDel with LIFO under a standing queue: the stale head is shed, the newest served.
    let (tx, rx) = BoundedQueue::builder(100)
        .max_weight(10, |&(_, weight): &Parcel| weight)
        .discipline(Discipline::codel().lifo(true))
        .build()
        .unwrap();
    for id in 0..3 {
        tx.send((id, 2)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    tx.send((3, 2)).await.unwrap();
    assert_eq!(rx.recv().await, Ok((3, 2)));
    assert_eq!((tx.weight(), tx.stats().expired), (0, 3));

    tx.send((4, 7)).await.unwrap();
    drop(rx);
    assert_eq!((tx.weight(), tx.stats().dropped_closed), (0, 1));
}

#[test]
fn a_cancelled_send_gives_back_what_it_held() {
    // Waiting for weight: what it was given meanwhile passes to the next in line.
    let (tx, rx, _) = parcels(100, 10, Overflow::Block);
    tx.try_send((0, 8)).unwrap();
    let mut first = spawn(tx.send((1, 5)));
    assert_pending!(first.poll());
    let mut second = spawn(tx.send((2, 2)));
    assert_pending!(second.poll());
    drop(first);
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(tx.weight(), 10);
    assert_eq!(ids(&rx), [0, 2]);

    // Holding its weight, waiting for a slot.
    let (tx, rx, _) = parcels(1, 10, Overflow::Block);
    tx.try_send((0, 1)).unwrap();
    let mut slotless = spawn(tx.send((1, 5)));
    assert_pending!(slotless.poll());
    assert_eq!(
        tx.weight(),
        6,
        "its weight is taken while it waits for a slot"
    );
    drop(slotless);
    assert_eq!(tx.weight(), 1);
    assert_eq!(ids(&rx), [0]);
    assert_eq!(rx.weight(), 0);
}

#[test]
fn a_close_ends_a_wait_for_weight() {
    let (tx, rx, _) = parcels(100, 10, Overflow::Block);
    tx.try_send((0, 10)).unwrap();
    let mut blocked = spawn(tx.send((1, 1)));
    assert_pending!(blocked.poll());
    // Closed with the weight still held by what is queued: the wait ends all the same.
    tx.close();
    assert!(blocked.is_woken());
    let sent = tokio_test::assert_ready!(blocked.poll());
    assert!(matches!(sent, Err(OfferError::Closed((1, 1)))));
    assert_eq!(tx.weight(), 10);
    assert_eq!(ids(&rx), [0]);
    assert_eq!(tx.weight(), 0);
}

#[test]
fn a_weigher_that_panics_panics_the_send_and_changes_nothing() {
    let (tx, rx) = BoundedQueue::builder(4)
        .max_weight(10, |&item: &u32| {
            assert_ne!(item, 13, "unlucky");
            u64::from(item)
        })
        .build()
        .unwrap();
    tx.try_send(3).unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tx.try_send(13)));
    assert!(panicked.is_err());
    assert_eq!((tx.weight(), tx.len()), (3, 1));
    tx.try_send(7).unwrap();
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Ok(7));
    assert_eq!(rx.weight(), 0);
}

#[test]
fn weightless_items_meet_the_count_alone() {
    let (tx, _rx, _) = parcels(2, 10, Overflow::Reject);
    tx.try_send((0, 0)).unwrap();
    tx.try_send((1, 0)).unwrap();
    assert!(tx.try_send((2, 0)).unwrap_err().is_full());
    assert_eq!(tx.weight(), 0);
}

#[test]
fn a_bad_bound_is_a_build_error() {
    let build = |max| BoundedQueue::builder(4).max_weight(max, |_: &u8| 1).build();
    assert_eq!(
        build(0).unwrap_err(),
        BuildError::Zero {
            setting: "max_weight"
        }
    );
    let too_big = build(u64::from(u32::MAX) + 1).unwrap_err();
    assert_eq!(too_big.setting(), "max_weight");
    assert!(build(u64::from(u32::MAX)).is_ok());
}

/// 4 producers x 2,000 parcels of 0 to 14 (some heavier than the bound of 10), 2 slower
/// consumers, for each policy: every parcel delivered, handed back or dropped exactly once;
/// the weight held never above the bound, and nothing held at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_parcel_is_accounted_for_and_the_bound_holds_under_load() {
    within(async {
        for overflow in EVERY_POLICY {
            let (tx, rx, dropped) = parcels(8, 10, overflow);
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut rng = fastrand::Rng::with_seed(p);
                        let mut back = Vec::new();
                        for i in 0..2_000 {
                            let parcel = (p * 10_000 + i, rng.u64(0..15));
                            if let Err(err) = tx.send(parcel).await {
                                back.push(err.into_inner().0);
                            }
                        }
                        back
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..2)
                .map(|_| {
                    let rx = rx.clone();
                    tokio::spawn(async move {
                        let mut got = Vec::new();
                        while let Ok((id, _)) = rx.recv().await {
                            assert!(rx.weight() <= 10, "held {}", rx.weight());
                            got.push(id);
                            if got.len() % 3 == 0 {
                                tokio::task::yield_now().await;
                            }
                        }
                        got
                    })
                })
                .collect();
            let mut handed_back = Vec::new();
            for producer in producers {
                handed_back.extend(producer.await.unwrap());
            }
            drop(tx);
            let mut delivered = Vec::new();
            for consumer in consumers {
                delivered.extend(consumer.await.unwrap());
            }
            assert_eq!(rx.weight(), 0, "{overflow:?}: nothing held at the end");
            let stats = rx.stats();
            assert_eq!(stats.consumed as usize, delivered.len());
            assert_eq!(stats.rejected as usize, handed_back.len());
            drop(rx);
            let dropped = dropped.lock().unwrap().clone();
            assert_every_item_once(&delivered, &handed_back, &dropped, 8_000);
            if overflow == Overflow::Block {
                assert_eq!(delivered.len(), 8_000);
            }
        }
    })
    .await;
}

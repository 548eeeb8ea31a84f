//! A queue's capacity changed while it runs: the channel's rules, the policy meeting the new
//! bound, and the pressure marks moving with it.

use pc_backpressure::{BoundedQueue, OfferError, Overflow, Pressure};
use pc_core::BuildError;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready_ok};

#[test]
fn growing_wakes_a_blocked_sender_and_shrinking_drops_nothing() {
    let (tx, rx) = BoundedQueue::builder(2).build().unwrap();
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    let mut blocked = spawn(tx.send(2));
    assert_pending!(blocked.poll());
    tx.set_capacity(3).unwrap();
    assert!(blocked.is_woken());
    assert_ready_ok!(blocked.poll());
    tx.set_capacity(1).unwrap();
    assert_eq!((tx.len(), tx.capacity(), rx.capacity()), (3, 1, 1));
    assert!(tx.try_send(3).unwrap_err().is_full());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(
        tx.try_send(3).unwrap_err().is_full(),
        "1 queued: at the new capacity"
    );
    assert_eq!(rx.try_recv(), Ok(2));
    tx.try_send(3).unwrap();
    let stats = tx.stats();
    assert_eq!((stats.produced, stats.consumed, stats.rejected), (4, 3, 2));
    assert!(matches!(tx.set_capacity(0), Err(BuildError::Zero { .. })));
}

/// Over the new capacity, each policy meets a full queue: `Reject` refuses, `DropOldest`
/// displaces one for one (the excess drains by receives, never by drops).
#[tokio::test]
async fn the_policy_meets_the_new_bound() {
    let (tx, rx) = BoundedQueue::builder(4)
        .overflow(Overflow::Reject)
        .build()
        .unwrap();
    tx.send_all_now(0..4);
    tx.set_capacity(2).unwrap();
    assert!(matches!(tx.send(9).await, Err(OfferError::Rejected(9))));
    assert_eq!(rx.len(), 4);

    let (tx, rx) = BoundedQueue::builder(4)
        .overflow(Overflow::DropOldest)
        .build()
        .unwrap();
    tx.send_all_now(0..4);
    tx.set_capacity(2).unwrap();
    tx.send(4).await.unwrap();
    assert_eq!(rx.len(), 4, "one displaced for one");
    assert_eq!(tx.stats().dropped_oldest, 1);
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn the_pressure_marks_move_with_the_capacity() {
    let (tx, rx) = BoundedQueue::builder(10)
        .watermarks(0.8, 0.2)
        .build()
        .unwrap();
    tx.send_all_now(0..5);
    assert_eq!(tx.pressure(), Pressure::Normal);
    tx.set_capacity(5).unwrap(); // 5 of 5: at the high mark (4)
    assert_eq!(tx.pressure(), Pressure::High);
    while rx.len() > 1 {
        rx.try_recv().unwrap();
    }
    assert_eq!(tx.pressure(), Pressure::Normal, "1 of 5: the low mark");
    tx.send_all_now(5..8);
    tx.set_capacity(100).unwrap();
    assert_eq!(tx.pressure(), Pressure::Normal);
    assert_eq!(tx.occupancy(), 0.04);
}

trait Now {
    fn send_all_now(&self, items: std::ops::Range<u32>);
}

impl Now for pc_backpressure::Sender<u32> {
    fn send_all_now(&self, items: std::ops::Range<u32>) {
        for item in items {
            self.try_send(item).unwrap();
        }
    }
}

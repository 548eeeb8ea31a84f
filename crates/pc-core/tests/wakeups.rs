//! Lost wake-ups, checked at poll level: every pending future is woken by the event it waits for.

use pc_core::{RecvError, channel};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq, assert_ready_ok};

#[test]
fn a_pending_recv_is_woken_by_a_send() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok(1));
}

#[test]
fn two_parked_receivers_and_two_sends_both_complete() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let rx2 = rx.clone();
    let mut first = spawn(rx.recv());
    let mut second = spawn(rx2.recv());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert!(first.is_woken() && second.is_woken());
    let a = assert_ready_ok!(first.poll());
    let b = assert_ready_ok!(second.poll());
    assert_eq!(a + b, 3);
}

#[test]
fn a_pending_send_is_woken_by_a_recv() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    let mut send = spawn(tx.send(2));
    assert_pending!(send.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(send.is_woken());
    assert_ready_ok!(send.poll());
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_pending_reservation_is_woken_by_close() {
    let (tx, _rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    let mut reserve = spawn(tx.reserve());
    assert_pending!(reserve.poll());
    assert!(tx.close());
    assert!(reserve.is_woken());
    assert!(assert_ready!(reserve.poll()).is_err());
}

#[test]
fn a_reservation_dropped_after_close_wakes_the_receiver() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    let permit = tx.try_reserve().unwrap();
    assert!(tx.close());
    let mut recv = spawn(rx.recv());
    // The permit may still send, so the receiver waits for it rather than report the close.
    assert_pending!(recv.poll());
    drop(permit);
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Err(RecvError));
}

#[test]
fn a_permit_used_after_close_wakes_the_receiver_with_the_item() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    let permit = tx.try_reserve().unwrap();
    assert!(rx.close());
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    permit.send(5).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok(5));
    let mut after = spawn(rx.recv());
    assert_ready_eq!(after.poll(), Err(RecvError));
}

/// Waits are served in order: a send polled once and kept, never polled again, keeps the slot
/// granted to it (a future is its owner's to poll or drop, as with tokio's channels), and
/// newcomers wait behind it; dropped, it passes the slot on. Handles, which may stop being
/// polled while they live, only watch (tests/edges.rs, 2).
#[test]
fn a_send_polled_once_and_kept_holds_its_turn_until_dropped() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    // Polled once, then kept alive but never polled again.
    let mut stalled = spawn(tx.send(2));
    assert_pending!(stalled.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(stalled.is_woken(), "granted the freed slot");
    let mut other = spawn(tx.send(3));
    assert_pending!(other.poll());
    assert!(tx.try_send(9).unwrap_err().is_full());
    assert!(tx.try_reserve().is_err());
    // Dropped, its slot goes to the next in line; the abandoned send never enqueued.
    drop(stalled);
    assert!(other.is_woken());
    assert_ready_ok!(other.poll());
    assert_eq!(rx.try_recv(), Ok(3));
    assert!(rx.is_empty());
}

#[test]
fn a_dropped_notified_sender_passes_its_wake_up_on() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    tx.try_send(1).unwrap();
    let mut first = spawn(tx.send(2));
    let mut second = spawn(tx.send(3));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    // One slot, one wake-up: it went to the first waiter, which is then cancelled.
    drop(first);
    assert!(
        second.is_woken(),
        "the cancelled waiter handed its wake-up on"
    );
    assert_ready_ok!(second.poll());
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn stream_is_woken_by_a_send() {
    use futures_util::StreamExt;

    let (tx, mut rx) = channel::bounded::<u32>(2).unwrap();
    let mut next = spawn(rx.next());
    assert_pending!(next.poll());
    tx.try_send(8).unwrap();
    assert!(next.is_woken());
    assert_ready_eq!(next.poll(), Some(8));
}

#[test]
fn two_parked_senders_and_two_receives_both_complete() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let mut first = spawn(tx.send(3));
    let mut second = spawn(tx.send(4));
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    // Two slots, two waiters: the first is woken at once, and hands the wake-up on when it
    // leaves a free slot behind.
    assert!(first.is_woken());
    assert_ready_ok!(first.poll());
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Ok(4));
}

#[test]
fn waiters_are_counted_while_they_wait() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    assert_eq!((tx.waiting_senders(), rx.waiting_receivers()), (0, 1));
    drop(recv);
    assert_eq!(
        rx.waiting_receivers(),
        0,
        "a cancelled wait is no longer counted"
    );
    tx.try_send(1).unwrap();
    let mut send = spawn(tx.send(2));
    assert_pending!(send.poll());
    assert_eq!((rx.waiting_senders(), tx.waiting_receivers()), (1, 0));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_ready_ok!(send.poll());
    assert_eq!(tx.waiting_senders(), 0);
}

//! The handles users of tokio and async-channel reach for: counts, `is_full`, `closed()`,
//! weak handles, blocking calls, owned permits. Each with its edges: closed channels, the last
//! handle gone, a cancelled wait.

mod support;

use std::time::Duration;

use pc_core::{RecvError, ReserveManyError, channel};
use support::within;
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready};

#[test]
fn counts_follow_clones_drops_and_weak_handles() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    assert_eq!((tx.sender_count(), tx.receiver_count()), (1, 1));
    let tx2 = tx.clone();
    let rx2 = rx.clone();
    let weak_tx = tx.downgrade();
    let weak_rx = rx.downgrade();
    assert_eq!((rx.sender_count(), rx.receiver_count()), (2, 2));
    let sink = tx2.into_sink();
    assert_eq!(tx.sender_count(), 2, "a sink holds its sender");
    drop(sink);
    drop(rx2);
    assert_eq!((tx.sender_count(), tx.receiver_count()), (1, 1));
    drop((weak_tx, weak_rx));
    assert_eq!((tx.sender_count(), tx.receiver_count()), (1, 1));
}

#[test]
fn is_full_counts_items_permits_and_items_handed_over() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    assert!(!tx.is_full());
    tx.try_send(1).unwrap();
    let permit = tx.try_reserve().unwrap();
    assert!(tx.is_full() && rx.is_full());
    drop(permit);
    assert!(!tx.is_full());
    assert_eq!(rx.try_recv(), Ok(1));
    let mut waiting = spawn(rx.recv());
    assert_pending!(waiting.poll());
    tx.try_send(2).unwrap();
    tx.try_send(3).unwrap();
    assert!(tx.is_full(), "one handed to the receive, one queued");
    drop(waiting);
    assert!(tx.is_full());
    let (unbounded, _rx) = channel::unbounded::<u32>();
    for i in 0..1_000 {
        unbounded.try_send(i).unwrap();
    }
    assert!(!unbounded.is_full());
}

#[test]
fn closed_completes_at_any_close_and_at_once_after_one() {
    // By a receiver's close.
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let mut closed = spawn(tx.closed());
    assert_pending!(closed.poll());
    tx.try_send(1).unwrap();
    assert!(!closed.is_woken(), "a send is not a close");
    rx.close();
    assert!(closed.is_woken());
    assert_ready!(closed.poll());
    // At once on a closed channel.
    assert_ready!(spawn(tx.closed()).poll());
    // When the last receiver goes.
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let rx2 = rx.clone();
    let mut closed = spawn(tx.closed());
    assert_pending!(closed.poll());
    drop(rx);
    assert!(!closed.is_woken());
    drop(rx2);
    assert!(closed.is_woken());
    assert_ready!(closed.poll());
    // By the sender's own close, while others wait too; a cancelled wait leaves nothing behind.
    let (tx, _rx) = channel::bounded::<u32>(1).unwrap();
    let mut first = spawn(tx.closed());
    let mut cancelled = spawn(tx.closed());
    assert_pending!(first.poll());
    assert_pending!(cancelled.poll());
    drop(cancelled);
    tx.close();
    assert!(first.is_woken());
    assert_ready!(first.poll());
}

#[test]
fn weak_handles_do_not_keep_the_channel_open() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    let weak_tx = tx.downgrade();
    let weak_rx = rx.downgrade();
    let again = weak_tx.upgrade().unwrap();
    drop(tx);
    assert!(!rx.is_closed(), "the upgraded sender keeps it open");
    again.try_send(1).unwrap();
    drop(again);
    assert!(rx.is_closed());
    assert!(
        weak_tx.upgrade().is_none(),
        "no sender comes back after the last"
    );
    assert_eq!(weak_rx.upgrade().unwrap().try_recv(), Ok(1));
    drop(rx);
    assert!(
        weak_rx.upgrade().is_none(),
        "no receiver comes back after the last"
    );
}

#[test]
fn blocking_calls_move_every_item_between_threads() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    tx.send_blocking(p * 500 + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = {
        let rx = rx.clone();
        std::thread::spawn(move || std::iter::from_fn(|| rx.recv_blocking().ok()).count())
    };
    let here = std::iter::from_fn(|| rx.recv_blocking().ok()).count();
    for producer in producers {
        producer.join().unwrap();
    }
    assert_eq!(here + consumer.join().unwrap(), 1_000);
    // Closed: both hand back what they can.
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    rx.close();
    assert_eq!(tx.send_blocking(7).unwrap_err().into_inner(), 7);
    assert_eq!(rx.recv_blocking(), Err(RecvError));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_send_wakes_an_async_receive_and_back() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let (back_tx, back_rx) = channel::bounded::<u32>(1).unwrap();
        let thread = std::thread::spawn(move || {
            for i in 0..100 {
                tx.send_blocking(i).unwrap();
                assert_eq!(back_rx.recv_blocking(), Ok(i));
            }
        });
        for i in 0..100 {
            assert_eq!(rx.recv().await, Ok(i));
            back_tx.send(i).await.unwrap();
        }
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_owned_permit_moves_into_a_task_and_gives_its_sender_back() {
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let permit = tx.clone().reserve_owned().await.unwrap();
    assert!(tx.is_full());
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        permit.send(5).unwrap()
    });
    let sender = task.await.unwrap();
    assert_eq!(rx.recv().await, Ok(5));
    // Released unused, the slot is free again and the sender comes back.
    let permit = sender.reserve_owned().await.unwrap();
    let sender = permit.release();
    assert!(!sender.is_full());
    // Dropped unused, likewise.
    drop(sender.clone().reserve_owned().await.unwrap());
    assert!(!sender.is_full());
    // Reserved before a close, it still delivers; after the close, none is granted.
    let permit = sender.clone().reserve_owned().await.unwrap();
    rx.close();
    assert!(sender.clone().reserve_owned().await.is_err());
    permit.send(6).unwrap();
    assert_eq!(rx.recv().await, Ok(6));
    assert_eq!(rx.recv().await, Err(RecvError));
    // With every receiver gone, its send hands the item back.
    let (tx, rx) = channel::bounded::<u32>(1).unwrap();
    let permit = tx.reserve_owned().await.unwrap();
    drop(rx);
    assert_eq!(permit.send(7).unwrap_err().into_inner(), 7);
}

#[test]
fn reserve_many_takes_its_slots_together_and_in_turn() {
    let (tx, rx) = channel::bounded::<u32>(4).unwrap();
    assert_eq!(
        tx.try_reserve_many(5).unwrap_err(),
        ReserveManyError::TooMany {
            requested: 5,
            capacity: 4
        }
    );
    assert_eq!(tx.try_reserve_many(0).unwrap().len(), 0);
    tx.try_send(0).unwrap();
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_reserve_many(3).unwrap_err(), ReserveManyError::Full);
    // Waiting for 3 of 4 slots; a send behind it waits its turn though 2 are free.
    let mut many = spawn(tx.reserve_many(3));
    assert_pending!(many.poll());
    let mut behind = spawn(tx.send(9));
    assert_pending!(behind.poll());
    assert!(tx.try_send(8).unwrap_err().is_full());
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(many.is_woken() && !behind.is_woken());
    let mut permits = assert_ready!(many.poll()).unwrap();
    assert_eq!(permits.len(), 3);
    permits.next().unwrap().send(10).unwrap();
    permits.next().unwrap().send(11).unwrap();
    // The slot not taken goes back, to the send waiting behind.
    drop(permits);
    drop(many);
    assert!(behind.is_woken());
    assert_ready!(behind.poll()).unwrap();
    let got: Vec<u32> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(got, [1, 10, 11, 9]);
}

/// Walk: a `reserve_many` waiting at the head held back the senders behind it; cancelled, it
/// left them waiting on slots that were free, since a cancel only passed on slots it had been
/// granted.
#[test]
fn a_cancelled_reserve_many_lets_those_behind_it_go() {
    let (tx, rx) = channel::bounded::<u32>(2).unwrap();
    tx.try_send(0).unwrap();
    let mut many = spawn(tx.reserve_many(2));
    assert_pending!(many.poll());
    let mut behind = spawn(tx.send(1));
    assert_pending!(behind.poll());
    drop(many);
    assert!(behind.is_woken());
    assert_ready!(behind.poll()).unwrap();
    assert_eq!(rx.len(), 2);
    // Closed: none granted; unbounded: any number at once.
    rx.close();
    assert_eq!(
        tx.try_reserve_many(1).unwrap_err(),
        ReserveManyError::Closed
    );
    let (unbounded, _rx) = channel::unbounded::<u32>();
    assert_eq!(unbounded.try_reserve_many(1 << 20).unwrap().len(), 1 << 20);
}

#[tokio::test]
async fn a_recv_future_kept_across_polls_resumes_without_pinning() {
    within(async {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        // `Recv` is `Unpin`: polled by `&mut` in a loop, as a `select!` loop keeps it.
        let mut recv = rx.recv();
        for _ in 0..3 {
            assert!(futures_util::poll!(&mut recv).is_pending());
        }
        assert_eq!(rx.waiting_receivers(), 1);
        tx.send(7).await.unwrap();
        assert_eq!(recv.await, Ok(7));
        assert_eq!(rx.waiting_receivers(), 0);
        // Dropped while it waits, it leaves the line and takes nothing.
        let kept = rx.recv();
        let mut polled = spawn(kept);
        assert_pending!(polled.poll());
        drop(polled);
        assert_eq!(rx.waiting_receivers(), 0);
        tx.send(8).await.unwrap();
        assert_eq!(rx.try_recv(), Ok(8));
        drop(tx);
        assert_eq!(rx.recv().await, Err(RecvError));
    })
    .await;
}

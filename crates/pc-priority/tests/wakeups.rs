//! Waits end by events, never by polling: poll-level wake-ups, idle receivers, and cancelled
//! waits that lose nothing.

mod support;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use pc_core::RecvError;
use pc_priority::{PriorityChannel, PriorityReceiver};
use support::{within, within_paused};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq, assert_ready_ok};

#[test]
fn a_pending_recv_is_woken_by_a_send() {
    let (tx, rx) = PriorityChannel::builder(4).capacity(4).build().unwrap();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    tx.try_send(1, 3).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Ok((1, 3)));
}

#[test]
fn two_parked_receivers_and_two_sends_both_complete() {
    let (tx, rx) = PriorityChannel::builder(2).build().unwrap();
    let rx2 = rx.clone();
    let mut first = spawn(rx.recv());
    let mut second = spawn(rx2.recv());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    tx.try_send(1, 0).unwrap();
    tx.try_send(2, 1).unwrap();
    assert!(first.is_woken() && second.is_woken());
    let (a, _) = assert_ready_ok!(first.poll());
    let (b, _) = assert_ready_ok!(second.poll());
    assert_eq!(a + b, 3);
}

#[test]
fn a_blocked_sender_wakes_on_the_first_recv() {
    let (tx, rx) = PriorityChannel::builder(2).capacity(1).build().unwrap();
    tx.try_send(1, 1).unwrap();
    let mut send = spawn(tx.send(2, 0));
    assert_pending!(send.poll());
    assert_eq!(rx.try_recv(), Ok((1, 1)));
    assert!(send.is_woken());
    assert_ready_ok!(send.poll());
    assert_eq!(rx.try_recv(), Ok((2, 0)));
}

#[test]
fn a_pending_reservation_is_woken_by_close() {
    let (tx, _rx) = PriorityChannel::builder(1).capacity(1).build().unwrap();
    tx.try_send(1, 0).unwrap();
    let mut reserve = spawn(tx.reserve(0));
    assert_pending!(reserve.poll());
    assert!(tx.close());
    assert!(reserve.is_woken());
    assert!(assert_ready!(reserve.poll()).is_err());
}

#[test]
fn a_pending_recv_is_woken_by_close() {
    let (tx, rx) = PriorityChannel::builder::<u8>(1).build().unwrap();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    drop(tx);
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Err(RecvError));
}

#[test]
fn a_dropped_permit_wakes_a_waiting_sender_and_the_last_one_ends_the_receivers() {
    let (tx, rx) = PriorityChannel::builder(1).capacity(1).build().unwrap();
    let permit = tx.try_reserve(0).unwrap();
    let mut send = spawn(tx.send(1, 0));
    assert_pending!(send.poll());
    drop(permit);
    assert!(send.is_woken());
    assert_ready_ok!(send.poll());
    drop(send);
    let permit = {
        assert_eq!(rx.try_recv(), Ok((1, 0)));
        tx.try_reserve(0).unwrap()
    };
    tx.close();
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    drop(permit);
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Err(RecvError));
}

#[test]
fn the_receiver_of_the_last_item_of_a_closed_channel_wakes_the_others() {
    let (tx, rx) = PriorityChannel::builder(1).capacity(2).build().unwrap();
    let permit = tx.try_reserve(0).unwrap();
    tx.close();
    let rx2 = rx.clone();
    let mut first = spawn(rx.recv());
    let mut second = spawn(rx2.recv());
    assert_pending!(first.poll());
    assert_pending!(second.poll());
    permit.send(7).unwrap();
    assert!(first.is_woken() || second.is_woken());
    let (mut winner, mut loser) = if first.is_woken() {
        (first, second)
    } else {
        (second, first)
    };
    assert_ready_eq!(winner.poll(), Ok((7, 0)));
    assert!(loser.is_woken());
    assert_ready_eq!(loser.poll(), Err(RecvError));
}

/// Counts how many times the inner future is polled.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

#[tokio::test(start_paused = true)]
async fn an_idle_consumer_is_polled_once_in_ten_seconds() {
    within_paused(async {
        let (tx, rx) = PriorityChannel::builder(3).capacity(8).build().unwrap();
        let polls = Arc::new(AtomicUsize::new(0));
        let consumer = tokio::spawn({
            let polls = Arc::clone(&polls);
            async move {
                let rx: PriorityReceiver<u32> = rx;
                CountPolls {
                    inner: Box::pin(async move { rx.recv().await }),
                    polls,
                }
                .await
            }
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle_polls = polls.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&idle_polls),
            "{idle_polls} polls in 10 s of idling"
        );
        tx.send(9, 1).await.unwrap();
        assert_eq!(consumer.await.unwrap(), Ok((9, 1)));
        assert_eq!(
            polls.load(Ordering::SeqCst),
            idle_polls + 1,
            "one poll to receive"
        );
    })
    .await;
}

const ATTEMPTS: u64 = 10_000;

/// Yields a random number of times (0 to 3), so a race with a wait is won or lost at varying
/// points.
async fn random_yields(rng: &mut fastrand::Rng) {
    for _ in 0..rng.u8(0..4) {
        tokio::task::yield_now().await;
    }
}

fn slow_consumer(rx: PriorityReceiver<u64>) -> tokio::task::JoinHandle<Vec<u64>> {
    tokio::spawn(async move {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut got = Vec::new();
        while let Ok((item, _)) = rx.recv().await {
            got.push(item);
            random_yields(&mut rng).await;
        }
        got
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_sends_never_enqueue_and_cancelled_reservations_hand_items_back() {
    within(async {
        let (tx, rx) = PriorityChannel::builder(4).capacity(4).build().unwrap();
        let consumer = slow_consumer(rx);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut completed = HashSet::new();
        let mut cancelled = HashSet::new();
        for item in 0..ATTEMPTS {
            let level = (item % 4) as usize;
            if item % 2 == 0 {
                tokio::select! {
                    sent = tx.send(item, level) => {
                        sent.unwrap();
                        completed.insert(item);
                    }
                    () = random_yields(&mut rng) => {
                        cancelled.insert(item);
                    }
                }
            } else {
                tokio::select! {
                    permit = tx.reserve(level) => {
                        permit.unwrap().send(item).unwrap();
                        completed.insert(item);
                    }
                    () = random_yields(&mut rng) => {
                        cancelled.insert(item);
                    }
                }
            }
        }
        drop(tx);
        let delivered = consumer.await.unwrap();
        assert!(
            !cancelled.is_empty() && !completed.is_empty(),
            "both sides of the race ran"
        );
        assert_eq!(delivered.len(), completed.len(), "no duplicates");
        let delivered: HashSet<u64> = delivered.into_iter().collect();
        assert_eq!(
            delivered, completed,
            "exactly the completed sends were delivered"
        );
        assert_eq!(completed.len() + cancelled.len(), ATTEMPTS as usize);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_receives_lose_nothing() {
    within(async {
        let (tx, rx) = PriorityChannel::builder(2).capacity(16).build().unwrap();
        let producer = tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(3);
            for item in 0..ATTEMPTS {
                // One level, so the receive order is the send order.
                tx.send(item, 1).await.unwrap();
                random_yields(&mut rng).await;
            }
        });
        let mut rng = fastrand::Rng::with_seed(4);
        let mut got = Vec::new();
        let mut cancelled = 0u64;
        loop {
            tokio::select! {
                item = rx.recv() => match item {
                    Ok((item, _)) => got.push(item),
                    Err(_) => break,
                },
                () = random_yields(&mut rng) => cancelled += 1,
            }
        }
        producer.await.unwrap();
        assert!(cancelled > 0, "some receives were cancelled");
        assert_eq!(
            got,
            (0..ATTEMPTS).collect::<Vec<_>>(),
            "each item once, in order"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_sends_hand_every_item_back() {
    within(async {
        let (tx, rx) = PriorityChannel::builder(2).capacity(2).build().unwrap();
        let consumer = slow_consumer(rx);
        let mut handed_back = Vec::new();
        for item in 0..ATTEMPTS {
            if let Err(err) = tx
                .send_timeout(item, (item % 2) as usize, Duration::ZERO)
                .await
            {
                handed_back.push(err.into_inner());
            }
        }
        drop(tx);
        let delivered = consumer.await.unwrap();
        let mut all: Vec<u64> = delivered.iter().chain(&handed_back).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..ATTEMPTS).collect::<Vec<_>>());
    })
    .await;
}

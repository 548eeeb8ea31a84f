//! Every interleaving of a few operations, under loom's memory model: no lost wake-up, no lost
//! or duplicated item, and the close protocol with outstanding permits.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p pc-core --lib --release loom_`

use loom::future::block_on;
use loom::thread;

use crate::channel;
use crate::error::{RecvError, SendError};

#[test]
fn loom_a_full_channel_wakes_its_sender() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let producer = thread::spawn(move || {
            block_on(tx.send(1)).unwrap();
            block_on(tx.send(2)).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Ok(1));
        assert_eq!(block_on(rx.recv()), Ok(2));
        producer.join().unwrap();
        assert_eq!(block_on(rx.recv()), Err(RecvError));
    });
}

#[test]
fn loom_two_waiting_senders_both_get_a_slot() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        tx.try_send(0).unwrap();
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|item| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send(item)).unwrap())
            })
            .collect();
        drop(tx);
        let mut got: Vec<u32> = (0..3).map(|_| block_on(rx.recv()).unwrap()).collect();
        for sender in senders {
            sender.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
    });
}

#[test]
fn loom_a_permit_out_at_close_still_delivers() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        let closer = {
            let tx = tx.clone();
            thread::spawn(move || {
                tx.close();
            })
        };
        let consumer = thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(item) = block_on(rx.recv()) {
                got.push(item);
            }
            got
        });
        let reserved = match tx.try_reserve() {
            // Reserved before the close: delivered whatever the close does meanwhile.
            Ok(permit) => {
                permit.send(7).unwrap();
                true
            }
            Err(err) => {
                assert!(err.is_closed());
                false
            }
        };
        closer.join().unwrap();
        drop(tx);
        let expected: &[u32] = if reserved { &[7] } else { &[] };
        assert_eq!(consumer.join().unwrap(), expected);
    });
}

#[test]
fn loom_the_last_receiver_leaving_wakes_a_waiting_sender() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        tx.try_send(1).unwrap();
        let producer = thread::spawn(move || block_on(tx.send(2)));
        drop(rx);
        // Nobody can ever receive: the send fails and hands the item back, and never hangs.
        assert_eq!(producer.join().unwrap(), Err(SendError(2)));
    });
}

/// Models with capacity 2 run the queue's array flavour, whose `pop` spins while a `push` is
/// half done: loom counts each spin as a branch, so these models allow more of them.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.check(f);
}

/// As [`model`], with at most one preemption whatever `LOOM_MAX_PREEMPTIONS` says: models with
/// two parked receivers grow past ten minutes at two preemptions on this machine, so they
/// cover only the interleavings one preemption reaches.
fn model_one_preemption(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 100_000;
    builder.preemption_bound = Some(1);
    builder.check(f);
}

/// Capacity 2 runs the queue's array flavour (capacity 1 runs its single-slot one), and two
/// senders share the cached view of freed slots: a slot granted off that view must see the pop
/// that freed it, or the push finds the queue full. A batch receive frees two slots at once,
/// so one sender can refresh the view and the other take a slot off it.
///
/// Not covered here: loom treats the queue's own `SeqCst` operations as synchronizing, so this
/// model passes with the cached view read `Relaxed` too. The model of the slot accounting alone
/// (`chan.rs`, `loom_a_slot_taken_off_the_cached_view_comes_after_its_pop`) catches that.
#[test]
fn loom_two_senders_at_capacity_two_never_find_a_held_slot_full() {
    model(|| {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        let senders: Vec<_> = [3, 4]
            .into_iter()
            .map(|item| {
                let tx = tx.clone();
                thread::spawn(move || block_on(tx.send(item)).unwrap())
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        block_on(rx.recv_batch(&mut got, 2, std::time::Duration::ZERO));
        while let Ok(item) = block_on(rx.recv()) {
            got.push(item);
        }
        for sender in senders {
            sender.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4]);
    });
}

/// Two receivers: each item goes to exactly one of them, and neither sleeps while an item
/// waits. (Capacity 1: the array flavour's spinning pop makes two-receiver models at capacity 2
/// too large to explore; the slot accounting at capacity 2 has its own model above.)
#[test]
fn loom_two_receivers_share_the_items() {
    model_one_preemption(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || block_on(rx.recv()).unwrap())
            })
            .collect();
        drop(rx);
        block_on(tx.send(1)).unwrap();
        block_on(tx.send(2)).unwrap();
        let mut got: Vec<u32> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// A receiver that may be notified and is then dropped without running passes the wake-up on:
/// the other receiver gets the item (if the first one took it, it sends it back).
#[test]
fn loom_a_notified_receiver_that_is_dropped_passes_the_wake_up_on() {
    use std::future::Future;
    use std::task::{Context, Poll};

    model_one_preemption(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let dropped = {
            let (tx, rx) = (tx.clone(), rx.clone());
            thread::spawn(move || {
                let waker = futures_util::task::noop_waker();
                let mut recv = Box::pin(rx.recv());
                if let Poll::Ready(Ok(item)) = recv.as_mut().poll(&mut Context::from_waker(&waker))
                {
                    tx.try_send(item).unwrap();
                }
            })
        };
        let waiting = thread::spawn(move || block_on(rx.recv()));
        tx.try_send(1).unwrap();
        dropped.join().unwrap();
        assert_eq!(waiting.join().unwrap(), Ok(1));
    });
}

/// An idle stream registration (polled once, kept) never takes the wake-up from a receiver
/// that waits in `recv`.
#[test]
fn loom_an_idle_stream_does_not_absorb_a_wake_up() {
    use std::task::{Context, Poll};

    model(|| {
        let (tx, rx) = channel::bounded::<u32>(2).unwrap();
        let mut idle = rx.clone();
        let waker = futures_util::task::noop_waker();
        let polled = futures_core::Stream::poll_next(
            std::pin::Pin::new(&mut idle),
            &mut Context::from_waker(&waker),
        );
        assert!(matches!(polled, Poll::Pending));
        let waiting = thread::spawn(move || block_on(rx.recv()));
        tx.try_send(1).unwrap();
        assert_eq!(waiting.join().unwrap(), Ok(1));
        drop(idle);
    });
}

/// The handle counts live outside the lock: a weak sender's upgrade races the last sender's
/// drop. Either the upgrade wins, and the channel stays open until the upgraded sender goes,
/// or it finds none left, and the channel is closed for good.
#[test]
fn loom_a_weak_sender_never_reopens_a_closed_channel() {
    loom::model(|| {
        let (tx, rx) = channel::bounded::<u32>(1).unwrap();
        let weak = tx.downgrade();
        let upgrader = thread::spawn(move || weak.upgrade().map(|tx| tx.try_send(1).is_ok()));
        drop(tx);
        match upgrader.join().unwrap() {
            Some(sent) => {
                assert!(sent, "an upgraded sender finds the channel open");
                assert_eq!(block_on(rx.recv()), Ok(1));
            }
            None => assert!(rx.is_closed()),
        }
        assert_eq!(block_on(rx.recv()), Err(RecvError));
    });
}
